//! The executor against an ideal loop (the measured joints are the streamed reference):
//! steps report in order with their timing, motions end exactly on target, composites
//! behave (guards skip, timeouts and retries fail as written), a loop fault fails the
//! task, and a cancel brings the reference smoothly to rest.

use embody_control::{JointPoint, Segment};
use embody_model::robots;
use embody_planner::{
    Action, Executor, Observation, Outcome, PoseMotion, RobotInfo, SeenObject, Source, Status,
    check,
};

struct IdealLoop {
    executor: Executor,
    reference: JointPoint,
    now: f64,
    segments: Vec<Segment>,
    /// Where the cameras saw the task's one seen object, `box`.
    seen: [Option<SeenObject>; 1],
}

fn start(text: &str) -> IdealLoop {
    let source = Source::new("t.toml", text);
    let raw = source.parse().expect("parses");
    let model = robots::load("arm7", None).expect("arm7");
    let q0 = vec![0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0, 0.02];
    let robot = RobotInfo::new(model, Vec::new()).with_seen(vec!["box".into()]);
    let plan = check(&source, &raw, &robot, &q0).expect("checks");
    IdealLoop {
        executor: Executor::new(plan, robot, &q0),
        reference: JointPoint::at_rest(&q0),
        now: 0.0,
        segments: Vec::new(),
        seen: [None],
    }
}

impl IdealLoop {
    fn poll(&mut self, fault: Option<&str>) -> Status {
        self.now += 0.01;
        let q = self.reference.q[..8].to_vec();
        let mut out = Vec::new();
        let status = self.executor.poll(
            &Observation {
                now_s: self.now,
                q: &q,
                tau: &[0.0; 8],
                contacts: 0,
                objects: &[],
                seen: &self.seen,
                fault,
            },
            &mut out,
        );
        // The ideal loop is where the first new segment ends.
        if let Some(first) = out.first() {
            self.reference = first.end;
        }
        self.segments.extend(out);
        status
    }

    fn run(&mut self, seconds: f64) -> Status {
        let mut status = Status::Running;
        let end = self.now + seconds;
        while self.now < end && status == Status::Running {
            status = self.poll(None);
        }
        status
    }
}

const MOVES: &str = r#"
[[steps]]
name = "a"
skill = "move_joints"
joints = { joint1 = 0.5, joint2 = 0.1 }
[[steps]]
name = "b"
skill = "wait"
seconds = 0.3
[[steps]]
name = "c"
skill = "move_joints"
joints = { joint1 = -0.2 }
speed = 1.0
"#;

#[test]
fn steps_run_in_order_and_motions_end_on_target() {
    let mut rig = start(MOVES);
    assert_eq!(rig.run(20.0), Status::Succeeded);
    let reports = rig.executor.reports();
    let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert!(reports.iter().all(|r| r.outcome == Outcome::Done));
    assert!(reports[1].duration_s >= 0.3 - 1e-9);
    assert!(reports[0].started_s < reports[1].started_s);
    let last = rig.segments.last().expect("segments").end;
    assert_eq!(last.q[0], -0.2);
    assert_eq!(last.q[1], 0.1);
    assert_eq!(last.dq[0], 0.0);
    // The stream is continuous: 10 ms segments back to back.
    assert!(
        rig.segments
            .iter()
            .all(|s| (s.duration_s - 0.01).abs() < 1e-12)
    );
}

#[test]
fn guards_skip_and_timeouts_and_retries_fail_as_written() {
    let text = r#"
[[steps]]
name = "skipped"
skill = "move_joints"
joints = { joint1 = 1.0 }
if = { joint = "joint1", near = 2.0 }

[[steps]]
name = "bounded"
skill = "retry"
limit = 2
[steps.step]
skill = "timeout"
seconds = 0.2
[steps.step.step]
skill = "wait_until"
condition = { joint = "joint1", near = 1.5 }
timeout_s = 10.0
"#;
    let mut rig = start(text);
    let status = rig.run(5.0);
    let reports = rig.executor.reports();
    assert_eq!(reports[0].outcome, Outcome::Skipped);
    let Status::Failed(reason) = status else {
        panic!("should fail: {status:?}");
    };
    assert!(reason.contains("timed out after 0.2 s"), "{reason}");
    assert!(reason.contains("after 2 attempts"), "{reason}");
}

