use super::*;
use crate::model::ModelKind;
use crate::model::snapshot::DenseWeights;
use crate::model::{Autoencoder, KnobValue, LossTerms};
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};

fn dense(w: Vec<f32>, b: Vec<f32>, n_in: usize, n_out: usize) -> DenseWeights {
    DenseWeights { w, b, n_in, n_out }
}

/// 2 inputs → no trunk → μ = (x₀ + 0.1, −x₁), log σ² = (2x₀ − 1, 0.5); decoder 2 → 2 with
/// logits (−2z₀ + 0.5, −z₁): one negative and one positive in the tests below, so a stray
/// ReLU on the output would show.
fn tiny(variational: bool) -> (EncoderSnapshot, DecoderSnapshot) {
    let encoder = EncoderSnapshot {
        trunk: Vec::new(),
        mu_head: dense(vec![1.0, 0.0, 0.0, -1.0], vec![0.1, 0.0], 2, 2),
        logvar_head: variational.then(|| dense(vec![2.0, 0.0, 0.0, 0.0], vec![-1.0, 0.5], 2, 2)),
        conv: None,
        classes: 0,
        codebook: None,
    };
    let decoder = DecoderSnapshot::new(
        vec![dense(vec![-2.0, 0.0, 0.0, -1.0], vec![0.5, 0.0], 2, 2)],
        true,
    );
    (encoder, decoder)
}

fn config(kind: ModelKind, input: usize, likelihood: Likelihood) -> ModelConfig {
    ModelConfig::new(kind, input, likelihood)
}

#[test]
fn recon_nats_are_the_negative_log_likelihood_computed_by_hand() {
    let (encoder, decoder) = tiny(true);
    let x = [0.25f32, 1.0];
    let eps = [0.5f32, -2.0];
    let r = inspect(
        &config(ModelKind::Vae, 2, Likelihood::Bernoulli),
        &encoder,
        &decoder,
        &x,
        Some(&eps),
    )
    .unwrap();
    // μ = (0.35, −1), σ = (e^(−0.25), e^(0.25)), z = μ + σ·ε.
    let z = [0.35 + (-0.25f64).exp() * 0.5, -1.0 - 0.25f64.exp() * 2.0];
    for (got, want) in r.z.iter().zip(z) {
        assert!((f64::from(*got) - want).abs() < 1e-6, "z {got} vs {want}");
    }
    // Bernoulli: p = 1 / (1 + e^−l), −[x ln p + (1 − x) ln(1 − p)] per pixel.
    let logits = [-2.0 * z[0] + 0.5, -z[1]];
    assert!(logits[0] < 0.0 && logits[1] > 0.0);
    let mut nll = 0.0;
    for (i, (l, t)) in logits.iter().zip(x).enumerate() {
        let p = 1.0 / (1.0 + (-l).exp());
        let t = f64::from(t);
        nll -= t * p.ln() + (1.0 - t) * (1.0 - p).ln();
        let shown = r.recon_image[i];
        assert!((f64::from(shown) - p).abs() < 1e-6, "pixel {shown} vs {p}");
    }
    assert!(
        (r.recon_nats - nll).abs() < 1e-5,
        "{} vs {nll}",
        r.recon_nats
    );

    // Gaussian of σ = 0.05 around the decoder's means: −ln of the density, per value.
    let r = inspect(
        &config(ModelKind::Ae, 2, Likelihood::Gaussian),
        &tiny(false).0,
        &decoder,
        &x,
        None,
    )
    .unwrap();
    let means = [-2.0 * 0.35 + 0.5, 1.0];
    let s = 0.05f64;
    let nll: f64 = means
        .iter()
        .zip(x)
        .map(|(m, t)| {
            let d = f64::from(t) - m;
            let pdf = (-d * d / (2.0 * s * s)).exp() / (s * (2.0 * std::f64::consts::PI).sqrt());
            -pdf.ln()
        })
        .sum();
    assert!(
        (r.recon_nats - nll).abs() < 1e-3,
        "{} vs {nll}",
        r.recon_nats
    );
    assert_eq!(r.recon_image.len(), 2);
    assert!((f64::from(r.recon_image[0]) - means[0]).abs() < 1e-6);
}

