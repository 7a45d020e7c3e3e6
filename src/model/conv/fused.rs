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

use super::{ColumnSum, ReluMask, add_cols, contiguous_f32, im2col};
use crate::model::arch::Geometry;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

/// How a product reads its operands and writes its result.
#[derive(Clone, Copy, Default)]
pub(crate) struct Product {
    /// `a` is stored as (k, m): the product uses its transpose.
    pub(crate) a_t: bool,
    /// `b` is stored as (n, k).
    pub(crate) b_t: bool,
    /// Add into `dst` instead of overwriting it.
    pub(crate) add: bool,
}

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
    matmul_as(dst, a, b, (m, k, n), Product::default())
}

/// [`matmul`] with transposed operands or accumulation as `how` says.
pub(crate) fn matmul_as(
    dst: &mut [f32],
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
    how: Product,
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
        if !how.add {
            dst[..m * n].fill(0.0);
        }
        return Ok(());
    }
    let (m_i, k_i, n_i) = (m as isize, k as isize, n as isize);
    // (column stride, row stride) of each operand as stored.
    let (a_cs, a_rs) = if how.a_t { (m_i, 1) } else { (1, k_i) };
    let (b_cs, b_rs) = if how.b_t { (k_i, 1) } else { (1, n_i) };
    // SAFETY: the three slices hold at least m·k, k·n and m·n values (checked above) and the
    // strides address exactly those elements, stored row-major or transposed as `how`
    // says; `dst` is borrowed mutably, so it overlaps neither input; with `read_dst` false
    // its old values are never read.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n_i,
            how.add,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            if how.add { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    Ok(())
}

/// Patch values made at once in a forward pass (512 KB of f32): about what stays in one
/// core's L2 cache while `gemm` reads it.
const BLOCK_VALUES: usize = 1 << 17;

/// Items per block for layers of `per_item` patch values each (at least one, at most all).
fn block_items(per_item: usize, batch: usize) -> usize {
    (BLOCK_VALUES / per_item.max(1)).clamp(1, batch.max(1))
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
        let mut out = vec![0f32; rows * g.c_out];
        // A few items at a time, so the patches stay in the cache between being made and
        // being multiplied, in one buffer made once.
        let per_block = block_items(g.places() * patch, self.batch);
        let mut cols = vec![0f32; per_block * g.places() * patch];
        for start in (0..self.batch).step_by(per_block) {
            let items = per_block.min(self.batch - start);
            let rows = items * g.places();
            let cols = &mut cols[..rows * patch];
            im2col(g, items, &x[start * g.big()..], cols);
            let out = &mut out[start * g.places() * g.c_out..][..rows * g.c_out];
            matmul(out, cols, w, rows, patch, g.c_out)?;
        }
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
        let grad_w = x
            .contiguous()?
            .apply_op2_no_bwd(&gy, &ConvWeightGrad { g, batch })?;
        // The input's: gy · wᵀ added back into the map.
        let grad_x = if wants_grad(x) {
            Some(gy.apply_op2_no_bwd(&w.contiguous()?, &ConvInputGrad { g, batch })?)
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
        let mut out = vec![0f32; self.batch * g.big()];
        // A few items at a time (as `ConvLayer`): their patches, then added into their maps.
        let per_block = block_items(g.places() * patch, self.batch);
        let mut cols = vec![0f32; per_block * g.places() * patch];
        for start in (0..self.batch).step_by(per_block) {
            let items = per_block.min(self.batch - start);
            let block_rows = items * g.places();
            let cols = &mut cols[..block_rows * patch];
            let x = &x[start * g.places() * g.c_out..][..block_rows * g.c_out];
            matmul(cols, x, w, block_rows, g.c_out, patch)?;
            add_cols(
                g,
                items,
                cols,
                &mut out[start * g.big()..][..items * g.big()],
            );
        }
        let _ = rows;
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
        // Both from the gradient at the patches (the output's gradient cut into patches),
        // made a few items at a time: one flat tensor, the input's then the weights'.
        let grads = DeconvGrads { g, batch };
        let both = gy.apply_op3_no_bwd(&x.contiguous()?, &w.contiguous()?, &grads)?;
        let n_x = batch * g.places() * g.c_out;
        let grad_w = both.narrow(0, n_x, g.c_out * g.patch())?;
        let grad_w = grad_w.reshape((g.c_out, g.patch()))?;
        let grad_x = if wants_grad(x) {
            Some(
                both.narrow(0, 0, n_x)?
                    .reshape((batch * g.places(), g.c_out))?,
            )
        } else {
            None
        };
        Ok((grad_x, Some(grad_w), Some(grad_b)))
    }
}