#[test]
fn a_loop_fault_fails_the_task_with_its_cause() {
    let mut rig = start(MOVES);
    rig.run(0.2);
    assert_eq!(
        rig.poll(Some("Link")),
        Status::Failed("the loop faulted: Link".into())
    );
}

#[test]
fn cancel_comes_to_rest_smoothly() {
    let mut rig = start(MOVES);
    rig.run(0.5);
    let moving = rig.segments.last().expect("segments").end;
    assert!(moving.dq[0].abs() > 0.01, "should be moving");
    let mut out = Vec::new();
    rig.executor.cancel("a new task", &mut out);
    let stop = out.last().expect("a stop segment");
    assert!(stop.duration_s >= 0.2);
    assert!(stop.end.dq.iter().all(|v| *v == 0.0));
    assert!((stop.end.q[0] - moving.q[0]).abs() < 0.1, "stops close by");
    assert!(matches!(rig.executor.status(), Status::Failed(r) if r.contains("cancelled")));
}

#[test]
fn a_new_task_replaces_the_running_one_after_a_smooth_stop() {
    let mut rig = start(MOVES);
    rig.run(0.5);
    let progress = rig.executor.drain_progress();
    assert!(
        matches!(&progress[0], embody_planner::Progress::Started { name, .. } if name == "task")
    );
    let next = {
        let source = Source::new(
            "next.toml",
            "[[steps]]\nname = \"back\"\nskill = \"move_joints\"\njoints = { joint1 = 0.0 }\n",
        );
        let raw = source.parse().expect("parses");
        let model = robots::load("arm7", None).expect("arm7");
        check(&source, &raw, &RobotInfo::new(model, Vec::new()), &[0.0; 8]).expect("checks")
    };
    let mut out = Vec::new();
    rig.executor.replace(next, &mut out);
    let stop = out.last().expect("a stop segment");
    assert!(stop.end.dq.iter().all(|v| *v == 0.0), "comes to rest first");
    rig.segments.extend(out);
    assert_eq!(rig.run(10.0), Status::Succeeded);
    assert_eq!(rig.segments.last().expect("segments").end.q[0], 0.0);
    let ended: Vec<String> = rig
        .executor
        .drain_progress()
        .into_iter()
        .filter_map(|p| match p {
            embody_planner::Progress::Ended(r) => Some(r.name),
            _ => None,
        })
        .collect();
    assert!(ended.contains(&"back".to_owned()), "{ended:?}");
}

#[test]
fn a_reading_just_outside_a_stop_starts_the_motion_at_the_stop() {
    // The fingers read a hair below their lower stop (an encoder count on the wire): the
    // loop refuses segments outside the limits, so every streamed point must be inside.
    // The task is checked from the reading clamped into the limits, as the runtime does.
    let model = robots::load("arm7", None).expect("arm7");
    let finger = model
        .actuated_joints()
        .position(|j| model.joints[j.0].name == "finger_left_joint")
        .expect("finger");
    let lower = model.joints[model.actuated_joints().nth(finger).expect("joint").0]
        .limits
        .lower;
    let mut reading = vec![0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0, 0.02];
    reading[finger] = lower - 4e-4;
    let robot = RobotInfo::new(model, Vec::new());
    let start = robot.clamp(&reading);
    assert_eq!(start[finger], lower);
    let source = Source::new(
        "t.toml",
        "[[steps]]\nname = \"open\"\nskill = \"gripper\"\naction = \"open\"\n",
    );
    let plan = check(&source, &source.parse().expect("parses"), &robot, &start).expect("checks");
    let mut ideal = IdealLoop {
        executor: Executor::new(plan, robot, &start),
        reference: JointPoint::at_rest(&reading),
        now: 0.0,
        segments: Vec::new(),
        seen: [None],
    };
    assert_eq!(ideal.run(5.0), Status::Succeeded);
    assert!(
        ideal.segments.iter().all(|s| s.end.q[finger] >= lower),
        "a segment left the finger's range"
    );
}

/// Where arm7's tool is at `q`.
fn tcp_at(q: &[f64]) -> [f64; 3] {
    tcp_pose(q).translation.into()
}

