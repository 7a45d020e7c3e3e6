//! The convolutional architecture (`--arch conv`): stride-2 convolutions in front of the
//! dense encoder, transposed convolutions after the dense decoder.
//!
//! For 64×64 items it is the network of Burgess et al. 2018 ("Understanding disentangling in
//! β-VAE"), as disentanglement_lib trains it on dSprites: four 4×4 convolutions with stride 2
//! and 32 channels, ReLU after each (64→32→16→8→4), dense layers of 256 and 256 (ReLU), then
//! the code (μ, and log σ² for the variational kinds). The decoder mirrors it: dense 256, 256
//! and 4·4·32 (ReLU), then four 4×4 transposed convolutions with stride 2 (ReLU between),
//! the last to the item's channels, giving logits.
//!
//! **Other sizes: halving.** A 4×4 convolution with stride 2 and padding 1 halves an even
//! side exactly, and its transposed twin doubles it back. The encoder halves the image while
//! both sides are even and at least 8, so the deepest map is between 4 and 7 on a side:
//! 64×64 → four convolutions to 4×4 (the paper's), 32×32 → three to 4×4, 28×28 → two to 7×7
//! (28 → 14 → 7; 7 is odd), 128×128 → five to 4×4, 16×16 → two to 4×4. Sides that cannot be
//! halved once (odd, or below 8) are refused with a message. The dense layers are
//! `ModelConfig::hidden` (the run sets [`DENSE`], the paper's 256, 256).
//!
//! **Layout.** Inside the network maps are channels-last (batch, height, width, channels),
//! so a convolution is one matrix product: its patches (`im2col`, one row per output place,
//! `KERNEL·KERNEL·c_in` values ordered row, column, channel) times its weights, stored as a
//! `(KERNEL·KERNEL·c_in, c_out)` matrix. A transposed convolution is the adjoint: rows of
//! `c_in` values times a `(c_in, KERNEL·KERNEL·c_out)` matrix, then the patches added back
//! into the image (`col2im`). Each of the two copy steps is a candle custom op whose
//! gradient is the other, so autograd differentiates the network through candle's matmul.
//! Items come in and go out channel by channel (`[channels, height, width]`); grey items
//! need no reordering.
//!
//! **Gradients.** The hand-written backward pass (`model::backward`) covers the MLP only: a
//! conv model always trains through candle's autograd ([`crate::model::Autoencoder::gradients`]).
//! **Kinds.** Every kind trains with conv except the contractive AE: its penalty
//! ‖∂μ/∂x‖² is computed in closed form through the MLP's weight matrices and ReLU masks
//! (`mlp::jacobian_frobenius_sq`), which has no convolutional counterpart here yet, so
//! `cae` with `--arch conv` is refused (`arch::mlp_only`).

use super::arch::{ConvPlan, Geometry, ImageDims, KERNEL, PADDING, STRIDE};

use super::mlp::Dense;
use crate::rng::PortableRng;
use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, DType, Device, Layout, Result, Shape, Tensor, Var,
};
use rand::Rng;

mod fused;
#[cfg(test)]
mod tests;

// ---- the two copy steps, on plain slices -----------------------------------------------

