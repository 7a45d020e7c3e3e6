//! A short run on built-in data: losses fall, classes separate, same seed same numbers,
//! divergence stops one model only and falls back to good weights, and the worker thread
//! always ends.

use latentlab::data::Dataset;
mod common;

use common::{config, digits};
use latentlab::model::{Autoencoder, ModelKind, evaluate};
use latentlab::rng::PortableRng;
use latentlab::train::{EpochSummary, TrainCommand, TrainConfig, TrainEvent, Trainer};
use rand::SeedableRng;
use std::sync::Arc;
use std::time::Duration;

/// Runs to the end and returns the epoch summaries and every other event.
fn run(cfg: TrainConfig, ds: Arc<Dataset>) -> (Vec<EpochSummary>, Vec<TrainEvent>) {
    run_with(cfg, ds, |_, _| {})
}

/// Like [`run`], calling `react` with the trainer after every epoch summary.
fn run_with(
    cfg: TrainConfig,
    ds: Arc<Dataset>,
    react: impl Fn(&Trainer, &EpochSummary),
) -> (Vec<EpochSummary>, Vec<TrainEvent>) {
    let trainer = Trainer::spawn(cfg, ds, None).unwrap();
    assert!(trainer.send(TrainCommand::Start));
    let mut summaries = Vec::new();
    let mut others = Vec::new();
    loop {
        match trainer
            .events()
            .recv_timeout(Duration::from_secs(300))
            .expect("worker went silent")
        {
            TrainEvent::EpochSummary(s) => {
                react(&trainer, &s);
                summaries.push(s);
            }
            TrainEvent::Finished { .. } => break,
            TrainEvent::Error(e) => panic!("worker error: {e}"),
            ev => others.push(ev),
        }
    }
    (summaries, others)
}

#[test]
fn ae_and_vae_losses_fall_and_classes_separate() {
    // A shortened version of the 10-epoch demo with the default settings: a third of the data.
    let ds = digits(20_000, 2_000);
    let mut cfg = config(&ds, &[ModelKind::Ae, ModelKind::Vae], 6, &[128, 64]);
    cfg.iw_samples = 5;
    let (summaries, _) = run(cfg, ds);
    assert_eq!(summaries.len(), 6);
    let first = &summaries[0];
    let last = &summaries[5];
    for (a, b) in first.models.iter().zip(&last.models) {
        eprintln!(
            "{}: test loss {:.1} -> {:.1}, 5-NN {:.3} -> {:.3}",
            a.name, a.test.loss, b.test.loss, a.knn_accuracy, b.knn_accuracy
        );
    }
    for (a, b) in first.models.iter().zip(&last.models) {
        assert!(
            b.test.loss < a.test.loss - 5.0,
            "{}: test loss {} -> {}",
            a.name,
            a.test.loss,
            b.test.loss
        );
        assert!(
            b.train.loss < a.train.loss,
            "{}: train loss {} -> {}",
            a.name,
            a.train.loss,
            b.train.loss
        );
        assert!(
            b.knn_accuracy > 0.75,
            "{}: 5-NN accuracy on 2-D codes only {}",
            b.name,
            b.knn_accuracy
        );
    }
    let (ae, vae) = (&last.models[0], &last.models[1]);
    assert!(
        vae.test.kl > 1.0,
        "a 2-D VAE uses its code: KL {}",
        vae.test.kl
    );
    let mean_code_recon = vae.test.mean_code_recon.unwrap();
    assert!(
        mean_code_recon < vae.test.recon,
        "decoding μ beats decoding a sample"
    );
    // More importance samples give a tighter bound: log p(x) estimated with 5 lies above
    // the ELBO (one sample), and below 0 (grey pixels have a Bernoulli entropy). For this
    // 2-D VAE the 5 samples gain a nat or two over the ELBO (1.6 at seed 1); more than 5
    // nats means the estimator weighs its samples wrongly.
    let (elbo, log_px) = (vae.test.elbo.unwrap(), vae.test.log_px.unwrap());
    eprintln!(
        "vae: ELBO {elbo:.2}, log p(x) ≈ {log_px:.2}; ae recon {:.1}",
        ae.test.recon
    );
    assert!(
        elbo < log_px && log_px < 0.0,
        "ELBO {elbo}, log p(x) {log_px}"
    );
    assert!(log_px - elbo < 5.0, "ELBO {elbo}, log p(x) {log_px}");
    // The AE pays no KL for its code, so it reconstructs better than the VAE's μ does.
    assert!(
        ae.test.recon < mean_code_recon,
        "AE recon {} against the VAE's {mean_code_recon}",
        ae.test.recon
    );
}