/// The checked line of the task's step `k` (a `move_pose` with `path = "line"`).
fn checked_line(plan: &embody_planner::Plan, k: usize) -> embody_planner::LinePath {
    let Action::Sequence(steps) = &plan.root.action else {
        panic!("a task is a sequence");
    };
    match &steps[k].action {
        Action::MovePose {
            motion: PoseMotion::Line(path),
            ..
        } => path.clone(),
        other => panic!("step {k} is not a line: {other:?}"),
    }
}

#[test]
fn what_runs_is_what_was_checked_and_a_changed_start_replans_only_the_approach() {
    // The checker plans the line from joint1 = 0.5, where the guarded first step would
    // leave it; the guard skips that step, so the line starts 0.5 rad away.
    let mut q = vec![0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0, 0.02];
    q[0] = 0.5;
    let [x, y, z] = tcp_at(&q);
    let text = format!(
        "[[steps]]\nname = \"turn\"\nskill = \"move_joints\"\njoints = {{ joint1 = 0.5 }}\n{}\n\
         [[steps]]\nname = \"down\"\nskill = \"move_pose\"\nposition = [{x}, {y}, {}]\npath = \"line\"\n",
        "if = { joint = \"joint1\", near = 0.5, tolerance = 0.01 }",
        z - 0.05
    );
    for (guarded, replanned) in [(false, false), (true, true)] {
        let text = if guarded {
            text.clone()
        } else {
            text.replace("if = {", "# if = {")
        };
        let mut rig = start(&text);
        let source = Source::new("t.toml", text.clone());
        let robot = RobotInfo::new(robots::load("arm7", None).expect("arm7"), Vec::new());
        let q0 = [0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0, 0.02];
        let plan = check(&source, &source.parse().expect("parses"), &robot, &q0).expect("checks");
        let line = checked_line(&plan, 1);
        assert_eq!(rig.run(30.0), Status::Succeeded);
        let reports = rig.executor.reports();
        let down = reports.iter().find(|r| r.name == "down").expect("down ran");
        match down.replanned_from {
            Some(d) => {
                assert!(replanned, "re-planned though it started as checked ({d})");
                assert!((d - 0.5).abs() < 1e-9, "started {d} from the checked start");
            }
            None => assert!(!replanned, "not re-planned though it started elsewhere"),
        }
        // The line as checked: its IK samples, to the last bit.
        let end = rig.segments.last().expect("segments").end;
        let checked_end = line.samples().last().expect("samples");
        for &j in line.driven() {
            assert_eq!(end.q[j], checked_end[j], "joint {j}");
        }
    }
}

/// The tcp's placement at `q`.
fn tcp_pose(q: &[f64]) -> embody_model::spatial::Transform {
    let model = robots::load("arm7", None).expect("arm7");
    let mut data = embody_model::Data::new(&model);
    embody_model::frame_placements(&model, &mut data, q);
    data.world_from_frame[model.frame_id("tcp").expect("tcp").0]
}

const OVER_THE_BOX: &str = r#"
[[steps]]
skill = "move_joints"
joints = { joint2 = 0.5, joint4 = -2.0, joint6 = -1.64 }
[[steps]]
name = "over"
skill = "move_pose"
frame = "tcp"
relative_to = "object:box"
position = [0.0, 0.0, 0.1]
rpy = [0.0, 3.141592653589793, 0.0]
[[steps]]
name = "up"
skill = "move_pose"
frame = "tcp"
relative_to = "start"
position = [0.0, 0.0, 0.05]
path = "line"
"#;

#[test]
fn a_move_relative_to_a_seen_object_goes_where_it_was_seen_turned_with_it() {
    let mut run = start(OVER_THE_BOX);
    // Seen on the table, turned 0.4 rad.
    let (yaw, at) = (0.4f64, [-0.45, 0.05, 0.25]);
    run.seen[0] = Some(SeenObject {
        pose: [
            at[0],
            at[1],
            at[2],
            0.0,
            0.0,
            (yaw / 2.0).sin(),
            (yaw / 2.0).cos(),
        ],
        captured_s: 0.0,
        confidence: 1.0,
    });
    while run.executor.reports().len() < 2 {
        assert_eq!(run.poll(None), Status::Running);
    }
    let reached = tcp_pose(&run.reference.q[..8]);
    let want = nalgebra::Vector3::new(at[0], at[1], at[2] + 0.1);
    assert!(
        (reached.translation - want).norm() < 1e-3,
        "over the box: {:?}, want {want:?}",
        reached.translation
    );
    // Pointing down, its x axis along the box's turned x (pitch π flips x).
    let x = reached.rotation.column(0);
    let z = reached.rotation.column(2);
    assert!(z.z < -0.999, "pointing down: z axis {z:?}");
    assert!(
        (x.x + yaw.cos()).abs() < 1e-3 && (x.y + yaw.sin()).abs() < 1e-3,
        "x axis {x:?}"
    );
    // Then straight up 5 cm from there.
    assert_eq!(run.run(5.0), Status::Succeeded);
    let up = tcp_pose(&run.reference.q[..8]);
    assert!((up.translation - want - nalgebra::Vector3::new(0.0, 0.0, 0.05)).norm() < 1e-3);
}

