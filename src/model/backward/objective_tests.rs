//! The hand-written gradients of free bits and of a capacity target against central finite
//! differences of the objective written again here, in f64 from plain numbers: the
//! encoder's layers as loops, each dimension's KL averaged over the batch, the floor or
//! the |KL − C| taken on those numbers. Kinks on both sides: a dimension below λ and two
//! above; the KL below C and above it.

use super::*;
use crate::model::objective::Schedule;
use crate::model::{KnobValue, ModelConfig};
use candle_core::Device;
use rand::SeedableRng;

const INPUT: usize = 12;
const HIDDEN: [usize; 2] = [7, 5];
const LATENT: usize = 3;
/// A warm-up's factor below 1 (it scales the whole KL term), and a step in the ramp.
const AT: Schedule = Schedule {
    kl_scale: 0.7,
    steps_done: 250,
};
const RAMP_STEPS: f64 = 1000.0;

/// A `kind` 12-7-5-3 with `knobs`; the μ head's biases spread so that the three
/// dimensions' KLs are far apart.
fn model(kind: ModelKind, knobs: &[(&str, f32)]) -> Autoencoder {
    let mut cfg = ModelConfig::new(kind, INPUT, Likelihood::Bernoulli);
    cfg.hidden = HIDDEN.to_vec();
    cfg.latent_dim = LATENT;
    for &(key, v) in knobs {
        cfg.set_knob(key, KnobValue::Number(v)).unwrap();
    }
    let m = Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(11)).unwrap();
    let spread = Tensor::new(&[0.0f32, 0.8, 1.6], &Device::Cpu).unwrap();
    m.mu_head.b.set(&spread).unwrap();
    m
}

/// 6 items of 12 values in [0, 1].
fn batch() -> Tensor {
    let v: Vec<f32> = (0..6 * INPUT)
        .map(|i| ((i * 37 + 5) % 23) as f32 / 22.0)
        .collect();
    Tensor::from_vec(v, (6, INPUT), &Device::Cpu).unwrap()
}

/// The hand-written gradients of `m` (in `vars` order), ε drawn from seed 5.
fn by_hand(m: &Autoencoder) -> Vec<Vec<f32>> {
    let mut rng = PortableRng::seed_from_u64(5);
    let pass = gradients(m, &batch(), &mut rng, AT).unwrap().unwrap();
    pass.grads.iter().map(|g| to_vec(g).unwrap()).collect()
}

/// The KL term's own gradient on the hand-written path: `m`'s gradients minus those of a
/// β-VAE with β = 0 (the reconstruction's alone) holding the same weights and drawing the
/// same ε.
fn kl_term_gradient(m: &Autoencoder) -> Vec<Vec<f32>> {
    let recon_only = model(ModelKind::BetaVae, &[("beta", 0.0)]);
    recon_only.set_weights(&m.weights().unwrap()).unwrap();
    let (all, recon) = (by_hand(m), by_hand(&recon_only));
    all.iter()
        .zip(&recon)
        .map(|(a, r)| a.iter().zip(r).map(|(a, r)| a - r).collect())
        .collect()
}

/// The encoder's weights (trunk layers, μ head, log σ² head) as f64: (w in×out row-major,
/// b), in `vars` order.
fn encoder_f64(m: &Autoencoder) -> Vec<(Vec<f64>, Vec<f64>)> {
    let f64s = |t: &Tensor| -> Vec<f64> {
        let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
        v.into_iter().map(f64::from).collect()
    };
    let layers = m.trunk.layers.iter().chain([&m.mu_head]);
    layers
        .chain(m.logvar_head.as_ref())
        .map(|d| (f64s(d.w.as_tensor()), f64s(d.b.as_tensor())))
        .collect()
}

/// `h W + b` for one item.
fn affine(h: &[f64], (w, b): &(Vec<f64>, Vec<f64>)) -> Vec<f64> {
    let out = b.len();
    (0..out)
        .map(|o| {
            b[o] + h
                .iter()
                .enumerate()
                .map(|(i, v)| v * w[i * out + o])
                .sum::<f64>()
        })
        .collect()
}

/// Each latent dimension's KL to N(0, 1), averaged over the batch, from the encoder's
/// weights: the encoder and the Gaussians' KL computed again, on plain numbers.
fn kl_dims(enc: &[(Vec<f64>, Vec<f64>)], x: &[f32]) -> Vec<f64> {
    let items: Vec<&[f32]> = x.chunks_exact(INPUT).collect();
    let mut sums = [0.0; LATENT];
    for item in &items {
        let mut h: Vec<f64> = item.iter().map(|&v| f64::from(v)).collect();
        for layer in &enc[..HIDDEN.len()] {
            h = affine(&h, layer).into_iter().map(|v| v.max(0.0)).collect();
        }
        let mu = affine(&h, &enc[HIDDEN.len()]);
        let logvar = affine(&h, &enc[HIDDEN.len() + 1]);
        for j in 0..LATENT {
            let (m, lv) = (mu[j], logvar[j]);
            sums[j] += 0.5 * (lv.exp() + m * m - lv - 1.0);
        }
    }
    sums.iter().map(|s| s / items.len() as f64).collect()
}

