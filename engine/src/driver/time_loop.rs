//! The time loop: steps from `t0` to `t_end`, fixed or adaptive, with the
//! mesh motion, the monitors and a progress bar.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use super::checkpoint::{Checkpoint, Checkpoints, Progress};
use super::{Interrupt, MeshMotion, Monitor, StepInfo};
use crate::physics::{StepError, Stepper};
use crate::time::Adaptive;

/// Statistics of a finished run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSummary {
    /// Steps committed.
    pub steps: usize,
    /// Steps rejected by the adaptive controller.
    pub rejected: usize,
    /// Final time.
    pub t: f64,
    /// Smallest and largest step taken.
    pub dt_range: (f64, f64),
    /// Solver iterations summed over steps.
    pub iterations: usize,
    /// Steps whose preconditioner gave way to its classical fallback, and
    /// why the first did.
    pub fallbacks: (usize, Option<String>),
}

/// The time loop: from `t0` to `t_end` with step `dt` (or adaptive).
#[derive(Clone, Debug)]
pub struct TimeLoop {
    /// Start time.
    pub t0: f64,
    /// End time.
    pub t_end: f64,
    /// (Initial) step.
    pub dt: f64,
    /// Adaptive control, if any.
    pub adaptive: Option<Adaptive>,
    /// States whose largest absolute value exceeds this are divergent.
    pub blow_up: f64,
    /// Show progress (time, step size, iterations, the monitors' status,
    /// elapsed time and ETA): a bar when stderr is a terminal, else a line
    /// every [`TimeLoop::progress_every`], for batch logs.
    pub progress: bool,
    /// How often a progress line is printed when stderr is not a terminal.
    pub progress_every: Duration,
    /// Stops the run after the step in progress when requested (by
    /// SIGINT/SIGTERM through [`Interrupt::on_signals`], or by a program).
    pub interrupt: Option<Interrupt>,
    /// Writes checkpoints (periodically, and when interrupted) for
    /// [`TimeLoop::resume`].
    pub checkpoints: Option<Checkpoints>,
}

impl TimeLoop {
    /// Fixed steps of `dt` from `t0` to `t_end` (the last step is shortened
    /// to land on `t_end`).
    pub fn new(t0: f64, t_end: f64, dt: f64) -> Self {
        TimeLoop {
            t0,
            t_end,
            dt,
            adaptive: None,
            blow_up: 1e100,
            progress: false,
            progress_every: Duration::from_secs(10),
            interrupt: None,
            checkpoints: None,
        }
    }

    /// Runs the loop on `stepper`, which starts at `t0`. The monitors see
    /// the initial state, every committed step and the end; they finish
    /// (flush their records) whether the run succeeded or failed, and a
    /// failure of the run takes precedence over theirs.
    pub fn run<S: Stepper + ?Sized>(
        &self,
        stepper: &mut S,
        motion: Option<&mut dyn MeshMotion<S>>,
        monitors: &mut [&mut dyn Monitor<S>],
    ) -> Result<RunSummary, StepError> {
        self.execute(None, stepper, motion, monitors)
    }

    /// Continues a run from `checkpoint`: the mesh motion (the moved mesh),
    /// the model and the monitors (the same monitors, in the same order, as
    /// the run that wrote it) are restored, and the steps go on as if the
    /// run had never stopped.
    pub fn resume<S: Stepper + ?Sized>(
        &self,
        checkpoint: &Checkpoint,
        stepper: &mut S,
        motion: Option<&mut dyn MeshMotion<S>>,
        monitors: &mut [&mut dyn Monitor<S>],
    ) -> Result<RunSummary, StepError> {
        self.execute(Some(checkpoint), stepper, motion, monitors)
    }

    fn execute<S: Stepper + ?Sized>(
        &self,
        from: Option<&Checkpoint>,
        stepper: &mut S,
        mut motion: Option<&mut dyn MeshMotion<S>>,
        monitors: &mut [&mut dyn Monitor<S>],
    ) -> Result<RunSummary, StepError> {
        let mut display = Display::new(self.progress, self.progress_every);
        let started = match from {
            None => monitors
                .iter_mut()
                .try_for_each(|m| m.start(self.t0, stepper))
                .map(|()| Progress {
                    summary: RunSummary {
                        t: self.t0,
                        dt_range: (f64::INFINITY, 0.0),
                        ..RunSummary::default()
                    },
                    dt: self.dt,
                }),
            Some(c) => restore_checkpoint(c, stepper, motion.as_deref_mut(), monitors)
                .map(|()| c.progress.clone()),
        };
        let result =
            started.and_then(|from| self.steps(from, stepper, motion, monitors, &mut display));
        display.finish();
        let finished = monitors.iter_mut().try_for_each(|m| m.finish(stepper));
        let summary = result?;
        finished?;
        Ok(summary)
    }

