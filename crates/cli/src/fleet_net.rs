//! `embody fleet router|simulate|status|watch|send|rerun|certs`: the fleet across machines, over
//! zenoh (`embody-net`). Every command joins the site's network as a client of the
//! router at `--connect`, with its certificate where the site has them (`--certs`);
//! `router` is that router.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use embody_net::sim_units::{SimFleet, SimUnits};
use embody_net::{Authority, Command, Fleet, NetConfig, Role, Router};

use crate::error::{CliError, Result};
use crate::fleet_certs::{self, CertsCommand, credentials, default_connect, router_net};
use crate::numbers::{count, float};

/// `embody fleet …`.
#[derive(Subcommand, Debug)]
pub enum FleetCommand {
    /// Run a zenoh router for the site's units and operators until Ctrl-C (or run
    /// `zenohd`: either works).
    Router(RouterArgs),
    /// Run light simulated units, each with its own zenoh session, until Ctrl-C or
    /// `--seconds`: for load and fault tests.
    Simulate(SimulateArgs),
    /// One row per unit alive: state, fault, activity, link health, firmware, last seen.
    Status(StatusArgs),
    /// A live table of every unit, those in trouble first (faulted, gone, recovering,
    /// losing state): its state, states a second, state lost, how far behind, events.
    Watch(WatchArgs),
    /// Send a command to units and gather their acknowledgements: `embody fleet send
    /// all estop`, `embody fleet send ARM-0001,ARM-0002 task pick_and_place`.
    Send(SendArgs),
    /// Every unit in one Rerun recording: robots posed on a grid, joint series and
    /// events, downsampled (`--hz`), until Ctrl-C or `--seconds`.
    Rerun(crate::fleet_rerun::FleetRerunArgs),
    /// The fleet's certificate authority: `init`, then `issue` to units, operators and
    /// routers.
    #[command(subcommand)]
    Certs(CertsCommand),
}

/// Where the site's network is.
#[derive(Args, Debug)]
pub struct NetArgs {
    /// The router to connect to [default: tcp/127.0.0.1:7447, tls/… with --certs].
    #[arg(long)]
    connect: Option<String>,
    /// The fleet's name: the units' keys are `embody/<fleet>/<unit>`.
    #[arg(long, default_value = "lab")]
    pub fleet: String,
    /// The fleet's certificate directory (`embody fleet certs`): join over mutual TLS
    /// with the certificate issued to this operator (or to each simulated unit).
    #[arg(long, value_name = "DIR")]
    certs: Option<PathBuf>,
    /// The operator: named in the events of the units it commands; with --certs, the
    /// certificate used.
    #[arg(long = "as", default_value_t = default_operator())]
    operator: String,
}

impl NetArgs {
    fn endpoint(&self) -> String {
        (self.connect.clone()).unwrap_or_else(|| default_connect(self.certs.as_deref()))
    }

    /// The fleet, joined as the operator.
    pub fn join(&self) -> Result<Fleet> {
        let net = NetConfig {
            tls: credentials(self.certs.as_deref(), Role::Operator, &self.operator)?,
            ..NetConfig::client(&self.endpoint())
        };
        Ok(Fleet::join(&net, &self.fleet, &self.operator)?)
    }
}

/// Arguments of `embody fleet router`.
#[derive(Args, Debug)]
pub struct RouterArgs {
    /// Endpoints to listen on [default: tcp/0.0.0.0:7447, tls/… with --certs].
    #[arg(long)]
    listen: Vec<String>,
    /// The fleet's certificate directory: take only mutual-TLS links from nodes with
    /// the fleet's certificates, and enforce the fleet's access rules for every unit
    /// and operator issued one (restart the router after issuing more).
    #[arg(long, value_name = "DIR")]
    certs: Option<PathBuf>,
    /// The router's name in the certificate directory.
    #[arg(long, default_value = "site", requires = "certs")]
    name: String,
    /// The fleet whose keys the access rules guard.
    #[arg(long, default_value = "lab")]
    pub fleet: String,
    /// The ROS 2 domain the units publish to (`--ros-domain` of a run): the access
    /// rules let them, and operators' ROS 2 tools, use its keys.
    #[arg(long, value_name = "DOMAIN", requires = "certs", value_parser = count::<u32>(0..=232))]
    ros_domain: Option<u32>,
    /// Print this router's zenoh configuration (JSON, for `zenohd -c FILE`) and exit.
    #[arg(long)]
    print_config: bool,
}

