//! The VQ-VAE's codebook (van den Oord et al. 2017, "Neural discrete representation
//! learning"): K vectors in the latent space; the encoder's output z_e is replaced by its
//! nearest entry z_q before the decoder sees it.
//!
//! Choices, stated once (the kind's `about`, the README and ARCHITECTURE say the same):
//! - The codebook is learned **by its loss term** (the paper's first form), not by EMA: the
//!   entries are one more weight of the model (`codebook`, K × latent) that Adam trains on
//!   ‖sg[z_e] − e‖², and the encoder on the commitment term β‖z_e − sg[e]‖². Both are the
//!   kind's penalty; a VQ-VAE has no KL to a prior.
//! - **Straight-through**: the decoder sees `z_e + sg[z_q − z_e]` (its value is z_q), so the
//!   decoder's gradient reaches z_e unchanged and never the codebook. `sg[]` is candle's
//!   `Tensor::detach` (a tensor with no op behind it: backprop stops there).
//! - **Dead codes are restarted**: an entry that no item of [`RESTART_AFTER`] consecutive
//!   training batches chose is moved onto the encoder output of a random item of the current
//!   batch (the model's own random stream, so a seed gives the same run).
//! - The nearest entry is one rule everywhere ([`CodebookData::nearest`], plain numbers, the
//!   lowest index on a tie): training, evaluation, the snapshots the window decodes with, the
//!   inspector and `encode`.

use super::ModelConfig;
use super::kinds::{KnobError, Penalty, PenaltyInput};
use super::snapshot::EncoderSnapshot;
use crate::rng::PortableRng;
use candle_core::{D, DType, Device, Result, Tensor, Var};
use rand::Rng;
use std::sync::{Arc, Mutex};

/// Training batches in a row without an item before an entry is restarted.
pub const RESTART_AFTER: u32 = 100;

/// The number of entries `config` asks for (its `codebook` knob), 0 for kinds without one.
pub fn entries_of(config: &ModelConfig) -> usize {
    if config.kind.knob("codebook").is_none() {
        return 0;
    }
    config.number("codebook").max(0.0) as usize
}

/// A codebook as plain numbers: `len()` entries of `dim` values, back to back. What the
/// snapshots carry, so the window can snap a code to its entry without candle.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CodebookData {
    /// The entries, `dim` values each, row-major.
    pub entries: Vec<f32>,
    /// Values per entry (the latent dimension).
    pub dim: usize,
}

impl CodebookData {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len() / self.dim.max(1)
    }

    /// True if it has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `k` (empty if out of range).
    pub fn entry(&self, k: usize) -> &[f32] {
        let d = self.dim;
        self.entries.get(k * d..(k + 1) * d).unwrap_or(&[])
    }

    /// The nearest entry to `z` (`dim` values) and its squared distance; the lowest index
    /// on a tie. `(0, inf)` for an empty codebook.
    pub fn nearest(&self, z: &[f32]) -> (usize, f32) {
        let mut best = (0, f32::INFINITY);
        for (k, e) in self.entries.chunks_exact(self.dim.max(1)).enumerate() {
            let d2: f32 = z.iter().zip(e).map(|(a, b)| (a - b) * (a - b)).sum();
            if d2 < best.1 {
                best = (k, d2);
            }
        }
        best
    }

    /// The nearest entry's index for each code of `codes` (stored back to back).
    pub fn assign(&self, codes: &[f32]) -> Vec<u32> {
        codes
            .chunks_exact(self.dim.max(1))
            .map(|z| self.nearest(z).0 as u32)
            .collect()
    }

    /// Every code of `codes` replaced by its nearest entry: z_q.
    pub fn quantize(&self, codes: &[f32]) -> Vec<f32> {
        if self.is_empty() {
            return codes.to_vec();
        }
        self.assign(codes)
            .into_iter()
            .flat_map(|k| self.entry(k as usize).iter().copied())
            .collect()
    }

    /// How many of `codes` each entry takes (`len()` counts).
    pub fn usage(&self, codes: &[f32]) -> Vec<usize> {
        let mut counts = vec![0usize; self.len()];
        for k in self.assign(codes) {
            counts[k as usize] += 1;
        }
        counts
    }
}

