//! A short run on built-in data: losses fall, classes separate, same seed same numbers,
//! divergence stops one model only, and the worker thread always ends.

use latentlab::data::Dataset;
mod common;

use common::{config, digits};
use latentlab::model::ModelKind;
use latentlab::train::{EpochSummary, TrainCommand, TrainConfig, TrainEvent, Trainer};
use std::sync::Arc;
use std::time::Duration;

/// Runs to the end and returns the epoch summaries and every other event.
fn run(cfg: TrainConfig, ds: Arc<Dataset>) -> (Vec<EpochSummary>, Vec<TrainEvent>) {
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
            TrainEvent::EpochSummary(s) => summaries.push(s),
            TrainEvent::Finished { .. } => break,
            TrainEvent::Error(e) => panic!("worker error: {e}"),
            ev => others.push(ev),
        }
    }
    (summaries, others)
}

#[test]
fn ae_and_vae_losses_fall_and_classes_separate() {
    // A shortened version of the 10-epoch demo: a third of the data, a higher learning rate.
    let ds = digits(20_000, 2_000);
    let mut cfg = config(&ds, &[ModelKind::Ae, ModelKind::Vae], 4, &[256, 128]);
    for m in &mut cfg.models {
        m.hidden = vec![512, 256];
    }
    cfg.lr = 3e-3;
    let (summaries, _) = run(cfg, ds);
    assert_eq!(summaries.len(), 4);
    let first = &summaries[0];
    let last = &summaries[3];
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
    let vae = &last.models[1];
    assert!(
        vae.test.kl > 1.0,
        "a 2-D VAE uses its code: KL {}",
        vae.test.kl
    );
    assert!(
        vae.test.elbo.unwrap() < 0.0
            && (vae.test.elbo.unwrap() + vae.test.recon + vae.test.kl).abs() < 1e-6
    );
    assert!(
        vae.test.mean_code_recon.unwrap() < vae.test.recon,
        "decoding μ beats decoding a sample"
    );
    assert_eq!(last.models[0].test.kl, 0.0);
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
    cfg.seed = 2;
    let c = metrics(run(cfg, ds).0);
    assert_ne!(a[0].1[0].test, c[0].1[0].test);
}

#[test]
fn a_diverging_model_stops_alone_and_keeps_its_last_good_weights() {
    let ds = digits(1000, 200);
    let mut cfg = config(&ds, &[ModelKind::Ae, ModelKind::Vae], 2, &[256, 128]);
    cfg.models[0].lr_override = Some(1e30);
    let (summaries, events) = run(cfg, ds);
    let diverged: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Diverged { model, step, .. } => Some((model.clone(), *step)),
            _ => None,
        })
        .collect();
    assert_eq!(diverged.len(), 1, "{diverged:?}");
    assert_eq!(diverged[0].0, "ae");
    assert!(
        diverged[0].1 >= 1 && diverged[0].1 <= 5,
        "diverges within a few steps: {}",
        diverged[0].1
    );
    let last = summaries.last().unwrap();
    assert!(last.models[0].diverged && !last.models[1].diverged);
    assert!(
        last.models[0].test.loss.is_finite(),
        "last good weights evaluate to a finite loss"
    );
    assert!(last.models[1].test.loss < summaries[0].models[1].test.loss + 5.0);
    let snapshot = events.iter().rev().find_map(|e| match e {
        TrainEvent::Snapshot(s) => Some(s.clone()),
        _ => None,
    });
    let s = snapshot.expect("snapshots arrive");
    assert!(s.models[0].diverged);
    assert!(s.models[0].codes.iter().all(|v| v.is_finite()));
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
