//! `embody fleet router|status|send` with a real-time `embody run --join`: an operator
//! sees the unit's task on the network, holds and resumes it, is refused another task,
//! and an e-stop from the network faults the run; network loss, serving a library, and
//! `embody bench fleet` with its units and router in processes of their own.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Killed, Scratch, embody};
use serde_json::Value;

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_embody"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("embody starts")
}

/// `embody fleet status --json` until `unit` is there and `ready` holds of it.
fn status_of(endpoint: &str, unit: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = embody(&[
            "fleet",
            "status",
            "--connect",
            endpoint,
            "--fleet",
            "cli",
            "--json",
            "--timeout",
            "1",
        ]);
        if out.status.success() {
            let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
            let found = (v["units"].as_array().expect("units").iter())
                .find(|u| u["unit"] == unit)
                .cloned();
            if let Some(status) = found.filter(|s| ready(s)) {
                return status;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{unit} never ready: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn send(endpoint: &str, unit: &str, command: &[&str]) -> (bool, Value) {
    let mut args = vec![
        "fleet",
        "send",
        "--connect",
        endpoint,
        "--fleet",
        "cli",
        "--as",
        "tester",
        "--json",
        unit,
    ];
    args.extend_from_slice(command);
    let out = embody(&args);
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).expect("JSON"),
    )
}

const TASK: &str = "[[steps]]\\nskill = \"move_joints\"\\njoints = { joint1 = 0.3 }\\nspeed = 0.5\\n[[steps]]\\nskill = \"wait\"\\nseconds = 3.0\\n[[steps]]\\nskill = \"move_joints\"\\njoints = { joint1 = 0.0 }\\nspeed = 0.5\\n";

/// TASK written into `scratch`: its path.
fn slow_task(scratch: &Scratch) -> String {
    let task = scratch.0.join("slow.toml");
    std::fs::write(&task, TASK.replace("\\n", "\n")).expect("task");
    task.to_str().expect("utf-8").to_owned()
}

/// `embody run TASK --realtime --json` joined to fleet `cli` at `endpoint` as `unit`.
fn join_run(task: &str, endpoint: &str, unit: &str, extra: &[&str]) -> Child {
    let mut args = vec![
        "run",
        task,
        "--realtime",
        "--json",
        "--join",
        endpoint,
        "--fleet",
        "cli",
        "--unit-name",
        unit,
    ];
    args.extend_from_slice(extra);
    spawn(&args)
}

#[test]
fn an_operator_holds_resumes_and_estops_a_real_time_run() {
    let scratch = Scratch::new("fleet-cli");
    let task = slow_task(&scratch);
    let port = free_port();
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let _router = Killed(spawn(&["fleet", "router", "--listen", &endpoint]));
    let run = |unit: &str| join_run(&task, &endpoint, unit, &[]);

    let mut first = Killed(run("ARM-0001"));
    let status = status_of(&endpoint, "ARM-0001", |s| {
        s["state"]["lifecycle"] == "running"
    });
    assert_eq!(status["info"]["robot"], "arm7", "{status}");
    assert_eq!(status["state"]["activity"]["kind"], "task", "{status}");
    let (ok, report) = send(&endpoint, "ARM-0001", &["hold"]);
    assert!(ok, "{report}");
    assert_eq!(report["acks"][0][0]["outcome"], "done", "{report}");
    status_of(&endpoint, "ARM-0001", |s| {
        s["state"]["activity"]["kind"] == "holding"
    });
    let (_, report) = send(&endpoint, "ARM-0001", &["task", "pick_and_place"]);
    assert_eq!(report["acks"][0][0]["outcome"], "refused", "{report}");
    let (ok, report) = send(&endpoint, "ARM-0001", &["resume"]);
    assert!(
        ok && report["acks"][0][0]["detail"] == "resumed",
        "{report}"
    );
    let out = first.output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(summary["result"], "succeeded", "{summary}");
    // Gone from the network with its run: nobody answers.
    let (ok, report) = send(&endpoint, "ARM-0001", &["hold"]);
    assert!(
        !ok && report["silent"] == serde_json::json!(["ARM-0001"]),
        "{report}"
    );

    let mut second = Killed(run("ARM-0002"));
    status_of(&endpoint, "ARM-0002", |s| {
        s["state"]["lifecycle"] == "running"
    });
    let (ok, report) = send(&endpoint, "ARM-0002", &["estop"]);
    assert!(ok, "{report}");
    let status = status_of(&endpoint, "ARM-0002", |s| s["state"]["fault"] == "e_stop");
    assert_eq!(
        status["recent_faults"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );
    let out = second.output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "an e-stopped task fails: {stdout}");
    assert!(stdout.contains("e-stop"), "{stdout}");
}

#[test]
fn joining_is_for_real_time_runs_and_bad_commands_are_refused() {
    let out = embody(&[
        "run",
        "examples/tasks/pick_and_place.toml",
        "--join",
        "tcp/127.0.0.1:7447",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--join applies to a real-time run"));
    let out = embody(&[
        "fleet",
        "send",
        "all",
        "fly",
        "--connect",
        "tcp/127.0.0.1:1",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("'fly' is no command"));
    let out = embody(&["fleet", "status", "--connect", "127.0.0.1:7447"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("endpoint '127.0.0.1:7447'"));
}

#[test]
fn a_unit_that_loses_the_network_finishes_its_step_holds_and_tells_what_happened_after() {
    let scratch = Scratch::new("fleet-loss");
    let task = slow_task(&scratch);
    let endpoint = format!("tcp/127.0.0.1:{}", free_port());
    let router = Killed(spawn(&["fleet", "router", "--listen", &endpoint]));
    let loss = [
        "--on-network-loss",
        "finish-step",
        "--network-loss-after",
        "0.5",
    ];
    let mut run = Killed(join_run(&task, &endpoint, "ARM-0003", &loss));
    // The move is done and the 3 s wait under way: the router goes.
    status_of(&endpoint, "ARM-0003", |s| {
        s["state"]["activity"]["kind"] == "task" && s["state"]["activity"]["step"] == 1
    });
    drop(router);
    std::thread::sleep(Duration::from_secs(5));
    let _router = Killed(spawn(&["fleet", "router", "--listen", &endpoint]));
    status_of(&endpoint, "ARM-0003", |_| true);
    let net = embody_net::NetConfig::client(&endpoint);
    let fleet = embody_net::Fleet::join(&net, "cli", "tester").expect("joins");
    let watch = fleet.watch().expect("watches");
    // What the unit did while cut off reaches the operators once it is back.
    let back = watch.wait_until(Duration::from_secs(15), |units| {
        (units.get("ARM-0003"))
            .is_some_and(|u| u.events.iter().any(|e| e.text.starts_with("network back")))
    });
    let events: Vec<String> = (watch.units().get("ARM-0003"))
        .map(|u| u.events.iter().map(|e| e.text.clone()).collect())
        .unwrap_or_default();
    assert!(back, "no 'network back' among {events:#?}");
    let at = |prefix: &str| {
        (events.iter().position(|e| e.starts_with(prefix)))
            .unwrap_or_else(|| panic!("no '{prefix}…' among {events:#?}"))
    };
    let lost = at("network lost for");
    assert!(events[lost].ends_with("finishing the step under way, then holding"));
    let waited = (events
        .iter()
        .position(|e| e.contains(": step 2 'wait@5' done after")))
    .unwrap_or_else(|| panic!("the wait step did not end among {events:#?}"));
    let held = at("the step finished: holding until an operator resumes");
    let returned = at("network back: holding until an operator resumes");
    assert!(
        lost < waited && waited < held && held < returned,
        "{events:#?}"
    );
    assert!(!events.iter().any(|e| e.contains("step 3")), "{events:#?}");
    let status = status_of(&endpoint, "ARM-0003", |_| true);
    assert_eq!(status["state"]["activity"]["kind"], "holding", "{status}");
    let (ok, report) = send(&endpoint, "ARM-0003", &["resume"]);
    assert!(ok, "{report}");
    let out = run.output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(summary["result"], "succeeded", "{summary}");
    assert_eq!(
        summary["steps"].as_array().map(Vec::len),
        Some(3),
        "{summary}"
    );
}

#[test]
fn a_unit_serving_its_library_runs_the_task_and_the_policy_operators_name() {
    let scratch = Scratch::new("fleet-serve");
    let library = scratch.0.join("library");
    std::fs::create_dir_all(library.join("tasks")).expect("tasks");
    std::fs::create_dir_all(library.join("policies")).expect("policies");
    std::fs::copy(slow_task(&scratch), library.join("tasks/slow.toml")).expect("task");
    let reach = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/arm7_reach");
    std::os::unix::fs::symlink(reach, library.join("policies/arm7_reach")).expect("policy");
    let endpoint = format!("tcp/127.0.0.1:{}", free_port());
    let _router = Killed(spawn(&["fleet", "router", "--listen", &endpoint]));
    let lib = library.to_str().expect("utf-8");
    let _unit = Killed(spawn(&[
        "serve",
        lib,
        "--join",
        &endpoint,
        "--fleet",
        "cli",
        "--unit-name",
        "ARM-0004",
    ]));
    status_of(&endpoint, "ARM-0004", |s| s["state"]["lifecycle"] == "idle");
    let net = embody_net::NetConfig::client(&endpoint);
    let fleet = embody_net::Fleet::join(&net, "cli", "tester").expect("joins");
    let watch = fleet.watch().expect("watches");
    let ack = |command: &[&str]| send(&endpoint, "ARM-0004", command).1["acks"][0][0].clone();

    let refused = ack(&["task", "fly"]);
    assert_eq!(refused["outcome"], "refused", "{refused}");
    assert_eq!(
        refused["detail"], "no task 'fly' here (it has slow)",
        "{refused}"
    );
    let started = ack(&["task", "slow"]);
    assert_eq!(started["detail"], "task slow started", "{started}");
    let running = status_of(&endpoint, "ARM-0004", |s| {
        s["state"]["activity"]["kind"] == "task"
    });
    assert_eq!(running["state"]["lifecycle"], "running", "{running}");
    let busy = ack(&["policy", "arm7_reach"]);
    assert_eq!(busy["outcome"], "refused", "{busy}");
    status_of(&endpoint, "ARM-0004", |s| s["state"]["lifecycle"] == "idle");
    let said = |prefix: &str| {
        watch.wait_until(Duration::from_secs(10), |units| {
            (units.get("ARM-0004"))
                .is_some_and(|u| u.events.iter().any(|e| e.text.starts_with(prefix)))
        })
    };
    assert!(
        said("task slow: succeeded in"),
        "{:#?}",
        watch.units().get("ARM-0004").map(|u| &u.events)
    );

    // A goal the operator sends, not the package's own: the tool gets there.
    let unknown = ack(&["policy", "arm7_reach", "w=1"]);
    assert_eq!(unknown["outcome"], "refused", "{unknown}");
    let started = ack(&["policy", "arm7_reach", "x=-0.35,y=0.05,z=0.32"]);
    assert_eq!(
        started["detail"], "policy arm7_reach x=-0.35,y=0.05,z=0.32 started (until cancelled)",
        "{started}"
    );
    // The glide to its start posture, then 2.5 s of reaching (50 steps at 20 Hz).
    status_of(&endpoint, "ARM-0004", |s| {
        s["state"]["activity"]["kind"] == "policy"
            && s["state"]["activity"]["step"].as_u64() >= Some(50)
    });
    let cancelled = ack(&["cancel"]);
    assert_eq!(cancelled["outcome"], "done", "{cancelled}");
    status_of(&endpoint, "ARM-0004", |s| s["state"]["lifecycle"] == "idle");
    assert!(said("policy arm7_reach: ended after"));
    let events = watch.units().get("ARM-0004").map(|u| u.events.clone());
    let end = (events.iter().flatten())
        .find(|e| e.text.starts_with("policy arm7_reach: ended after"))
        .map(|e| e.text.clone())
        .expect("the run's end");
    let (_, rest) = end.split_once(", tcp ").expect("where the tool ended");
    let (metres, goal) = rest.split_once(" m from its goal ").expect("a distance");
    assert_eq!(goal, "(-0.350, 0.050, 0.320) at the end", "{end}");
    assert!(metres.parse::<f64>().expect("metres") < 0.02, "{end}");
    // An e-stop while idle keeps runs from starting until it is cleared.
    assert_eq!(ack(&["estop"])["outcome"], "done");
    let held_off = ack(&["task", "slow"]);
    assert_eq!(
        held_off["detail"], "the e-stop is pressed: clear it first",
        "{held_off}"
    );
    assert_eq!(ack(&["clear"])["outcome"], "done");
}

#[test]
fn the_fleet_benchmark_runs_its_units_and_router_in_processes_of_their_own() {
    // 20 units in two `fleet simulate` processes (SIM-0001…0010 and SIM-0011…0020) and
    // the router in a third, killed and started again: every unit's state, its e-stop
    // acknowledgement and its return, with its events complete.
    let out = embody(&[
        "bench",
        "fleet",
        "--units",
        "20",
        "--seconds",
        "2",
        "--outage",
        "1.5",
        "--processes",
        "2",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let state = &report["state"];
    let expected = state["expected"].as_u64().expect("expected");
    // About 2,000 in 2 s at 50 Hz; state is latest-only, and a busy machine may drop one.
    assert!(expected > 1000, "{report}");
    assert!(
        state["lost"].as_u64().expect("lost") * 100 <= expected,
        "{report}"
    );
    assert_eq!(state["out_of_order"], 0, "{report}");
    assert_eq!(report["estop"]["acknowledged"], 20, "{report}");
    let restart = &report["restart"];
    assert_eq!(restart["returned"], 20, "{report}");
    assert_eq!(restart["complete"], 20, "{report}");
    assert_eq!(restart["events_lost"], 0, "{report}");
}
