//! Adam with decoupled weight decay, fused into one pass per parameter.
//!
//! Same update as candle-nn's `AdamW`, which spends about 12 tensor operations (each a
//! fresh buffer) per parameter; here the moments live in plain vectors and each parameter
//! is read once and written once. Measured on a VAE 784-400-20 at batch 128: the optimiser
//! went from about 3 ms of an 11.9 ms step to well under 1 ms (`cargo bench --bench training`).

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};

/// Moments of one parameter.
struct Slot {
    var: Var,
    m: Vec<f32>,
    v: Vec<f32>,
}

/// The optimiser.
pub struct Adam {
    slots: Vec<Slot>,
    step: i32,
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
    /// Decoupled weight decay (0 for plain Adam).
    pub weight_decay: f64,
}

impl Adam {
    /// An optimiser over `vars` with the usual betas (0.9, 0.999) and eps 1e-8.
    pub fn new(vars: Vec<Var>, lr: f64, weight_decay: f64) -> Self {
        let slots = vars
            .into_iter()
            .map(|var| {
                let n = var.elem_count();
                Slot {
                    var,
                    m: vec![0.0; n],
                    v: vec![0.0; n],
                }
            })
            .collect();
        Self {
            slots,
            step: 0,
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
        }
    }

    /// Back-propagates `loss` and applies one update.
    pub fn backward_step(&mut self, loss: &Tensor) -> Result<()> {
        let grads = loss.backward()?;
        self.step(&grads)
    }

    /// Applies one update from gradients.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        let grads = self
            .slots
            .iter()
            .map(|slot| match grads.get(slot.var.as_tensor()) {
                Some(g) => g.flatten_all()?.to_vec1().map(Some),
                None => Ok(None),
            })
            .collect::<Result<Vec<Option<Vec<f32>>>>>()?;
        self.update(grads.iter().map(|g| g.as_deref()))
    }

    /// Applies one update from flat gradients given in the order of the variables.
    pub fn step_with(&mut self, grads: &[Vec<f32>]) -> Result<()> {
        if grads.len() != self.slots.len() {
            return Err(candle_core::Error::Msg(format!(
                "{} gradients for {} variables",
                grads.len(),
                self.slots.len()
            )));
        }
        self.update(grads.iter().map(|g| Some(g.as_slice())))
    }

    /// The update itself; a variable without a gradient stays as it is.
    fn update<'a>(&mut self, grads: impl Iterator<Item = Option<&'a [f32]>>) -> Result<()> {
        self.step += 1;
        let (b1, b2) = (self.beta1 as f32, self.beta2 as f32);
        let scale_m = 1.0 / (1.0 - self.beta1.powi(self.step)) as f32;
        let scale_v = 1.0 / (1.0 - self.beta2.powi(self.step)) as f32;
        let (lr, eps) = (self.lr as f32, self.eps as f32);
        let shrink = (1.0 - self.lr * self.weight_decay) as f32;
        for (slot, g) in self.slots.iter_mut().zip(grads) {
            let Some(g) = g else {
                continue;
            };
            let mut theta: Vec<f32> = slot.var.as_tensor().flatten_all()?.to_vec1()?;
            for (((t, m), v), g) in theta.iter_mut().zip(&mut slot.m).zip(&mut slot.v).zip(g) {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                let update = (*m * scale_m) / ((*v * scale_v).sqrt() + eps);
                *t = *t * shrink - lr * update;
            }
            let shape = slot.var.shape().clone();
            slot.var
                .set(&Tensor::from_vec(theta, shape, slot.var.device())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::{AdamW, Optimizer, ParamsAdamW};

    #[test]
    fn matches_candle_adamw_step_for_step() {
        let dev = Device::Cpu;
        let init = Tensor::new(&[[0.5f32, -1.0, 2.0], [0.1, 0.0, -0.3]], &dev).unwrap();
        let ours = Var::from_tensor(&init).unwrap();
        let theirs = Var::from_tensor(&init).unwrap();
        let mut a = Adam::new(vec![ours.clone()], 0.05, 0.01);
        let mut b = AdamW::new(
            vec![theirs.clone()],
            ParamsAdamW {
                lr: 0.05,
                weight_decay: 0.01,
                ..ParamsAdamW::default()
            },
        )
        .unwrap();
        let target = Tensor::new(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]], &dev).unwrap();
        for _ in 0..20 {
            let loss = |v: &Var| {
                (v.as_tensor() - &target)
                    .unwrap()
                    .sqr()
                    .unwrap()
                    .sum_all()
                    .unwrap()
            };
            a.backward_step(&loss(&ours)).unwrap();
            b.backward_step(&loss(&theirs)).unwrap();
        }
        let (x, y): (Vec<f32>, Vec<f32>) = (
            ours.as_tensor().flatten_all().unwrap().to_vec1().unwrap(),
            theirs.as_tensor().flatten_all().unwrap().to_vec1().unwrap(),
        );
        for (p, q) in x.iter().zip(&y) {
            assert!((p - q).abs() < 1e-5, "{x:?} vs {y:?}");
        }
        // It moved towards the target.
        assert!(x[0] > 0.5 && x[5] > -0.3);
        assert_eq!(ours.dtype(), DType::F32);
    }
}
