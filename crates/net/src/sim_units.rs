//! Light simulated units for load and fault tests (`embody fleet simulate`): each is
//! a real [`UnitNode`] with its own zenoh session, driven by a small model of a unit —
//! a lifecycle that an e-stop faults and a clear recovers, an activity (a task of eight
//! steps it patrols through, a hold, a policy) that commands change, and seven joints
//! that move while it runs. One thread runs them all: it polls every node every few
//! milliseconds (commands are answered within that), ticking each model just before its
//! node publishes its state.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use embody_control::Lifecycle;

use crate::certs::{Authority, Role};
use crate::command::{Command, Outcome};
use crate::config::NetConfig;
use crate::error::NetError;
use crate::ros2::RosConfig;
use crate::unit_link::{CommandRequest, LinkStats, UnitInfo, UnitLinkConfig};
use crate::unit_node::UnitNode;
use crate::wire::{Activity, ActivityKind, EventKind, JointSummary, UnitState, unix_ns};

/// The name of simulated unit `k` (from 0): `SIM-0001`, …
pub fn unit_name(k: usize) -> String {
    format!("SIM-{:04}", k + 1)
}

/// One simulated unit's model.
struct SimUnit {
    node: UnitNode,
    lifecycle: Lifecycle,
    fault: Option<String>,
    activity: Activity,
    held: Option<Activity>,
    step_started: Instant,
    phase: f32,
}

/// How often the nodes are polled: the most a command waits to be taken, and a state
/// to be published after its time.
const POLL_EVERY: Duration = Duration::from_millis(5);

const STEPS: u32 = 8;
const STEP_S: f64 = 2.0;
const JOINTS: usize = 7;

impl SimUnit {
    fn new(node: UnitNode, k: usize) -> SimUnit {
        SimUnit {
            node,
            lifecycle: Lifecycle::Running,
            fault: None,
            activity: task("patrol"),
            held: None,
            step_started: Instant::now(),
            phase: k as f32 * 0.37,
        }
    }

    /// Polls the node and carries out the commands it took.
    fn poll(&mut self, now: Instant) {
        self.node.poll(now);
        for request in self.node.commands() {
            self.command(request);
        }
    }

    /// One step of the model, when its state is due: its task's steps, and its state.
    fn tick(&mut self, t_s: f32) {
        let moving = self.lifecycle == Lifecycle::Running
            && matches!(
                self.activity.kind,
                ActivityKind::Task | ActivityKind::Policy
            );
        if moving && self.step_started.elapsed().as_secs_f64() >= STEP_S {
            self.step_started = Instant::now();
            self.activity.step += 1;
            if self.activity.kind == ActivityKind::Task && self.activity.step >= self.activity.steps
            {
                self.activity.step = 0;
            }
            if self.activity.kind == ActivityKind::Task {
                let text = format!(
                    "task {}: step {} of {}",
                    self.activity.name,
                    self.activity.step + 1,
                    self.activity.steps
                );
                self.node.event(EventKind::Step, text, None);
            }
        }
        let speed = if moving { 0.5 } else { 0.0 };
        let q = (0..JOINTS)
            .map(|j| 0.4 * (speed * t_s + self.phase + j as f32).sin())
            .collect();
        self.node.offer_state(UnitState {
            stamp_ns: unix_ns(),
            lifecycle: self.lifecycle,
            fault: self.fault.clone(),
            activity: self.activity.clone(),
            joints: JointSummary {
                q,
                max_speed: 0.4 * speed,
                max_torque: if self.lifecycle == Lifecycle::Fault {
                    0.0
                } else {
                    2.5
                },
                max_error: 0.002,
            },
            base_pose: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            ..UnitState::default()
        });
    }

    fn command(&mut self, request: CommandRequest) {
        let operator = request.message.operator.clone();
        let (outcome, detail) = self.apply(&request.message.command, &operator);
        self.node.ack(request.id, outcome, detail, self.lifecycle);
    }

    fn apply(&mut self, command: &Command, operator: &str) -> (Outcome, String) {
        let faulted = self.lifecycle == Lifecycle::Fault;
        let refuse = |why: &str| (Outcome::Refused, why.to_owned());
        match command {
            Command::Estop => {
                if !faulted {
                    self.lifecycle = Lifecycle::Fault;
                    self.fault = Some("e_stop".into());
                    self.node.event(
                        EventKind::Fault,
                        format!("e-stop pressed by {operator}: damping, then torque off"),
                        Some(operator.to_owned()),
                    );
                }
                (Outcome::Done, "e-stop pressed".into())
            }
            Command::ClearFault if faulted => {
                self.lifecycle = Lifecycle::Armed;
                self.fault = None;
                self.activity = Activity::default();
                self.node.event(
                    EventKind::Transition,
                    "fault cleared: armed, holding".into(),
                    Some(operator.to_owned()),
                );
                (Outcome::Done, "fault cleared".into())
            }
            Command::ClearFault => refuse("no fault to clear"),
            _ if faulted => refuse("faulted: clear the fault first"),
            Command::Hold if self.activity.kind == ActivityKind::Holding => {
                (Outcome::Done, "already holding".into())
            }
            Command::Hold => {
                self.held = Some(std::mem::replace(&mut self.activity, holding()));
                (Outcome::Done, "holding".into())
            }
            Command::Resume => match self.held.take() {
                Some(activity) => {
                    self.activity = activity;
                    self.lifecycle = Lifecycle::Running;
                    (Outcome::Done, format!("resumed {}", self.activity.name))
                }
                None => refuse("not holding"),
            },
            Command::Cancel => {
                self.held = None;
                self.activity = holding();
                (Outcome::Done, "cancelled: holding".into())
            }
            Command::RunTask { name } | Command::RunPolicy { name, .. } => {
                self.held = None;
                self.lifecycle = Lifecycle::Running;
                self.step_started = Instant::now();
                self.activity = match command {
                    Command::RunTask { .. } => task(name),
                    _ => Activity {
                        kind: ActivityKind::Policy,
                        name: name.clone(),
                        ..Activity::default()
                    },
                };
                self.node.event(
                    EventKind::Step,
                    format!("{} started", command.words()),
                    Some(operator.to_owned()),
                );
                (Outcome::Done, format!("{} started", command.words()))
            }
        }
    }
}

