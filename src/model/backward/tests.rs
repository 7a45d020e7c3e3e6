//! The hand-written gradients against candle's autograd, kind by kind, for both likelihoods.

use super::*;
use crate::model::objective::{KlTerm, Schedule};
use crate::model::{KnobValue, LossTerms, ModelConfig};
use candle_core::Device;
use rand::SeedableRng;

/// Every kind with hand-written gradients, the denoiser with both noises, the contractive AE
/// also with one and three hidden layers and a penalty that outweighs the reconstruction.
fn configs(likelihood: Likelihood) -> Vec<ModelConfig> {
    let mut out = Vec::new();
    for kind in ModelKind::all().filter(|&k| supports(k)) {
        let mut cfg = ModelConfig::new(kind, 12, likelihood);
        cfg.hidden = vec![7, 5];
        cfg.latent_dim = 3;
        cfg.set_knob("weight_decay", KnobValue::Number(0.01))
            .unwrap();
        if kind == ModelKind::Dae {
            let mut masking = cfg.clone();
            masking
                .set_knob("noise_kind", KnobValue::Choice("masking".into()))
                .unwrap();
            out.push(masking);
        }
        // The objectives other than β·KL: free bits (λ between the dimensions' KLs at the
        // start, so some are held and some not) and a capacity below and above the KL.
        if kind.knob("free_bits").is_some() {
            let mut floored = cfg.clone();
            floored
                .set_knob("free_bits", KnobValue::Number(0.3))
                .unwrap();
            out.push(floored);
        }
        if kind.knob("capacity").is_some() {
            for capacity in [0.5, 40.0] {
                let mut annealed = cfg.clone();
                annealed
                    .set_knob("capacity", KnobValue::Number(capacity))
                    .unwrap();
                annealed
                    .set_knob("capacity_steps", KnobValue::Number(1000.0))
                    .unwrap();
                annealed.set_knob("gamma", KnobValue::Number(20.0)).unwrap();
                out.push(annealed);
            }
        }
        if kind == ModelKind::Cae {
            for hidden in [vec![9], vec![8, 6, 5]] {
                let mut other = cfg.clone();
                other.hidden = hidden;
                other
                    .set_knob("contraction", KnobValue::Number(3.0))
                    .unwrap();
                out.push(other);
            }
        }
        out.push(cfg);
    }
    out
}

fn model(cfg: &ModelConfig) -> Autoencoder {
    Autoencoder::new(cfg.clone(), &mut PortableRng::seed_from_u64(11)).unwrap()
}

/// 6 items of 12 values in [0, 1].
fn batch() -> Tensor {
    let v: Vec<f32> = (0..6 * 12)
        .map(|i| ((i * 37 + 5) % 23) as f32 / 22.0)
        .collect();
    Tensor::from_vec(v, (6, 12), &Device::Cpu).unwrap()
}

/// A warm-up's factor below 1, and a step in the middle of a capacity's ramp.
const AT: Schedule = Schedule {
    kl_scale: 0.7,
    steps_done: 300,
};

/// Autograd's gradients (in `vars` order) and loss means, the rng seeded with `seed`.
fn autograd(model: &Autoencoder, x: &Tensor, seed: u64) -> (Vec<Vec<f32>>, LossTerms) {
    let mut rng = PortableRng::seed_from_u64(seed);
    let (terms, kl_dims) = model.training_terms(x, &mut rng).unwrap();
    let objective = KlTerm::of(&model.config, AT)
        .objective(&terms, kl_dims.as_ref())
        .unwrap();
    let store = objective.backward().unwrap();
    let grads = model
        .named_vars()
        .iter()
        .map(|(name, var)| {
            let g = store.get(var.as_tensor());
            let g = g.unwrap_or_else(|| panic!("autograd has no gradient for {name}"));
            g.flatten_all().unwrap().to_vec1().unwrap()
        })
        .collect();
    let mean = |t: &Tensor| f64::from(t.mean_all().unwrap().to_scalar::<f32>().unwrap());
    (
        grads,
        LossTerms {
            recon: mean(&terms.recon),
            kl: mean(&terms.kl),
            penalty: mean(&terms.penalty),
        },
    )
}