/// The patches of `batch` channels-last maps (`g.big()` values each) as rows of
/// `g.patch()` values, one per place of the smaller map: `dst` holds
/// `batch · g.places() · g.patch()` values. Outside the map, zeros. Every value of `dst`
/// is written, so it need not be zeroed first.
pub fn im2col(g: &Geometry, batch: usize, src: &[f32], dst: &mut [f32]) {
    let (w, c, patch) = (g.width, g.c_in, g.patch());
    // One kernel row of a patch: KERNEL places side by side, contiguous in the map too.
    let span = KERNEL * c;
    let mut rows = dst.chunks_exact_mut(patch);
    for image in src.chunks_exact(g.big()).take(batch) {
        for oy in 0..g.out_height() {
            for ox in 0..g.out_width() {
                let Some(row) = rows.next() else { return };
                let ix0 = (ox * STRIDE).wrapping_sub(PADDING);
                for (ky, to) in row.chunks_exact_mut(span).enumerate() {
                    let iy = (oy * STRIDE + ky).wrapping_sub(PADDING);
                    if iy >= g.height {
                        to.fill(0.0);
                    } else if ix0 < w && ix0 + KERNEL <= w {
                        copy_span(to, &image[(iy * w + ix0) * c..][..span]);
                    } else {
                        for (kx, to) in to.chunks_exact_mut(c).enumerate() {
                            let ix = ix0.wrapping_add(kx);
                            if ix < w {
                                to.copy_from_slice(&image[(iy * w + ix) * c..][..c]);
                            } else {
                                to.fill(0.0);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `to.copy_from_slice(from)`, with a fixed-size copy for one channel's KERNEL values (a
/// call to `memcpy` for four floats cost more than the copy: measured, the first layer's
/// patches of a grey image were most of the encoder's copying).
#[inline]
fn copy_span(to: &mut [f32], from: &[f32]) {
    match (
        <&mut [f32; KERNEL]>::try_from(&mut *to),
        <&[f32; KERNEL]>::try_from(from),
    ) {
        (Ok(to), Ok(from)) => *to = *from,
        _ => to.copy_from_slice(from),
    }
}

/// The adjoint of [`im2col`]: adds every row of patches back into its place of `batch`
/// channels-last maps. `dst` (`batch · g.big()` values) is overwritten.
pub fn col2im(g: &Geometry, batch: usize, src: &[f32], dst: &mut [f32]) {
    dst.fill(0.0);
    add_cols(g, batch, src, dst);
}

/// [`col2im`] added into `dst` as it is (a fresh zeroed buffer needs no second clearing).
fn add_cols(g: &Geometry, batch: usize, src: &[f32], dst: &mut [f32]) {
    let (w, c, patch) = (g.width, g.c_in, g.patch());
    let mut rows = src.chunks_exact(patch);
    for image in dst.chunks_exact_mut(g.big()).take(batch) {
        for oy in 0..g.out_height() {
            for ox in 0..g.out_width() {
                let Some(row) = rows.next() else { return };
                add_patch(g, oy, ox, row, image, w, c);
            }
        }
    }
}

/// Adds one row of patches (`g.patch()` values) into the map at place (`oy`, `ox`).
fn add_patch(
    g: &Geometry,
    oy: usize,
    ox: usize,
    row: &[f32],
    image: &mut [f32],
    w: usize,
    c: usize,
) {
    let span = KERNEL * c;
    let ix0 = (ox * STRIDE).wrapping_sub(PADDING);
    let inside = ix0 < w && ix0 + KERNEL <= w;
    for (ky, from) in row.chunks_exact(span).enumerate() {
        let iy = (oy * STRIDE + ky).wrapping_sub(PADDING);
        if iy >= g.height {
            continue;
        }
        if inside {
            // The kernel row's KERNEL places are contiguous in the map: one pass.
            for (to, v) in image[(iy * w + ix0) * c..][..span].iter_mut().zip(from) {
                *to += v;
            }
            continue;
        }
        for (kx, from) in from.chunks_exact(c).enumerate() {
            let ix = ix0.wrapping_add(kx);
            if ix >= w {
                continue;
            }
            for (to, v) in image[(iy * w + ix) * c..][..c].iter_mut().zip(from) {
                *to += v;
            }
        }
    }
}

// ---- the copy steps as candle ops ------------------------------------------------------

fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout, len: usize) -> Result<&'a [f32]> {
    let CpuStorage::F32(values) = storage else {
        candle_core::bail!("conv layers take f32 tensors")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) if end - start == len => Ok(&values[start..end]),
        Some((start, end)) => {
            candle_core::bail!(
                "conv copy: {} values where {len} were expected",
                end - start
            )
        }
        None => candle_core::bail!("conv copy: the tensor is not contiguous"),
    }
}

/// A stride-2 convolution of channels-last maps (batch, height, width, c_in) with weights
/// `w` (patch, c_out) and bias `b` (c_out): (batch·places, c_out), no ReLU.
pub fn conv(x: &Tensor, g: &Geometry, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    conv_with(x, g, w, b, false)
}

/// [`conv`], with a ReLU after it if `relu`.
fn conv_with(x: &Tensor, g: &Geometry, w: &Tensor, b: &Tensor, relu: bool) -> Result<Tensor> {
    let batch = x.dim(0)?;
    let layer = fused::ConvLayer { g: *g, batch, relu };
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, layer)
}

/// The transposed convolution mirroring `g`: rows (batch·places, c_out of `g`) times `w`
/// (c_out, patch), added back into (batch, height, width, c_in) maps, plus bias `b` (c_in).
pub fn conv_transpose(x: &Tensor, g: &Geometry, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    conv_transpose_with(x, g, w, b, false)
}

/// [`conv_transpose`], with a ReLU after it if `relu`.
pub(crate) fn conv_transpose_with(
    x: &Tensor,
    g: &Geometry,
    w: &Tensor,
    b: &Tensor,
    relu: bool,
) -> Result<Tensor> {
    let batch = x.dim(0)? / g.places().max(1);
    let layer = fused::DeconvLayer { g: *g, batch, relu };
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, layer)
}

/// The gradient through a ReLU from its output: `grad` where `out > 0`, else 0.
struct ReluMask;

impl CustomOp2 for ReluMask {
    fn name(&self) -> &'static str {
        "latentlab-relu-mask"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let n = l1.shape().elem_count();
        let grad = contiguous_f32(s1, l1, n)?;
        let out = contiguous_f32(s2, l2, n)?;
        let masked = grad
            .iter()
            .zip(out.iter())
            .map(|(&g, &o)| if o > 0.0 { g } else { 0.0 })
            .collect();
        Ok((CpuStorage::F32(masked), l1.shape().clone()))
    }
}

/// Sums of the columns of a (rows, `.0`) matrix: a bias's gradient.
struct ColumnSum(usize);

impl CustomOp1 for ColumnSum {
    fn name(&self) -> &'static str {
        "latentlab-column-sum"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(storage, layout, layout.shape().elem_count())?;
        let mut sums = vec![0f32; self.0];
        for row in x.chunks_exact(self.0.max(1)) {
            for (s, v) in sums.iter_mut().zip(row) {
                *s += v;
            }
        }
        Ok((CpuStorage::F32(sums), Shape::from(self.0)))
    }
}

/// (batch, channels·height·width) items, channel by channel, as channels-last maps.
fn to_channels_last(x: &Tensor, image: ImageDims) -> Result<Tensor> {
    let ImageDims {
        channels: c,
        height: h,
        width: w,
    } = image;
    let batch = x.dim(0)?;
    if c == 1 {
        return x.reshape((batch, h, w, 1));
    }
    x.reshape((batch, c, h, w))?
        .permute((0, 2, 3, 1))?
        .contiguous()
}

/// Channels-last maps back to (batch, channels·height·width) items, channel by channel.
fn from_channels_last(x: &Tensor, image: ImageDims) -> Result<Tensor> {
    let batch = x.dim(0)?;
    let dim = image.channels * image.height * image.width;
    if image.channels == 1 {
        return x.reshape((batch, dim));
    }
    x.permute((0, 3, 1, 2))?.contiguous()?.reshape((batch, dim))
}

/// Multiplies the weights of `layers`, drawn uniform in ±1/√fan-in (PyTorch's default, what
/// [`Dense::new`] draws), by √6: uniform in ±√(6/fan-in), He's initialisation for ReLU
/// networks (PyTorch's `kaiming_uniform_(w, nonlinearity="relu")`). A conv model starts this
/// way in every layer, dense ones included (`Autoencoder::new`). Why: with PyTorch's default
/// bound each layer keeps about 1/√6 of its input's spread (1/3 from the weights' variance,
/// 1/2 from the ReLU), and a conv VAE is seven layers deep on each side. Measured at
/// initialisation on 256 `sprites` items (`benches/peer/conv_torch.py --init torch` vs
/// `he`): how much μ varies between items, 0.0003 vs 0.09 (against the sampling noise's
/// σ = 1), and how much the decoder's logits vary with z, 0.0004 vs 0.19. The decoder cannot
/// tell one code from another, learns the mean image (463 nats on `sprites`) and the KL
/// closes the code: in PyTorch and here alike the test loss stayed at 463–465 for ten epochs
/// (lr 1e-3 and 3e-3). With He's bound it is 200 after the first epoch and 100 after the
/// fourth. The MLP keeps PyTorch's default: its numbers do not change.
pub fn he_scale<'a>(layers: impl IntoIterator<Item = &'a Dense>) -> Result<()> {
    let gain = 6f64.sqrt();
    for layer in layers {
        layer.w.set(&(layer.w.as_tensor() * gain)?)?;
    }
    Ok(())
}

