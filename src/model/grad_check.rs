//! VAE gradients against central finite differences, with ε held fixed by seeding the
//! generator the same way for every evaluation of the objective.

use super::loss::kl_to_standard_normal;
use super::{Autoencoder, KnobValue, Likelihood, ModelConfig, ModelKind, backward};
use crate::rng::PortableRng;
use candle_core::{DType, Device, Tensor, Var};
use rand::SeedableRng;

fn small_vae() -> Autoencoder {
    let mut cfg = ModelConfig::new(ModelKind::Vae, 6, Likelihood::Bernoulli);
    cfg.latent_dim = 2;
    cfg.hidden = vec![5];
    Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(7)).unwrap()
}

fn batch() -> Tensor {
    let v: Vec<f32> = (0..4 * 6).map(|i| ((i * 7) % 11) as f32 / 10.0).collect();
    Tensor::from_vec(v, (4, 6), &Device::Cpu).unwrap()
}

/// recon + KL, batch mean, with the same ε on every call.
fn objective(model: &Autoencoder, x: &Tensor) -> Tensor {
    let mut rng = PortableRng::seed_from_u64(99);
    model
        .loss_terms(x, &mut rng)
        .unwrap()
        .objective(1.0)
        .unwrap()
}

fn value(model: &Autoencoder, x: &Tensor) -> f64 {
    f64::from(objective(model, x).to_scalar::<f32>().unwrap())
}

/// ∂f/∂var[i] by central differences with step `h`: `f` is evaluated with var[i] moved by
/// +h and by −h, then var is put back. The model tests of other kinds use it too.
pub(super) fn central_difference(var: &Var, i: usize, h: f32, f: impl Fn() -> f64) -> f64 {
    let original = var.as_tensor().copy().unwrap();
    let values: Vec<f32> = original.flatten_all().unwrap().to_vec1().unwrap();
    let at = |delta: f32| {
        let mut v = values.clone();
        v[i] += delta;
        var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap())
            .unwrap();
        f()
    };
    let (plus, minus) = (at(h), at(-h));
    var.set(&original).unwrap();
    (plus - minus) / (2.0 * f64::from(h))
}

/// True if a gradient and its finite difference agree: within 2 % of the larger, plus the
/// about 1e-4 of noise that f32 rounding of the objective leaves in the differences.
pub(super) fn agrees(fd: f64, analytic: f32) -> bool {
    let tolerance = 2e-2 * fd.abs().max(f64::from(analytic.abs())) + 3e-4;
    (fd - f64::from(analytic)).abs() < tolerance
}

/// Finite-difference step: small enough that no ReLU of this model changes side for any
/// weight (1e-2 crosses one in the decoder), large enough for f32 rounding (~1e-4 here).
pub(super) const STEP: f32 = 3e-3;

#[test]
fn vae_gradients_match_finite_differences_in_every_layer() {
    let model = small_vae();
    let x = batch();
    let grads = objective(&model, &x).backward().unwrap();
    let mut worst = 0.0f64;
    for (name, var) in model.named_vars() {
        let g: Vec<f32> = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"))
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let largest = g.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            largest > 1e-2,
            "{name}: gradient too small to test ({largest})"
        );
        for (i, &analytic) in g.iter().enumerate() {
            let fd = central_difference(&var, i, STEP, || value(&model, &x));
            worst = worst.max((fd - f64::from(analytic)).abs());
            assert!(
                agrees(fd, analytic),
                "{name}[{i}]: autograd {analytic} vs finite differences {fd}"
            );
        }
    }
    eprintln!("worst absolute gradient error: {worst:e}");
}

#[test]
fn kl_gradient_is_mu_and_half_of_sigma_squared_minus_one() {
    let mu = [0.7f64, -1.2, 0.0, 2.0];
    let logvar = [-0.5f64, 0.3, 1.2, -2.0];
    let kl = |mu: &[f64], lv: &[f64]| -> f64 {
        let t = |v: &[f64]| Tensor::from_vec(v.to_vec(), (1, v.len()), &Device::Cpu).unwrap();
        kl_to_standard_normal(&t(mu), &t(lv))
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()[0]
    };
    let h = 1e-5;
    for i in 0..mu.len() {
        let bump = |v: &[f64], d: f64| {
            let mut v = v.to_vec();
            v[i] += d;
            v
        };
        let d_mu = (kl(&bump(&mu, h), &logvar) - kl(&bump(&mu, -h), &logvar)) / (2.0 * h);
        let d_lv = (kl(&mu, &bump(&logvar, h)) - kl(&mu, &bump(&logvar, -h))) / (2.0 * h);
        let closed_lv = 0.5 * (logvar[i].exp() - 1.0);
        assert!(
            (d_mu - mu[i]).abs() < 1e-8,
            "∂KL/∂μ[{i}] = {d_mu}, expected {}",
            mu[i]
        );
        assert!(
            (d_lv - closed_lv).abs() < 1e-8,
            "∂KL/∂logσ²[{i}] = {d_lv}, expected {closed_lv}"
        );
    }
    // Autograd through the same function agrees with the closed form too.
    let mu_v = Var::from_vec(mu.to_vec(), (1, 4), &Device::Cpu).unwrap();
    let lv_v = Var::from_vec(logvar.to_vec(), (1, 4), &Device::Cpu).unwrap();
    let total = kl_to_standard_normal(mu_v.as_tensor(), lv_v.as_tensor())
        .unwrap()
        .sum_all()
        .unwrap();
    let grads = total.backward().unwrap();
    let g = |v: &Var| -> Vec<f64> {
        let t = grads
            .get(v.as_tensor())
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap();
        t.flatten_all().unwrap().to_vec1().unwrap()
    };
    for (i, (gm, gl)) in g(&mu_v).iter().zip(g(&lv_v)).enumerate() {
        assert!((gm - mu[i]).abs() < 1e-12);
        assert!((gl - 0.5 * (logvar[i].exp() - 1.0)).abs() < 1e-12);
    }
}

