//! Each convolution and transposed convolution as one candle op (patches, product, bias and
//! ReLU together) with its gradient written out.
//!
//! Why: built from separate ops (patches, matmul, bias), autograd keeps the patch matrix of
//! every layer (for a 64×64 batch of 64, 8.4 M values in the second layer alone, four
//! times its input map) and, as candle sums every gradient, makes a zeroed tensor of each
//! node's size and adds the gradient into it. Measured on a training step of the 64×64 conv
//! VAE, those sums and zeroings were a fifth of the step. As one op per layer, the graph
//! holds only the layer's input, weights and output; the patches are made again in the
//! backward pass (cheaper than keeping them), and the input's gradient is skipped where
//! nothing asks for it (the items themselves).

use super::{Col2Im, ColumnSum, Im2Col, ReluMask, add_cols, contiguous_f32, im2col};
use crate::model::arch::Geometry;
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

/// `dst = a · b` on row-major slices: `a` (m, k), `b` (k, n), `dst` (m, n), through the
/// same `gemm` kernels as candle's matmul, on the calling thread (candle's products run on
/// one thread too: the binary sets `RAYON_NUM_THREADS=1`).
pub(crate) fn matmul(
    dst: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Result<()> {
    if a.len() < m * k || b.len() < k * n || dst.len() < m * n {
        candle_core::bail!(
            "conv product: ({m}, {k}) · ({k}, {n}) with {} and {} values into {}",
            a.len(),
            b.len(),
            dst.len()
        )
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        dst[..m * n].fill(0.0);
        return Ok(());
    }
    let (k_i, n_i) = (k as isize, n as isize);
    // SAFETY: the three slices hold at least m·k, k·n and m·n values (checked above); the
    // strides address exactly those row-major elements; `dst` is borrowed mutably, so it
    // overlaps neither input; `read_dst` is false, so its old values are never read.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n_i,
            false,
            a.as_ptr(),
            1,
            k_i,
            b.as_ptr(),
            1,
            n_i,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    Ok(())
}

/// `v + b` per row of `b.len()` values, then a ReLU if `relu`, in place.
fn add_bias(values: &mut [f32], b: &[f32], relu: bool) {
    for row in values.chunks_exact_mut(b.len().max(1)) {
        for (v, bias) in row.iter_mut().zip(b) {
            *v += bias;
            if relu {
                *v = v.max(0.0);
            }
        }
    }
}

/// The gradient at the op's input, masked by its ReLU (`grad` where the output is > 0).
fn through_relu(grad: &Tensor, res: &Tensor, relu: bool) -> Result<Tensor> {
    let grad = grad.contiguous()?;
    if relu {
        grad.apply_op2_no_bwd(res, &ReluMask)
    } else {
        Ok(grad)
    }
}

/// True if autograd wants a gradient for `t`: a variable, or the result of ops on one. The
/// items fed to the first convolution are neither.
fn wants_grad(t: &Tensor) -> bool {
    t.track_op()
}

/// A stride-2 convolution with bias and an optional ReLU: maps (batch, height, width,
/// c_in), weights (patch, c_out), bias (c_out) → (batch·places, c_out).
pub(super) struct ConvLayer {
    pub(super) g: Geometry,
    pub(super) batch: usize,
    pub(super) relu: bool,
}

impl CustomOp3 for ConvLayer {
    fn name(&self) -> &'static str {
        "latentlab-conv"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = &self.g;
        let (rows, patch) = (self.batch * g.places(), g.patch());
        let x = contiguous_f32(s1, l1, self.batch * g.big())?;
        let w = contiguous_f32(s2, l2, patch * g.c_out)?;
        let b = contiguous_f32(s3, l3, g.c_out)?;
        let mut cols = vec![0f32; rows * patch];
        im2col(g, self.batch, x, &mut cols);
        let mut out = vec![0f32; rows * g.c_out];
        matmul(&mut out, &cols, w, rows, patch, g.c_out)?;
        add_bias(&mut out, b, self.relu);
        Ok((CpuStorage::F32(out), Shape::from((rows, g.c_out))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (g, batch) = (self.g, self.batch);
        let gy = through_relu(grad, res, self.relu)?;
        let grad_b = gy.apply_op1_no_bwd(&ColumnSum(b.elem_count()))?;
        // The weights' gradient: patchesᵀ · gy, the patches made again from the input.
        let cols = x
            .detach()
            .contiguous()?
            .apply_op1_no_bwd(&Im2Col { g, batch })?;
        let grad_w = cols.t()?.matmul(&gy)?;
        // The input's: gy · wᵀ added back into the map.
        let grad_x = if wants_grad(x) {
            let dcols = gy.matmul(&w.detach().t()?)?;
            Some(dcols.apply_op1_no_bwd(&Col2Im { g, batch })?)
        } else {
            None
        };
        Ok((grad_x, Some(grad_w), Some(grad_b)))
    }
}

/// The transposed convolution mirroring `g`, with bias and an optional ReLU: rows
/// (batch·places, c_out), weights (c_out, patch), bias (c_in) → maps (batch, height,
/// width, c_in).
pub(super) struct DeconvLayer {
    pub(super) g: Geometry,
    pub(super) batch: usize,
    pub(super) relu: bool,
}

impl CustomOp3 for DeconvLayer {
    fn name(&self) -> &'static str {
        "latentlab-conv-transpose"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = &self.g;
        let (rows, patch) = (self.batch * g.places(), g.patch());
        let x = contiguous_f32(s1, l1, rows * g.c_out)?;
        let w = contiguous_f32(s2, l2, g.c_out * patch)?;
        let b = contiguous_f32(s3, l3, g.c_in)?;
        let mut cols = vec![0f32; rows * patch];
        matmul(&mut cols, x, w, rows, g.c_out, patch)?;
        let mut out = vec![0f32; self.batch * g.big()];
        add_cols(g, self.batch, &cols, &mut out);
        add_bias(&mut out, b, self.relu);
        let shape = Shape::from((self.batch, g.height, g.width, g.c_in));
        Ok((CpuStorage::F32(out), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (g, batch) = (self.g, self.batch);
        let gy = through_relu(grad, res, self.relu)?;
        let grad_b = gy.apply_op1_no_bwd(&ColumnSum(b.elem_count()))?;
        // The gradient at the patches: the output's gradient cut into patches.
        let dcols = gy.apply_op1_no_bwd(&Im2Col { g, batch })?;
        let grad_w = x.detach().t()?.matmul(&dcols)?;
        let grad_x = if wants_grad(x) {
            Some(dcols.matmul(&w.detach().t()?)?)
        } else {
            None
        };
        Ok((grad_x, Some(grad_w), Some(grad_b)))
    }
}
