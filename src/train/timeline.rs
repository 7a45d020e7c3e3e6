//! The history of a run's snapshots: what the window scrubs back through and what the
//! latent GIF animates. Pure data, no UI: the window and the command line both fill one.
//!
//! Memory stays bounded: when the frames pass a byte budget (or a frame count), one frame
//! goes, the one whose loss leaves the smallest gap on a log scale of steps. What stays is
//! dense at the start, where the latent space forms fastest, and log-spaced later; the
//! first and the newest frames always stay. Each frame keeps everything its snapshot has:
//! codes of the display items, reconstructions, and both halves of every model (so a
//! drawn item is re-encoded by the encoder of that moment), the weights as f16 (`frame.rs`):
//! about half the bytes of the live snapshot, so the same budget holds twice the frames.

use super::messages::Snapshot;
use crate::model::snapshot::DenseWeights;
use std::sync::{Arc, Mutex};

pub use frame::Frame;

/// The window's default memory budget for the frames.
pub const DEFAULT_BUDGET_BYTES: usize = 256 << 20;
/// The most frames a timeline keeps, however small they are.
pub const DEFAULT_MAX_FRAMES: usize = 600;
/// The timeline's file in a saved run.
pub const RUN_FILE: &str = "timeline.bin";
/// A saved run keeps a thinned copy of the timeline: at most this many bytes of frames
/// (the file is about as large: frames are written as they are held) ...
pub const RUN_FILE_BYTES: usize = 32 << 20;
/// ... and at most this many frames.
pub const RUN_FILE_FRAMES: usize = 40;
/// Steps added before taking logs: below a few tens of steps frames are spaced evenly.
const LOG_OFFSET_STEPS: f64 = 50.0;

/// Snapshots at steps, packed (see [`Frame`]) and thinned to a budget.
#[derive(Debug)]
pub struct Timeline {
    frames: Vec<Arc<Frame>>,
    total_bytes: usize,
    budget_bytes: usize,
    max_frames: usize,
    /// The frame last unpacked, by step: a frame shown for many redraws is unpacked once
    /// (held outside the budget: one frame).
    unpacked: Mutex<Option<(u64, Arc<Snapshot>)>>,
}

impl Clone for Timeline {
    fn clone(&self) -> Self {
        Self {
            frames: self.frames.clone(),
            total_bytes: self.total_bytes,
            budget_bytes: self.budget_bytes,
            max_frames: self.max_frames,
            unpacked: Mutex::new(None),
        }
    }
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new(DEFAULT_BUDGET_BYTES, DEFAULT_MAX_FRAMES)
    }
}

/// Bytes a live snapshot holds in memory: weights as f32 (a decoder twice: once shown it
/// keeps the tensors it decodes with beside its plain numbers), codes, σ, reconstructions
/// and indices. A timeline's [`Frame`] holds about half of this.
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
            total_bytes: 0,
            budget_bytes,
            max_frames: max_frames.max(2),
            unpacked: Mutex::new(None),
        }
    }

    /// Adds the newest snapshot (packed). One at the step of the newest frame replaces it
    /// (a paused run re-sends its moment); one at an earlier step is a new run: the old
    /// frames go.
    pub fn push(&mut self, snap: &Snapshot) {
        self.push_frame(Arc::new(Frame::pack(snap)));
    }

    fn push_frame(&mut self, frame: Arc<Frame>) {
        match self.frames.last().map(|f| f.step) {
            Some(last) if frame.step < last => self.clear(),
            Some(last) if frame.step == last => {
                self.total_bytes -= self.frames.pop().map_or(0, |f| f.bytes());
                self.forget_unpacked();
            }
            _ => {}
        }
        self.total_bytes += frame.bytes();
        self.frames.push(frame);
        self.thin();
    }

    /// Drops frames until the budget and the frame cap hold.
    fn thin(&mut self) {
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
            self.total_bytes -= self.frames.remove(i).bytes();
        }
    }

    /// Forgets every frame (a new run).
    pub fn clear(&mut self) {
        self.frames.clear();
        self.total_bytes = 0;
        self.forget_unpacked();
    }

    fn forget_unpacked(&mut self) {
        if let Ok(u) = self.unpacked.get_mut() {
            *u = None;
        }
    }

    /// The frames, oldest first.
    pub fn frames(&self) -> &[Arc<Frame>] {
        &self.frames
    }

    /// The whole snapshot of frame `i` (weights unpacked to f32); the same `Arc` again
    /// while the same frame is asked for.
    pub fn snapshot(&self, i: usize) -> Option<Arc<Snapshot>> {
        let frame = self.frames.get(i)?;
        let mut unpacked = self.unpacked.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((step, s)) = unpacked.as_ref()
            && *step == frame.step
        {
            return Some(s.clone());
        }
        let s = Arc::new(frame.unpack());
        *unpacked = Some((frame.step, s.clone()));
        Some(s)
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True without frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes the frames hold (see [`Frame::bytes`]).
    pub fn bytes(&self) -> usize {
        self.total_bytes
    }

    /// The budget in bytes.
    pub fn budget_bytes(&self) -> usize {
        self.budget_bytes
    }

    /// The most frames kept.
    pub fn max_frames(&self) -> usize {
        self.max_frames
    }

    /// The same frames under another budget and frame cap (thinned if they no longer
    /// fit): a saved run's timeline, read from its thin file, grows again in the window.
    pub fn with_limits(mut self, budget_bytes: usize, max_frames: usize) -> Timeline {
        self.budget_bytes = budget_bytes;
        self.max_frames = max_frames.max(2);
        self.thin();
        self
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

    /// The light snapshots (codes, σ, reconstructions; no weights, see [`Frame::light`])
    /// from step `from` to step `to`, both included: what a latent GIF draws.
    pub fn light_between(&self, from: u64, to: u64) -> Vec<Arc<Snapshot>> {
        self.frames
            .iter()
            .filter(|f| (from..=to).contains(&f.step))
            .map(|f| f.light().clone())
            .collect()
    }

    /// Every frame's light snapshot (see [`Timeline::light_between`]).
    pub fn light_frames(&self) -> Vec<Arc<Snapshot>> {
        self.light_between(0, u64::MAX)
    }

    /// A copy thinned (the same way) to at most `max_bytes` and `max_frames`: for a
    /// smaller file.
    pub fn thinned(&self, max_bytes: usize, max_frames: usize) -> Timeline {
        let mut t = Timeline::new(max_bytes, max_frames);
        for f in &self.frames {
            t.push_frame(f.clone());
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
mod frame;

#[cfg(test)]
mod tests;