/// KL(N(m, s²) ‖ N(0, 1)) = ∫ q(z) (log q(z) − log p(z)) dz by Simpson's rule over ±12 s.
fn kl_by_integration(m: f64, s: f64) -> f64 {
    let (a, b, n) = (m - 12.0 * s, m + 12.0 * s, 20_000);
    let h = (b - a) / n as f64;
    let f = |z: f64| {
        let log_q = -0.5 * ((z - m) / s).powi(2) - s.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
        let log_p = -0.5 * z * z - 0.5 * (2.0 * std::f64::consts::PI).ln();
        log_q.exp() * (log_q - log_p)
    };
    let inner: f64 = (1..n)
        .map(|i| f(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 })
        .sum();
    (f(a) + f(b) + inner) * h / 3.0
}

#[test]
fn kl_per_dimension_matches_numerical_integration() {
    let mut rng = PortableRng::seed_from_u64(3);
    let mut cfg = config(ModelKind::BetaVae, 16, Likelihood::Bernoulli);
    cfg.hidden = vec![12];
    cfg.latent_dim = 4;
    cfg.set_knob("beta", KnobValue::Number(3.0)).unwrap();
    let model = Autoencoder::new(cfg.clone(), &mut rng).unwrap();
    let (encoder, decoder) = (
        model.encoder_snapshot().unwrap(),
        model.decoder_snapshot().unwrap(),
    );
    for _ in 0..3 {
        let x: Vec<f32> = (0..16).map(|_| rng.random_range(-3.0..3.0)).collect();
        let r = inspect(&cfg, &encoder, &decoder, &x, None).unwrap();
        let (per_dim, sigma) = (r.kl_per_dim.clone().unwrap(), r.sigma.clone().unwrap());
        assert_eq!(per_dim.len(), 4);
        for ((k, m), s) in per_dim.iter().zip(&r.mu).zip(&sigma) {
            let want = kl_by_integration(f64::from(*m), f64::from(*s));
            assert!(
                (k - want).abs() < 1e-5 * want.max(1.0),
                "μ {m} σ {s}: {k} vs {want}"
            );
        }
        let kl = r.kl.unwrap();
        assert!((kl - per_dim.iter().sum::<f64>()).abs() < 1e-9);
        assert!((r.weighted_kl.unwrap() - 3.0 * kl).abs() < 1e-9);
        assert!(r.eps.is_none() && r.z == r.mu, "no ε: z = μ");
    }
    // The hand-built encoder: μ = (1.1, −1), log σ² = (1, 0.5) at x = (1, 1); values far
    // from the prior, where a wrong term would show.
    let (encoder, decoder) = tiny(true);
    let r = inspect(
        &config(ModelKind::Vae, 2, Likelihood::Bernoulli),
        &encoder,
        &decoder,
        &[1.0, 1.0],
        None,
    )
    .unwrap();
    let want = [
        kl_by_integration(1.1, 0.5f64.exp()),
        kl_by_integration(-1.0, 0.25f64.exp()),
    ];
    for (k, w) in r.kl_per_dim.unwrap().iter().zip(want) {
        assert!((k - w).abs() < 1e-5, "{k} vs {w}");
    }
    assert_eq!(r.weighted_kl, None, "a plain VAE has no β");
}

/// The candle model's loss terms for one item, with the ε that `rng` draws next.
fn training_terms(model: &Autoencoder, x: &[f32], rng: &mut PortableRng) -> LossTerms {
    let t = Tensor::from_vec(x.to_vec(), (1, x.len()), &Device::Cpu).unwrap();
    let terms = model.clean_loss_terms(&t, rng).unwrap();
    let first = |v: &Tensor| f64::from(v.to_vec1::<f32>().unwrap()[0]);
    LossTerms {
        recon: first(&terms.recon),
        kl: first(&terms.kl),
        penalty: first(&terms.penalty),
    }
}