/// The code means μ of the (rows, dim) items `x`, flattened, and (for a variational model)
/// σ = exp(½ log σ²), encoded [`super::arch::Arch::inference_rows`] rows at a time: each
/// part's tensors (and a conv model's patches) are dropped before the next is encoded.
pub fn encode_in_parts(
    model: &super::Autoencoder,
    x: &Tensor,
) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
    let rows = x.dim(0)?;
    let part = model.config.arch.inference_rows().max(1);
    let (mut codes, mut sigmas) = (Vec::new(), Vec::new());
    let mut variational = false;
    for start in (0..rows).step_by(part) {
        let xs = x.narrow(0, start, part.min(rows - start))?;
        let (mu, logvar) = model.encode(&xs)?;
        codes.extend(mu.flatten_all()?.to_vec1::<f32>()?);
        if let Some(lv) = logvar {
            variational = true;
            sigmas.extend(
                lv.affine(0.5, 0.0)?
                    .exp()?
                    .flatten_all()?
                    .to_vec1::<f32>()?,
            );
        }
    }
    if rows == 0 {
        variational = model.logvar_head.is_some();
    }
    Ok((codes, variational.then_some(sigmas)))
}

/// Variables with their checkpoint names.
pub type NamedVars = Vec<(String, Var)>;

