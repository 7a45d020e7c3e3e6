//! Frame-time statistics, printed to stderr when `LATENTLAB_FRAME_STATS` is set: the
//! window's own measure of a hitch (median, p99 and worst frame over each period; the
//! variable's value is the period in seconds, 60 unless it is a number of at least 1).

use std::time::{Duration, Instant};

/// Frame times of the current period.
#[derive(Default)]
pub struct FrameStats {
    every: Option<Duration>,
    since: Option<Instant>,
    times: Vec<f64>,
}

impl FrameStats {
    /// Records only when `LATENTLAB_FRAME_STATS` is set.
    pub fn from_env() -> Self {
        Self {
            every: std::env::var("LATENTLAB_FRAME_STATS").ok().map(|v| {
                let secs = v.trim().parse::<f64>().ok().filter(|s| *s >= 1.0);
                Duration::from_secs_f64(secs.unwrap_or(60.0))
            }),
            ..Self::default()
        }
    }

    /// Adds one frame's time; prints and starts again at the end of each period.
    pub fn record(&mut self, ms: f64) {
        let Some(every) = self.every else {
            return;
        };
        let since = *self.since.get_or_insert_with(Instant::now);
        self.times.push(ms);
        let wall = since.elapsed();
        if wall >= every {
            let busy: f64 = self.times.iter().sum();
            self.times.sort_by(f64::total_cmp);
            let at = |q: f64| {
                let i = ((self.times.len() - 1) as f64 * q).round() as usize;
                self.times.get(i).copied().unwrap_or(0.0)
            };
            let (median, p99, worst) = (at(0.5), at(0.99), at(1.0));
            let secs = wall.as_secs_f64();
            eprintln!(
                "frame stats over {secs:.0} s: {} frames ({:.1}/s, {:.1}% of the time in frames), median {median:.2} ms, p99 {p99:.2} ms, worst {worst:.2} ms",
                self.times.len(),
                self.times.len() as f64 / secs,
                busy / 10.0 / secs,
            );
            self.times.clear();
            self.since = Some(Instant::now());
        }
    }
}
