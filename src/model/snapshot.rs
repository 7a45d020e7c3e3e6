//! A frozen decoder and encoder the UI can run on its own thread: plain numbers, no live
//! variables.

use super::ModelConfig;
use super::arch::{ConvPlan, KERNEL};
use super::conv::{self, ConvNet};
use super::mlp::Dense;
use candle_core::{Device, Result, Tensor};
use std::sync::{Arc, OnceLock};

/// One dense layer as plain numbers: `y = x W + b`, W row-major (in, out).
#[derive(Clone, Debug, Default)]
pub struct DenseWeights {
    /// Weights, `n_in * n_out` values, row-major (in, out).
    pub w: Vec<f32>,
    /// Bias, `n_out` values.
    pub b: Vec<f32>,
    /// Inputs.
    pub n_in: usize,
    /// Outputs.
    pub n_out: usize,
}

impl DenseWeights {
    /// Copies a live layer's current weights.
    pub(crate) fn from_dense(l: &Dense) -> Result<Self> {
        let (n_in, n_out) = l.dims();
        Ok(Self {
            w: l.w.as_tensor().flatten_all()?.to_vec1()?,
            b: l.b.as_tensor().to_vec1()?,
            n_in,
            n_out,
        })
    }

    /// `x W + b` for one input of `n_in` values (plain loops; zero inputs, common after a
    /// ReLU or on a dark pixel, cost nothing).
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        let mut out = self.b.clone();
        out.resize(self.n_out, 0.0);
        for (&xi, row) in x.iter().zip(self.w.chunks_exact(self.n_out.max(1))) {
            if xi != 0.0 {
                for (o, &w) in out.iter_mut().zip(row) {
                    *o += xi * w;
                }
            }
        }
        out
    }
}

fn relu_in_place(v: &mut [f32]) {
    for x in v {
        *x = x.max(0.0);
    }
}

/// A decoder frozen at one training step.
#[derive(Debug)]
pub struct DecoderSnapshot {
    /// The layers; ReLU between them. A conv decoder's last `conv.convs.len()` layers are
    /// its transposed convolutions, in the order they run, each `(c_out·KERNEL², c_in)` of
    /// the convolution it mirrors (the `(c_out, KERNEL²·c_in)` matrix of `model::conv`, read
    /// in the same order), bias `c_in`.
    pub layers: Vec<DenseWeights>,
    /// Apply a sigmoid to the output (Bernoulli decoders output logits).
    pub sigmoid_output: bool,
    /// The convolutions, for a conv decoder (its dense layers end with a ReLU too).
    pub conv: Option<ConvPlan>,
    /// Classes of a conditional decoder (cvae), whose input is the code ++ a one-hot class;
    /// 0 for every other kind.
    pub classes: usize,
    /// A vq-vae's codebook: every code is snapped to its nearest entry before it is decoded
    /// (the decoder of a vq-vae only ever sees entries); `None` for every other kind.
    pub codebook: Option<Arc<CodebookData>>,
    tensors: OnceLock<Vec<(Tensor, Tensor)>>,
}

impl Clone for DecoderSnapshot {
    fn clone(&self) -> Self {
        Self {
            layers: self.layers.clone(),
            sigmoid_output: self.sigmoid_output,
            conv: self.conv.clone(),
            classes: self.classes,
            codebook: self.codebook.clone(),
            tensors: OnceLock::new(),
        }
    }
}

