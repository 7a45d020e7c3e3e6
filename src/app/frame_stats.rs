//! Frame-time statistics, printed to stderr when `LATENTLAB_FRAME_STATS` is set: the
//! window's own measure of a hitch (median, p99 and worst frame over each minute).

use std::time::{Duration, Instant};

/// Frame times of the last minute.
#[derive(Default)]
pub struct FrameStats {
    enabled: bool,
    since: Option<Instant>,
    times: Vec<f64>,
}

impl FrameStats {
    /// Records only when `LATENTLAB_FRAME_STATS` is set.
    pub fn from_env() -> Self {
        Self {
            enabled: std::env::var_os("LATENTLAB_FRAME_STATS").is_some(),
            ..Self::default()
        }
    }

    /// Adds one frame's time; prints and starts again every 60 s.
    pub fn record(&mut self, ms: f64) {
        if !self.enabled {
            return;
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        self.times.push(ms);
        if since.elapsed() >= Duration::from_secs(60) {
            self.times.sort_by(f64::total_cmp);
            let at = |q: f64| {
                let i = ((self.times.len() - 1) as f64 * q).round() as usize;
                self.times.get(i).copied().unwrap_or(0.0)
            };
            let (median, p99, worst) = (at(0.5), at(0.99), at(1.0));
            eprintln!(
                "frame stats over 60 s: {} frames, median {median:.2} ms, p99 {p99:.2} ms, worst {worst:.2} ms",
                self.times.len()
            );
            self.times.clear();
            self.since = Some(Instant::now());
        }
    }
}