#[test]
fn every_term_is_the_training_losss_for_the_same_epsilon() {
    let mut rng = PortableRng::seed_from_u64(11);
    for kind in ModelKind::all() {
        for likelihood in [Likelihood::Bernoulli, Likelihood::Gaussian] {
            let mut cfg = config(kind, 10, likelihood);
            cfg.hidden = vec![8, 6];
            cfg.latent_dim = 3;
            let model = Autoencoder::new(cfg.clone(), &mut rng).unwrap();
            let (encoder, decoder) = (
                model.encoder_snapshot().unwrap(),
                model.decoder_snapshot().unwrap(),
            );
            let x: Vec<f32> = (0..10).map(|_| rng.random::<f32>()).collect();
            // The training code draws its ε from the same stream state.
            let mut eps_rng = rng.clone();
            let eps = draw_eps(&mut eps_rng, 3);
            let LossTerms { recon, kl, penalty } = training_terms(&model, &x, &mut rng);
            let r = inspect(&cfg, &encoder, &decoder, &x, Some(&eps)).unwrap();
            let what = format!("{kind} {likelihood:?}");
            assert!(
                (r.recon_nats - recon).abs() < 1e-4 * recon.abs().max(1.0),
                "{what}: recon {} vs {recon}",
                r.recon_nats
            );
            assert!(
                (r.kl.unwrap_or(0.0) - kl).abs() < 1e-5 * kl.max(1.0),
                "{what}: kl {:?} vs {kl}",
                r.kl
            );
            assert!(
                (r.penalty.unwrap_or(0.0) - penalty).abs() < 1e-4 * penalty.max(1.0),
                "{what}: penalty {:?} vs {penalty}",
                r.penalty
            );
            assert_eq!(r.penalty.is_some(), kind.penalty().is_some(), "{what}");
            assert_eq!(r.kl.is_some(), kind.is_variational(), "{what}");
            assert_eq!(r.eps.is_some(), kind.is_variational(), "{what}");
            let objective = recon + model.kl_weight() * kl + penalty;
            assert!(
                (r.objective - objective).abs() < 1e-4 * objective.abs().max(1.0),
                "{what}: objective"
            );
        }
    }
}

#[test]
fn parts_that_do_not_fit_are_errors_not_panics() {
    let (encoder, decoder) = tiny(true);
    let vae = config(ModelKind::Vae, 2, Likelihood::Bernoulli);
    let err =
        |c: &ModelConfig,
         e: &EncoderSnapshot,
         d: &DecoderSnapshot,
         x: &[f32],
         eps: Option<&[f32]>| { inspect(c, e, d, x, eps).unwrap_err().to_string() };
    assert!(err(&vae, &encoder, &decoder, &[0.5; 3], None).contains("the item has 3 values"));
    assert!(err(&vae, &encoder, &decoder, &[0.5; 2], Some(&[0.0])).contains("ε has 1 values"));
    let ae = config(ModelKind::Ae, 2, Likelihood::Bernoulli);
    assert!(err(&ae, &encoder, &decoder, &[0.5; 2], None).contains("has a σ head"));
    let narrow = DecoderSnapshot::new(vec![dense(vec![1.0, 1.0], vec![0.0, 0.0], 1, 2)], true);
    assert!(err(&vae, &encoder, &narrow, &[0.5; 2], None).contains("the decoder takes 1"));
    let empty = EncoderSnapshot::default();
    assert!(
        inspect(
            &ae,
            &empty,
            &DecoderSnapshot::new(Vec::new(), true),
            &[],
            None
        )
        .is_err()
    );
}