/// Checks `analytic` (the KL term's gradient, `vars` order) against central differences
/// of `term` (the KL term from each dimension's batch-mean KL) in every encoder weight,
/// and that the decoder gets none of it. Returns how many entries had a visible gradient.
fn check_against_finite_differences(
    m: &Autoencoder,
    analytic: &[Vec<f32>],
    term: impl Fn(&[f64]) -> f64,
    what: &str,
) -> usize {
    let x: Vec<f32> = batch().flatten_all().unwrap().to_vec1().unwrap();
    let enc = encoder_f64(m);
    let h = 1e-6;
    let mut visible = 0;
    for (layer, (w, b)) in enc.iter().enumerate() {
        for (part, values) in [(0, w), (1, b)] {
            let g = &analytic[2 * layer + part];
            assert_eq!(g.len(), values.len(), "{what}: layer {layer} part {part}");
            for i in 0..values.len() {
                let at = |delta: f64| {
                    let mut e = enc.clone();
                    let p = if part == 0 {
                        &mut e[layer].0
                    } else {
                        &mut e[layer].1
                    };
                    p[i] += delta;
                    term(&kl_dims(&e, &x))
                };
                let fd = (at(h) - at(-h)) / (2.0 * h);
                let got = f64::from(g[i]);
                let tolerance = 1e-3 * fd.abs().max(got.abs()) + 2e-6;
                assert!(
                    (fd - got).abs() < tolerance,
                    "{what}: layer {layer} {}[{i}]: by hand {got} vs finite differences {fd}",
                    ["weight", "bias"][part]
                );
                if fd.abs() > 1e-3 {
                    visible += 1;
                }
            }
        }
    }
    for g in &analytic[2 * enc.len()..] {
        assert!(g.iter().all(|&v| v == 0.0), "{what}: the decoder got some");
    }
    visible
}

#[test]
fn free_bits_gradients_match_finite_differences_on_both_sides_of_the_floor() {
    let x: Vec<f32> = batch().flatten_all().unwrap().to_vec1().unwrap();
    let start = kl_dims(&encoder_f64(&model(ModelKind::Vae, &[])), &x);
    let mut sorted = start.clone();
    sorted.sort_by(f64::total_cmp);
    eprintln!("each dimension's KL at the start: {start:?}");
    assert!(
        sorted[1] - sorted[0] > 0.1,
        "the dimensions' KLs are too close: {start:?}"
    );
    // λ between the lowest dimension and the others: one held at the floor, two above it.
    let lambda = ((sorted[0] + sorted[1]) / 2.0) as f32;
    let m = model(ModelKind::Vae, &[("free_bits", lambda)]);
    let floor = f64::from(lambda);
    let term = |k: &[f64]| AT.kl_scale * k.iter().map(|&k| k.max(floor)).sum::<f64>();
    let analytic = kl_term_gradient(&m);
    let visible = check_against_finite_differences(&m, &analytic, term, "free bits");
    assert!(
        visible > 40,
        "only {visible} entries with a visible gradient"
    );
    // The held dimension's heads get nothing from the KL, the others do.
    let held = start.iter().position(|&k| k == sorted[0]).unwrap();
    let (mu_w, lv_w) = (&analytic[2 * HIDDEN.len()], &analytic[2 * HIDDEN.len() + 2]);
    for j in 0..LATENT {
        let column: Vec<f32> = (0..HIDDEN[1]).map(|i| lv_w[i * LATENT + j]).collect();
        let moved = column
            .iter()
            .chain(mu_w.iter().skip(j).step_by(LATENT))
            .any(|&v| v != 0.0);
        assert_eq!(moved, j != held, "dimension {j}: {column:?}");
    }

    // A floor above every dimension: the KL term has no gradient at all.
    let high = model(ModelKind::Vae, &[("free_bits", (sorted[2] + 1.0) as f32)]);
    let none = kl_term_gradient(&high);
    assert!(none.iter().flatten().all(|&v| v == 0.0), "{none:?}");
}

#[test]
fn capacity_gradients_match_finite_differences_with_the_kl_below_and_above_c() {
    let x: Vec<f32> = batch().flatten_all().unwrap().to_vec1().unwrap();
    let kl: f64 = kl_dims(&encoder_f64(&model(ModelKind::BetaVae, &[])), &x)
        .iter()
        .sum();
    let gamma = 30.0f32;
    // C = C_max · 250/1000 at this step: half the KL (the KL is above C), then twice it.
    for (c, side) in [(kl / 2.0, "above"), (2.0 * kl, "below")] {
        let c_max = (c * RAMP_STEPS / AT.steps_done as f64) as f32;
        let knobs = [
            ("capacity", c_max),
            ("capacity_steps", RAMP_STEPS as f32),
            ("gamma", gamma),
        ];
        let m = model(ModelKind::BetaVae, &knobs);
        let target = f64::from(c_max) * AT.steps_done as f64 / RAMP_STEPS;
        let weight = f64::from(gamma) * AT.kl_scale;
        let term = |k: &[f64]| weight * (k.iter().sum::<f64>() - target).abs();
        let what = format!("KL {kl:.3} {side} C {target:.3}");
        let visible = check_against_finite_differences(&m, &kl_term_gradient(&m), term, &what);
        assert!(
            visible > 40,
            "{what}: only {visible} entries with a visible gradient"
        );
    }
}