/// exp(H) of the code-usage distribution `counts` (H in nats): the number of equally used
/// entries that would give the same entropy; 1 when one entry takes everything, K when K
/// entries share evenly. 0 when nothing was counted.
pub fn perplexity(counts: &[usize]) -> f64 {
    let total: usize = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let n = total as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum();
    entropy.exp()
}

/// Entries taken by at least one code.
pub fn in_use(counts: &[usize]) -> usize {
    counts.iter().filter(|&&c| c > 0).count()
}

/// The live codebook of a VQ-VAE: a trained weight, and how long each entry went unused.
pub struct Codebook {
    /// The entries, (K, latent).
    pub(crate) var: Var,
    /// Training batches in a row without an item, per entry.
    idle: Mutex<Vec<u32>>,
    /// The assignments and encoder outputs of the last batch the loss saw, for the restart.
    last: Mutex<Option<(Vec<u32>, Vec<f32>)>>,
}

impl Codebook {
    /// The codebook `config` asks for (`None` for a kind without one): entries uniform in
    /// ±1 per dimension. Drawn after every other weight, so other kinds start as before.
    pub fn for_config(config: &ModelConfig, rng: &mut PortableRng) -> Result<Option<Self>> {
        let k = entries_of(config);
        if k == 0 {
            return Ok(None);
        }
        let d = config.latent_dim;
        let v: Vec<f32> = (0..k * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        Ok(Some(Self {
            var: Var::from_vec(v, (k, d), &Device::Cpu)?,
            idle: Mutex::new(vec![0; k]),
            last: Mutex::new(None),
        }))
    }

    /// The entries as plain numbers.
    pub fn data(&self) -> Result<CodebookData> {
        Ok(CodebookData {
            entries: self.var.as_tensor().flatten_all()?.to_vec1()?,
            dim: self.var.dims().get(1).copied().unwrap_or(0),
        })
    }

    /// z_q: each row of `z_e` (batch, latent) replaced by its nearest entry, with the
    /// gradient of the codebook's rows (the loss-based codebook term differentiates it).
    /// Also notes the assignments for [`Codebook::restart_dead`].
    pub fn nearest_entries(&self, z_e: &Tensor) -> Result<Tensor> {
        let values: Vec<f32> = z_e.detach().flatten_all()?.to_vec1()?;
        let idx = self.data()?.assign(&values);
        let rows = Tensor::from_slice(&idx, idx.len(), z_e.device())?;
        if let Ok(mut last) = self.last.lock() {
            *last = Some((idx, values));
        }
        self.var.as_tensor().index_select(&rows, 0)
    }

    /// After a training step: counts the last batch's assignments, and moves every entry
    /// idle for [`RESTART_AFTER`] batches onto a random encoder output of that batch.
    /// Returns how many entries it restarted.
    pub fn restart_dead(&self, rng: &mut PortableRng) -> Result<usize> {
        let Some((idx, z_e)) = self.last.lock().ok().and_then(|mut l| l.take()) else {
            return Ok(0);
        };
        let mut data = self.data()?;
        let d = data.dim.max(1);
        let rows = z_e.len() / d;
        let mut idle = match self.idle.lock() {
            Ok(idle) => idle,
            Err(poisoned) => poisoned.into_inner(),
        };
        idle.resize(data.len(), 0);
        let mut used = vec![false; data.len()];
        for &k in &idx {
            if let Some(u) = used.get_mut(k as usize) {
                *u = true;
            }
        }
        let mut restarted = 0;
        for (k, (count, used)) in idle.iter_mut().zip(used).enumerate() {
            *count = if used { 0 } else { count.saturating_add(1) };
            if *count >= RESTART_AFTER && rows > 0 {
                let r = rng.random_range(0..rows);
                data.entries[k * d..(k + 1) * d].copy_from_slice(&z_e[r * d..(r + 1) * d]);
                *count = 0;
                restarted += 1;
            }
        }
        if restarted > 0 {
            let k = data.len();
            self.var
                .set(&Tensor::from_vec(data.entries, (k, d), &Device::Cpu)?)?;
        }
        Ok(restarted)
    }
}

/// What the decoder sees for encoder outputs `z_e`: `z_e + sg[z_q − z_e]`, whose value is
/// z_q and whose gradient passes to z_e unchanged (straight-through); `z_e` itself for a
/// model without a codebook.
pub fn straight_through(codebook: Option<&Codebook>, z_e: &Tensor) -> Result<Tensor> {
    let Some(codebook) = codebook else {
        return Ok(z_e.clone());
    };
    let z_q = codebook.nearest_entries(z_e)?;
    z_e + (z_q - z_e)?.detach()
}

/// The codebook and commitment terms per row: ‖sg[z_e] − z_q‖² + β‖z_e − sg[z_q]‖², z_q
/// the nearest entries (with their gradient), β the commitment cost.
pub fn codebook_and_commitment(z_e: &Tensor, z_q: &Tensor, beta: f64) -> Result<Tensor> {
    let codebook = (z_e.detach() - z_q)?.sqr()?.sum(D::Minus1)?;
    let commitment = (z_e - z_q.detach())?.sqr()?.sum(D::Minus1)?;
    codebook + (commitment * beta)?
}

/// The test items' code usage: (perplexity, entries in use) of `codes` (the encoder
/// outputs, back to back) under `codebook`.
pub fn usage_scores(codebook: &CodebookData, codes: &[f32]) -> (f64, usize) {
    let counts = codebook.usage(codes);
    (perplexity(&counts), in_use(&counts))
}

/// `n` entries of `codebook` drawn uniformly (with replacement), back to back: what a
/// vq-vae "samples", having no prior.
pub fn draw_entries(codebook: &CodebookData, n: usize, rng: &mut PortableRng) -> Vec<f32> {
    if codebook.is_empty() {
        return Vec::new();
    }
    (0..n)
        .flat_map(|_| {
            let k = rng.random_range(0..codebook.len());
            codebook.entry(k).to_vec()
        })
        .collect()
}

/// The codebook of a model as shared plain numbers, for its snapshots.
pub fn shared_data(codebook: Option<&Codebook>) -> Result<Option<Arc<CodebookData>>> {
    codebook.map(|c| c.data().map(Arc::new)).transpose()
}

/// The VQ-VAE's penalty in the kind table: the codebook and commitment terms. It trains
/// through autograd (no hand-written gradient).
pub(crate) const PENALTY: Penalty = Penalty {
    label: "‖sg[z_e] − e‖² + β‖z_e − sg[e]‖²",
    loss: penalty_rows,
    of_item: penalty_of_item,
    manual: None,
};

/// The commitment cost β of a config.
fn commitment(config: &ModelConfig) -> f64 {
    f64::from(config.number("commitment"))
}

/// The penalty per row of a batch: [`codebook_and_commitment`] at the nearest entries.
fn penalty_rows(p: &PenaltyInput<'_>) -> Result<Tensor> {
    let Some(codebook) = p.model.codebook.as_ref() else {
        return Tensor::zeros(p.mu.dim(0)?, DType::F32, p.mu.device());
    };
    let z_q = codebook.nearest_entries(p.mu)?;
    codebook_and_commitment(p.mu, &z_q, commitment(&p.model.config))
}

/// The same for one item on plain numbers (the inspector): both terms have the value
/// ‖z_e − e‖², so (1 + β)·‖z_e − e‖².
fn penalty_of_item(config: &ModelConfig, encoder: &EncoderSnapshot, _: &[f32], mu: &[f32]) -> f64 {
    match &encoder.codebook {
        Some(c) if !c.is_empty() => (1.0 + commitment(config)) * f64::from(c.nearest(mu).1),
        _ => 0.0,
    }
}

/// The codebook knob counts entries: a fraction is refused.
pub(crate) fn codebook_is_whole(config: &ModelConfig) -> std::result::Result<(), KnobError> {
    let value = config.number("codebook");
    if value.fract() != 0.0 {
        return Err(KnobError::NotWhole {
            label: "codebook",
            value,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