fn task(name: &str) -> Activity {
    Activity {
        kind: ActivityKind::Task,
        name: name.to_owned(),
        step: 0,
        steps: STEPS,
    }
}

fn holding() -> Activity {
    Activity {
        kind: ActivityKind::Holding,
        ..Activity::default()
    }
}

/// How many simulated units, and what they publish.
#[derive(Clone, Debug, PartialEq)]
pub struct SimUnits {
    /// How many (1 to 10,000).
    pub count: usize,
    /// The first one's index: unit `first` is `SIM-<first + 1>` (several processes
    /// each run their own share of a fleet).
    pub first: usize,
    /// State messages a second, each.
    pub rate_hz: f64,
    /// Also publish to ROS 2 in this domain (joints `joint1` … `joint7`).
    pub ros_domain: Option<u32>,
}

/// Simulated units running. See the module docs.
pub struct SimFleet {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<Result<LinkStats, NetError>>>>,
    /// The units' names.
    pub units: Vec<String>,
}

impl SimFleet {
    /// Starts `units` of `fleet` on `net`; `progress` hears every 100th unit that joined
    /// and the last (`300 of 1000 units joined`). With `certs`, each unit joins with its
    /// own certificate (issued beforehand: `units/SIM-0001.pem`, …).
    pub fn start(
        net: &NetConfig,
        certs: Option<&Authority>,
        fleet: &str,
        units: &SimUnits,
        progress: &mut dyn FnMut(&str),
    ) -> Result<SimFleet, NetError> {
        let SimUnits {
            count,
            first,
            rate_hz,
            ..
        } = *units;
        let ros = units.ros_domain.map(|domain| RosConfig {
            domain,
            joint_names: (1..=7).map(|k| format!("joint{k}")).collect(),
        });
        if !(1..=10_000).contains(&count) || first + count > 10_000 {
            return Err(NetError::Invalid(format!(
                "1 to 10000 simulated units, SIM-0001 to SIM-10000, not {count} from SIM-{:04}",
                first + 1
            )));
        }
        let mut units = Vec::with_capacity(count);
        for k in first..first + count {
            let mut net = net.clone();
            if let Some(certs) = certs {
                net.tls = Some(certs.identity(Role::Unit, &unit_name(k))?);
            }
            let mut config = UnitLinkConfig::new(
                net,
                fleet,
                &unit_name(k),
                UnitInfo {
                    robot: "arm7".into(),
                    firmware: Some("sim".into()),
                    config_digest: None,
                },
            );
            config.rate_hz = rate_hz;
            config.ros = ros.clone();
            // Joined here, one after another: the thread below starts with every
            // unit on the network (or trying again, a router not reached).
            let mut node = UnitNode::new(config)?;
            node.poll(Instant::now());
            units.push(SimUnit::new(node, k));
            let joined = k - first + 1;
            if joined.is_multiple_of(100) || joined == count {
                progress(&format!("{joined} of {count} units joined"));
            }
        }
        let names = (first..first + count).map(unit_name).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("sim-units".into())
                .spawn(move || {
                    let start = Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        let now = Instant::now();
                        let t_s = now.duration_since(start).as_secs_f32();
                        for unit in &mut units {
                            // Its state is taken just before it is published.
                            if unit.node.state_due(now) {
                                unit.tick(t_s);
                            }
                            unit.poll(now);
                        }
                        std::thread::sleep(
                            (now + POLL_EVERY).saturating_duration_since(Instant::now()),
                        );
                    }
                    units.into_iter().map(|u| u.node.close()).collect()
                })
                .map_err(|e| NetError::Thread(e.to_string()))?
        };
        Ok(SimFleet {
            stop,
            thread: Some(thread),
            units: names,
        })
    }

    /// Stops every unit (their liveliness ends) and says what each link did.
    pub fn stop(mut self) -> Result<Vec<LinkStats>, NetError> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take();
        let results = thread
            .map(|t| {
                t.join()
                    .map_err(|_| NetError::Thread("simulated units panicked".into()))
            })
            .transpose()?
            .unwrap_or_default();
        results.into_iter().collect()
    }
}

impl Drop for SimFleet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