#[test]
fn a_move_relative_to_an_object_not_seen_fails_and_says_so() {
    let mut run = start(OVER_THE_BOX);
    let Status::Failed(why) = run.run(10.0) else {
        panic!("the move cannot run unseen");
    };
    assert!(why.contains("'box' has not been seen"), "{why}");
}

#[test]
fn waiting_until_seen_holds_on_a_fresh_sighting_only() {
    let wait = r#"
[[steps]]
skill = "wait_until"
condition = { seen = "box" }
timeout_s = 1.0
"#;
    let sighting = |captured_s| {
        Some(SeenObject {
            pose: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            captured_s,
            confidence: 1.0,
        })
    };
    // Seen two seconds before: stale, and nothing newer comes.
    let mut run = start(wait);
    run.seen[0] = sighting(-2.0);
    assert!(matches!(run.run(2.0), Status::Failed(_)));
    // Seen as it starts.
    let mut run = start(wait);
    run.seen[0] = sighting(0.0);
    assert_eq!(run.run(2.0), Status::Succeeded);
}

#[test]
fn seen_objects_and_relative_moves_are_checked_where_they_are_written() {
    let source = |text: &str| Source::new("t.toml", text);
    let model = robots::load("arm7", None).expect("arm7");
    let q0 = vec![0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0, 0.02];
    let robot = RobotInfo::new(model, Vec::new())
        .with_seen(vec!["box".into()])
        .with_places([("drop".to_string(), [-0.30, 0.30, 0.225])].into());
    let refused = |text: &str| {
        let s = source(text);
        let raw = s.parse().expect("parses");
        check(&s, &raw, &robot, &q0)
            .expect_err("refused")
            .to_string()
    };
    let step = |extra: &str| {
        format!("[[steps]]\nskill = \"move_pose\"\nposition = [0.0, 0.0, 0.1]\n{extra}\n")
    };
    let why = refused(&step("relative_to = \"object:cup\""));
    assert!(
        why.contains("t.toml:4")
            && why.contains("no seen object named 'cup' (the task looks for: box)"),
        "{why}"
    );
    let why = refused(&step("relative_to = \"box\""));
    assert!(
        why.contains("`start` (where the frame is), `object:<name>`")
            && why.contains("`place:<name>`"),
        "{why}"
    );
    // A place is where it is for the whole run: a move to it is checked before the run
    // (out of reach: refused), and an unknown one is named.
    let why = refused(&step("relative_to = \"place:table\""));
    assert!(
        why.contains("t.toml:4")
            && why.contains("no place named 'table' (the task's places: drop)"),
        "{why}"
    );
    let why = refused(&step("relative_to = \"place:drop\"").replace("0.1]", "5.0]"));
    assert!(why.contains("move_pose to [-0.3, 0.3, 5.225]"), "{why}");
    let reachable = source(&step("relative_to = \"place:drop\""));
    let raw = reachable.parse().expect("parses");
    check(&reachable, &raw, &robot, &q0).expect("a move to the place checks");
    let why = refused(
        "[[steps]]\nskill = \"wait_until\"\ncondition = { object = \"box\", place = \"drop\", position = [0.0, 0.0, 0.0] }\n",
    );
    assert!(
        why.contains("`position` or `place` (with `object`)"),
        "{why}"
    );
    let why = refused("[[steps]]\nskill = \"wait_until\"\ncondition = { seen = \"cup\" }\n");
    assert!(why.contains("no seen object named 'cup'"), "{why}");
    let why = refused("[[steps]]\nskill = \"wait\"\nseconds = 1.0\nrelative_to = \"start\"\n");
    assert!(why.contains("`relative_to` is not a key of wait"), "{why}");
}