impl DecoderSnapshot {
    /// Copies the current weights of a model's dense decoder and (conv) its transposed
    /// convolutions.
    pub(crate) fn from_model(
        layers: &[Dense],
        conv: Option<&ConvNet>,
        sigmoid_output: bool,
        classes: usize,
    ) -> Result<Self> {
        let mut layers = layers
            .iter()
            .map(DenseWeights::from_dense)
            .collect::<Result<Vec<_>>>()?;
        if let Some(net) = conv {
            for (d, g) in net.decoder.iter().zip(net.plan.convs.iter().rev()) {
                layers.push(DenseWeights {
                    w: d.w.as_tensor().flatten_all()?.to_vec1()?,
                    b: d.b.as_tensor().to_vec1()?,
                    n_in: g.c_out * KERNEL * KERNEL,
                    n_out: g.c_in,
                });
            }
        }
        Ok(Self {
            conv: conv.map(|c| c.plan.clone()),
            classes,
            ..Self::new(layers, sigmoid_output)
        })
    }

    /// A snapshot from plain layers (an MLP decoder; see [`DecoderSnapshot::with_plan_of`]).
    pub fn new(layers: Vec<DenseWeights>, sigmoid_output: bool) -> Self {
        Self {
            layers,
            sigmoid_output,
            conv: None,
            classes: 0,
            codebook: None,
            tensors: OnceLock::new(),
        }
    }

    /// The same layers read as `config`'s architecture says (a conv config's plan), for
    /// layers stored without it (a timeline's frames).
    pub fn with_plan_of(mut self, config: &ModelConfig) -> Self {
        self.conv = ConvPlan::for_items(config.arch, config.image)
            .ok()
            .flatten();
        self.classes = config.condition_dim();
        self
    }

    /// The same decoder snapping every code to `codebook`'s nearest entry first (a
    /// vq-vae's), or decoding codes as they are (`None`).
    pub fn with_codebook(mut self, codebook: Option<Arc<CodebookData>>) -> Self {
        self.codebook = codebook;
        self
    }

    /// Size of the code it decodes.
    pub fn latent_dim(&self) -> usize {
        self.input_width().saturating_sub(self.classes)
    }

    /// Values its first layer takes: the code, and a conditional decoder's one-hot class.
    fn input_width(&self) -> usize {
        self.layers.first().map_or(0, |l| l.n_in)
    }

