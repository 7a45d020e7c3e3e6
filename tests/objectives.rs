//! Free bits and capacity annealing do what the papers say, in short runs on the built-in
//! digits through the worker (as the window and the command line train): a floor on each
//! dimension's KL keeps more units active, and a capacity target makes the KL follow C as
//! it rises with the steps, where a plain β-VAE settles elsewhere.

mod common;

use common::{config, digits};
use latentlab::data::Dataset;
use latentlab::model::{KnobValue, ModelKind};
use latentlab::train::{EpochSummary, TrainCommand, TrainConfig, TrainEvent, Trainer};
use std::sync::Arc;
use std::time::Duration;

/// Runs to the end and returns the epoch summaries.
fn run(cfg: TrainConfig, ds: Arc<Dataset>) -> Vec<EpochSummary> {
    let trainer = Trainer::spawn(cfg, ds, None).unwrap();
    assert!(trainer.send(TrainCommand::Start));
    let mut summaries = Vec::new();
    loop {
        match trainer
            .events()
            .recv_timeout(Duration::from_secs(300))
            .expect("worker went silent")
        {
            TrainEvent::EpochSummary(s) => summaries.push(s),
            TrainEvent::Finished { .. } => break,
            TrainEvent::Error(e) => panic!("worker error: {e}"),
            TrainEvent::Diverged { model, .. } => panic!("{model} diverged"),
            _ => {}
        }
    }
    summaries
}

/// One model of `kind` with code size `latent` and `knobs`, trained for `epochs` epochs.
fn one_model(
    ds: &Arc<Dataset>,
    kind: ModelKind,
    latent: usize,
    epochs: usize,
    knobs: &[(&str, f32)],
) -> Vec<EpochSummary> {
    let mut cfg = config(ds, &[kind], epochs, &[128, 64]);
    let model = &mut cfg.models[0];
    model.latent_dim = latent;
    for &(key, v) in knobs {
        model.set_knob(key, KnobValue::Number(v)).unwrap();
    }
    run(cfg, ds.clone())
}

#[test]
fn free_bits_keep_more_units_of_a_16_dim_vae_active() {
    let ds = digits(6_000, 1_000);
    let active = |lambda: f32| -> (usize, f64) {
        let summaries = one_model(&ds, ModelKind::Vae, 16, 4, &[("free_bits", lambda)]);
        let last = &summaries.last().unwrap().models[0];
        (last.test.active_units.unwrap(), last.test.kl)
    };
    let (plain, plain_kl) = active(0.0);
    let (floored, floored_kl) = active(0.5);
    eprintln!(
        "active units of 16: λ = 0: {plain} (test KL {plain_kl:.2}); λ = 0.5: {floored} \\
         (test KL {floored_kl:.2})"
    );
    assert!(
        floored >= plain + 3,
        "λ = 0.5 keeps {floored} units active, λ = 0 keeps {plain}"
    );
}

#[test]
fn a_capacity_target_makes_the_kl_follow_c_as_it_rises() {
    let ds = digits(6_000, 1_000);
    let (c_max, ramp) = (6.0f32, 300.0f32);
    let annealed = one_model(
        &ds,
        ModelKind::BetaVae,
        10,
        6,
        &[("capacity", c_max), ("capacity_steps", ramp)],
    );
    let plain = one_model(&ds, ModelKind::BetaVae, 10, 6, &[]);
    for (a, p) in annealed.iter().zip(&plain) {
        let c = f64::from(c_max) * (a.step as f64 / f64::from(ramp)).min(1.0);
        eprintln!(
            "step {}: C {c:.2}, capacity's test KL {:.2}, β = 4's test KL {:.2}",
            a.step, a.models[0].test.kl, p.models[0].test.kl
        );
    }
    // Every epoch's test KL sits near that step's C: on the ramp and after it.
    for s in &annealed {
        let c = f64::from(c_max) * (s.step as f64 / f64::from(ramp)).min(1.0);
        let kl = s.models[0].test.kl;
        assert!((kl - c).abs() < 0.5, "step {}: test KL {kl} vs C {c}", s.step);
    }
    let plain_kl = plain.last().unwrap().models[0].test.kl;
    assert!(
        (plain_kl - f64::from(c_max)).abs() > 2.0,
        "the plain β-VAE's KL {plain_kl} is near C_max too: the test shows nothing"
    );
}
