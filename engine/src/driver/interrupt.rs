//! Stopping a run between steps: SIGINT (Ctrl-C) and SIGTERM ask the time
//! loop to stop after the step in progress, so that the output series and
//! every monitor are complete up to it; a second signal ends the process
//! at once, as it would have without us.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;
use signal_hook::SigId;

/// A request to stop a run after the step in progress, shared between the
/// time loop and whoever asks (a signal, or an embedding program).
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<AtomicUsize>);

impl Interrupt {
    /// No request yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to stop, as signal number `signal` would.
    pub fn request(&self, signal: i32) {
        self.0.store(signal.max(1) as usize, Ordering::SeqCst);
    }

    /// The signal that asked the run to stop, if one did.
    pub fn requested(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal as i32),
        }
    }

    /// Makes SIGINT and SIGTERM request the stop while the guard lives; a
    /// second one takes the signal's default action (the process ends).
    pub fn on_signals(&self) -> std::io::Result<SignalGuard> {
        let seen = Arc::new(AtomicBool::new(false));
        let mut ids = Vec::new();
        for signal in [SIGINT, SIGTERM] {
            // Actions run in the order registered: the default action only
            // when an earlier signal was seen.
            ids.push(flag::register_conditional_default(signal, seen.clone())?);
            ids.push(flag::register(signal, seen.clone())?);
            ids.push(flag::register_usize(
                signal,
                self.0.clone(),
                signal as usize,
            )?);
        }
        Ok(SignalGuard(ids))
    }
}

/// Keeps [`Interrupt::on_signals`]' handlers installed; dropping it gives
/// the signals their default actions back.
#[derive(Debug)]
pub struct SignalGuard(Vec<SigId>);

impl Drop for SignalGuard {
    fn drop(&mut self) {
        for id in self.0.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_sets_the_request_and_the_guard_removes_the_handlers() {
        let interrupt = Interrupt::new();
        assert_eq!(interrupt.requested(), None);
        {
            let _guard = interrupt.on_signals().unwrap();
            signal_hook::low_level::raise(SIGTERM).unwrap();
            assert_eq!(interrupt.requested(), Some(SIGTERM));
        }
        let other = Interrupt::new();
        other.request(SIGINT);
        assert_eq!(other.requested(), Some(SIGINT));
    }
}