/// Arguments of `embody fleet simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    #[command(flatten)]
    net: NetArgs,
    /// How many units (SIM-0001, SIM-0002, …).
    #[arg(long, default_value_t = 10, value_parser = count::<usize>(1..=10_000))]
    units: usize,
    /// The first unit's number: `--first 501 --units 500` runs SIM-0501 … SIM-1000
    /// (several processes, or machines, each run a share of one fleet).
    #[arg(long, default_value_t = 1, value_parser = count::<usize>(1..=10_000))]
    first: usize,
    /// State messages a second, per unit.
    #[arg(long, default_value_t = 50.0, value_parser = float(0.1..=1000.0, " Hz"))]
    rate: f64,
    /// Also publish each unit's joints and diagnostics to ROS 2 in this domain.
    #[arg(long, value_name = "DOMAIN", value_parser = count::<u32>(0..=232))]
    ros_domain: Option<u32>,
    /// Stop after this long (s); else on Ctrl-C.
    #[arg(long, value_parser = float(0.1..=1e6, " s"))]
    seconds: Option<f64>,
}

/// Arguments of `embody fleet status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    net: NetArgs,
    /// How long to wait for answers (s).
    #[arg(long, default_value_t = 2.0, value_parser = float(0.1..=60.0, " s"))]
    timeout: f64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `embody fleet watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Redraw every this long (s).
    #[arg(long, default_value_t = 1.0, value_parser = float(0.1..=60.0, " s"))]
    every: f64,
    /// Stop after this long (s); else on Ctrl-C. Not on a terminal, the table is
    /// printed once, when it stops.
    #[arg(long, value_parser = float(0.1..=1e6, " s"))]
    seconds: Option<f64>,
}

/// Arguments of `embody fleet send`.
#[derive(Args, Debug)]
pub struct SendArgs {
    #[command(flatten)]
    net: NetArgs,
    /// The units, comma-separated, or `all` (every unit alive).
    units: String,
    /// The command: hold, resume, estop, clear, cancel, task <name>, policy <name>
    /// [key=value,…] (command values over the policy's: x,y,z of a goal, vx,vy,wz).
    #[arg(required = true, num_args = 1..)]
    command: Vec<String>,
    /// How long to wait for acknowledgements (s).
    #[arg(long, default_value_t = 2.0, value_parser = float(0.1..=60.0, " s"))]
    timeout: f64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn default_operator() -> String {
    std::env::var("USER").unwrap_or_else(|_| "operator".into())
}

/// Runs `embody fleet …`.
pub fn run(command: FleetCommand) -> Result {
    match command {
        FleetCommand::Router(args) => router(&args),
        FleetCommand::Simulate(args) => simulate(&args),
        FleetCommand::Status(args) => status(&args),
        FleetCommand::Watch(args) => watch(&args),
        FleetCommand::Send(args) => send(&args),
        FleetCommand::Rerun(args) => crate::fleet_rerun::run(&args),
        FleetCommand::Certs(command) => fleet_certs::run(command),
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

/// Listens for Ctrl-C (and SIGTERM): whether to stop, once one came or `seconds` have
/// passed.
pub fn stop_after(seconds: Option<f64>) -> impl Fn() -> bool {
    crate::signals::on_termination(&STOP);
    let start = Instant::now();
    move || {
        STOP.load(Ordering::Acquire) || seconds.is_some_and(|s| start.elapsed().as_secs_f64() >= s)
    }
}

fn wait_for_stop(seconds: Option<f64>) {
    let stop = stop_after(seconds);
    while !stop() {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn router(args: &RouterArgs) -> Result {
    let net = router_net(
        &args.listen,
        args.certs.as_deref(),
        &args.name,
        &args.fleet,
        args.ros_domain,
    )?;
    if args.print_config {
        println!("{}", net.zenoh()?);
        return Ok(());
    }
    let router = Router::start(&net)?;
    let guarded = match &net.access {
        Some(a) => format!(
            ", mutual TLS, fleet {}'s rules for {} units and {} operators",
            a.fleet,
            a.units.len(),
            a.operators.len()
        ),
        None => String::new(),
    };
    eprintln!(
        "router listening on {}{guarded}; Ctrl-C stops it",
        net.listen.join(", ")
    );
    wait_for_stop(None);
    Ok(router.close()?)
}

fn simulate(args: &SimulateArgs) -> Result {
    let certs = args.net.certs.as_deref().map(Authority::open).transpose()?;
    let net = NetConfig::client(&args.net.endpoint());
    let units = SimFleet::start(
        &net,
        certs.as_ref(),
        &args.net.fleet,
        &SimUnits {
            count: args.units,
            first: args.first - 1,
            rate_hz: args.rate,
            ros_domain: args.ros_domain,
        },
        &mut |joined| eprintln!("{joined}"),
    )?;
    eprintln!(
        "{} simulated units of fleet {} ({} … {}) publishing {} Hz via {}; {}",
        units.units.len(),
        args.net.fleet,
        units.units[0],
        units.units[units.units.len() - 1],
        args.rate,
        net.connect[0],
        match args.seconds {
            Some(s) => format!("stopping after {s} s"),
            None => "Ctrl-C stops them".into(),
        }
    );
    wait_for_stop(args.seconds);
    let stats = units.stop()?;
    let states: u64 = stats.iter().map(|s| s.states).sum();
    let commands: u64 = stats.iter().map(|s| s.commands).sum();
    eprintln!("stopped: {states} state messages, {commands} commands taken");
    Ok(())
}

fn status(args: &StatusArgs) -> Result {
    let fleet = args.net.join()?;
    let (statuses, silent) = fleet.status(Duration::from_secs_f64(args.timeout))?;
    if args.json {
        let json = serde_json::json!({ "units": statuses, "silent": silent });
        println!("{json}");
        return Ok(());
    }
    crate::fleet_view::print_status(&statuses, &silent, args.timeout);
    Ok(())
}

fn watch(args: &WatchArgs) -> Result {
    let fleet = args.net.join()?;
    let stop = stop_after(args.seconds);
    crate::fleet_view::watch(&fleet, Duration::from_secs_f64(args.every), &stop)
}

fn send(args: &SendArgs) -> Result {
    let command =
        Command::parse(&args.command.join(" ")).map_err(|e| CliError::Usage(e.to_string()))?;
    let units: Vec<String> = match args.units.as_str() {
        "all" => Vec::new(),
        list => list.split(',').map(|u| u.trim().to_owned()).collect(),
    };
    let fleet = args.net.join()?;
    let report = fleet.send(&units, &command, Duration::from_secs_f64(args.timeout))?;
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        crate::fleet_view::print_send(&report);
    }
    if report.sent.is_empty() {
        return Err(CliError::Failed(format!(
            "no unit of fleet {} is alive",
            args.net.fleet
        )));
    }
    if !report.silent.is_empty() || !report.errors.is_empty() {
        return Err(CliError::Failed(format!(
            "{} of {} units did not acknowledge '{}'",
            report.silent.len() + report.errors.len(),
            report.sent.len(),
            command.words()
        )));
    }
    Ok(())
}
