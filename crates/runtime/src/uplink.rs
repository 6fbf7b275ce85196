//! A real-time session on the site's network ([`crate::Session::net`]): the unit's
//! [`UnitLink`] hears the loop's state and events from the session's poll (never from
//! the loop's thread, and never waiting), and the operators' commands act on the loop
//! through its client — e-stop and clear through the software e-stop and a reset; hold
//! by no longer polling the driver, whose clock stops meanwhile (a task's trajectory
//! runs out and the loop holds where it stands; a policy's loop is stopped, holding),
//! and resume by going on from the same point of the driver's clock; cancel by ending
//! the session. A unit that loses the network holds as its [`OnLoss`] policy says — at
//! once, or once the task's step under way has finished — and stays holding, its events
//! kept, until an operator resumes it once the network is back.

use std::sync::Arc;

use embody_control::{
    Event, EventKind as LoopEvent, Lifecycle, LoopClient, Request, StateSnapshot, TimingReport,
};
use embody_net::wire::{Activity, ActivityKind, EventKind, JointSummary, LoopTiming, UnitState};
use embody_net::{Command, OnLoss, Outcome, UnitInfo, UnitLink, UnitLinkConfig};

use embody_model::Model;
use embody_planner::Outcome as StepOutcome;

use crate::drive::{Drive, Driver, TaskOutcome};
use crate::error::RuntimeError;
use crate::policy_outcome::PolicyOutcome;

/// What the session does after the commands of a poll.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Directive {
    /// Poll the driver as usual.
    Drive,
    /// Hold: leave the driver be.
    Hold,
    /// End the session, for this reason.
    End(String),
}

/// The unit's link and what its commands have done. See the module docs.
pub(crate) struct Uplink {
    link: Arc<UnitLink>,
    /// The task's or policy's name.
    name: String,
    held: bool,
    /// Loop time (s) when the hold began.
    held_at_s: f64,
    /// Loop time (s) spent held so far, before the current hold.
    held_for_s: f64,
    estop: bool,
    ended: Option<String>,
    fault: Option<String>,
    on_loss: OnLoss,
    loss_after_s: f64,
    /// The network is lost: the task's steps reported when it was (none for a policy).
    lost: Option<Option<usize>>,
    /// The task's steps told as events so far.
    steps_told: usize,
}

/// A unit's link kept open across sessions (a unit serving a library): each session
/// joins through it instead of opening its own.
#[derive(Clone)]
pub struct SharedLink {
    pub(crate) link: Arc<UnitLink>,
    /// What the unit said of itself when the link opened.
    pub(crate) info: UnitInfo,
    pub(crate) on_loss: OnLoss,
    pub(crate) loss_after: std::time::Duration,
}

impl std::fmt::Debug for SharedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLink")
            .field("on_loss", &self.on_loss)
            .finish_non_exhaustive()
    }
}

impl SharedLink {
    /// Joins the network as `config` says, for sessions of `model` (it names the joints
    /// published to ROS 2, when they are).
    pub(crate) fn open(config: &UnitLinkConfig, model: &Model) -> Result<SharedLink, RuntimeError> {
        let mut config = config.clone();
        if let Some(ros) = &mut config.ros
            && ros.joint_names.is_empty()
        {
            ros.joint_names = (model.actuated_joints())
                .map(|j| model.joints[j.0].name.clone())
                .collect();
        }
        let (on_loss, loss_after) = (config.on_loss, config.loss_after);
        Ok(SharedLink {
            info: config.info.clone(),
            link: Arc::new(UnitLink::spawn(config)?),
            on_loss,
            loss_after,
        })
    }
}

impl Uplink {
    /// Joins the network as `config` says, for a session of `model` driven by `drive`.
    pub(crate) fn start(
        config: &UnitLinkConfig,
        drive: &Drive,
        model: &Model,
    ) -> Result<Uplink, RuntimeError> {
        Ok(Uplink::on(&SharedLink::open(config, model)?, drive))
    }

    /// A session driven by `drive` on an open link.
    pub(crate) fn on(shared: &SharedLink, drive: &Drive) -> Uplink {
        let name = match drive {
            Drive::Policy(run) => (run.package.file_name())
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            _ => String::new(),
        };
        Uplink {
            link: shared.link.clone(),
            name,
            held: false,
            held_at_s: 0.0,
            held_for_s: 0.0,
            estop: false,
            ended: None,
            fault: None,
            on_loss: shared.on_loss,
            loss_after_s: shared.loss_after.as_secs_f64(),
            lost: None,
            steps_told: 0,
        }
    }