    /// Codes stored back to back, each followed by the one-hot class `labels` gives it
    /// (its row's label, or the first label for every row if there is one): the decoder's
    /// input. The codes unchanged for a decoder without classes.
    /// A vq-vae's codes are first snapped to their nearest codebook entries.
    fn with_classes<'a>(&self, codes: &'a [f32], labels: &[u32]) -> std::borrow::Cow<'a, [f32]> {
        let snapped;
        let codes = match &self.codebook {
            Some(c) => {
                snapped = c.quantize(codes);
                if self.classes == 0 {
                    return std::borrow::Cow::Owned(snapped);
                }
                &snapped[..]
            }
            None if self.classes == 0 => return std::borrow::Cow::Borrowed(codes),
            None => codes,
        };
        let d = self.latent_dim().max(1);
        let mut out = Vec::with_capacity(codes.len() / d * (d + self.classes));
        for (row, z) in codes.chunks_exact(d).enumerate() {
            out.extend_from_slice(z);
            let label = labels.get(row).or(labels.first()).copied().unwrap_or(0);
            out.extend((0..self.classes).map(|c| if c == label as usize { 1.0 } else { 0.0 }));
        }
        std::borrow::Cow::Owned(out)
    }

    /// [`DecoderSnapshot::decode`] of every code as class `class` (a conditional decoder,
    /// the cvae's; other decoders ignore the class).
    pub fn decode_as(&self, codes: &[f32], class: u32) -> Result<Vec<f32>> {
        self.decode_inputs(&self.with_classes(codes, &[class]))
    }

    /// [`DecoderSnapshot::decode`] of each code as its own class, `labels[row]` (a
    /// conditional decoder; other decoders ignore the labels).
    pub fn decode_each(&self, codes: &[f32], labels: &[u32]) -> Result<Vec<f32>> {
        self.decode_inputs(&self.with_classes(codes, labels))
    }

    /// [`DecoderSnapshot::decode_raw`] of every code as class `class`.
    pub fn decode_raw_as(&self, codes: &[f32], class: u32) -> Vec<f32> {
        self.decode_raw_inputs(&self.with_classes(codes, &[class]))
    }

    /// Values per decoded item.
    pub fn output_dim(&self) -> usize {
        match &self.conv {
            Some(plan) => plan.input_dim(),
            None => self.layers.last().map_or(0, |l| l.n_out),
        }
    }

    fn tensors(&self) -> Result<&Vec<(Tensor, Tensor)>> {
        if let Some(t) = self.tensors.get() {
            return Ok(t);
        }
        let built = self
            .layers
            .iter()
            .map(|l| {
                Ok((
                    Tensor::from_slice(&l.w, (l.n_in, l.n_out), &Device::Cpu)?,
                    Tensor::from_slice(&l.b, l.n_out, &Device::Cpu)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(self.tensors.get_or_init(|| built))
    }

    /// Decodes codes stored back to back (`latent_dim` values each) into items in data space
    /// (pixels in [0, 1] for images). One batched forward pass. A conditional decoder
    /// decodes them as class 0 ([`DecoderSnapshot::decode_as`] chooses).
    pub fn decode(&self, codes: &[f32]) -> Result<Vec<f32>> {
        self.decode_as(codes, 0)
    }

    /// `decode` of the decoder's whole inputs (codes with their one-hot class).
    fn decode_inputs(&self, codes: &[f32]) -> Result<Vec<f32>> {
        if let Some(plan) = &self.conv {
            return self.decode_conv_batch(plan, codes);
        }
        let d = self.input_width().max(1);
        let rows = codes.len() / d;
        if rows == 0 {
            return Ok(Vec::new());
        }
        let mut h = Tensor::from_slice(&codes[..rows * d], (rows, d), &Device::Cpu)?;
        let tensors = self.tensors()?;
        for (i, (w, b)) in tensors.iter().enumerate() {
            h = h.matmul(w)?.broadcast_add(b)?;
            if i + 1 < tensors.len() {
                h = h.relu()?;
            }
        }
        if self.sigmoid_output {
            h = candle_nn::ops::sigmoid(&h)?;
        }
        h.flatten_all()?.to_vec1()
    }

    /// The decoder's raw output for codes stored back to back: logits for a Bernoulli
    /// decoder (no sigmoid, whatever `sigmoid_output` says), means for a Gaussian one.
    /// Plain loops on the calling thread, for a few codes (the inspector); `decode` is
    /// faster for many. A conditional decoder decodes them as class 0.
    pub fn decode_raw(&self, codes: &[f32]) -> Vec<f32> {
        self.decode_raw_as(codes, 0)
    }

    /// `decode_raw` of the decoder's whole inputs (codes with their one-hot class).
    fn decode_raw_inputs(&self, codes: &[f32]) -> Vec<f32> {
        let d = self.input_width().max(1);
        let mut out = Vec::new();
        if let Some(plan) = &self.conv {
            for z in codes.chunks_exact(d) {
                out.extend(self.decode_conv(plan, z));
            }
            return out;
        }
        for z in codes.chunks_exact(d) {
            let mut h = z.to_vec();
            for (i, layer) in self.layers.iter().enumerate() {
                h = layer.forward(&h);
                if i + 1 < self.layers.len() {
                    relu_in_place(&mut h);
                }
            }
            out.extend(h);
        }
        out
    }
}

impl DecoderSnapshot {
    /// [`DecoderSnapshot::decode`] for a conv decoder: one batched pass, its products
    /// through candle's matmul (for one code, [`DecoderSnapshot::decode_raw`]'s plain loops
    /// cost the same).
    fn decode_conv_batch(&self, plan: &ConvPlan, codes: &[f32]) -> Result<Vec<f32>> {
        let d = self.input_width().max(1);
        let rows = codes.len() / d;
        if rows == 0 {
            return Ok(Vec::new());
        }
        let tensors = self.tensors()?;
        let dense = tensors.len().saturating_sub(plan.convs.len());
        let mut h = Tensor::from_slice(&codes[..rows * d], (rows, d), &Device::Cpu)?;
        for (w, b) in &tensors[..dense] {
            h = h.matmul(w)?.broadcast_add(b)?.relu()?;
        }
        let last = plan.convs.len().saturating_sub(1);
        for (i, ((w, b), g)) in tensors[dense..]
            .iter()
            .zip(plan.convs.iter().rev())
            .enumerate()
        {
            let x = h.reshape((rows * g.places(), g.c_out))?;
            let w = w.reshape((g.c_out, g.patch()))?;
            h = conv::conv_transpose_with(&x, g, &w, b, i < last)?;
        }
        let mut out: Vec<f32> = h.flatten_all()?.to_vec1()?;
        let per_item = plan.input_dim().max(1);
        if plan.image.channels > 1 {
            out = out
                .chunks_exact(per_item)
                .flat_map(|item| conv::last_to_planar(item, plan.image))
                .collect();
        }
        if self.sigmoid_output {
            out.iter_mut().for_each(|l| *l = 1.0 / (1.0 + (-*l).exp()));
        }
        Ok(out)
    }

    /// One code through a conv decoder: the dense layers (each with its ReLU), then the
    /// transposed convolutions (ReLU between); logits, channel by channel.
    fn decode_conv(&self, plan: &ConvPlan, z: &[f32]) -> Vec<f32> {
        let dense = self.layers.len().saturating_sub(plan.convs.len());
        let mut h = z.to_vec();
        for layer in &self.layers[..dense] {
            h = layer.forward(&h);
            relu_in_place(&mut h);
        }
        let last = plan.convs.len().saturating_sub(1);
        for (i, (layer, g)) in self.layers[dense..]
            .iter()
            .zip(plan.convs.iter().rev())
            .enumerate()
        {
            h = conv::conv_transpose_plain(g, &h, &layer.w, &layer.b);
            if i < last {
                relu_in_place(&mut h);
            }
        }
        conv::last_to_planar(&h, plan.image)
    }
}

/// An encoder frozen at one training step: plain numbers and plain loops, no candle, so the
/// UI thread can encode a drawn item on every stroke (a 784-pixel item through 128, 64
/// hidden units takes a few tens of microseconds).
///
/// ```
/// # use latentlab::model::{Autoencoder, ModelConfig, ModelKind, Likelihood};
/// # use rand::SeedableRng;
/// # let config = ModelConfig::new(ModelKind::Vae, 784, Likelihood::Bernoulli);
/// # let model = Autoencoder::new(config, &mut latentlab::rng::PortableRng::seed_from_u64(1)).unwrap();
/// let encoder = model.encoder_snapshot().unwrap(); // or `ModelSnapshot::encoder`
/// let (mu, sigma) = encoder.encode(&[0.0; 784]);
/// assert_eq!(mu.len(), 2);
/// assert_eq!(sigma.map(|s| s.len()), Some(2));
/// ```
#[derive(Clone, Debug, Default)]
pub struct EncoderSnapshot {
    /// The trunk's layers, each followed by a ReLU. A conv encoder's first
    /// `conv.convs.len()` layers are its convolutions, each `(KERNEL²·c_in, c_out)`.
    pub trunk: Vec<DenseWeights>,
    /// The head that gives the code mean μ from the last hidden layer.
    pub mu_head: DenseWeights,
    /// The head that gives log σ² (variational kinds only).
    pub logvar_head: Option<DenseWeights>,
    /// The convolutions, for a conv encoder.
    pub conv: Option<ConvPlan>,
    /// Classes of a conditional encoder (cvae), whose input is the item ++ a one-hot class;
    /// 0 for every other kind.
    pub classes: usize,
    /// A vq-vae's codebook, for the inspector's nearest entry and penalty; `None` for every
    /// other kind.
    pub codebook: Option<Arc<CodebookData>>,
}

impl EncoderSnapshot {
    /// Copies the current weights of a model's convolutions (conv), trunk and heads.
    pub(crate) fn from_model(
        trunk: &[Dense],
        conv: Option<&ConvNet>,
        mu: &Dense,
        logvar: Option<&Dense>,
        classes: usize,
    ) -> Result<Self> {
        let convs = conv.map_or(&[][..], |c| &c.encoder[..]);
        Ok(Self {
            trunk: convs
                .iter()
                .chain(trunk)
                .map(DenseWeights::from_dense)
                .collect::<Result<Vec<_>>>()?,
            mu_head: DenseWeights::from_dense(mu)?,
            logvar_head: logvar.map(DenseWeights::from_dense).transpose()?,
            conv: conv.map(|c| c.plan.clone()),
            classes,
            codebook: None,
        })
    }

    /// The same layers read as `config`'s architecture says (a conv config's plan), for
    /// layers stored without it (a timeline's frames).
    pub fn with_plan_of(mut self, config: &ModelConfig) -> Self {
        self.conv = ConvPlan::for_items(config.arch, config.image)
            .ok()
            .flatten();
        self.classes = config.condition_dim();
        self
    }

    /// Values per item it encodes (without a conditional encoder's one-hot class).
    pub fn input_dim(&self) -> usize {
        match &self.conv {
            Some(plan) => plan.input_dim(),
            None => self
                .trunk
                .first()
                .unwrap_or(&self.mu_head)
                .n_in
                .saturating_sub(self.classes),
        }
    }

    /// Size of the code.
    pub fn latent_dim(&self) -> usize {
        self.mu_head.n_out
    }

    /// True if it has a posterior: a σ beside μ.
    pub fn is_variational(&self) -> bool {
        self.logvar_head.is_some()
    }

    /// The last hidden layer's activations for one item of class `class` (a conditional
    /// encoder's; others ignore it).
    fn hidden(&self, x: &[f32], class: u32) -> Vec<f32> {
        let mut h = x.to_vec();
        h.extend((0..self.classes).map(|c| if c == class as usize { 1.0 } else { 0.0 }));
        let mut dense = &self.trunk[..];
        if let Some(plan) = &self.conv {
            h = conv::planar_to_last(x, plan.image);
            let (convs, rest) = self.trunk.split_at(plan.convs.len().min(self.trunk.len()));
            for (layer, g) in convs.iter().zip(&plan.convs) {
                h = conv::conv_plain(g, &h, &layer.w, &layer.b);
                relu_in_place(&mut h);
            }
            dense = rest;
        }
        for layer in dense {
            h = layer.forward(&h);
            relu_in_place(&mut h);
        }
        h
    }

    /// μ and (variational kinds) log σ² of items stored back to back, `input_dim` values
    /// each (a trailing partial item is ignored); `latent_dim` values per item in each.
    /// A conditional encoder (cvae) encodes them as class 0 ([`EncoderSnapshot::encode_logvar_as`]
    /// chooses).
    pub fn encode_logvar(&self, x: &[f32]) -> (Vec<f32>, Option<Vec<f32>>) {
        self.encode_logvar_as(x, 0)
    }

    /// [`EncoderSnapshot::encode_logvar`] of items of class `class` (a conditional
    /// encoder's; others ignore it).
    pub fn encode_logvar_as(&self, x: &[f32], class: u32) -> (Vec<f32>, Option<Vec<f32>>) {
        let mut mu = Vec::new();
        let mut logvar = self.logvar_head.as_ref().map(|_| Vec::new());
        for item in x.chunks_exact(self.input_dim().max(1)) {
            let h = self.hidden(item, class);
            mu.extend(self.mu_head.forward(&h));
            if let (Some(head), Some(out)) = (&self.logvar_head, &mut logvar) {
                out.extend(head.forward(&h));
            }
        }
        (mu, logvar)
    }

    /// μ and (variational kinds) σ = exp(½ log σ²) of items stored back to back, as
    /// [`EncoderSnapshot::encode_logvar`].
    pub fn encode(&self, x: &[f32]) -> (Vec<f32>, Option<Vec<f32>>) {
        let (mu, logvar) = self.encode_logvar(x);
        let sigma = logvar.map(|lv| lv.iter().map(|v| (0.5 * v).exp()).collect());
        (mu, sigma)
    }

    /// ‖∂μ/∂x‖²_F at one item (`input_dim` values): the contractive penalty before its
    /// weight. Exact for the ReLU trunk: ∂μ/∂x = W_μᵀ D_k W_kᵀ ··· D_1 W_1ᵀ.
    pub fn jacobian_frobenius_sq(&self, x: &[f32]) -> f64 {
        // The ReLU masks of every trunk layer at x.
        let mut masks = Vec::new();
        let mut h = x.to_vec();
        for layer in &self.trunk {
            h = layer.forward(&h);
            masks.push(h.iter().map(|&v| v > 0.0).collect::<Vec<_>>());
            relu_in_place(&mut h);
        }
        // Rows of ∂μ/∂h for the current layer, one row per code dimension.
        let head = &self.mu_head;
        let mut rows: Vec<Vec<f32>> = (0..head.n_out)
            .map(|j| (0..head.n_in).map(|i| head.w[i * head.n_out + j]).collect())
            .collect();
        for (layer, mask) in self.trunk.iter().zip(&masks).rev() {
            for row in &mut rows {
                let next = (0..layer.n_in)
                    .map(|i| {
                        let w = &layer.w[i * layer.n_out..(i + 1) * layer.n_out];
                        w.iter()
                            .zip(row.iter())
                            .zip(mask)
                            .filter(|(_, on)| **on)
                            .map(|((w, r), _)| w * r)
                            .sum()
                    })
                    .collect();
                *row = next;
            }
        }
        rows.iter()
            .flatten()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum()
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Autoencoder, Likelihood, ModelConfig, ModelKind};
    use crate::rng::PortableRng;
    use rand::{Rng, SeedableRng};

    /// A model of `kind` with random non-zero biases, so some ReLUs are off and some on.
    fn model(kind: ModelKind, input: usize, hidden: &[usize], latent: usize) -> Autoencoder {
        let mut cfg = ModelConfig::new(kind, input, Likelihood::Bernoulli);
        cfg.hidden = hidden.to_vec();
        cfg.latent_dim = latent;
        let mut rng = PortableRng::seed_from_u64(9);
        let m = Autoencoder::new(cfg, &mut rng).unwrap();
        for var in m.vars().iter().filter(|v| v.dims().len() == 1) {
            let b: Vec<f32> = (0..var.dims()[0])
                .map(|_| rng.random_range(-0.3f32..0.3))
                .collect();
            var.set(&Tensor::new(b.as_slice(), &Device::Cpu).unwrap())
                .unwrap();
        }
        m
    }

    fn assert_close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-5 * x.abs().max(1.0),
                "{what}[{i}]: {x} vs {y}"
            );
        }
    }

    #[test]
    fn the_encoder_snapshot_gives_the_candle_encoders_mu_and_sigma() {
        let mut rng = PortableRng::seed_from_u64(2);
        for (kind, input, hidden, latent) in [
            (ModelKind::Vae, 784, vec![128, 64], 2),
            (ModelKind::BetaVae, 30, vec![16, 8], 5),
            (ModelKind::Ae, 30, vec![16], 3),
            (ModelKind::Cae, 12, vec![7, 6, 5], 2),
        ] {
            let m = model(kind, input, &hidden, latent);
            let snap = m.encoder_snapshot().unwrap();
            assert_eq!((snap.input_dim(), snap.latent_dim()), (input, latent));
            let rows = 5;
            let x: Vec<f32> = (0..rows * input)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            let (mu, logvar) = m
                .encode(&Tensor::from_vec(x.clone(), (rows, input), &Device::Cpu).unwrap())
                .unwrap();
            let (got_mu, got_sigma) = snap.encode(&x);
            assert_close(&got_mu, &mu.flatten_all().unwrap().to_vec1().unwrap(), "μ");
            let sigma: Option<Vec<f32>> = logvar.map(|lv| {
                lv.exp()
                    .unwrap()
                    .sqrt()
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap()
            });
            assert_eq!(got_sigma.is_some(), kind.is_variational(), "{kind}");
            if let (Some(a), Some(b)) = (got_sigma, sigma) {
                assert_close(&a, &b, "σ");
            }
            // One item alone gives the first row.
            assert_close(&snap.encode(&x[..input]).0, &got_mu[..latent], "one item");
        }
    }

    #[test]
    fn plain_decoding_agrees_with_the_tensor_decoder() {
        let m = model(ModelKind::Vae, 20, &[9, 7], 3);
        let decoder = m.decoder_snapshot().unwrap();
        let codes: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin() * 2.0).collect();
        let logits = decoder.decode_raw(&codes);
        let pixels: Vec<f32> = logits.iter().map(|l| 1.0 / (1.0 + (-l).exp())).collect();
        assert_close(&pixels, &decoder.decode(&codes).unwrap(), "pixels");
        let raw: Vec<f32> = m
            .decode_raw(&Tensor::from_vec(codes, (4, 3), &Device::Cpu).unwrap())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_close(&logits, &raw, "logits");
    }

    #[test]
    fn the_plain_jacobian_matches_finite_differences() {
        let m = model(ModelKind::Cae, 6, &[9, 7], 3);
        let snap = m.encoder_snapshot().unwrap();
        let mut rng = PortableRng::seed_from_u64(5);
        for _ in 0..3 {
            let x: Vec<f32> = (0..6).map(|_| rng.random_range(-1.0..1.0)).collect();
            let h = 1e-3f32;
            let mut fd = 0.0f64;
            for i in 0..6 {
                let (mut plus, mut minus) = (x.clone(), x.clone());
                plus[i] += h;
                minus[i] -= h;
                let (zp, zm) = (snap.encode(&plus).0, snap.encode(&minus).0);
                for (a, b) in zp.iter().zip(&zm) {
                    fd += f64::from((a - b) / (2.0 * h)).powi(2);
                }
            }
            let exact = snap.jacobian_frobenius_sq(&x);
            assert!(fd > 1e-3, "the test must see a non-trivial Jacobian");
            assert!(
                (fd - exact).abs() < 1e-2 * fd,
                "finite differences {fd} vs exact {exact}"
            );
        }
    }

    #[test]
    fn decodes_a_hand_built_network() {
        // 1 -> 2 (ReLU) -> 1, weights chosen so the result is easy to compute.
        let snap = DecoderSnapshot::new(
            vec![
                DenseWeights {
                    w: vec![1.0, -1.0],
                    b: vec![0.0, 0.0],
                    n_in: 1,
                    n_out: 2,
                },
                DenseWeights {
                    w: vec![2.0, 3.0],
                    b: vec![0.5],
                    n_in: 2,
                    n_out: 1,
                },
            ],
            false,
        );
        // z = 2: hidden (2, 0) -> 4.5; z = -1: hidden (0, 1) -> 3.5
        assert_eq!(snap.decode(&[2.0, -1.0]).unwrap(), vec![4.5, 3.5]);
        let sig = DecoderSnapshot {
            sigmoid_output: true,
            ..snap.clone()
        };
        let v = sig.decode(&[0.0]).unwrap();
        assert!((v[0] - 1.0 / (1.0 + (-0.5f32).exp())).abs() < 1e-6);
    }
}
