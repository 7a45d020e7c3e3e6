//! The kind table's own checks: every variant listed once, knobs in range, hooks.
use super::*;

#[test]
fn the_table_lists_every_kind_once_with_a_unique_name() {
    let named = [
        ModelKind::Ae,
        ModelKind::Vae,
        ModelKind::BetaVae,
        ModelKind::Dae,
        ModelKind::Sae,
        ModelKind::Cae,
        ModelKind::Cvae,
        ModelKind::Iwae,
        ModelKind::VqVae,
    ];
    for v in named {
        assert_eq!(
            KINDS.iter().filter(|s| s.name == v.name()).count(),
            1,
            "{v:?}"
        );
        assert_eq!(ModelKind::from_name(v.name()), Some(v));
    }
    assert_eq!(KINDS.len(), named.len());
    assert_eq!(ModelKind::from_name("gan"), None);
    // Kinds sort in table order, as the enum they replaced did.
    let mut sorted = named;
    sorted.reverse();
    sorted.sort();
    assert_eq!(sorted, named);
}

#[test]
fn a_kind_trains_by_hand_unless_its_penalty_is_autograd_only() {
    for kind in ModelKind::all() {
        let by_hand = kind.penalty().is_none_or(|p| p.manual.is_some());
        // A conditional kind (cvae) trains through autograd whatever its penalty.
        let by_hand = by_hand && !kind.is_conditional();
        // So does a kind trained on the importance-weighted bound (iwae).
        let by_hand = by_hand && kind.knob("k").is_none();
        assert_eq!(kind.gradients() == Gradients::Manual, by_hand, "{kind}");
    }
    assert_eq!(ModelKind::Cvae.gradients(), Gradients::Autograd);
    assert_eq!(ModelKind::Iwae.gradients(), Gradients::Autograd);
    assert_eq!(ModelKind::Cae.gradients(), Gradients::Manual);
    assert_eq!(ModelKind::Sae.gradients(), Gradients::Manual);
}

#[test]
fn knob_defaults_fit_their_ranges_and_keys_are_unique_per_kind() {
    for kind in ModelKind::all() {
        let keys: Vec<_> = kind.knobs().map(|k| k.key).collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(!keys[..i].contains(k), "{kind}: {k} twice");
        }
        for k in kind.knobs() {
            assert_eq!(k.check(&k.default_value()), Ok(k.default_value()));
        }
    }
    // The same key means the same knob in every kind that has it.
    let all = all_knobs();
    for k in &all {
        for kind in kinds_with(k.key) {
            assert_eq!(kind.knob(k.key), Some(*k));
        }
    }
}

#[test]
fn knob_checks_name_the_knob_and_normalise_choices() {
    assert!(
        BETA.check(&KnobValue::Number(-1.0))
            .unwrap_err()
            .to_string()
            .contains("β -1")
    );
    assert!(
        BETA.check(&KnobValue::Number(f32::NAN))
            .unwrap_err()
            .to_string()
            .contains("out of range")
    );
    assert_eq!(
        NOISE_KIND.check(&KnobValue::Choice("Masking".into())),
        Ok(KnobValue::Choice("masking".into()))
    );
    assert!(
        NOISE_KIND
            .check(&KnobValue::Choice("salt".into()))
            .unwrap_err()
            .to_string()
            .contains("gaussian, masking")
    );
}

#[test]
fn masking_zeroes_about_the_given_fraction_and_gaussian_noise_has_the_given_sigma() {
    use rand::SeedableRng;
    let mut rng = PortableRng::seed_from_u64(5);
    let n = 20_000;
    let x = Tensor::from_vec(vec![0.5f32; n], (1, n), &candle_core::Device::Cpu).unwrap();
    let mut cfg = ModelConfig::new(ModelKind::Dae, n, Likelihood::Gaussian);
    cfg.set_knob("noise_kind", KnobValue::Choice("masking".into()))
        .unwrap();
    cfg.set_knob("noise_level", KnobValue::Number(0.25))
        .unwrap();
    let masked: Vec<f32> = corrupt_with_noise(&cfg, &x, &mut rng)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let zeros = masked.iter().filter(|&&v| v == 0.0).count() as f64 / n as f64;
    // Binomial(20000, 0.25): sd of the fraction is about 0.003.
    assert!((zeros - 0.25).abs() < 0.015, "dropped {zeros}");
    assert!(masked.iter().all(|&v| v == 0.0 || v == 0.5));

    cfg.set_knob("noise_kind", KnobValue::Choice("gaussian".into()))
        .unwrap();
    cfg.set_knob("noise_level", KnobValue::Number(0.2)).unwrap();
    let noisy: Vec<f32> = corrupt_with_noise(&cfg, &x, &mut rng)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let mean = noisy.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let var = noisy
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
    assert!((var.sqrt() - 0.2).abs() < 0.01, "sd {}", var.sqrt());
}

#[test]
fn masking_above_one_is_refused() {
    let mut cfg = ModelConfig::new(ModelKind::Dae, 4, Likelihood::Gaussian);
    cfg.set_knob("noise_level", KnobValue::Number(2.0)).unwrap();
    assert!(cfg.validate().is_ok(), "gaussian sigma 2 is fine");
    cfg.set_knob("noise_kind", KnobValue::Choice("masking".into()))
        .unwrap();
    assert!(cfg.validate().unwrap_err().to_string().contains("masking"));
}