    /// Passes on the loop's fresh events.
    pub(crate) fn forward(&mut self, fresh: &[Event]) {
        for event in fresh {
            let kind = match &event.kind {
                LoopEvent::Transition {
                    to: Lifecycle::Fault,
                    cause,
                    ..
                } => {
                    self.fault = Some(cause.kind().to_owned());
                    EventKind::Fault
                }
                LoopEvent::Transition { to, .. } => {
                    if matches!(to, Lifecycle::Armed | Lifecycle::Running) {
                        self.fault = None;
                    }
                    EventKind::Transition
                }
                _ => EventKind::Loop,
            };
            self.link.event(kind, event.kind.to_string(), None);
        }
    }

    /// The driver's clock at loop time `now_s`: loop time less the time held.
    pub(crate) fn driver_time(&self, now_s: f64) -> f64 {
        now_s - self.held_for_s
    }

    /// Passes on the loop's state and carries out the commands that came in, at loop
    /// time `now_s`.
    pub(crate) fn poll(
        &mut self,
        snapshot: &StateSnapshot,
        now_s: f64,
        driver: &dyn Driver,
        client: &LoopClient,
    ) -> Directive {
        // What the driver has done so far, taken once: it is not polled meanwhile.
        let (task, policy_run) = (driver.outcome(), driver.policy_outcome());
        let policy = policy_run.is_some();
        self.tell_steps(task.as_ref());
        self.watch_network(now_s, task.as_ref(), policy, client);
        for request in self.link.commands() {
            let (outcome, detail) = self.command(
                &request.message.command,
                snapshot.lifecycle,
                now_s,
                policy,
                client,
            );
            self.link
                .ack(request.id, outcome, detail, snapshot.lifecycle);
        }
        self.link
            .offer_state(self.state(snapshot, task, policy_run, &client.timing()));
        match (&self.ended, self.held) {
            (Some(why), _) => Directive::End(why.clone()),
            (None, true) => Directive::Hold,
            (None, false) => Directive::Drive,
        }
    }

    fn command(
        &mut self,
        command: &Command,
        lifecycle: Lifecycle,
        now_s: f64,
        policy: bool,
        client: &LoopClient,
    ) -> (Outcome, String) {
        let faulted = matches!(lifecycle, Lifecycle::Fault | Lifecycle::Recovering);
        let queued = |r: Result<(), embody_control::QueueFull>, done: &str| match r {
            Ok(()) => (Outcome::Done, done.to_owned()),
            Err(e) => (
                Outcome::Failed,
                format!("the loop's queue is full: {}", e.0),
            ),
        };
        match command {
            Command::Estop => {
                self.estop = true;
                client.set_estop(true);
                (Outcome::Done, "e-stop pressed".into())
            }
            Command::ClearFault if !faulted && !self.estop => {
                (Outcome::Refused, "no fault to clear".into())
            }
            Command::ClearFault => {
                self.estop = false;
                client.set_estop(false);
                queued(
                    client.request(Request::Reset),
                    "e-stop released, reset requested",
                )
            }
            Command::Hold | Command::Resume if faulted => {
                (Outcome::Refused, "faulted: clear the fault first".into())
            }
            Command::Hold if self.held => (Outcome::Done, "already holding".into()),
            Command::Hold => match self.hold(now_s, policy, client) {
                Ok(()) => (Outcome::Done, "holding".into()),
                Err(e) => (Outcome::Failed, e),
            },
            Command::Resume if !self.held => (Outcome::Refused, "not holding".into()),
            Command::Resume => {
                self.held = false;
                self.held_for_s += now_s - self.held_at_s;
                match policy {
                    true => queued(client.request(Request::Start), "resumed"),
                    false => (Outcome::Done, "resumed".into()),
                }
            }
            Command::Cancel => {
                self.ended = Some("cancelled from the network".into());
                (Outcome::Done, "cancelled: the session ends".into())
            }
            Command::RunTask { .. } | Command::RunPolicy { .. } => (
                Outcome::Refused,
                "this session runs what it was started with; it takes no other task or policy"
                    .into(),
            ),
        }
    }

    /// Holds at loop time `now_s`; a policy's loop is stopped (its targets would stop
    /// arriving), holding in Armed.
    fn hold(&mut self, now_s: f64, policy: bool, client: &LoopClient) -> Result<(), String> {
        self.held = true;
        self.held_at_s = now_s;
        match policy {
            true => (client.request(Request::Stop))
                .map_err(|e| format!("the loop's queue is full: {}", e.0)),
            false => Ok(()),
        }
    }