/// The hand-written gradients and loss means, the rng seeded with `seed`.
fn manual(model: &Autoencoder, x: &Tensor, seed: u64) -> (Vec<Vec<f32>>, LossTerms) {
    let mut rng = PortableRng::seed_from_u64(seed);
    let pass = gradients(model, x, &mut rng, AT).unwrap().unwrap();
    let grads = pass.grads.iter().map(|g| to_vec(g).unwrap()).collect();
    (grads, pass.means)
}

/// Asserts two sets of gradients agree to 1e-5 of each variable's largest entry.
fn assert_same_gradients(model: &Autoencoder, got: &[Vec<f32>], want: &[Vec<f32>], what: &str) {
    let names: Vec<String> = model.named_vars().into_iter().map(|(n, _)| n).collect();
    assert_eq!(got.len(), names.len(), "{what}: number of gradients");
    for ((name, g), w) in names.iter().zip(got).zip(want) {
        assert_eq!(g.len(), w.len(), "{what} {name}: size");
        let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(scale > 1e-6, "{what} {name}: autograd's gradient is zero");
        for (i, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * scale,
                "{what} {name}[{i}]: hand-written {a} vs autograd {b} (scale {scale})"
            );
        }
    }
}

fn assert_same_means(got: LossTerms, want: LossTerms, what: &str) {
    let pairs = [
        ("recon", got.recon, want.recon),
        ("kl", got.kl, want.kl),
        ("penalty", got.penalty, want.penalty),
    ];
    for (term, a, b) in pairs {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs().max(1.0),
            "{what} {term}: hand-written {a} vs autograd {b}"
        );
    }
}

#[test]
fn gradients_and_losses_match_autograd_for_every_kind_and_likelihood() {
    let x = batch();
    for likelihood in [Likelihood::Bernoulli, Likelihood::Gaussian] {
        for cfg in configs(likelihood) {
            let m = model(&cfg);
            let what = format!("{} {:?} {:?}", cfg.kind, likelihood, cfg.knobs);
            let (want, want_means) = autograd(&m, &x, 5);
            let (got, got_means) = manual(&m, &x, 5);
            assert_same_means(got_means, want_means, &what);
            assert_same_gradients(&m, &got, &want, &what);
        }
    }
}

#[test]
fn at_exactly_zero_relu_and_abs_take_candles_derivatives() {
    // A code unit whose weights and bias are zero has μ = 0 exactly (|μ|' = +1 in candle),
    // and a first-layer unit with zero weights has a pre-activation of exactly 0 (ReLU' = 1
    // in candle, so gradient reaches its bias).
    let cfg = configs(Likelihood::Bernoulli)
        .into_iter()
        .find(|c| c.kind == ModelKind::Sae)
        .unwrap();
    let m = model(&cfg);
    let zero_column = |var: &candle_core::Var, col: usize| {
        let (rows, cols) = var.as_tensor().dims2().unwrap();
        let mut w = to_vec(var.as_tensor()).unwrap();
        (0..rows).for_each(|r| w[r * cols + col] = 0.0);
        var.set(&Tensor::from_vec(w, (rows, cols), &Device::Cpu).unwrap())
            .unwrap();
    };
    zero_column(&m.mu_head.w, 1);
    zero_column(&m.trunk.layers[0].w, 2);
    let x = batch();
    let (want, want_means) = autograd(&m, &x, 5);
    let (got, got_means) = manual(&m, &x, 5);
    assert_same_means(got_means, want_means, "sae at zero");
    assert_same_gradients(&m, &got, &want, "sae at zero");
    // The situation is real: candle passes gradient through the unit at 0.
    assert!(want[1][2].abs() > 1e-6, "trunk bias[2]: {}", want[1][2]);
}

