//! The rows of a run's history: `metrics.jsonl` lines (one JSON object per model, split
//! and evaluation) and `losses.csv` (one row per logged point of the loss curves).

use crate::model::{Metrics, ModelKind};
use crate::train::messages::ModelEpoch;

/// Where in training a metrics row was taken.
#[derive(Clone, Copy, Debug)]
pub struct RowAt {
    /// Epochs done (the epoch in progress for timed rows).
    pub epoch: usize,
    /// Steps done.
    pub step: u64,
    /// Seconds spent training.
    pub elapsed_secs: f64,
    /// Training items per second over the epoch (epoch-end rows only).
    pub samples_per_sec: Option<f64>,
}

/// One `metrics.jsonl` line: `m`'s metrics `x` on `split` ("train" or "test") at `at`.
pub fn metrics_line(m: &ModelEpoch, split: &str, x: &Metrics, at: &RowAt) -> serde_json::Value {
    let mut v = serde_json::json!({
        "model": m.name,
        "epoch": at.epoch,
        "step": at.step,
        "elapsed_secs": at.elapsed_secs,
        "split": split,
        "recon": x.recon,
        "kl": x.kl,
        "penalty": x.penalty,
        "loss": x.loss,
        "elbo": x.elbo,
        "diverged": m.diverged,
    });
    if let Some(rate) = at.samples_per_sec {
        v["samples_per_sec"] = serde_json::json!(rate);
    }
    if split == "test" {
        v["mean_code_recon"] = serde_json::json!(x.mean_code_recon);
        v["log_px"] = serde_json::json!(x.log_px);
        v["knn5_accuracy"] = serde_json::json!(m.knn_accuracy);
        if x.denoising_recon.is_some() {
            v["denoising_recon"] = serde_json::json!(x.denoising_recon);
        }
    }
    v
}

/// One point of a loss curve, as `losses.csv` holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct LossRow {
    /// Position in optimiser steps (fractional where the window merged neighbours).
    pub step: f64,
    /// Epochs done at that point.
    pub epoch: usize,
    /// Model name.
    pub model: String,
    /// Model kind.
    pub kind: ModelKind,
    /// "train" or "test".
    pub split: String,
    /// Reconstruction NLL, nats per item.
    pub recon: f64,
    /// KL to the prior, nats per item (0 for kinds without one).
    pub kl: f64,
    /// recon + β·KL + penalty.
    pub total: f64,
}

/// The header row of `losses.csv`.
pub fn losses_csv_header() -> &'static str {
    "step,epoch,model,kind,split,recon,kl,total"
}

/// `losses.csv` for `rows`: the header, then one line per row. Numbers are written in the
/// shortest form that reads back to the same value.
pub fn write_loss_rows(rows: &[LossRow]) -> String {
    let mut out = String::from(losses_csv_header());
    out.push('\n');
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            r.step,
            r.epoch,
            r.model,
            r.kind.name(),
            r.split,
            r.recon,
            r.kl,
            r.total
        ));
    }
    out
}

/// Reads `losses.csv` back; the message names the line that is wrong.
pub fn parse_losses_csv(text: &str) -> Result<Vec<LossRow>, String> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == losses_csv_header() => {}
        _ => {
            return Err(format!(
                "line 1: the header should be '{}'",
                losses_csv_header()
            ));
        }
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let at = |what: &str| format!("line {}: {what}", i + 1);
        let f: Vec<&str> = line.trim().split(',').collect();
        if f.len() != 8 {
            return Err(at(&format!("{} fields, 8 expected", f.len())));
        }
        let num = |j: usize| -> Result<f64, String> {
            f[j].parse::<f64>()
                .map_err(|_| at(&format!("'{}' is not a number", f[j])))
        };
        let kind =
            ModelKind::from_name(f[3]).ok_or_else(|| at(&format!("unknown kind '{}'", f[3])))?;
        if f[4] != "train" && f[4] != "test" {
            return Err(at(&format!("split '{}' is neither train nor test", f[4])));
        }
        rows.push(LossRow {
            step: num(0)?,
            epoch: f[1]
                .parse()
                .map_err(|_| at(&format!("epoch '{}' is not a whole number", f[1])))?,
            model: f[2].to_string(),
            kind,
            split: f[4].to_string(),
            recon: num(5)?,
            kl: num(6)?,
            total: num(7)?,
        });
    }
    Ok(rows)
}
