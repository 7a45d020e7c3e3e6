//! `latentlab eval`: the test metrics of a checkpoint, with an importance-weighted
//! log p(x) for the variational kinds.

use super::args::EvalArgs;
use super::dataset::load_dataset;
use super::output::out;
use crate::data::{self};
use crate::model::{self, checkpoint};
use anyhow::{Result, anyhow};
use indicatif::ProgressBar;
use std::time::Duration;

pub(super) fn eval(a: EvalArgs) -> Result<()> {
    a.check_ranges().map_err(|e| anyhow!(e))?;
    let (model, meta) = checkpoint::load(&a.checkpoint)?;
    let spec = a.dataset.clone().unwrap_or_else(|| meta.dataset.clone());
    let seed = a.seed.unwrap_or(meta.seed);
    let wrong_size = |dim: usize| {
        anyhow!(
            "{}: the model takes items of {} values but data set '{spec}' has {dim}",
            a.checkpoint.display(),
            meta.config.input_dim,
        )
    };
    // Known before the data is built for most data sets; checked again after loading.
    let peeked = data::peek_shape(&spec).map_err(|e| anyhow!("data set: {e}"))?;
    if let Some(shape) = peeked.filter(|s| s.dim() != meta.config.input_dim) {
        return Err(wrong_size(shape.dim()));
    }
    let ds = load_dataset(&spec, seed)?;
    if ds.dim() != meta.config.input_dim {
        return Err(wrong_size(ds.dim()));
    }
    let mut rng = <crate::rng::PortableRng as rand::SeedableRng>::seed_from_u64(seed);
    let spinner = ProgressBar::new_spinner().with_message(format!(
        "evaluating {} test items{}",
        ds.test.len(),
        if meta.config.kind.is_variational() && a.iw_samples > 0 {
            format!(" with {} importance samples each", a.iw_samples)
        } else {
            String::new()
        }
    ));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let m = model::evaluate(&model, &ds.test, ds.dim(), &mut rng, a.iw_samples);
    spinner.finish_and_clear();
    let m = m?;
    out!(
        "model            {} ({}, {}), latent dim {}, epoch {}",
        meta.name,
        meta.config.kind.title(),
        meta.config.arch,
        meta.config.latent_dim,
        meta.epoch
    );
    out!("data set         {} ({} test items)", spec, ds.test.len());
    out!("reconstruction   {:.3} nats per item", m.recon);
    if meta.config.kind.is_variational() {
        out!("KL               {:.3} nats per item", m.kl);
    }
    if m.penalty != 0.0 {
        match meta.config.kind.penalty() {
            Some(p) => out!("penalty          {:.3} ({})", m.penalty, p.label),
            None => out!("penalty          {:.3}", m.penalty),
        }
    }
    if m.codes_in_use.is_some() {
        out!(
            "KL               none (a VQ-VAE has no posterior and no prior: its code is discrete)"
        );
    }
    match model::iwae::samples(&meta.config) {
        // The iwae's loss is its training bound, not recon + KL.
        Some(k) => out!(
            "total loss       {:.3} (−L_k, k = {k}: the bound it trains on)",
            m.loss
        ),
        None => out!("total loss       {:.3}", m.loss),
    }
    if let Some(elbo) = m.elbo {
        out!("ELBO             {elbo:.3}");
    }
    if let Some(r) = m.mean_code_recon {
        out!("mean-code recon  {r:.3} (decoding z = μ)");
    }
    if let (Some(lp), Some(k)) = (m.log_px, m.iw_samples) {
        out!("log p(x) ≈       {lp:.3} ({k} importance samples)");
    }
    if let Some(active) = m.active_units {
        out!(
            "active units     {active} of {} (variance of μ over the test items > 0.01)",
            meta.config.latent_dim
        );
    }
    if let (Some(perplexity), Some(in_use)) = (m.codebook_perplexity, m.codes_in_use) {
        let k = model::vq::entries_of(&meta.config);
        out!("codebook         {in_use} of {k} entries in use by the test items");
        out!("perplexity       {perplexity:.2} (exp of the entropy of the code usage; 1 to {k})");
    }
    if let Some(mig) = m.mig {
        out!(
            "MIG              {mig:.3} (against {})",
            ds.factor_names.join(", ")
        );
    }
    Ok(())
}
