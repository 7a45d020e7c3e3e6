//! The IWAE's objective against independent computations: the VAE's ELBO at k = 1 (the
//! analytic KL, not the weights), central finite differences for its gradient, and a
//! linear-Gaussian model's closed-form log p(x) for the bound's rise with k.
use super::*;
use crate::model::eval::tests::{POINTS, closed_form_log_px, linear_gaussian_vae};
use crate::model::grad_check::{STEP, agrees, central_difference};
use crate::model::{KnobValue, Likelihood, ModelKind};
use candle_core::Device;
use rand::SeedableRng;

fn tiny(kind: ModelKind, k: f32) -> Autoencoder {
    let mut cfg = ModelConfig::new(kind, 6, Likelihood::Bernoulli);
    cfg.latent_dim = 2;
    cfg.hidden = vec![5];
    if kind.knob("k").is_some() {
        cfg.set_knob("k", KnobValue::Number(k)).unwrap();
    }
    Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(7)).unwrap()
}

/// `rows` items of 6 values in [0, 1].
fn items(rows: usize) -> Tensor {
    let v: Vec<f32> = (0..rows * 6)
        .map(|i| ((i * 7) % 11) as f32 / 10.0)
        .collect();
    Tensor::from_vec(v, (rows, 6), &Device::Cpu).unwrap()
}

fn f64s(t: &Tensor) -> Vec<f64> {
    let v: Vec<f32> = t.to_vec1().unwrap();
    v.into_iter().map(f64::from).collect()
}

#[test]
fn the_iwae_kind_trains_on_its_k_and_other_kinds_on_the_elbo() {
    assert_eq!(samples(&tiny(ModelKind::Iwae, 5.0).config), Some(5));
    assert_eq!(samples(&tiny(ModelKind::Iwae, 37.0).config), Some(37));
    let default = ModelConfig::new(ModelKind::Iwae, 6, Likelihood::Bernoulli);
    assert_eq!(samples(&default), Some(5));
    for kind in ModelKind::all().filter(|&k| k != ModelKind::Iwae) {
        let cfg = ModelConfig::new(kind, 6, Likelihood::Bernoulli);
        assert_eq!(samples(&cfg), None, "{kind}");
    }
}

#[test]
fn at_k1_the_bound_is_the_vaes_elbo_objective_with_a_sampled_kl() {
    // The same weights (same seed) as an iwae with k = 1 and as a vae, the same ε (same
    // seed): the reconstruction is the same number, and −L_1 differs from the VAE's
    // recon + KL only by log q(z|x) − log p(z) − KL, which by hand is
    // Σ_j ½(z_j² − ε_j² − μ_j² − σ_j² + 1) (zero in expectation over ε).
    let (iwae, vae) = (tiny(ModelKind::Iwae, 1.0), tiny(ModelKind::Vae, 1.0));
    let rows = 20_000;
    let x = items(rows);
    let b = bound(&iwae, &x, 1, 1.0, &mut PortableRng::seed_from_u64(3)).unwrap();
    let t = vae
        .loss_terms(&x, &mut PortableRng::seed_from_u64(3))
        .unwrap();
    let (neg_l1, recon_vae, kl) = (
        f64s(&b.log_bound.neg().unwrap()),
        f64s(&t.recon),
        f64s(&t.kl),
    );
    assert_eq!(f64s(&b.terms.recon), recon_vae, "recon of the same z");
    assert_eq!(f64s(&b.terms.kl), kl, "the reported KL is the analytic one");
    // The sampled KL's difference, from μ, log σ² and the same ε, in f64.
    let (mu, logvar) = vae.encode(&x).unwrap();
    let (mu, logvar) = (mu.to_vec2::<f32>().unwrap(), logvar.unwrap());
    let logvar = logvar.to_vec2::<f32>().unwrap();
    let eps = Autoencoder::standard_normal(&mut PortableRng::seed_from_u64(3), rows, 2)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let mut diffs = Vec::with_capacity(rows);
    for r in 0..rows {
        let by_hand: f64 = (0..2)
            .map(|j| {
                let (m, lv, e) = (
                    f64::from(mu[r][j]),
                    f64::from(logvar[r][j]),
                    f64::from(eps[r][j]),
                );
                let z = m + (0.5 * lv).exp() * e;
                0.5 * (z * z - e * e - m * m - lv.exp() + 1.0)
            })
            .sum();
        let got = neg_l1[r] - (recon_vae[r] + kl[r]);
        assert!(
            (got - by_hand).abs() < 1e-3,
            "row {r}: −L_1 − (recon + KL) = {got}, by hand {by_hand}"
        );
        diffs.push(got);
    }
    // Over ε the two objectives agree: the mean difference is within 4 standard errors of 0.
    let mean = diffs.iter().sum::<f64>() / rows as f64;
    let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (rows - 1) as f64;
    let se = (var / rows as f64).sqrt();
    assert!(var > 0.0, "the sampled KL varies with ε");
    assert!(
        mean.abs() < 4.0 * se,
        "mean −L_1 − ELBO objective {mean} (se {se})"
    );
}