/// Every weight of `m`, flattened.
fn weights(m: &Autoencoder) -> Vec<Vec<f32>> {
    m.vars()
        .iter()
        .map(|v| to_vec(v.as_tensor()).unwrap())
        .collect()
}

#[test]
fn three_adam_steps_give_the_same_weights_as_autograd() {
    let x = batch();
    for likelihood in [Likelihood::Bernoulli, Likelihood::Gaussian] {
        for cfg in configs(likelihood) {
            let what = format!("{} {:?} {:?}", cfg.kind, likelihood, cfg.knobs);
            let (a, b) = (model(&cfg), model(&cfg));
            let (mut opt_a, mut opt_b) = (a.optimizer(1e-2), b.optimizer(1e-2));
            let mut rng_a = PortableRng::seed_from_u64(8);
            let mut rng_b = PortableRng::seed_from_u64(8);
            for step in 0..3 {
                let ma = a.train_step(&mut opt_a, &x, &mut rng_a, AT).unwrap();
                let mb = train_step_manual(&b, &mut opt_b, &x, &mut rng_b, AT).unwrap();
                assert_same_means(mb.unwrap(), ma.unwrap(), &format!("{what} step {step}"));
            }
            let names = a.named_vars();
            for ((wa, wb), (name, _)) in weights(&a).iter().zip(weights(&b)).zip(&names) {
                for (i, (p, q)) in wa.iter().zip(&wb).enumerate() {
                    assert!(
                        (p - q).abs() < 1e-5,
                        "{what} {name}[{i}]: autograd {p} vs hand-written {q}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_non_finite_loss_skips_the_step_and_leaves_the_weights() {
    let cfg = configs(Likelihood::Bernoulli)
        .into_iter()
        .find(|c| c.kind == ModelKind::Vae)
        .unwrap();
    let m = model(&cfg);
    let mut opt = m.optimizer(1e-2);
    // A huge log-variance bias: exp overflows, the KL is infinite.
    let n = m.config.latent_dim;
    let head = m.logvar_head.as_ref().unwrap();
    head.b
        .set(&Tensor::from_vec(vec![200.0f32; n], n, &Device::Cpu).unwrap())
        .unwrap();
    let before = weights(&m);
    let mut rng = PortableRng::seed_from_u64(3);
    let out = train_step_manual(
        &m,
        &mut opt,
        &batch(),
        &mut rng,
        crate::model::Schedule::START,
    )
    .unwrap();
    assert_eq!(out, None);
    assert_eq!(weights(&m), before);
    // Autograd agrees that this step is not to be taken.
    let mut rng = PortableRng::seed_from_u64(3);
    assert_eq!(
        m.train_step(&mut opt, &batch(), &mut rng, crate::model::Schedule::START)
            .unwrap(),
        None
    );
}

/// A contractive AE with `hidden` layers, contraction `lambda`, and every trunk bias set so
/// that some ReLU units are off for some items (the masks matter).
fn contractive(hidden: &[usize], lambda: f32) -> Autoencoder {
    let mut cfg = ModelConfig::new(ModelKind::Cae, 12, Likelihood::Bernoulli);
    cfg.hidden = hidden.to_vec();
    cfg.latent_dim = 3;
    cfg.set_knob("contraction", KnobValue::Number(lambda))
        .unwrap();
    let m = model(&cfg);
    for layer in &m.trunk.layers {
        let n = layer.b.elem_count();
        let b: Vec<f32> = (0..n).map(|i| (i as f32 - n as f32 / 2.0) * 0.15).collect();
        layer
            .b
            .set(&Tensor::from_vec(b, n, &Device::Cpu).unwrap())
            .unwrap();
    }
    m
}

#[test]
fn the_contractive_penalty_and_its_gradient_alone_match_autograd() {
    // The penalty's part of each gradient: (λ = 2) minus (λ = 0), by hand and by autograd.
    let x = batch();
    for hidden in [vec![9], vec![7, 5], vec![8, 6, 5]] {
        let (with, without) = (contractive(&hidden, 2.0), contractive(&hidden, 0.0));
        let what = format!("cae {hidden:?}");
        let (got, got_means) = manual(&with, &x, 5);
        let (got0, _) = manual(&without, &x, 5);
        let (want, want_means) = autograd(&with, &x, 5);
        let (want0, _) = autograd(&without, &x, 5);
        assert!(want_means.penalty > 1e-3, "{what}: the penalty is there");
        assert_same_means(got_means, want_means, &what);
        let diff = |a: &[Vec<f32>], b: &[Vec<f32>]| -> Vec<Vec<f32>> {
            a.iter()
                .zip(b)
                .map(|(a, b)| a.iter().zip(b).map(|(a, b)| a - b).collect())
                .collect()
        };
        let (got_p, want_p) = (diff(&got, &got0), diff(&want, &want0));
        // Weights only: the penalty does not reach a bias (its masks are constant).
        let names = with.named_vars();
        for (((name, _), g), w) in names.iter().zip(&got_p).zip(&want_p) {
            let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            if name.ends_with(".bias") || name.starts_with("decoder") {
                assert!(g.iter().all(|v| v.abs() < 1e-6), "{what} {name}: {g:?}");
                assert!(w.iter().all(|v| v.abs() < 1e-5), "{what} {name}: {w:?}");
                continue;
            }
            assert!(
                scale > 1e-4,
                "{what} {name}: autograd's penalty gradient is zero"
            );
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-4 * scale,
                    "{what} {name}[{i}]: hand-written {a} vs autograd {b} (scale {scale})"
                );
            }
        }
    }
}

/// toy·Σ‖μ‖₁ through the tensor loss only: a penalty without a hand-written gradient.
static AUTOGRAD_ONLY: crate::model::kinds::KindSpec = crate::model::kinds::KindSpec {
    name: "autograd-only",
    title: "Autograd only",
    about: "a test's kind whose penalty has no hand-written gradient",
    color: [1, 2, 3],
    variational: false,
    knobs: &[],
    corrupt: None,
    penalty: Some(crate::model::kinds::Penalty {
        label: "‖μ‖₁",
        loss: |p| p.mu.abs()?.sum(candle_core::D::Minus1),
        of_item: |_, _, _, mu| mu.iter().map(|m| f64::from(m.abs())).sum(),
        manual: None,
    }),
    check: None,
    conditional: false,
};

#[test]
fn a_penalty_without_a_hand_written_gradient_falls_back_to_autograd() {
    let kind = crate::model::kinds::register_for_test(&AUTOGRAD_ONLY);
    assert!(!supports(kind));
    let mut cfg = ModelConfig::new(kind, 12, Likelihood::Bernoulli);
    cfg.hidden = vec![7, 5];
    let (a, b) = (model(&cfg), model(&cfg));
    let (mut opt_a, mut opt_b) = (a.optimizer(1e-2), b.optimizer(1e-2));
    let x = batch();
    let ma = a.train_step_autograd(
        &mut opt_a,
        &x,
        &mut PortableRng::seed_from_u64(1),
        crate::model::Schedule::START,
    );
    let mb = train_step_manual(
        &b,
        &mut opt_b,
        &x,
        &mut PortableRng::seed_from_u64(1),
        crate::model::Schedule::START,
    );
    assert_eq!(ma.unwrap(), mb.unwrap());
    assert_eq!(weights(&a), weights(&b));
    assert!(
        gradients(
            &b,
            &x,
            &mut PortableRng::seed_from_u64(1),
            crate::model::Schedule::START
        )
        .is_err()
    );
}