#[test]
fn same_seed_same_numbers() {
    let ds = digits(600, 200);
    let mut cfg = config(&ds, &[ModelKind::Vae, ModelKind::Dae], 1, &[256, 128]);
    cfg.batch_size = 64;
    // Timing differs from run to run; every number that training computes must not.
    let metrics = |s: Vec<EpochSummary>| {
        s.into_iter()
            .map(|e| (e.step, e.models))
            .collect::<Vec<_>>()
    };
    // One run snapshots after every step, the other hardly ever: snapshots draw their own
    // noise, so the training numbers must not notice.
    cfg.epochs = Some(2);
    let mut often = cfg.clone();
    often.snapshot_interval_ms = 0;
    cfg.snapshot_interval_ms = 600_000;
    let a = metrics(run(often, ds.clone()).0);
    let b = metrics(run(cfg.clone(), ds.clone()).0);
    assert_eq!(a, b);
    // Two threads step the two models at once: each has its own stream, so the same numbers.
    let mut parallel = cfg.clone();
    parallel.threads = 2;
    assert_eq!(metrics(run(parallel, ds.clone()).0), b);
    // A model's numbers do not depend on which other models train beside it.
    let mut alone = cfg.clone();
    alone.models.remove(0);
    let dae_alone = metrics(run(alone, ds.clone()).0);
    assert_eq!(dae_alone[1].1[0], b[1].1[1]);
    cfg.seed = 2;
    let c = metrics(run(cfg, ds).0);
    assert_ne!(a[0].1[0].test, c[0].1[0].test);
}

#[test]
fn a_model_that_diverges_after_good_steps_falls_back_to_good_weights_and_stops_alone() {
    let ds = digits(2000, 200);
    let mut cfg = config(&ds, &[ModelKind::Ae, ModelKind::Vae], 3, &[256, 128]);
    cfg.lr = 3e-3;
    // The AE keeps its own rate; the VAE takes the run's, which goes up after an epoch.
    cfg.models[0].lr_override = Some(1e-3);
    let (summaries, events) = run_with(cfg.clone(), ds.clone(), |t, s| {
        if s.epoch == 1 {
            // A rate that sends the VAE's log-variance to infinity within a few steps.
            assert!(t.send(TrainCommand::SetLr(10.0)));
        }
    });
    let diverged: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Diverged { model, step, .. } => Some((model.clone(), *step)),
            _ => None,
        })
        .collect();
    assert_eq!(diverged.len(), 1, "{diverged:?}");
    assert_eq!(diverged[0].0, "vae");
    let good_steps = summaries[0].step;
    assert!(
        diverged[0].1 > good_steps,
        "diverges after the good steps: at {}",
        diverged[0].1
    );
    let last = summaries.last().unwrap();
    assert!(!last.models[0].diverged && last.models[1].diverged);
    assert!(last.models[0].test.loss < summaries[0].models[0].test.loss + 5.0);
    // The kept weights are trained ones: far better than an untrained VAE's.
    let untrained =
        Autoencoder::new(cfg.models[1].clone(), &mut PortableRng::seed_from_u64(9)).unwrap();
    let mut rng = PortableRng::seed_from_u64(5);
    let untrained = evaluate(&untrained, &ds.test, ds.dim(), &mut rng, 0).unwrap();
    let kept = &last.models[1].test;
    eprintln!(
        "vae test loss: untrained {:.1}, after epoch 1 {:.1}, kept {:.1}",
        untrained.loss, summaries[0].models[1].test.loss, kept.loss
    );
    assert!(
        kept.loss < untrained.loss - 100.0,
        "kept weights {} against untrained {}",
        kept.loss,
        untrained.loss
    );
    let snapshot = events.iter().rev().find_map(|e| match e {
        TrainEvent::Snapshot(s) => Some(s.clone()),
        _ => None,
    });
    let s = snapshot.expect("snapshots arrive");
    assert!(s.models[1].diverged);
    assert!(s.models[1].codes.iter().all(|v| v.is_finite()));
    assert!(s.models[1].recon.iter().all(|v| v.is_finite()));
}

#[test]
fn bad_configs_are_refused_with_a_message() {
    let ds = digits(300, 100);
    let mut cfg = config(&ds, &[ModelKind::Ae, ModelKind::Ae], 1, &[256, 128]);
    let t = Trainer::spawn(cfg.clone(), ds.clone(), None).unwrap();
    match t.events().recv_timeout(Duration::from_secs(10)).unwrap() {
        TrainEvent::Error(e) => assert!(e.contains("listed twice"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
    cfg.models.pop();
    cfg.models[0].input_dim = 2;
    let t = Trainer::spawn(cfg, ds, None).unwrap();
    match t.events().recv_timeout(Duration::from_secs(10)).unwrap() {
        TrainEvent::Error(e) => assert!(e.contains("expects items of 2 values"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
}