/// A convolution's weight gradient: (maps x, gy (batch·places, c_out)) → Σ patchesᵀ · gy,
/// (patch, c_out), the patches made again a few items at a time.
struct ConvWeightGrad {
    g: Geometry,
    batch: usize,
}

impl CustomOp2 for ConvWeightGrad {
    fn name(&self) -> &'static str {
        "latentlab-conv-weight-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = &self.g;
        let (places, patch) = (g.places(), g.patch());
        let x = contiguous_f32(s1, l1, self.batch * g.big())?;
        let gy = contiguous_f32(s2, l2, self.batch * places * g.c_out)?;
        let mut grad = vec![0f32; patch * g.c_out];
        let per_block = block_items(places * patch, self.batch);
        let mut cols = vec![0f32; per_block * places * patch];
        for start in (0..self.batch).step_by(per_block) {
            let items = per_block.min(self.batch - start);
            let rows = items * places;
            let cols = &mut cols[..rows * patch];
            im2col(g, items, &x[start * g.big()..], cols);
            let gy = &gy[start * places * g.c_out..][..rows * g.c_out];
            let how = Product {
                a_t: true,
                add: start > 0,
                ..Product::default()
            };
            matmul_as(&mut grad, cols, gy, (patch, rows, g.c_out), how)?;
        }
        Ok((CpuStorage::F32(grad), Shape::from((patch, g.c_out))))
    }
}

/// A convolution's input gradient: (gy (batch·places, c_out), w (patch, c_out)) → gy · wᵀ
/// added back into (batch, height, width, c_in) maps, a few items at a time.
struct ConvInputGrad {
    g: Geometry,
    batch: usize,
}

impl CustomOp2 for ConvInputGrad {
    fn name(&self) -> &'static str {
        "latentlab-conv-input-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = &self.g;
        let (places, patch) = (g.places(), g.patch());
        let gy = contiguous_f32(s1, l1, self.batch * places * g.c_out)?;
        let w = contiguous_f32(s2, l2, patch * g.c_out)?;
        let mut out = vec![0f32; self.batch * g.big()];
        let per_block = block_items(places * patch, self.batch);
        let mut cols = vec![0f32; per_block * places * patch];
        let transposed_w = Product {
            b_t: true,
            ..Product::default()
        };
        for start in (0..self.batch).step_by(per_block) {
            let items = per_block.min(self.batch - start);
            let rows = items * places;
            let cols = &mut cols[..rows * patch];
            let gy = &gy[start * places * g.c_out..][..rows * g.c_out];
            matmul_as(cols, gy, w, (rows, g.c_out, patch), transposed_w)?;
            add_cols(
                g,
                items,
                cols,
                &mut out[start * g.big()..][..items * g.big()],
            );
        }
        let shape = Shape::from((self.batch, g.height, g.width, g.c_in));
        Ok((CpuStorage::F32(out), shape))
    }
}

/// A transposed convolution's input and weight gradients from (gy maps, x (batch·places,
/// c_out), w (c_out, patch)): with dcols the patches of gy, dcols · wᵀ (batch·places,
/// c_out) then Σ xᵀ · dcols (c_out, patch), flat, one after the other.
struct DeconvGrads {
    g: Geometry,
    batch: usize,
}

impl CustomOp3 for DeconvGrads {
    fn name(&self) -> &'static str {
        "latentlab-conv-transpose-grads"
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
        let (places, patch) = (g.places(), g.patch());
        let gy = contiguous_f32(s1, l1, self.batch * g.big())?;
        let x = contiguous_f32(s2, l2, self.batch * places * g.c_out)?;
        let w = contiguous_f32(s3, l3, g.c_out * patch)?;
        let n_x = self.batch * places * g.c_out;
        let mut out = vec![0f32; n_x + g.c_out * patch];
        let (grad_x, grad_w) = out.split_at_mut(n_x);
        let per_block = block_items(places * patch, self.batch);
        let mut dcols = vec![0f32; per_block * places * patch];
        let transposed_w = Product {
            b_t: true,
            ..Product::default()
        };
        for start in (0..self.batch).step_by(per_block) {
            let items = per_block.min(self.batch - start);
            let rows = items * places;
            let dcols = &mut dcols[..rows * patch];
            im2col(g, items, &gy[start * g.big()..], dcols);
            let at = start * places * g.c_out..(start * places + rows) * g.c_out;
            matmul_as(
                &mut grad_x[at.clone()],
                dcols,
                w,
                (rows, patch, g.c_out),
                transposed_w,
            )?;
            let how = Product {
                a_t: true,
                add: start > 0,
                ..Product::default()
            };
            matmul_as(grad_w, &x[at], dcols, (g.c_out, rows, patch), how)?;
        }
        Ok((CpuStorage::F32(out), Shape::from(n_x + g.c_out * patch)))
    }
}
