//! `embody fleet certs init|issue`: the fleet's CA and the certificates of its units,
//! operators and routers (`embody_net::Authority`); and how the other `embody fleet`
//! commands and `--join` find a node's credentials in that directory (`--certs DIR`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use embody_net::sim_units::unit_name;
use embody_net::{Access, Authority, Identity, NetConfig, Role};

use crate::error::{CliError, Result};
use crate::numbers::count;

/// `embody fleet certs …`.
#[derive(Subcommand, Debug)]
pub enum CertsCommand {
    /// Make the fleet's CA in a new directory: `ca.pem` (give it to every node) and
    /// `ca.key` (keep it on the integrators' machine only).
    Init(InitArgs),
    /// Issue certificates signed by the fleet's CA: `units/<name>.pem` and `.key`, and
    /// the same under `operators/` and `routers/`.
    Issue(IssueArgs),
}

/// Arguments of `embody fleet certs init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// The directory (created; refused if it holds a CA already).
    #[arg(long)]
    dir: PathBuf,
    /// The fleet's name.
    #[arg(long, default_value = "lab")]
    fleet: String,
    /// Years the CA is valid.
    #[arg(long, default_value_t = 20, value_parser = count::<u16>(1..=100))]
    years: u16,
}

/// Who a certificate is for, on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum RoleArg {
    Unit,
    Operator,
    Router,
}

impl RoleArg {
    fn role(self) -> Role {
        match self {
            RoleArg::Unit => Role::Unit,
            RoleArg::Operator => Role::Operator,
            RoleArg::Router => Role::Router,
        }
    }
}

/// Arguments of `embody fleet certs issue`.
#[derive(Args, Debug)]
pub struct IssueArgs {
    /// The CA's directory.
    #[arg(long)]
    dir: PathBuf,
    /// What the certificates are for.
    #[arg(value_enum)]
    role: RoleArg,
    /// The names (a unit's serial, an operator's login, a router's name).
    names: Vec<String>,
    /// Also issue `embody fleet simulate`'s units SIM-0001 … SIM-<N>.
    #[arg(long, value_parser = count::<usize>(1..=10_000))]
    sim: Option<usize>,
    /// A router's host names and addresses, as nodes connect to it (repeat the flag).
    #[arg(long = "host", default_values_t = ["localhost".to_owned(), "127.0.0.1".to_owned()])]
    hosts: Vec<String>,
    /// Years each certificate is valid.
    #[arg(long, default_value_t = 2, value_parser = count::<u16>(1..=100))]
    years: u16,
}

/// Runs `embody fleet certs …`.
pub fn run(command: CertsCommand) -> Result {
    match command {
        CertsCommand::Init(args) => {
            let ca = Authority::init(&args.dir, &args.fleet, args.years)?;
            println!(
                "fleet {} CA in {}: ca.pem for every node, ca.key stays here",
                args.fleet,
                ca.dir().display()
            );
            Ok(())
        }
        CertsCommand::Issue(args) => issue(&args),
    }
}

fn issue(args: &IssueArgs) -> Result {
    let ca = Authority::open(&args.dir)?;
    let mut names = args.names.clone();
    if let Some(n) = args.sim {
        names.extend((0..n).map(unit_name));
    }
    if names.is_empty() {
        return Err(CliError::Usage(
            "name whom to issue a certificate (or give --sim N)".into(),
        ));
    }
    let role = args.role.role();
    let hosts: &[String] = if role == Role::Router {
        &args.hosts
    } else {
        &[]
    };
    for name in &names {
        let identity = ca.issue(role, name, hosts, args.years)?;
        if names.len() <= 10 {
            println!("{} {name}: {}", role.word(), identity.cert.display());
        }
    }
    println!(
        "{} {} certificate(s) issued in {}",
        names.len(),
        role.word(),
        ca.dir().display()
    );
    Ok(())
}

/// `name`'s credentials as `role` in the CA directory `certs`, if one is given.
pub fn credentials(certs: Option<&Path>, role: Role, name: &str) -> Result<Option<Identity>> {
    certs
        .map(|dir| Ok(Authority::open(dir)?.identity(role, name)?))
        .transpose()
}

/// The default endpoint a node connects to: TLS where it has a certificate.
pub fn default_connect(certs: Option<&Path>) -> String {
    let scheme = if certs.is_some() { "tls" } else { "tcp" };
    format!("{scheme}/127.0.0.1:7447")
}

/// A router's network: listening on `listen` (default port 7447 on every interface),
/// and with `certs`, on mutual TLS as router `name`, enforcing `fleet`'s access rules
/// for every unit and operator issued a certificate (and their ROS 2 domain's keys).
pub fn router_net(
    listen: &[String],
    certs: Option<&Path>,
    name: &str,
    fleet: &str,
    ros_domain: Option<u32>,
) -> Result<NetConfig> {
    let scheme = if certs.is_some() { "tls" } else { "tcp" };
    let mut net = NetConfig::router(&format!("{scheme}/0.0.0.0:7447"));
    if !listen.is_empty() {
        net.listen = listen.to_vec();
    }
    if let Some(dir) = certs {
        let ca = Authority::open(dir)?;
        net.tls = Some(ca.identity(Role::Router, name)?);
        net.access = Some(Access::from_roster(&ca, fleet, ros_domain)?);
    }
    Ok(net)
}