#[test]
fn a_k1_iwae_step_moves_the_weights_as_a_vae_step_does_on_average() {
    // The gradient of −L_1 is the VAE's with the KL's gradient estimated from one sample:
    // averaged over many items (one ε each), the first step of both moves every weight the
    // same way. Adam's first step is lr·sign(g), so compare the signs of the summed gradients
    // through one SGD-like Adam step: same sign on every weight that moves clearly.
    let (iwae, vae) = (tiny(ModelKind::Iwae, 1.0), tiny(ModelKind::Vae, 1.0));
    let x = items(50_000);
    let grad_of = |m: &Autoencoder, loss: Tensor| -> Vec<Vec<f32>> {
        let grads = loss.backward().unwrap();
        m.vars()
            .iter()
            .map(|v| {
                let g = grads.get(v.as_tensor()).unwrap();
                g.flatten_all().unwrap().to_vec1().unwrap()
            })
            .collect()
    };
    let b = bound(&iwae, &x, 1, 1.0, &mut PortableRng::seed_from_u64(5)).unwrap();
    let gi = grad_of(&iwae, b.objective.mean_all().unwrap().neg().unwrap());
    let t = vae
        .loss_terms(&x, &mut PortableRng::seed_from_u64(5))
        .unwrap();
    let gv = grad_of(&vae, t.objective(1.0).unwrap());
    let mut compared = 0;
    for (a, b) in gi.iter().flatten().zip(gv.iter().flatten()) {
        let scale = a.abs().max(b.abs());
        if scale > 1e-2 {
            compared += 1;
            assert!((a - b).abs() < 0.1 * scale + 2e-3, "iwae {a} vs vae {b}");
        }
    }
    assert!(
        compared > 30,
        "only {compared} gradients large enough to compare"
    );
}

/// −L_k, batch mean, with the same ε on every call (the generator seeded the same).
fn neg_bound(model: &Autoencoder, x: &Tensor, k: usize) -> Tensor {
    let mut rng = PortableRng::seed_from_u64(99);
    let b = bound(model, x, k, 1.0, &mut rng).unwrap();
    b.objective.mean_all().unwrap().neg().unwrap()
}

