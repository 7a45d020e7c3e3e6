//! A frozen decoder the UI can run on its own thread: plain numbers, no live variables.

use super::mlp::Dense;
use candle_core::{Device, Result, Tensor};
use std::sync::OnceLock;

/// One dense layer as plain numbers: `y = x W + b`, W row-major (in, out).
#[derive(Clone, Debug)]
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

/// A decoder frozen at one training step.
#[derive(Debug)]
pub struct DecoderSnapshot {
    /// The layers; ReLU between them.
    pub layers: Vec<DenseWeights>,
    /// Apply a sigmoid to the output (Bernoulli decoders output logits).
    pub sigmoid_output: bool,
    tensors: OnceLock<Vec<(Tensor, Tensor)>>,
}

impl Clone for DecoderSnapshot {
    fn clone(&self) -> Self {
        Self {
            layers: self.layers.clone(),
            sigmoid_output: self.sigmoid_output,
            tensors: OnceLock::new(),
        }
    }
}

impl DecoderSnapshot {
    /// Copies the layers' current weights.
    pub(crate) fn from_layers(layers: &[Dense], sigmoid_output: bool) -> Result<Self> {
        let layers = layers
            .iter()
            .map(|l| {
                let (n_in, n_out) = l.dims();
                Ok(DenseWeights {
                    w: l.w.as_tensor().flatten_all()?.to_vec1()?,
                    b: l.b.as_tensor().to_vec1()?,
                    n_in,
                    n_out,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::new(layers, sigmoid_output))
    }

    /// A snapshot from plain layers.
    pub fn new(layers: Vec<DenseWeights>, sigmoid_output: bool) -> Self {
        Self {
            layers,
            sigmoid_output,
            tensors: OnceLock::new(),
        }
    }

    /// Size of the code it decodes.
    pub fn latent_dim(&self) -> usize {
        self.layers.first().map_or(0, |l| l.n_in)
    }

    /// Values per decoded item.
    pub fn output_dim(&self) -> usize {
        self.layers.last().map_or(0, |l| l.n_out)
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
    /// (pixels in [0, 1] for images). One batched forward pass.
    pub fn decode(&self, codes: &[f32]) -> Result<Vec<f32>> {
        let d = self.latent_dim().max(1);
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
