//! Encoder and decoder networks: dense layers with ReLU between them.

use crate::rng::PortableRng;
use candle_core::{DType, Device, Result, Tensor, Var};
use rand::Rng;

/// A dense layer `y = x W + b`, with `W` stored as (in, out).
pub struct Dense {
    /// Weights, shape (in, out).
    pub w: Var,
    /// Bias, shape (out,).
    pub b: Var,
}

impl Dense {
    /// A layer with weights uniform in ±1/sqrt(in) (PyTorch's default) and zero bias.
    pub fn new(n_in: usize, n_out: usize, rng: &mut PortableRng, dev: &Device) -> Result<Self> {
        let bound = 1.0 / (n_in as f32).sqrt();
        let w: Vec<f32> = (0..n_in * n_out)
            .map(|_| rng.random_range(-bound..bound))
            .collect();
        Ok(Self {
            w: Var::from_vec(w, (n_in, n_out), dev)?,
            b: Var::zeros(n_out, DType::F32, dev)?,
        })
    }

    /// Applies the layer to a (batch, in) tensor.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(self.w.as_tensor())?
            .broadcast_add(self.b.as_tensor())
    }

    /// (in, out) of this layer.
    pub fn dims(&self) -> (usize, usize) {
        let d = self.w.dims();
        (d[0], d[1])
    }
}

/// Dense layers with ReLU after every layer but (optionally) the last.
pub struct Mlp {
    /// The layers in order.
    pub layers: Vec<Dense>,
    relu_last: bool,
}

impl Mlp {
    /// Layers between consecutive `sizes`; `relu_last` puts a ReLU after the last one too.
    pub fn new(
        sizes: &[usize],
        relu_last: bool,
        rng: &mut PortableRng,
        dev: &Device,
    ) -> Result<Self> {
        let layers = sizes
            .windows(2)
            .map(|w| Dense::new(w[0], w[1], rng, dev))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers, relu_last })
    }

    /// Forward pass.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_with_masks(x, false)?.0)
    }

    /// Forward pass that also returns, per ReLU, its 0/1 derivative mask (same shape as
    /// its output): what the exact encoder Jacobian needs.
    pub fn forward_with_masks(
        &self,
        x: &Tensor,
        want_masks: bool,
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let mut h = x.clone();
        let mut masks = Vec::new();
        let n = self.layers.len();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            if i + 1 < n || self.relu_last {
                if want_masks {
                    masks.push(h.gt(0.0)?.to_dtype(DType::F32)?.detach());
                }
                h = h.relu()?;
            }
        }
        Ok((h, masks))
    }
}

/// Squared Frobenius norm of the Jacobian dz/dx, one value per row, for
/// `z = head(trunk(x))` where `trunk` has a ReLU after every layer.
///
/// With row vectors `y = x W`, dz/dx = W_headᵀ · D_k · W_kᵀ ··· D_1 · W_1ᵀ. We carry
/// M = dz/dh (batch·latent rows) backwards through the layers; ReLU masks are constant
/// almost everywhere, so autograd through this product gives the penalty's gradient.
pub fn jacobian_frobenius_sq(trunk: &Mlp, head: &Dense, masks: &[Tensor]) -> Result<Tensor> {
    let batch = masks.first().map_or(1, |m| m.dims()[0]);
    let (_, latent) = head.dims();
    // (latent, h_k) for every row: Jacobian of z with respect to the last hidden layer.
    let mut m =
        head.w
            .as_tensor()
            .t()?
            .unsqueeze(0)?
            .broadcast_as((batch, latent, head.dims().0))?;
    for (layer, mask) in trunk.layers.iter().zip(masks).rev() {
        let (n_in, n_out) = layer.dims();
        let masked = m.broadcast_mul(&mask.unsqueeze(1)?)?; // (batch, latent, n_out)
        let flat = masked.reshape((batch * latent, n_out))?;
        m = flat
            .matmul(&layer.w.as_tensor().t()?)?
            .reshape((batch, latent, n_in))?;
    }
    m.sqr()?.sum((1, 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn contractive_penalty_matches_finite_differences() {
        let dev = Device::Cpu;
        let mut rng = PortableRng::seed_from_u64(3);
        let trunk = Mlp::new(&[5, 7, 6], true, &mut rng, &dev).unwrap();
        let head = Dense::new(6, 3, &mut rng, &dev).unwrap();
        // Non-zero biases so some units are off.
        let b: Vec<f32> = (0..7).map(|i| (i as f32 - 3.0) * 0.1).collect();
        trunk.layers[0]
            .b
            .set(&Tensor::new(b.as_slice(), &dev).unwrap())
            .unwrap();
        let xs: Vec<f32> = (0..10).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let x = Tensor::from_vec(xs.clone(), (2, 5), &dev).unwrap();
        let (h, masks) = trunk.forward_with_masks(&x, true).unwrap();
        let _ = head.forward(&h).unwrap();
        let exact: Vec<f32> = jacobian_frobenius_sq(&trunk, &head, &masks)
            .unwrap()
            .to_vec1()
            .unwrap();

        let f = |v: &[f32]| -> Vec<f32> {
            let t = Tensor::from_vec(v.to_vec(), (1, 5), &dev).unwrap();
            head.forward(&trunk.forward(&t).unwrap())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        for row in 0..2 {
            let x0 = &xs[row * 5..row * 5 + 5];
            let eps = 1e-3f32;
            let mut fd = 0.0f32;
            for i in 0..5 {
                let (mut plus, mut minus) = (x0.to_vec(), x0.to_vec());
                plus[i] += eps;
                minus[i] -= eps;
                let (zp, zm) = (f(&plus), f(&minus));
                fd += zp
                    .iter()
                    .zip(&zm)
                    .map(|(a, b)| ((a - b) / (2.0 * eps)).powi(2))
                    .sum::<f32>();
            }
            assert!(
                (fd - exact[row]).abs() < 1e-2 * fd.max(1e-3),
                "row {row}: finite differences {fd} vs exact {}",
                exact[row]
            );
            assert!(fd > 1e-4, "the test must see a non-trivial Jacobian");
        }
    }
}
