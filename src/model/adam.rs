//! Adam with decoupled weight decay, fused into one pass per parameter.
//!
//! Same update as candle-nn's `AdamW`, which spends about 12 tensor operations (each a
//! fresh buffer) per parameter; here the moments live in plain vectors and each parameter
//! is read once and written once. Measured on a VAE 784-400-20 at batch 128: the optimiser
//! went from about 3 ms of an 11.9 ms step to well under 1 ms (`cargo bench --bench training`).

use super::backward::{edit, read};
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
        let consts = self.advance();
        for slot in &mut self.slots {
            let Some(g) = grads.get(slot.var.as_tensor()) else {
                continue;
            };
            let g: Vec<f32> = g.flatten_all()?.to_vec1()?;
            slot.update(&g, &consts)?;
        }
        Ok(())
    }

    /// Applies one update from gradients given in the order of the variables (as
    /// `Autoencoder::vars` lists them), each shaped like its variable; the hand-written
    /// backward pass uses this. Updates the weights in place.
    pub fn step_with(&mut self, grads: &[Tensor]) -> Result<()> {
        if grads.len() != self.slots.len() {
            candle_core::bail!(
                "{} gradients for {} variables",
                grads.len(),
                self.slots.len()
            )
        }
        let consts = self.advance();
        for (slot, g) in self.slots.iter_mut().zip(grads) {
            if g.elem_count() != slot.m.len() {
                candle_core::bail!(
                    "a gradient of {} values for {}",
                    g.elem_count(),
                    slot.m.len()
                )
            }
            let g = g.contiguous()?;
            read(&g, |g| slot.update_in_place(g, &consts))??;
        }
        Ok(())
    }

    /// Counts the step and returns this step's constants.
    fn advance(&mut self) -> Consts {
        self.step += 1;
        Consts {
            b1: self.beta1 as f32,
            b2: self.beta2 as f32,
            scale_m: 1.0 / (1.0 - self.beta1.powi(self.step)) as f32,
            scale_v: 1.0 / (1.0 - self.beta2.powi(self.step)) as f32,
            lr: self.lr as f32,
            eps: self.eps as f32,
            shrink: (1.0 - self.lr * self.weight_decay) as f32,
        }
    }
}

/// The numbers one step of Adam uses for every parameter.
struct Consts {
    b1: f32,
    b2: f32,
    scale_m: f32,
    scale_v: f32,
    lr: f32,
    eps: f32,
    shrink: f32,
}

impl Slot {
    /// Updates the variable from its gradient `g` (a copy of the weights, then `set`).
    fn update(&mut self, g: &[f32], c: &Consts) -> Result<()> {
        let mut theta: Vec<f32> = self.var.as_tensor().flatten_all()?.to_vec1()?;
        apply(&mut theta, &mut self.m, &mut self.v, g, c);
        let shape = self.var.shape().clone();
        self.var
            .set(&Tensor::from_vec(theta, shape, self.var.device())?)
    }

    /// Updates the variable's storage in place (what `Var::set` writes to as well).
    fn update_in_place(&mut self, g: &[f32], c: &Consts) -> Result<()> {
        let (m, v) = (&mut self.m, &mut self.v);
        edit(self.var.as_tensor(), |theta| apply(theta, m, v, g, c))
    }
}

/// The fused Adam update of one parameter.
fn apply(theta: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], c: &Consts) {
    for (((t, m), v), g) in theta.iter_mut().zip(m).zip(v).zip(g) {
        *m = c.b1 * *m + (1.0 - c.b1) * g;
        *v = c.b2 * *v + (1.0 - c.b2) * g * g;
        let update = (*m * c.scale_m) / ((*v * c.scale_v).sqrt() + c.eps);
        *t = *t * c.shrink - c.lr * update;
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