/// The convolutional layers of a model: the encoder's in front of its dense trunk, the
/// decoder's after its dense layers. Weights as in the module's description.
pub struct ConvNet {
    /// Which convolutions.
    pub plan: ConvPlan,
    /// The encoder's convolutions: `w` (patch, c_out), `b` (c_out).
    pub encoder: Vec<Dense>,
    /// The decoder's transposed convolutions, in the order they run (the plan's in
    /// reverse): `w` (c_out, patch), `b` (c_in) of the geometry they mirror.
    pub decoder: Vec<Dense>,
}

impl ConvNet {
    /// The encoder's convolutions, drawn from `rng` (He's uniform bound √(6/fan-in), see
    /// [`he_scale`]; zero biases). The decoder's come from [`ConvNet::add_decoder`], so the
    /// random draws follow the order the layers run in.
    pub fn new_encoder(plan: ConvPlan, rng: &mut PortableRng, dev: &Device) -> Result<Self> {
        let encoder = plan
            .convs
            .iter()
            .map(|g| {
                let layer = Dense::new(g.patch(), g.c_out, rng, dev)?;
                he_scale([&layer])?;
                Ok(layer)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            plan,
            encoder,
            decoder: Vec::new(),
        })
    }

    /// Draws the decoder's transposed convolutions (He's bound √(6/fan-in), fan-in as
    /// PyTorch counts it for a transposed convolution: its output channels · KERNEL²).
    pub fn add_decoder(&mut self, rng: &mut PortableRng, dev: &Device) -> Result<()> {
        self.decoder = self
            .plan
            .convs
            .iter()
            .rev()
            .map(|g| {
                let bound = (6.0 / (g.c_in * KERNEL * KERNEL) as f32).sqrt();
                let w: Vec<f32> = (0..g.c_out * g.patch())
                    .map(|_| rng.random_range(-bound..bound))
                    .collect();
                Ok(Dense {
                    w: Var::from_vec(w, (g.c_out, g.patch()), dev)?,
                    b: Var::zeros(g.c_in, DType::F32, dev)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(())
    }

    /// Items (batch, input_dim) through the convolutions (ReLU after each): the deepest
    /// map flattened, (batch, flat_dim).
    pub fn features(&self, x: &Tensor) -> Result<Tensor> {
        let batch = x.dim(0)?;
        let mut h = to_channels_last(x, self.plan.image)?;
        for (layer, g) in self.encoder.iter().zip(&self.plan.convs) {
            let y = conv_with(&h, g, layer.w.as_tensor(), layer.b.as_tensor(), true)?;
            h = y.reshape((batch, g.out_height(), g.out_width(), g.c_out))?;
        }
        h.reshape((batch, self.plan.flat_dim()))
    }

    /// The dense decoder's output (batch, flat_dim, after its ReLU) through the transposed
    /// convolutions (ReLU between, none after the last): (batch, input_dim) logits.
    pub fn image(&self, h: &Tensor) -> Result<Tensor> {
        let batch = h.dim(0)?;
        let last = self.decoder.len().saturating_sub(1);
        let mut maps = h.clone();
        for (i, (layer, g)) in self
            .decoder
            .iter()
            .zip(self.plan.convs.iter().rev())
            .enumerate()
        {
            let rows = maps.reshape((batch * g.places(), g.c_out))?;
            let (w, b) = (layer.w.as_tensor(), layer.b.as_tensor());
            maps = conv_transpose_with(&rows, g, w, b, i < last)?;
        }
        from_channels_last(&maps, self.plan.image)
    }

    /// Every variable with its checkpoint name, encoder's then decoder's.
    pub fn named_vars(&self) -> (NamedVars, NamedVars) {
        let named = |prefix: &str, layers: &[Dense]| {
            layers
                .iter()
                .enumerate()
                .flat_map(|(i, d)| {
                    [
                        (format!("{prefix}{i}.weight"), d.w.clone()),
                        (format!("{prefix}{i}.bias"), d.b.clone()),
                    ]
                })
                .collect::<Vec<_>>()
        };
        (
            named("encoder.conv", &self.encoder),
            named("decoder.deconv", &self.decoder),
        )
    }
}

// ---- the same layers on plain slices, for the frozen snapshots ---------------------------

/// One item's channel-by-channel values as a channels-last map.
pub fn planar_to_last(x: &[f32], image: ImageDims) -> Vec<f32> {
    let (c, places) = (image.channels, image.height * image.width);
    if c == 1 {
        return x.to_vec();
    }
    (0..places * c)
        .map(|i| x.get((i % c) * places + i / c).copied().unwrap_or(0.0))
        .collect()
}

/// One channels-last map as the item's channel-by-channel values.
pub fn last_to_planar(x: &[f32], image: ImageDims) -> Vec<f32> {
    let (c, places) = (image.channels, image.height * image.width);
    if c == 1 {
        return x.to_vec();
    }
    (0..places * c)
        .map(|i| x.get((i % places) * c + i / places).copied().unwrap_or(0.0))
        .collect()
}

/// `out += a · x`, the one inner loop of both plain layers (long and contiguous, so the
/// compiler vectorises it).
fn axpy(out: &mut [f32], a: f32, x: &[f32]) {
    for (o, v) in out.iter_mut().zip(x) {
        *o += a * v;
    }
}

/// [`conv`] for one map (`g.big()` values) with plain loops: `w` (patch, c_out), `b`
/// (c_out); `g.places() · c_out` values, no ReLU.
pub fn conv_plain(g: &Geometry, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    let mut cols = vec![0f32; g.places() * g.patch()];
    im2col(g, 1, x, &mut cols);
    let mut out = Vec::with_capacity(g.places() * g.c_out);
    for row in cols.chunks_exact(g.patch()) {
        let mut o = b.to_vec();
        for (&xi, w_row) in row.iter().zip(w.chunks_exact(g.c_out)) {
            if xi != 0.0 {
                axpy(&mut o, xi, w_row);
            }
        }
        out.extend(o);
    }
    out
}

/// [`conv_transpose`] for one map (`g.places() · g.c_out` values) with plain loops: `w`
/// (c_out, patch), `b` (c_in); `g.big()` values, no ReLU. Each place's patch is made in a
/// small buffer and added into the map at once, so nothing of the size of `im2col`'s
/// matrix is made.
pub fn conv_transpose_plain(g: &Geometry, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; g.big()];
    let mut row = vec![0f32; g.patch()];
    let ow = g.out_width().max(1);
    for (p, input) in x.chunks_exact(g.c_out).take(g.places()).enumerate() {
        row.fill(0.0);
        for (&xi, w_row) in input.iter().zip(w.chunks_exact(g.patch())) {
            if xi != 0.0 {
                axpy(&mut row, xi, w_row);
            }
        }
        add_patch(g, p / ow, p % ow, &row, &mut out, g.width, g.c_in);
    }
    for pixel in out.chunks_exact_mut(g.c_in) {
        for (v, bias) in pixel.iter_mut().zip(b) {
            *v += bias;
        }
    }
    out
}
