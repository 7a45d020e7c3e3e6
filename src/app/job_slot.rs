//! The newest result of a job that runs on its own thread, for one key at a time: the last
//! finished result stays shown while a newer one is made, at most one thread runs, and the
//! key asked for when it ends is made next (keys asked for in between are skipped). The
//! bound of the drawn item (`bound.rs`) and a conv decoder's panels (`decodes.rs`) keep one
//! per model.

use crossbeam_channel::{Receiver, TryRecvError, bounded};

/// One model's results: the one shown (with its key) and the one being made.
pub struct JobSlot<T> {
    shown: Option<(u64, T)>,
    running: Option<(u64, Receiver<T>)>,
}

impl<T> Default for JobSlot<T> {
    fn default() -> Self {
        Self {
            shown: None,
            running: None,
        }
    }
}

impl<T: Send + 'static> JobSlot<T> {
    /// Takes a finished result from its thread; `lost` stands in for the result of a thread
    /// that stopped without sending one.
    pub fn collect(&mut self, lost: impl FnOnce() -> T) {
        let Some((key, rx)) = &self.running else {
            return;
        };
        let done = match rx.try_recv() {
            Ok(d) => d,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => lost(),
        };
        self.shown = Some((*key, done));
        self.running = None;
    }

    /// The result shown and its key (`None` before the first has finished).
    pub fn shown(&self) -> Option<(u64, &T)> {
        self.shown.as_ref().map(|(k, v)| (*k, v))
    }

    /// True if what is shown is not `key`'s result: none yet, or an older key's.
    pub fn is_stale(&self, key: u64) -> bool {
        self.shown.as_ref().is_none_or(|(k, _)| *k != key)
    }

    /// True while a thread is making a result.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Shows `value` as `key`'s result at once (one made in the frame).
    pub fn set(&mut self, key: u64, value: T) {
        self.shown = Some((key, value));
    }

    /// Makes `key`'s result with `job` on a new thread named `name`, unless one is running;
    /// the window is repainted when it ends. `failed` stands in for the result when no
    /// thread can start.
    pub fn start(
        &mut self,
        ctx: &egui::Context,
        key: u64,
        name: &str,
        job: impl FnOnce() -> T + Send + 'static,
        failed: impl FnOnce(String) -> T,
    ) {
        if self.running.is_some() {
            return;
        }
        let (tx, rx) = bounded(1);
        let ctx = ctx.clone();
        let started = std::thread::Builder::new().name(name.into()).spawn({
            let tx = tx.clone();
            move || {
                let _ = tx.send(job());
                ctx.request_repaint();
            }
        });
        if let Err(e) = started {
            let _ = tx.send(failed(format!("could not start a thread: {e}")));
        }
        self.running = Some((key, rx));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Collects until a result is shown, or gives up after 10 s.
    fn wait_shown<T: Send + 'static>(slot: &mut JobSlot<T>, lost: fn() -> T) {
        let t0 = Instant::now();
        while slot.is_running() && t0.elapsed() < Duration::from_secs(10) {
            slot.collect(lost);
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(!slot.is_running(), "the job never ended");
    }

    #[test]
    fn one_job_at_a_time_and_the_last_result_stays_shown_until_the_next() {
        let ctx = egui::Context::default();
        let mut slot = JobSlot::<u32>::default();
        let (go, wait) = bounded::<()>(1);
        slot.start(
            &ctx,
            1,
            "test",
            move || wait.recv().map_or(0, |_| 10),
            |_| 0,
        );
        assert!(slot.is_running() && slot.is_stale(1) && slot.shown().is_none());
        // Asked for while the first runs: not started (the caller asks again later).
        slot.start(&ctx, 2, "test", || 20, |_| 0);
        go.send(()).unwrap();
        wait_shown(&mut slot, || 0);
        assert_eq!(slot.shown(), Some((1, &10)));
        assert!(!slot.is_stale(1) && slot.is_stale(2));
        slot.start(&ctx, 2, "test", || 20, |_| 0);
        // While key 2 is made, key 1's result is still the one shown.
        assert_eq!(slot.shown().map(|(k, _)| k), Some(1));
        wait_shown(&mut slot, || 0);
        assert_eq!(slot.shown(), Some((2, &20)));
        slot.set(3, 30);
        assert_eq!(slot.shown(), Some((3, &30)));
    }

    #[test]
    fn a_thread_that_stops_without_a_result_shows_what_stands_in_for_it() {
        let ctx = egui::Context::default();
        let mut slot = JobSlot::<&'static str>::default();
        slot.start(
            &ctx,
            7,
            "test",
            || panic!("a job that fails"),
            |_| "no thread",
        );
        wait_shown(&mut slot, || "the thread stopped");
        assert_eq!(slot.shown(), Some((7, &"the thread stopped")));
    }
}
