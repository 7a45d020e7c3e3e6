//! Loss history for the live curves: smoothed training points and per-epoch test points,
//! kept short by merging neighbours so long runs stay fast to draw.

use crate::model::ModelKind;

/// Training points kept per model before neighbours are merged pairwise.
pub const MAX_POINTS: usize = 1500;

/// The three curves of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    /// Reconstruction NLL.
    Recon,
    /// KL to the prior.
    Kl,
    /// recon + β·kl + penalty.
    Total,
}

impl Curve {
    /// All curves.
    pub const ALL: [Curve; 3] = [Curve::Recon, Curve::Kl, Curve::Total];

    /// Short label.
    pub fn label(self) -> &'static str {
        match self {
            Curve::Recon => "recon",
            Curve::Kl => "KL",
            Curve::Total => "total",
        }
    }
}

/// One point: x in training steps, then recon, kl, total.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossPoint {
    /// Position in optimiser steps (fractional once neighbours are merged).
    pub step: f64,
    /// Per-curve values, indexed like [`Curve::ALL`].
    pub values: [f64; 3],
    /// How many raw points were merged into this one.
    weight: f64,
}

impl LossPoint {
    /// The value of one curve.
    pub fn get(&self, c: Curve) -> f64 {
        self.values[c as usize]
    }
}

/// The history of one model.
#[derive(Clone, Debug)]
pub struct ModelHistory {
    /// Model name.
    pub name: String,
    /// Model kind (for its colour).
    pub kind: ModelKind,
    /// Smoothed training points, oldest first.
    pub train: Vec<LossPoint>,
    /// Test points, one per epoch.
    pub test: Vec<LossPoint>,
    ema: Option<[f64; 3]>,
}

/// Histories of every model in a run.
#[derive(Clone, Debug)]
pub struct LossHistory {
    /// One per model, in run order.
    pub models: Vec<ModelHistory>,
    /// Smoothing factor of the exponential moving average (0: none).
    pub smoothing: f64,
}

impl Default for LossHistory {
    fn default() -> Self {
        Self::new()
    }
}

impl LossHistory {
    /// An empty history with the default smoothing.
    pub fn new() -> Self {
        Self {
            models: Vec::new(),
            smoothing: 0.6,
        }
    }

    fn model(&mut self, name: &str, kind: ModelKind) -> &mut ModelHistory {
        let i = match self.models.iter().position(|m| m.name == name) {
            Some(i) => i,
            None => {
                self.models.push(ModelHistory {
                    name: name.to_string(),
                    kind,
                    train: Vec::new(),
                    test: Vec::new(),
                    ema: None,
                });
                self.models.len() - 1
            }
        };
        &mut self.models[i]
    }

    /// Adds a training point (smoothed); merges pairs when the history gets long.
    pub fn push_train(&mut self, name: &str, kind: ModelKind, step: f64, values: [f64; 3]) {
        if values.iter().any(|v| !v.is_finite()) {
            return;
        }
        let a = self.smoothing;
        let m = self.model(name, kind);
        let smoothed = match m.ema {
            Some(prev) => [0, 1, 2].map(|i| a * prev[i] + (1.0 - a) * values[i]),
            None => values,
        };
        m.ema = Some(smoothed);
        m.train.push(LossPoint {
            step,
            values: smoothed,
            weight: 1.0,
        });
        if m.train.len() > MAX_POINTS {
            m.train = merge_pairs(&m.train);
        }
    }

    /// Adds a test point (at an epoch end or a timed evaluation).
    pub fn push_test(&mut self, name: &str, kind: ModelKind, step: f64, values: [f64; 3]) {
        self.model(name, kind).test.push(LossPoint {
            step,
            values,
            weight: 1.0,
        });
    }

    /// Adds a point read back from a saved run as it is (it was smoothed when it was
    /// logged); the smoothing goes on from the last training point.
    pub fn restore_point(
        &mut self,
        name: &str,
        kind: ModelKind,
        test: bool,
        step: f64,
        values: [f64; 3],
    ) {
        let m = self.model(name, kind);
        let point = LossPoint {
            step,
            values,
            weight: 1.0,
        };
        if test {
            m.test.push(point);
        } else {
            m.train.push(point);
            m.ema = Some(values);
        }
    }

    /// Total number of training points over all models.
    pub fn len(&self) -> usize {
        self.models.iter().map(|m| m.train.len()).sum()
    }

    /// True when nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Halves a history by averaging neighbours (weighted), keeping the newest point as is.
fn merge_pairs(points: &[LossPoint]) -> Vec<LossPoint> {
    let mut out = Vec::with_capacity(points.len() / 2 + 1);
    let mut chunks = points.chunks_exact(2);
    for pair in &mut chunks {
        let w = pair[0].weight + pair[1].weight;
        out.push(LossPoint {
            step: (pair[0].step * pair[0].weight + pair[1].step * pair[1].weight) / w,
            values: [0, 1, 2].map(|i| {
                (pair[0].values[i] * pair[0].weight + pair[1].values[i] * pair[1].weight) / w
            }),
            weight: w,
        });
    }
    out.extend_from_slice(chunks.remainder());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_runs_stay_short_and_keep_the_mean() {
        let mut h = LossHistory {
            smoothing: 0.0,
            ..LossHistory::new()
        };
        let n = 100_000;
        for i in 0..n {
            h.push_train("vae", ModelKind::Vae, i as f64, [i as f64, 1.0, 2.0]);
        }
        let m = &h.models[0];
        assert!(
            m.train.len() <= MAX_POINTS && m.train.len() > MAX_POINTS / 2,
            "{}",
            m.train.len()
        );
        let mean: f64 = m.train.iter().map(|p| p.values[0] * p.weight).sum::<f64>()
            / m.train.iter().map(|p| p.weight).sum::<f64>();
        assert!(
            (mean - (n - 1) as f64 / 2.0).abs() < 1.0,
            "weighted mean {mean}"
        );
        assert!(
            m.train.windows(2).all(|w| w[0].step < w[1].step),
            "x stays increasing"
        );
        assert_eq!(m.train.last().unwrap().values[1], 1.0);
    }

    #[test]
    fn smoothing_is_an_exponential_moving_average_and_nan_is_skipped() {
        let mut h = LossHistory {
            smoothing: 0.5,
            ..LossHistory::new()
        };
        h.push_train("ae", ModelKind::Ae, 0.0, [10.0, 0.0, 10.0]);
        h.push_train("ae", ModelKind::Ae, 0.1, [f64::NAN, 0.0, 0.0]);
        h.push_train("ae", ModelKind::Ae, 0.2, [20.0, 0.0, 20.0]);
        let t = &h.models[0].train;
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].get(Curve::Recon), 15.0);
        h.push_test("ae", ModelKind::Ae, 1.0, [9.0, 0.0, 9.0]);
        assert_eq!(h.models[0].test.len(), 1);
    }
}