    /// Publishes each task step that ended since the last poll as an event.
    fn tell_steps(&mut self, task: Option<&TaskOutcome>) {
        let Some(task) = task else {
            return;
        };
        for (k, step) in task.steps.iter().enumerate().skip(self.steps_told) {
            let how = match &step.outcome {
                StepOutcome::Done => "done".to_owned(),
                StepOutcome::Skipped => "skipped".to_owned(),
                StepOutcome::Failed(why) => format!("failed: {why}"),
            };
            let text = format!(
                "task {}: step {} '{}' {how} after {:.2} s",
                task.name,
                k + 1,
                step.name,
                step.duration_s
            );
            self.link.event(EventKind::Step, text, None);
        }
        self.steps_told = self.steps_told.max(task.steps.len());
    }

    /// Acts on the network's loss and return as the loss policy says.
    fn watch_network(
        &mut self,
        now_s: f64,
        task: Option<&TaskOutcome>,
        policy: bool,
        client: &LoopClient,
    ) {
        let steps = task.map(|task| task.steps.len());
        let offline_s = self.link.offline_for().map(|d| d.as_secs_f64());
        let say = |link: &UnitLink, text: String| link.event(EventKind::Link, text, None);
        match (offline_s, self.lost) {
            (Some(s), None) if s >= self.loss_after_s => {
                let finish = self.on_loss == OnLoss::FinishStep && steps.is_some() && !self.held;
                self.lost = Some(steps);
                if finish {
                    say(
                        &self.link,
                        format!(
                            "network lost for {s:.1} s: finishing the step under way, then holding"
                        ),
                    );
                } else {
                    let why = if self.held {
                        "already holding"
                    } else {
                        "holding"
                    };
                    if !self.held
                        && let Err(e) = self.hold(now_s, policy, client)
                    {
                        say(&self.link, format!("network lost: could not hold: {e}"));
                    }
                    say(
                        &self.link,
                        format!("network lost for {s:.1} s: {why} until an operator resumes"),
                    );
                }
            }
            (Some(_), Some(Some(at))) if !self.held && steps.is_some_and(|n| n > at) => {
                if let Err(e) = self.hold(now_s, policy, client) {
                    say(&self.link, format!("network lost: could not hold: {e}"));
                }
                say(
                    &self.link,
                    "the step finished: holding until an operator resumes".into(),
                );
            }
            (None, Some(_)) => {
                self.lost = None;
                let what = if self.held {
                    "holding until an operator resumes"
                } else {
                    "going on"
                };
                say(&self.link, format!("network back: {what}"));
            }
            _ => {}
        }
    }

    fn state(
        &self,
        s: &StateSnapshot,
        task: Option<TaskOutcome>,
        policy: Option<PolicyOutcome>,
        timing: &TimingReport,
    ) -> UnitState {
        let max_abs = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs())) as f32;
        let error =
            (s.q.iter().zip(&s.q_ref)).fold(0.0f64, |m, (q, r)| m.max((q - r).abs())) as f32;
        let activity = if self.held {
            Activity {
                kind: ActivityKind::Holding,
                ..Activity::default()
            }
        } else if let Some(task) = task {
            Activity {
                kind: ActivityKind::Task,
                name: task.name,
                step: task.steps.len() as u32,
                steps: 0,
            }
        } else if let Some(policy) = policy {
            Activity {
                kind: ActivityKind::Policy,
                name: self.name.clone(),
                step: policy.steps as u32,
                steps: 0,
            }
        } else {
            Activity::default()
        };
        UnitState {
            stamp_ns: embody_net::wire::unix_ns(),
            lifecycle: s.lifecycle,
            fault: (matches!(s.lifecycle, Lifecycle::Fault | Lifecycle::Recovering))
                .then(|| self.fault.clone())
                .flatten(),
            activity,
            joints: JointSummary {
                q: s.q.iter().map(|q| *q as f32).collect(),
                max_speed: max_abs(&s.dq),
                max_torque: max_abs(&s.tau_measured),
                max_error: error,
            },
            base_pose: s.base_pose.map(|v| v as f32),
            link: s.link,
            timing: LoopTiming {
                ticks: timing.ticks,
                overruns: timing.overruns,
                missed: timing.missed_deadlines,
            },
            ..UnitState::default()
        }
    }

    /// Says why the session ended, and leaves the network unless the link is shared.
    pub(crate) fn finish(self, why: &str) {
        self.link
            .event(EventKind::Step, format!("session ended: {why}"), None);
        if let Ok(link) = Arc::try_unwrap(self.link)
            && let Err(e) = link.finish()
        {
            tracing::warn!("the unit's network link: {e}");
        }
    }
}
