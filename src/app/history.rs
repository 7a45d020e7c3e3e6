//! Loss history for the live curves: smoothed training points and per-epoch test points,
//! kept short by merging neighbours so long runs stay fast to draw.

use crate::model::{LossTerms, Metrics, ModelKind};

/// Training points kept per model before neighbours are merged pairwise.
pub const MAX_POINTS: usize = 1500;

/// The three curves of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    /// Reconstruction NLL.
    Recon,
    /// KL to the prior.
    Kl,
    /// recon + β·kl + penalty (−L_k for the iwae: `model::iwae`).
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

/// The values of a model's three curves at one point, by name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurveValues {
    /// Reconstruction NLL.
    pub recon: f64,
    /// KL to the prior.
    pub kl: f64,
    /// recon + β·kl + penalty (−L_k for the iwae: `model::iwae`).
    pub total: f64,
}

impl CurveValues {
    /// The curves of mean loss terms and their objective.
    pub fn of(terms: LossTerms, total: f64) -> Self {
        Self {
            recon: terms.recon,
            kl: terms.kl,
            total,
        }
    }

    /// The curves of evaluated metrics.
    pub fn of_metrics(m: &Metrics) -> Self {
        Self {
            recon: m.recon,
            kl: m.kl,
            total: m.loss,
        }
    }

    /// The value of one curve.
    pub fn get(&self, c: Curve) -> f64 {
        match c {
            Curve::Recon => self.recon,
            Curve::Kl => self.kl,
            Curve::Total => self.total,
        }
    }

    /// `f` applied curve by curve.
    fn map(self, other: Self, f: impl Fn(f64, f64) -> f64) -> Self {
        Self {
            recon: f(self.recon, other.recon),
            kl: f(self.kl, other.kl),
            total: f(self.total, other.total),
        }
    }

    fn is_finite(&self) -> bool {
        self.recon.is_finite() && self.kl.is_finite() && self.total.is_finite()
    }
}

/// One point: x in training steps, then the curves' values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossPoint {
    /// Position in optimiser steps (fractional once neighbours are merged).
    pub step: f64,
    /// The curves' values.
    pub values: CurveValues,
    /// How many raw points were merged into this one.
    weight: f64,
}

impl LossPoint {
    /// The value of one curve.
    pub fn get(&self, c: Curve) -> f64 {
        self.values.get(c)
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
    ema: Option<CurveValues>,
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
    pub fn push_train(&mut self, name: &str, kind: ModelKind, step: f64, values: CurveValues) {
        if !values.is_finite() {
            return;
        }
        let a = self.smoothing;
        let m = self.model(name, kind);
        let smoothed = match m.ema {
            Some(prev) => prev.map(values, |p, v| a * p + (1.0 - a) * v),
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
    pub fn push_test(&mut self, name: &str, kind: ModelKind, step: f64, values: CurveValues) {
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
        values: CurveValues,
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
            values: pair[0].values.map(pair[1].values, |a, b| {
                (a * pair[0].weight + b * pair[1].weight) / w
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
            h.push_train(
                "vae",
                ModelKind::Vae,
                i as f64,
                CurveValues {
                    recon: i as f64,
                    kl: 1.0,
                    total: 2.0,
                },
            );
        }
        let m = &h.models[0];
        assert!(
            m.train.len() <= MAX_POINTS && m.train.len() > MAX_POINTS / 2,
            "{}",
            m.train.len()
        );
        let mean: f64 = m
            .train
            .iter()
            .map(|p| p.values.recon * p.weight)
            .sum::<f64>()
            / m.train.iter().map(|p| p.weight).sum::<f64>();
        assert!(
            (mean - (n - 1) as f64 / 2.0).abs() < 1.0,
            "weighted mean {mean}"
        );
        assert!(
            m.train.windows(2).all(|w| w[0].step < w[1].step),
            "x stays increasing"
        );
        assert_eq!(m.train.last().unwrap().values.kl, 1.0);
    }

    #[test]
    fn smoothing_is_an_exponential_moving_average_and_nan_is_skipped() {
        let mut h = LossHistory {
            smoothing: 0.5,
            ..LossHistory::new()
        };
        h.push_train(
            "ae",
            ModelKind::Ae,
            0.0,
            CurveValues {
                recon: 10.0,
                kl: 0.0,
                total: 10.0,
            },
        );
        h.push_train(
            "ae",
            ModelKind::Ae,
            0.1,
            CurveValues {
                recon: f64::NAN,
                kl: 0.0,
                total: 0.0,
            },
        );
        h.push_train(
            "ae",
            ModelKind::Ae,
            0.2,
            CurveValues {
                recon: 20.0,
                kl: 0.0,
                total: 20.0,
            },
        );
        let t = &h.models[0].train;
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].get(Curve::Recon), 15.0);
        h.push_test(
            "ae",
            ModelKind::Ae,
            1.0,
            CurveValues {
                recon: 9.0,
                kl: 0.0,
                total: 9.0,
            },
        );
        assert_eq!(h.models[0].test.len(), 1);
    }
}