    fn steps<S: Stepper + ?Sized>(
        &self,
        from: Progress,
        stepper: &mut S,
        mut motion: Option<&mut dyn MeshMotion<S>>,
        monitors: &mut [&mut dyn Monitor<S>],
        display: &mut Display,
    ) -> Result<RunSummary, StepError> {
        let Progress {
            mut summary,
            mut dt,
        } = from;
        let mut t = summary.t;
        let span = self.t_end - self.t0;
        let eps = 1e-12 * span.abs().max(1.0);
        while t < self.t_end - eps {
            if let Some(signal) = self.interrupt.as_ref().and_then(Interrupt::requested) {
                self.checkpoint(&summary, dt, stepper, motion.as_deref(), monitors)?;
                return Err(StepError::Interrupted {
                    signal,
                    step: summary.steps,
                    t,
                });
            }
            // The mesh moves first: the stable step depends on it.
            if let Some(m) = motion.as_mut() {
                m.before_step(t, stepper)?;
            }
            let h = dt
                .min(self.t_end - t)
                .min(stepper.stable_dt().unwrap_or(f64::INFINITY));
            // A step that cannot advance the time, or that would need more
            // than a billion steps to finish, would run forever (the last
            // step, shortened to land on the end, may be as short as it is).
            let landing = h == self.t_end - t;
            let advances = t + h > t;
            if !advances || (h < 1e-9 * span.abs() && !landing) {
                return Err(StepError::StepTooSmall { t, dt: h });
            }
            let report = stepper.try_step(t, h)?;
            summary.iterations += report.iterations;
            if let Some(why) = &report.fallback {
                summary.fallbacks.0 += 1;
                summary.fallbacks.1.get_or_insert_with(|| why.clone());
            }
            if !report.max_abs.is_finite() || report.max_abs > self.blow_up {
                return Err(StepError::Diverged {
                    step: summary.steps + 1,
                    t: t + h,
                    reason: if report.max_abs.is_finite() {
                        format!(
                            "largest value {:e} above the divergence limit {:e} (time.blow_up)",
                            report.max_abs, self.blow_up
                        )
                    } else {
                        format!("largest value {}", report.max_abs)
                    },
                });
            }
            if let (Some(a), Some(err)) = (self.adaptive, report.error_estimate) {
                // Controller for a local error of order p + 1.
                let factor = (a.tolerance / err.max(1e-300))
                    .powf(1.0 / 3.0)
                    .clamp(0.2, 2.0)
                    * 0.9;
                if err > a.tolerance && h > a.dt_min {
                    summary.rejected += 1;
                    dt = (h * factor).max(a.dt_min);
                    continue;
                }
                if err > a.tolerance {
                    return Err(StepError::StepTooSmall { t, dt: h });
                }
                dt = (h * factor).clamp(a.dt_min, a.dt_max);
            }
            stepper.commit();
            t += h;
            summary.steps += 1;
            summary.t = t;
            summary.dt_range = (summary.dt_range.0.min(h), summary.dt_range.1.max(h));
            let info = StepInfo {
                step: summary.steps,
                t,
                dt: h,
                report: &report,
            };
            for m in monitors.iter_mut() {
                m.record(&info, stepper).map_err(|e| match e {
                    // Name the step whose record could not be written.
                    StepError::Output(why) => {
                        StepError::Output(format!("step {}, t = {t:.6e}: {why}", summary.steps))
                    }
                    other => other,
                })?;
            }
            let every = self.checkpoints.as_ref().and_then(|c| c.every);
            if every.is_some_and(|n| summary.steps % n == 0) {
                self.checkpoint(&summary, dt, stepper, motion.as_deref(), monitors)?;
            }
            if display.wanted() {
                let mut message = format!(
                    "t {t:.4e}  dt {h:.2e}  step {}  it {}",
                    summary.steps, report.iterations
                );
                for status in monitors.iter().filter_map(|m| m.status()) {
                    message.push_str("  ");
                    message.push_str(&status);
                }
                display.show((t - self.t0) / span, &message);
            }
        }
        Ok(summary)
    }
}

