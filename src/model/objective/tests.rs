//! The KL term the knobs choose, its kinks on hand-computed numbers, and the knobs' checks.
//! (Its gradients through the network: `backward/objective_tests.rs`.)

use super::*;
use crate::model::{KnobValue, Likelihood, ModelKind};

fn config(kind: ModelKind, knobs: &[(&str, f32)]) -> ModelConfig {
    let mut c = ModelConfig::new(kind, 4, Likelihood::Bernoulli);
    for &(key, v) in knobs {
        c.set_knob(key, KnobValue::Number(v)).unwrap();
    }
    c
}

#[test]
fn the_capacity_rises_linearly_over_its_steps_then_holds() {
    let at = |steps_done| Schedule::new(1.0, steps_done);
    assert_eq!(capacity_at(10.0, 1000.0, at(0)), 0.0);
    assert_eq!(capacity_at(10.0, 1000.0, at(250)), 2.5);
    assert_eq!(capacity_at(10.0, 1000.0, at(1000)), 10.0);
    assert_eq!(capacity_at(10.0, 1000.0, at(7000)), 10.0);
    assert_eq!(capacity_at(10.0, 0.0, at(0)), 10.0, "no ramp");
}

#[test]
fn knobs_at_zero_leave_the_plain_kl_term_and_others_choose_theirs() {
    let at = Schedule::new(0.5, 300);
    // Defaults: today's objective, β·KL (β-VAE) or KL (VAE), times the warm-up.
    assert_eq!(
        KlTerm::of(&config(ModelKind::Vae, &[]), at),
        KlTerm::Weighted { weight: 0.5 }
    );
    assert_eq!(
        KlTerm::of(&config(ModelKind::BetaVae, &[]), at),
        KlTerm::Weighted { weight: 2.0 }
    );
    let floored = config(ModelKind::Vae, &[("free_bits", 0.25)]);
    assert_eq!(
        KlTerm::of(&floored, at),
        KlTerm::FreeBits {
            weight: 0.5,
            floor: 0.25
        }
    );
    // γ and the ramp matter only with a capacity: C = 8 · 300/1000.
    let ramp = [("capacity_steps", 1000.0), ("gamma", 100.0)];
    assert_eq!(
        KlTerm::of(&config(ModelKind::BetaVae, &ramp), at),
        KlTerm::Weighted { weight: 2.0 }
    );
    let annealed = config(ModelKind::BetaVae, &[ramp[0], ramp[1], ("capacity", 8.0)]);
    match KlTerm::of(&annealed, at) {
        KlTerm::Capacity { weight, target } => {
            assert_eq!(weight, 50.0);
            assert!((target - 2.4).abs() < 1e-12, "{target}");
        }
        other => panic!("{other:?}"),
    }
    // A capacity switches β off: the reported total loss weighs the KL by 1 then.
    assert!(uses_beta(&config(ModelKind::BetaVae, &[])));
    assert!(!uses_beta(&annealed));
    assert_eq!(kl_weight(&annealed), 1.0);
    assert_eq!(
        kl_weight(&config(ModelKind::BetaVae, &[("beta", 3.0)])),
        3.0
    );
    assert!(!uses_beta(&config(ModelKind::Vae, &[])));
}

#[test]
fn free_bits_hold_the_dimensions_below_the_floor_and_capacity_pulls_from_either_side() {
    // Three dimensions' batch-mean KLs: 0.1 below λ = 0.5, 0.7 and 1.2 above.
    let kl_dims = [0.1, 0.7, 1.2];
    let kl = 2.0;
    let floored = KlTerm::FreeBits {
        weight: 2.0,
        floor: 0.5,
    };
    assert_eq!(floored.value(kl, &kl_dims), 2.0 * (0.5 + 0.7 + 1.2));
    assert_eq!(floored.dim_weights(kl, &kl_dims), [0.0, 2.0, 2.0]);
    // Above every dimension: nothing moves the KL.
    let high = KlTerm::FreeBits {
        weight: 1.0,
        floor: 5.0,
    };
    assert_eq!(high.value(kl, &kl_dims), 15.0);
    assert_eq!(high.dim_weights(kl, &kl_dims), [0.0; 3]);
    // γ|KL − C|: KL above C pushes it down, below C pulls it up, at C candle's |x|' = +1.
    for (target, sign, value) in [(1.5, 1.0, 50.0), (3.0, -1.0, 100.0), (2.0, 1.0, 0.0)] {
        let term = KlTerm::Capacity {
            weight: 100.0,
            target,
        };
        assert_eq!(term.value(kl, &kl_dims), value, "C = {target}");
        assert_eq!(term.dim_weights(kl, &kl_dims), [100.0 * sign; 3]);
    }
    // The plain term weighs every dimension alike.
    let plain = KlTerm::Weighted { weight: 4.0 };
    assert_eq!(plain.value(kl, &kl_dims), 8.0);
    assert_eq!(plain.dim_weights(kl, &kl_dims), [4.0; 3]);
}

#[test]
fn negative_or_non_finite_knob_values_are_refused_with_the_knobs_name() {
    let cases = [
        (ModelKind::Vae, "free_bits", "free bits"),
        (ModelKind::BetaVae, "capacity", "capacity"),
        (ModelKind::BetaVae, "gamma", "γ"),
        (ModelKind::BetaVae, "capacity_steps", "C steps"),
    ];
    for (kind, key, label) in cases {
        let mut c = ModelConfig::new(kind, 4, Likelihood::Bernoulli);
        for bad in [-1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let e = c.set_knob(key, KnobValue::Number(bad)).unwrap_err();
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("{label} {bad} is out of range (0 to ")),
                "{key} {bad}: {text}"
            );
        }
        // Refused values never reach the config; a file holding one fails validation.
        assert_eq!(
            c.knobs.get(key),
            ModelConfig::new(kind, 4, Likelihood::Bernoulli)
                .knobs
                .get(key)
        );
        c.knobs.insert(key.into(), KnobValue::Number(-2.0));
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains(&format!("{label} -2"))
        );
        // The free bits belong to the vae, the capacity's knobs to the beta-vae only.
        let other = if kind == ModelKind::Vae {
            ModelKind::BetaVae
        } else {
            ModelKind::Vae
        };
        let mut c = ModelConfig::new(other, 4, Likelihood::Bernoulli);
        assert!(
            c.set_knob(key, KnobValue::Number(1.0)).is_err(),
            "{other} {key}"
        );
    }
}
