//! The history of a run's snapshots: what the window scrubs back through and what the
//! latent GIF animates. Pure data, no UI: the window and the command line both fill one.
//!
//! Memory stays bounded: when the frames pass a byte budget (or a frame count), one frame
//! goes, the one whose loss leaves the smallest gap on a log scale of steps. What stays is
//! dense at the start, where the latent space forms fastest, and log-spaced later; the
//! first and the newest frames always stay. Each frame keeps everything its snapshot has:
//! codes of the display items, reconstructions, and both halves of every model (so a
//! drawn item is re-encoded by the encoder of that moment).

use super::messages::Snapshot;
use crate::model::snapshot::DenseWeights;
use std::sync::Arc;

/// The window's default memory budget for the frames.
pub const DEFAULT_BUDGET_BYTES: usize = 256 << 20;
/// The most frames a timeline keeps, however small they are.
pub const DEFAULT_MAX_FRAMES: usize = 600;
/// The timeline's file in a saved run.
pub const RUN_FILE: &str = "timeline.bin";
/// A saved run keeps a thinned copy of the timeline: at most this many bytes (as counted
/// in memory, where a decoder is held twice; the file is smaller) ...
pub const RUN_FILE_BYTES: usize = 24 << 20;
/// ... and at most this many frames.
pub const RUN_FILE_FRAMES: usize = 40;
/// Steps added before taking logs: below a few tens of steps frames are spaced evenly.
const LOG_OFFSET_STEPS: f64 = 50.0;

/// Snapshots at steps, thinned to a budget.
#[derive(Clone, Debug)]
pub struct Timeline {
    frames: Vec<Arc<Snapshot>>,
    sizes: Vec<usize>,
    total_bytes: usize,
    budget_bytes: usize,
    max_frames: usize,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new(DEFAULT_BUDGET_BYTES, DEFAULT_MAX_FRAMES)
    }
}

/// Bytes a snapshot holds in memory: weights (a decoder twice: it keeps the tensors it
/// decodes with beside its plain numbers), codes, σ, reconstructions and indices.
pub fn snapshot_bytes(s: &Snapshot) -> usize {
    let layer = |l: &DenseWeights| (l.w.len() + l.b.len()) * 4;
    let models: usize = s
        .models
        .iter()
        .map(|m| {
            let decoder: usize = m.decoder.layers.iter().map(layer).sum::<usize>() * 2;
            let e = &m.encoder;
            let encoder = e.trunk.iter().map(layer).sum::<usize>()
                + layer(&e.mu_head)
                + e.logvar_head.as_ref().map_or(0, layer);
            let vectors = m.codes.len()
                + m.sigmas.as_ref().map_or(0, Vec::len)
                + m.recon.len()
                + m.noisy_inputs.as_ref().map_or(0, Vec::len)
                + m.recon_losses.len();
            decoder + encoder + vectors * 4 + 512
        })
        .sum();
    models
        + (s.display_indices.len() + s.recon_indices.len()) * 8
        + (s.display_labels.len() + s.recon_inputs.len()) * 4
        + 256
}

impl Timeline {
    /// An empty timeline keeping at most `budget_bytes` of frames and `max_frames` frames
    /// (always at least the first and the newest).
    pub fn new(budget_bytes: usize, max_frames: usize) -> Self {
        Self {
            frames: Vec::new(),
            sizes: Vec::new(),
            total_bytes: 0,
            budget_bytes,
            max_frames: max_frames.max(2),
        }
    }

    /// Adds the newest snapshot. One at the step of the newest frame replaces it (a paused
    /// run re-sends its moment); one at an earlier step is a new run: the old frames go.
    pub fn push(&mut self, snap: Arc<Snapshot>) {
        match self.frames.last().map(|f| f.step) {
            Some(last) if snap.step < last => self.clear(),
            Some(last) if snap.step == last => {
                self.total_bytes -= self.sizes.pop().unwrap_or(0);
                self.frames.pop();
            }
            _ => {}
        }
        let size = snapshot_bytes(&snap);
        self.frames.push(snap);
        self.sizes.push(size);
        self.total_bytes += size;
        while self.frames.len() > 2
            && (self.total_bytes > self.budget_bytes || self.frames.len() > self.max_frames)
        {
            self.remove_one();
        }
    }

    /// Drops the interior frame whose removal leaves the smallest gap in log(step + c).
    fn remove_one(&mut self) {
        let at = |i: usize| (self.frames[i].step as f64 + LOG_OFFSET_STEPS).ln();
        let worst = (1..self.frames.len() - 1)
            .map(|i| (i, at(i + 1) - at(i - 1)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i);
        if let Some(i) = worst {
            self.frames.remove(i);
            self.total_bytes -= self.sizes.remove(i);
        }
    }

    /// Forgets every frame (a new run).
    pub fn clear(&mut self) {
        self.frames.clear();
        self.sizes.clear();
        self.total_bytes = 0;
    }

    /// The frames, oldest first.
    pub fn frames(&self) -> &[Arc<Snapshot>] {
        &self.frames
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True without frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes the frames hold (see [`snapshot_bytes`]).
    pub fn bytes(&self) -> usize {
        self.total_bytes
    }

    /// The budget in bytes.
    pub fn budget_bytes(&self) -> usize {
        self.budget_bytes
    }

    /// The index of the frame nearest to `step` (the earlier one on a tie).
    pub fn nearest(&self, step: u64) -> Option<usize> {
        let i = self.frames.partition_point(|f| f.step < step);
        let before = i.checked_sub(1);
        match (before, self.frames.get(i)) {
            (Some(b), Some(after)) if step - self.frames[b].step <= after.step - step => Some(b),
            (_, Some(_)) => Some(i),
            (Some(b), None) => Some(b),
            (None, None) => None,
        }
    }

    /// The frames from step `from` to step `to`, both included.
    pub fn between(&self, from: u64, to: u64) -> Vec<Arc<Snapshot>> {
        self.frames
            .iter()
            .filter(|f| (from..=to).contains(&f.step))
            .cloned()
            .collect()
    }

    /// A copy thinned (the same way) to at most `max_bytes` and `max_frames`: for a
    /// smaller file.
    pub fn thinned(&self, max_bytes: usize, max_frames: usize) -> Timeline {
        let mut t = Timeline::new(max_bytes, max_frames);
        for f in &self.frames {
            t.push(f.clone());
        }
        t
    }
}

/// Steps at which to take snapshots in a run of `total_steps` so that a replay follows
/// training's progress: `frames` steps, geometric in (step + c) with c = 2% of the run,
/// so they are dense at the start and the same shape for a short run and a long one.
pub fn progress_schedule(total_steps: u64, frames: usize) -> Vec<u64> {
    let total = total_steps as f64;
    let c = (total / 50.0).max(1.0);
    let ratio = (total + c) / c;
    let mut steps: Vec<u64> = (1..=frames)
        .map(|k| (c * ratio.powf(k as f64 / frames as f64) - c).round() as u64)
        .filter(|&s| s >= 1 && s <= total_steps)
        .collect();
    steps.dedup();
    steps
}

/// A timeline file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("timeline: {0}")]
pub struct TimelineError(String);

mod bytes;

#[cfg(test)]
mod tests;
