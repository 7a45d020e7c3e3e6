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
        v["active_units"] = serde_json::json!(x.active_units);
        v["mig"] = serde_json::json!(x.mig);
        v["codebook_perplexity"] = serde_json::json!(x.codebook_perplexity);
        v["codes_in_use"] = serde_json::json!(x.codes_in_use);
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
    /// recon + β·KL + penalty (−L_k for the iwae: `model::iwae`).
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

/// Why `losses.csv` does not read: the line that is wrong (1-based) and what is wrong.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct LossesCsvError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong on it.
    pub problem: LossesLineProblem,
}

/// What is wrong on one line of `losses.csv`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LossesLineProblem {
    /// The first line is not the header.
    #[error("the header should be '{}'", losses_csv_header())]
    Header,
    /// Not 8 comma-separated fields.
    #[error("{0} fields, 8 expected")]
    Fields(usize),
    /// A number field does not parse.
    #[error("'{0}' is not a number")]
    NotANumber(String),
    /// The kind is not in the kind table.
    #[error("unknown kind '{0}'")]
    UnknownKind(String),
    /// The split is not train or test.
    #[error("split '{0}' is neither train nor test")]
    Split(String),
    /// The epoch is not a whole number.
    #[error("epoch '{0}' is not a whole number")]
    Epoch(String),
}

/// Reads `losses.csv` back; the message names the line that is wrong.
pub fn parse_losses_csv(text: &str) -> Result<Vec<LossRow>, LossesCsvError> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == losses_csv_header() => {}
        _ => {
            return Err(LossesCsvError {
                line: 1,
                problem: LossesLineProblem::Header,
            });
        }
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let at = |problem| LossesCsvError {
            line: i + 1,
            problem,
        };
        let f: Vec<&str> = line.trim().split(',').collect();
        if f.len() != 8 {
            return Err(at(LossesLineProblem::Fields(f.len())));
        }
        let num = |j: usize| -> Result<f64, LossesCsvError> {
            f[j].parse::<f64>()
                .map_err(|_| at(LossesLineProblem::NotANumber(f[j].to_string())))
        };
        let kind = ModelKind::from_name(f[3])
            .ok_or_else(|| at(LossesLineProblem::UnknownKind(f[3].to_string())))?;
        if f[4] != "train" && f[4] != "test" {
            return Err(at(LossesLineProblem::Split(f[4].to_string())));
        }
        rows.push(LossRow {
            step: num(0)?,
            epoch: f[1]
                .parse()
                .map_err(|_| at(LossesLineProblem::Epoch(f[1].to_string())))?,
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