impl TimeLoop {
    /// Writes a checkpoint of the run at `summary` (next step `dt`), when
    /// checkpoints are on and the model can be checkpointed.
    fn checkpoint<S: Stepper + ?Sized>(
        &self,
        summary: &RunSummary,
        dt: f64,
        stepper: &S,
        motion: Option<&dyn MeshMotion<S>>,
        monitors: &[&mut dyn Monitor<S>],
    ) -> Result<(), StepError> {
        let (Some(c), Some(model)) = (&self.checkpoints, stepper.snapshot()) else {
            return Ok(());
        };
        let checkpoint = Checkpoint {
            identity: c.identity.clone(),
            progress: Progress {
                summary: summary.clone(),
                dt,
            },
            model,
            monitors: monitors.iter().map(|m| m.checkpoint()).collect(),
            motion: motion.map(|m| m.snapshot(stepper)),
        };
        checkpoint
            .write(&c.dir)
            .map(drop)
            .map_err(|e| StepError::Output(format!("step {}: checkpoint: {e:#}", summary.steps)))
    }
}

/// Restores the mesh motion, the model and the monitors from `checkpoint`
/// (also what [`crate::simulation::Simulation::restore`] does, with no
/// monitors).
pub(crate) fn restore_checkpoint<'m, S: Stepper + ?Sized>(
    checkpoint: &Checkpoint,
    stepper: &mut S,
    motion: Option<&mut (dyn MeshMotion<S> + 'm)>,
    monitors: &mut [&mut dyn Monitor<S>],
) -> Result<(), StepError> {
    if checkpoint.monitors.len() != monitors.len() {
        return Err(StepError::Restart(format!(
            "it has the records of {} monitors; this run has {}",
            checkpoint.monitors.len(),
            monitors.len()
        )));
    }
    // The mesh first: the model's state belongs to the moved mesh.
    match (&checkpoint.motion, motion) {
        (Some(saved), Some(motion)) => motion.restore(saved, stepper)?,
        (None, None) => {}
        (saved, _) => {
            return Err(StepError::Restart(format!(
                "it was written by a run {} a mesh mover; this run has {}",
                if saved.is_some() { "with" } else { "without" },
                if saved.is_some() { "none" } else { "one" }
            )))
        }
    }
    stepper.restore(&checkpoint.model)?;
    for (m, saved) in monitors.iter_mut().zip(&checkpoint.monitors) {
        m.resume(saved)?;
    }
    Ok(())
}

/// The progress display of a run: a bar on a terminal, plain lines at an
/// interval elsewhere (a batch job's log), or nothing.
enum Display {
    Hidden,
    Bar(indicatif::ProgressBar),
    Lines {
        every: Duration,
        started: Instant,
        last: Instant,
    },
}

impl Display {
    fn new(show: bool, every: Duration) -> Self {
        if !show {
            Display::Hidden
        } else if std::io::stderr().is_terminal() {
            Display::Bar(progress_bar(true))
        } else {
            let now = Instant::now();
            Display::Lines {
                every,
                started: now,
                last: now,
            }
        }
    }

    fn wanted(&self) -> bool {
        !matches!(self, Display::Hidden)
    }

    /// Shows `message` at `fraction` of the run.
    fn show(&mut self, fraction: f64, message: &str) {
        match self {
            Display::Hidden => {}
            Display::Bar(bar) => {
                bar.set_position((1000.0 * fraction) as u64);
                bar.set_message(message.to_string());
            }
            Display::Lines {
                every,
                started,
                last,
            } => {
                if last.elapsed() < *every {
                    return;
                }
                *last = Instant::now();
                let elapsed = started.elapsed().as_secs_f64();
                let eta = elapsed * (1.0 - fraction) / fraction.max(1e-12);
                eprintln!(
                    "{:>3.0}%  {message}  [{} < {}]",
                    100.0 * fraction,
                    clock(elapsed),
                    clock(eta)
                );
            }
        }
    }

    fn finish(&self) {
        if let Display::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Seconds as `h:mm:ss`.
fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// A progress bar (hidden unless `show`): position in thousandths of the
/// run, a message, elapsed time and ETA.
pub(crate) fn progress_bar(show: bool) -> indicatif::ProgressBar {
    let bar = if show {
        indicatif::ProgressBar::new(1000)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {percent:>3}% {msg} [{elapsed_precise} < {eta_precise}]",
        )
        .expect("valid template"),
    );
    bar
}
