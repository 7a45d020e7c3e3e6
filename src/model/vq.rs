//! The VQ-VAE's codebook (van den Oord et al. 2017, "Neural discrete representation
//! learning"): K vectors in the latent space; the encoder's output z_e is replaced by its
//! nearest entry z_q before the decoder sees it.
//!
//! Choices, stated once (the kind's `about`, the README and ARCHITECTURE say the same):
//! - The codebook follows its items by an **exponential moving average** (the paper's
//!   appendix form, decay [`EMA_DECAY`]), not by its loss term: after each training step
//!   every entry moves to the count-weighted running mean of the encoder outputs that chose
//!   it. The loss-based form (Adam on ‖sg[z_e] − e‖²) was tried first and dropped: Adam moves
//!   an entry about one learning rate a step (0.003), while a 2-D code spreads over ±15 within
//!   a few hundred steps, so the entries stayed in a clump near 0 and the commitment term
//!   jumped to ~100 nats. The entries are a weight of the model (`codebook`, K × latent,
//!   saved in checkpoints) that no gradient reaches. The loss is recon + β‖z_e − sg[e]‖², the
//!   commitment term being the kind's penalty; a VQ-VAE has no KL to a prior.
//! - **Straight-through**: the decoder sees `z_e + sg[z_q − z_e]` (its value is z_q), so the
//!   decoder's gradient reaches z_e unchanged and never the codebook. `sg[]` is candle's
//!   `Tensor::detach` (a tensor with no op behind it: backprop stops there).
//! - **Dead codes are restarted**: an entry that no item of [`RESTART_AFTER`] consecutive
//!   training batches chose is moved onto the encoder output of a random item of the current
//!   batch (the model's own random stream, so a seed gives the same run); one entry a step
//!   at most, so a crowd of dead entries comes back gradually.
//! - The nearest entry is one rule everywhere ([`CodebookData::nearest`], plain numbers, the
//!   lowest index on a tie): training, evaluation, the snapshots the window decodes with, the
//!   inspector and `encode`.

use super::ModelConfig;
use super::penalty::{Penalty, PenaltyInput};
pub use super::snapshot::CodebookData;
use super::snapshot::EncoderSnapshot;
use crate::rng::PortableRng;
use candle_core::{D, DType, Device, Result, Tensor, Var};
use rand::Rng;
use std::sync::{Arc, Mutex};

/// Training batches in a row without an item before an entry is restarted.
pub const RESTART_AFTER: u32 = 100;

/// Decay γ of the codebook's moving averages (0.99 in van den Oord et al. 2017).
pub const EMA_DECAY: f32 = 0.99;