#[test]
fn the_bounds_gradient_matches_finite_differences_in_every_layer() {
    let model = tiny(ModelKind::Iwae, 4.0);
    let x = items(4);
    let k = 4;
    let grads = neg_bound(&model, &x, k).backward().unwrap();
    let mut checked = 0;
    for (name, var) in model.named_vars() {
        let g: Vec<f32> = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"))
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let largest = g.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(largest > 1e-2, "{name}: gradient too small ({largest})");
        for (i, &analytic) in g.iter().enumerate() {
            let fd = central_difference(&var, i, STEP, || {
                f64::from(neg_bound(&model, &x, k).to_scalar::<f32>().unwrap())
            });
            assert!(
                agrees(fd, analytic),
                "{name}[{i}]: autograd {analytic} vs finite differences {fd}"
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} weights checked");
}

#[test]
fn the_bound_rises_towards_the_closed_form_log_px_as_k_grows() {
    // A linear-Gaussian model whose q is off (mean by one posterior sd, variances doubled):
    // E[L_k] rises with k (Burda et al.'s theorem 1) and reaches log p(x) from below.
    let model = linear_gaussian_vae(1.0, 2.0);
    let x = POINTS[1];
    let exact = closed_form_log_px(x);
    let rows = 3000;
    let flat: Vec<f32> = (0..rows).flat_map(|_| x.map(|v| v as f32)).collect();
    let batch = Tensor::from_vec(flat, (rows, 3), &Device::Cpu).unwrap();
    let mut rng = PortableRng::seed_from_u64(11);
    let mut means = Vec::new();
    for k in [1, 2, 5, 20, 100] {
        let b = bound(&model, &batch, k, 1.0, &mut rng).unwrap();
        let v = f64s(&b.log_bound);
        let mean = v.iter().sum::<f64>() / rows as f64;
        let sd = (v.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / rows as f64).sqrt();
        let se = sd / (rows as f64).sqrt();
        eprintln!("k {k}: E L_k {mean:.4} (se {se:.4}), log p(x) {exact:.4}");
        assert!(
            mean < exact + 4.0 * se,
            "k {k}: L_k {mean} above log p(x) {exact}"
        );
        means.push((k, mean, se));
    }
    for w in means.windows(2) {
        let ((k0, a, sa), (k1, b, sb)) = (w[0], w[1]);
        assert!(b > a - 3.0 * (sa + sb), "L_{k1} {b} below L_{k0} {a}");
    }
    let (_, first, _) = means[0];
    let (_, last, _) = means[means.len() - 1];
    // The gap of the ELBO (about 0.97 nats here) closes to under a tenth at k = 100.
    assert!(exact - first > 0.5, "ELBO gap {}", exact - first);
    assert!(
        exact - last < 0.1 * (exact - first),
        "k = 100 gap {} vs ELBO gap {}",
        exact - last,
        exact - first
    );
}

#[test]
fn a_training_step_reports_minus_the_bound_and_steps_on_it() {
    // The step's loss is −L_k of the batch it stepped on, below recon + KL on average; and
    // it is the bound that falls over a few steps.
    let model = tiny(ModelKind::Iwae, 10.0);
    // Binary items: a Bernoulli decoder can explain them to near 0 nats.
    let x = items(64)
        .ge(0.5)
        .unwrap()
        .to_dtype(candle_core::DType::F32)
        .unwrap();
    let mut opt = model.optimizer(1e-2);
    let mut rng = PortableRng::seed_from_u64(1);
    let before = neg_bound(&model, &x, 10).to_scalar::<f32>().unwrap();
    let mut gaps = 0.0;
    for _ in 0..200 {
        let m = model
            .train_step_reported(&mut opt, &x, &mut rng, Schedule::START)
            .unwrap()
            .unwrap();
        gaps += m.terms.recon + m.terms.kl - m.loss;
        assert_eq!(m.terms.penalty, 0.0);
    }
    let after = neg_bound(&model, &x, 10).to_scalar::<f32>().unwrap();
    assert!(gaps > 0.0, "−L_k sits below recon + KL: summed gaps {gaps}");
    eprintln!("−L_10 {before} → {after}");
    assert!(after < before - 1.0, "−L_10 {before} → {after}");
}

#[test]
fn a_conv_iwae_refuses_a_k_whose_step_would_not_fit_in_memory() {
    // 64×64 grey at k = 20 took 6.1 GB a step (measured): up to 10 there; 28×28 takes 50.
    let conv = |side: usize, k: f32| {
        let mut cfg = ModelConfig::new(ModelKind::Iwae, side * side, Likelihood::Bernoulli);
        cfg.arch = crate::model::Arch::Conv;
        cfg.image = Some(crate::model::ImageDims {
            channels: 1,
            height: side,
            width: side,
        });
        cfg.set_knob("k", KnobValue::Number(k)).unwrap();
        cfg.validate().map_err(|e| e.to_string())
    };
    assert_eq!(conv(64, 10.0), Ok(()));
    let e = conv(64, 11.0).unwrap_err();
    assert!(
        e.contains("k 11 is too many for --arch conv") && e.contains("at most 10"),
        "{e}"
    );
    assert_eq!(conv(28, 50.0), Ok(()));
    let mut mlp = ModelConfig::new(ModelKind::Iwae, 4096, Likelihood::Bernoulli);
    mlp.set_knob("k", KnobValue::Number(100.0)).unwrap();
    assert_eq!(mlp.validate().map_err(|e| e.to_string()), Ok(()));
}
