//! `embody flash`'s progress display: a bar per unit on a terminal, plain lines when
//! stderr is not one.

use std::sync::Mutex;

use embody_bridge::flasher::{Action, FlashError, Outcome, Step, describe_image};
use embody_fleet::flash::{Event, Target};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress display: a bar per unit on a terminal, plain lines otherwise.
pub(super) struct Bars {
    units: Vec<Mutex<UnitProgress>>,
}

impl Bars {
    pub(super) fn new(targets: &[Target], total: u64) -> Bars {
        let target = ProgressDrawTarget::stderr();
        let multi = (!target.is_hidden()).then(|| MultiProgress::with_draw_target(target));
        let units = targets
            .iter()
            .map(|t| {
                let bar = multi.as_ref().map(|m| {
                    let bar = m.add(ProgressBar::new(total));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{prefix:>12} [{bar:30}] {bytes:>9}/{total_bytes} {bytes_per_sec:>11} {msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(t.name.clone());
                    bar
                });
                Mutex::new(UnitProgress {
                    name: t.name.clone(),
                    bar,
                    quarter: 0,
                })
            })
            .collect();
        Bars { units }
    }

    pub(super) fn show(&self, k: usize, event: Event<'_>) {
        let Some(Ok(mut unit)) = self.units.get(k).map(Mutex::lock) else {
            return;
        };
        match event {
            Event::Step(step) => unit.step(step),
            Event::Done(result) => unit.done(result),
        }
    }
}

struct UnitProgress {
    name: String,
    bar: Option<ProgressBar>,
    quarter: u64,
}

impl UnitProgress {
    fn say(&self, what: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(what.to_owned()),
            None => eprintln!("{}: {what}", self.name),
        }
    }

    fn step(&mut self, step: Step) {
        match step {
            Step::Connected(state) => self.say(&format!(
                "connected; runs {}{}",
                describe_image(state.running.as_ref()),
                if state.trial { " on trial" } else { "" }
            )),
            Step::Transfer { sent, total } => match &self.bar {
                Some(bar) => bar.set_position(sent),
                None => {
                    let quarter = sent * 4 / total.max(1);
                    if quarter > self.quarter {
                        self.quarter = quarter;
                        eprintln!("{}: sent {sent} of {total} bytes", self.name);
                    }
                }
            },
            Step::Resumed(at) => self.say(&format!("link interrupted; resuming at byte {at}")),
            Step::Verifying => self.say("verifying on the unit"),
            Step::Restarting => self.say("restarting into the new image"),
            Step::SelfTest => self.say("self-test"),
        }
    }

    fn done(&self, result: &std::result::Result<Outcome, FlashError>) {
        let what = match result {
            Ok(o) => match o.action {
                Action::Skipped => "skipped (already runs it)",
                Action::WouldFlash => "would flash",
                Action::Flashed => "flashed and confirmed",
            },
            Err(_) => "FAILED",
        };
        match &self.bar {
            Some(bar) => bar.finish_with_message(what),
            None => eprintln!("{}: {what}", self.name),
        }
    }
}