/// A contractive AE 6-5-4-2 with contraction `lambda`; trunk biases spread so that some
/// units are off for some items.
fn small_cae(lambda: f32) -> Autoencoder {
    let mut cfg = ModelConfig::new(ModelKind::Cae, 6, Likelihood::Bernoulli);
    cfg.latent_dim = 2;
    cfg.hidden = vec![5, 4];
    cfg.set_knob("contraction", KnobValue::Number(lambda))
        .unwrap();
    let model = Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(7)).unwrap();
    for layer in &model.trunk.layers {
        let n = layer.b.elem_count();
        let b: Vec<f32> = (0..n).map(|i| (i as f32 - 1.0) * 0.25).collect();
        layer
            .b
            .set(&Tensor::from_vec(b, n, &Device::Cpu).unwrap())
            .unwrap();
    }
    model
}

/// The batch mean of the penalty alone, as the tensor loss computes it.
fn penalty_value(model: &Autoencoder, x: &Tensor) -> f64 {
    let terms = model
        .loss_terms(x, &mut PortableRng::seed_from_u64(99))
        .unwrap();
    f64::from(
        terms
            .penalty
            .mean_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap(),
    )
}

#[test]
fn the_hand_written_contractive_gradient_matches_finite_differences() {
    // The penalty's gradient by hand: the full gradient at λ minus the one at λ = 0 (the
    // reconstruction's part is computed the same way in both). Finite differences of the
    // penalty alone, an independent check of the Jacobian algebra (no autograd involved).
    let (model, without) = (small_cae(4.0), small_cae(0.0));
    let x = batch();
    let pass = |m: &Autoencoder| {
        backward::gradients(
            m,
            &x,
            &mut PortableRng::seed_from_u64(99),
            crate::model::Schedule::START,
        )
        .unwrap()
        .unwrap()
    };
    let (with_p, without_p) = (pass(&model), pass(&without));
    assert!((with_p.means.penalty - penalty_value(&model, &x)).abs() < 1e-5 * with_p.means.penalty);
    let mut checked = 0;
    for (k, (name, var)) in model.named_vars().into_iter().enumerate() {
        let g: Vec<f32> = (&with_p.grads[k] - &without_p.grads[k])
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for (i, &analytic) in g.iter().enumerate() {
            let fd = central_difference(&var, i, STEP, || penalty_value(&model, &x));
            assert!(
                agrees(fd, analytic),
                "{name}[{i}]: by hand {analytic} vs finite differences {fd}"
            );
            if fd.abs() > 1e-3 {
                checked += 1;
            }
        }
    }
    // Most of the 58 trunk and head weights move the penalty (36 here; a weight into or out
    // of a unit that is off for every item does not).
    assert!(
        checked >= 30,
        "only {checked} entries with a visible gradient"
    );
}

/// A conditional VAE of 6 values, 3 classes, code 2, one hidden layer of 5.
fn small_cvae() -> Autoencoder {
    let mut cfg = ModelConfig::new(ModelKind::Cvae, 6, Likelihood::Bernoulli);
    cfg.latent_dim = 2;
    cfg.hidden = vec![8];
    cfg.classes = 3;
    cfg.validate().unwrap();
    Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(7)).unwrap()
}

#[test]
fn cvae_gradients_match_finite_differences_and_reach_the_class_inputs() {
    let model = small_cvae();
    let x = model.input_of(&batch(), &[0, 2, 1, 2]).unwrap();
    assert_eq!(x.dims(), &[4, 9], "item ++ one-hot of 3 classes");
    let grads = objective(&model, &x).backward().unwrap();
    for (name, var) in model.named_vars() {
        let g: Vec<f32> = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"))
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for (i, &analytic) in g.iter().enumerate() {
            let fd = central_difference(&var, i, STEP, || value(&model, &x));
            assert!(
                agrees(fd, analytic),
                "{name}[{i}]: autograd {analytic} vs finite difference {fd}"
            );
        }
        // The one-hot's rows of the first encoder and decoder layers: every class in the
        // batch moves the objective through them (weights are (in, out), row-major).
        let class_rows = match name.as_str() {
            "encoder.0.weight" => Some(6),
            "decoder.0.weight" => Some(2),
            _ => None,
        };
        if let Some(first) = class_rows {
            let out = var.as_tensor().dim(1).unwrap();
            for class in 0..3 {
                let row = &g[(first + class) * out..(first + class + 1) * out];
                let largest = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                assert!(
                    largest > 1e-3,
                    "{name}: class {class}'s one-hot row has no gradient ({largest})"
                );
            }
        }
    }
}
