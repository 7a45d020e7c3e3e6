//! Where the worker's time goes, printed to stderr when `LATENTLAB_WORKER_STATS` is set
//! (its value: seconds between lines, default 10): training steps, snapshots, epoch ends
//! and timed evaluations, and the rest (commands, events, waiting). A measure for the
//! notes, never read by training.

use std::time::{Duration, Instant};

/// What one unit of the worker's time was spent on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spent {
    /// Training steps.
    Step,
    /// Building snapshots.
    Snapshot,
    /// Epoch ends (test metrics, k-NN).
    EpochEnd,
    /// Timed test evaluations.
    Eval,
}

const KINDS: [Spent; 4] = [Spent::Step, Spent::Snapshot, Spent::EpochEnd, Spent::Eval];

/// Time and counts per kind of work since the last line printed.
#[derive(Debug, Default)]
pub(crate) struct WorkerStats {
    every: Option<Duration>,
    since: Option<Instant>,
    spent: [Duration; 4],
    counts: [u64; 4],
}

impl WorkerStats {
    /// Records only when `LATENTLAB_WORKER_STATS` is set.
    pub(crate) fn from_env() -> Self {
        let every = std::env::var("LATENTLAB_WORKER_STATS").ok().map(|v| {
            let secs = v.trim().parse::<f64>().ok().filter(|s| *s >= 0.1);
            Duration::from_secs_f64(secs.unwrap_or(10.0))
        });
        Self {
            every,
            ..Self::default()
        }
    }

    /// Runs `work`, counting its time under `kind` when enabled.
    pub(crate) fn time<T>(&mut self, kind: Spent, work: impl FnOnce() -> T) -> T {
        if self.every.is_none() {
            return work();
        }
        let started = Instant::now();
        let out = work();
        let i = KINDS.iter().position(|k| *k == kind).unwrap_or(0);
        self.spent[i] += started.elapsed();
        self.counts[i] += 1;
        out
    }

    /// Prints a line once the period is over (`step` is the run's step now).
    pub(crate) fn report_when_due(&mut self, step: u64) {
        let Some(every) = self.every else {
            return;
        };
        let since = *self.since.get_or_insert_with(Instant::now);
        let wall = since.elapsed();
        if wall < every {
            return;
        }
        let secs = wall.as_secs_f64();
        let part = |i: usize| {
            format!(
                "{:?} {:.1}% ({} × {:.2} ms)",
                KINDS[i],
                100.0 * self.spent[i].as_secs_f64() / secs,
                self.counts[i],
                1000.0 * self.spent[i].as_secs_f64() / (self.counts[i].max(1) as f64)
            )
        };
        let busy: Duration = self.spent.iter().sum();
        // The wall clock, so a script can line the worker's lines up with the launch.
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        eprintln!(
            "worker stats at unix {unix:.2} over {secs:.1} s: step {step}, {:.1} steps/s; {}; {}; {}; {}; other {:.1}%",
            self.counts[0] as f64 / secs,
            part(0),
            part(1),
            part(2),
            part(3),
            100.0 * (1.0 - busy.as_secs_f64() / secs)
        );
        self.spent = [Duration::ZERO; 4];
        self.counts = [0; 4];
        self.since = Some(Instant::now());
    }
}