/// The number of entries `config` asks for (its `codebook` knob), 0 for kinds without one.
pub fn entries_of(config: &ModelConfig) -> usize {
    if config.kind.knob("codebook").is_none() {
        return 0;
    }
    config.number("codebook").max(0.0) as usize
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

/// The live codebook of a VQ-VAE: a weight moved by moving averages, and how long each
/// entry went unused.
pub struct Codebook {
    /// The entries, (K, latent).
    pub(crate) var: Var,
    /// Training batches in a row without an item, per entry.
    idle: Mutex<Vec<u32>>,
    /// The moving averages: per entry the count N_k, and the sum m_k (latent values) of the
    /// encoder outputs that chose it; the entry is m_k / N_k. Both start at 0 (a new model,
    /// or one loaded from a checkpoint): an entry stays where it is until an item chooses it.
    ema: Mutex<(Vec<f32>, Vec<f32>)>,
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
            ema: Mutex::new((vec![0.0; k], vec![0.0; k * d])),
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

    /// z_q: each row of `z_e` (batch, latent) replaced by its nearest entry (no gradient
    /// reaches the codebook). Also notes the assignments for [`Codebook::after_step`].
    pub fn nearest_entries(&self, z_e: &Tensor) -> Result<Tensor> {
        let values: Vec<f32> = z_e.detach().flatten_all()?.to_vec1()?;
        let idx = self.data()?.assign(&values);
        let rows = Tensor::from_slice(&idx, idx.len(), z_e.device())?;
        if let Ok(mut last) = self.last.lock() {
            *last = Some((idx, values));
        }
        self.var.as_tensor().detach().index_select(&rows, 0)
    }

    /// After a training step, from the last batch's assignments: moves every chosen entry
    /// to its moving average, then restarts the entry idle longest if that is
    /// [`RESTART_AFTER`] batches or more (onto a random encoder output of the batch).
    /// Returns how many entries it restarted (0 or 1).
    pub fn after_step(&self, rng: &mut PortableRng) -> Result<usize> {
        let Some((idx, z_e)) = self.last.lock().ok().and_then(|mut l| l.take()) else {
            return Ok(0);
        };
        let mut data = self.data()?;
        let d = data.dim.max(1);
        let rows = z_e.len() / d;
        let mut ema = match self.ema.lock() {
            Ok(ema) => ema,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (counts, sums) = &mut *ema;
        counts.resize(data.len(), 0.0);
        sums.resize(data.len() * d, 0.0);
        ema_update(&mut data, counts, sums, &idx, &z_e);
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
        for (count, used) in idle.iter_mut().zip(used) {
            *count = if used { 0 } else { count.saturating_add(1) };
        }
        // One entry a step at most, the longest idle (the lowest index on a tie): restarted
        // all at once, the dead entries of the first steps each take a share of the items
        // together, and the reconstruction jumps while the decoder learns them all.
        let longest = idle
            .iter()
            .enumerate()
            .filter(|(_, c)| **c >= RESTART_AFTER)
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
            .map(|(k, _)| k);
        let restarted = match longest.filter(|_| rows > 0) {
            Some(k) => {
                let r = rng.random_range(0..rows);
                data.entries[k * d..(k + 1) * d].copy_from_slice(&z_e[r * d..(r + 1) * d]);
                idle[k] = 0;
                // Its averages start afresh at its new place.
                counts[k] = 0.0;
                sums[k * d..(k + 1) * d].fill(0.0);
                1
            }
            None => 0,
        };
        let n = data.len();
        self.var
            .set(&Tensor::from_vec(data.entries, (n, d), &Device::Cpu)?)?;
        Ok(restarted)
    }
}

/// One step of the moving averages: for each entry k chosen by the items `idx` (encoder
/// outputs `z_e`, back to back), N_k ← γN_k + (1−γ)n_k and m_k ← γm_k + (1−γ)Σz_e, then
/// e_k = m_k / N_k. Entries no item chose keep their place (their averages decay together,
/// so their ratio stays).
pub(crate) fn ema_update(
    data: &mut CodebookData,
    counts: &mut [f32],
    sums: &mut [f32],
    idx: &[u32],
    z_e: &[f32],
) {
    let d = data.dim.max(1);
    let k = data.len();
    let mut n = vec![0f32; k];
    let mut batch_sums = vec![0f32; k * d];
    for (&i, z) in idx.iter().zip(z_e.chunks_exact(d)) {
        let i = i as usize;
        if i < k {
            n[i] += 1.0;
            for (s, v) in batch_sums[i * d..(i + 1) * d].iter_mut().zip(z) {
                *s += v;
            }
        }
    }
    let g = EMA_DECAY;
    let rows = counts.iter_mut().zip(&n).zip(sums.chunks_exact_mut(d));
    let rows = rows
        .zip(batch_sums.chunks_exact(d))
        .zip(data.entries.chunks_exact_mut(d));
    for ((((count, &n), sum), batch), entry) in rows {
        *count = g * *count + (1.0 - g) * n;
        for (s, b) in sum.iter_mut().zip(batch) {
            *s = g * *s + (1.0 - g) * b;
        }
        if n > 0.0 && *count > 0.0 {
            for (e, s) in entry.iter_mut().zip(sum.iter()) {
                *e = s / *count;
            }
        }
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

/// The commitment term per row: β‖z_e − sg[z_q]‖², z_q the nearest entries, β the
/// commitment cost. Its gradient reaches the encoder only (the codebook moves by EMA).
pub fn commitment(z_e: &Tensor, z_q: &Tensor, beta: f64) -> Result<Tensor> {
    (z_e - z_q.detach())?.sqr()?.sum(D::Minus1)? * beta
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

/// The VQ-VAE's penalty in the kind table: the commitment term (the codebook moves by EMA,
/// not by a loss term). It trains through autograd (no hand-written gradient).
pub(crate) const PENALTY: Penalty = Penalty {
    label: "commitment β·|z_e − sg[e]|²",
    loss: penalty_rows,
    of_item: penalty_of_item,
    manual: None,
};

/// The commitment cost β of a config.
fn commitment_cost(config: &ModelConfig) -> f64 {
    f64::from(config.number("commitment"))
}

/// The penalty per row of a batch: [`commitment`] at the nearest entries.
fn penalty_rows(p: &PenaltyInput<'_>) -> Result<Tensor> {
    let Some(codebook) = p.model.codebook.as_ref() else {
        return Tensor::zeros(p.mu.dim(0)?, DType::F32, p.mu.device());
    };
    let z_q = codebook.nearest_entries(p.mu)?;
    commitment(p.mu, &z_q, commitment_cost(&p.model.config))
}

/// The same for one item on plain numbers (the inspector): β·‖z_e − e‖².
fn penalty_of_item(config: &ModelConfig, encoder: &EncoderSnapshot, _: &[f32], mu: &[f32]) -> f64 {
    match &encoder.codebook {
        Some(c) if !c.is_empty() => commitment_cost(config) * f64::from(c.nearest(mu).1),
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests;