#[test]
fn at_step_zero_the_capacity_is_zero_and_gamma_weighs_the_kl_like_beta() {
    // C(0) = 0 ≤ KL, so γ|KL − 0| = γ·KL: the same gradients, bit for bit, as β = γ.
    let knobs = [
        ("capacity", 25.0),
        ("gamma", 30.0),
        ("capacity_steps", 1000.0),
    ];
    let annealed = model(ModelKind::BetaVae, &knobs);
    let beta = model(ModelKind::BetaVae, &[("beta", 30.0)]);
    let mut rng = PortableRng::seed_from_u64(5);
    let start = Schedule::new(0.7, 0);
    let a = gradients(&annealed, &batch(), &mut rng, start)
        .unwrap()
        .unwrap();
    let mut rng = PortableRng::seed_from_u64(5);
    let b = gradients(&beta, &batch(), &mut rng, start)
        .unwrap()
        .unwrap();
    for (ga, gb) in a.grads.iter().zip(&b.grads) {
        assert_eq!(to_vec(ga).unwrap(), to_vec(gb).unwrap());
    }
    // The reported terms are the true ones, whatever the objective.
    assert_eq!(a.means, b.means);
}

/// FNV-1a over the bits of every weight of `m`.
fn fingerprint(m: &Autoencoder) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for var in m.vars() {
        for v in to_vec(var.as_tensor()).unwrap() {
            for b in v.to_bits().to_le_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }
    h
}

/// `kind` on `arch` after 20 Adam steps on one batch of 8×8 images, the warm-up rising
/// over the steps: the fingerprint of its weights.
fn weights_after_training(kind: ModelKind, arch: crate::model::Arch) -> u64 {
    let mut cfg = ModelConfig::new(kind, 64, Likelihood::Bernoulli);
    cfg.hidden = vec![16, 8];
    cfg.latent_dim = 4;
    cfg.arch = arch;
    cfg.image = Some(crate::model::ImageDims {
        channels: 1,
        height: 8,
        width: 8,
    });
    let m = Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(3)).unwrap();
    let mut opt = m.optimizer(1e-2);
    let mut rng = PortableRng::seed_from_u64(4);
    let v: Vec<f32> = (0..16 * 64)
        .map(|i| ((i * 29 + 3) % 31) as f32 / 30.0)
        .collect();
    let x = Tensor::from_vec(v, (16, 64), &Device::Cpu).unwrap();
    for step in 0..20u64 {
        let at = Schedule::new(0.5 + step as f64 * 0.025, step);
        m.train_step(&mut opt, &x, &mut rng, at).unwrap().unwrap();
    }
    fingerprint(&m)
}

#[test]
fn with_the_new_knobs_at_zero_training_is_bit_for_bit_what_it_was() {
    // The fingerprints the same 20 steps gave before free bits and capacity existed
    // (commit d90d3b4, where `train_step` took the warm-up's factor alone): the VAE and the
    // β-VAE by hand on the MLP, and through autograd on the conv network.
    use crate::model::Arch;
    let cases = [
        (ModelKind::Vae, Arch::Mlp, BEFORE_VAE_MLP),
        (ModelKind::BetaVae, Arch::Mlp, BEFORE_BETA_VAE_MLP),
        (ModelKind::Vae, Arch::Conv, BEFORE_VAE_CONV),
        (ModelKind::BetaVae, Arch::Conv, BEFORE_BETA_VAE_CONV),
    ];
    for (kind, arch, before) in cases {
        let now = weights_after_training(kind, arch);
        eprintln!("{kind} {arch:?}: {now:#018x}");
        assert_eq!(
            now, before,
            "{kind} on {arch:?}: {now:#018x} vs {before:#018x}"
        );
    }
}

// Printed by the same helpers on d90d3b4 (the schedule argument a plain `0.5 + step·0.025`).
const BEFORE_VAE_MLP: u64 = 0x3aed_a6bb_c21c_197f;
const BEFORE_BETA_VAE_MLP: u64 = 0x7c0a_0d44_3be8_0d8d;
const BEFORE_VAE_CONV: u64 = 0x95fc_c970_0ed3_e5db;
const BEFORE_BETA_VAE_CONV: u64 = 0xfbb8_ad4c_792a_be3d;
