//! A short run on built-in data: losses fall, classes separate, same seed same numbers,
//! divergence stops one model only, and the worker thread always ends.

use latentlab::data::{self, Dataset, Sizes};
use latentlab::model::{Likelihood, ModelConfig, ModelKind};
use latentlab::train::{EpochSummary, TrainCommand, TrainConfig, TrainEvent, Trainer, WORKER_THREAD_NAME};
use std::sync::Arc;
use std::time::Duration;

fn digits(train: usize, test: usize) -> Arc<Dataset> {
    Arc::new(data::load_with_sizes("digits", 1, Some(Sizes { train, test })).unwrap())
}

fn config(ds: &Dataset, kinds: &[ModelKind], epochs: usize) -> TrainConfig {
    let models = kinds
        .iter()
        .map(|&k| {
            let mut m = ModelConfig::new(k, ds.dim(), if ds.shape.is_image() { Likelihood::Bernoulli } else { Likelihood::Gaussian });
            m.hidden = vec![256, 128];
            m
        })
        .collect();
    let mut c = TrainConfig::new(models);
    c.epochs = Some(epochs);
    c.display_count = 1000;
    c
}

/// Runs to the end and returns the epoch summaries and every other event.
fn run(cfg: TrainConfig, ds: Arc<Dataset>) -> (Vec<EpochSummary>, Vec<TrainEvent>) {
    let trainer = Trainer::spawn(cfg, ds, None).unwrap();
    assert!(trainer.send(TrainCommand::Start));
    let mut summaries = Vec::new();
    let mut others = Vec::new();
    loop {
        match trainer.events().recv_timeout(Duration::from_secs(300)).expect("worker went silent") {
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
    let ds = digits(12_000, 2_000);
    let (summaries, _) = run(config(&ds, &[ModelKind::Ae, ModelKind::Vae], 4), ds);
    assert_eq!(summaries.len(), 4);
    let first = &summaries[0];
    let last = &summaries[3];
    for (a, b) in first.models.iter().zip(&last.models) {
        assert!(b.test.loss < a.test.loss, "{}: test loss {} -> {}", a.name, a.test.loss, b.test.loss);
        assert!(b.knn_accuracy > 0.8, "{}: 5-NN accuracy on 2-D codes only {}", b.name, b.knn_accuracy);
        eprintln!("{}: test loss {:.1} -> {:.1}, kNN {:.3}", a.name, a.test.loss, b.test.loss, b.knn_accuracy);
    }
    let vae = &last.models[1];
    assert!(vae.test.kl > 1.0, "a 2-D VAE uses its code: KL {}", vae.test.kl);
    assert!(vae.test.elbo.unwrap() < 0.0 && (vae.test.elbo.unwrap() + vae.test.recon + vae.test.kl).abs() < 1e-6);
    assert!(vae.test.mean_code_recon.unwrap() < vae.test.recon, "decoding μ beats decoding a sample");
    assert_eq!(last.models[0].test.kl, 0.0);
}

#[test]
fn same_seed_same_numbers() {
    let ds = digits(600, 200);
    let mut cfg = config(&ds, &[ModelKind::Vae, ModelKind::Dae], 1);
    cfg.batch_size = 64;
    let (a, _) = run(cfg.clone(), ds.clone());
    let (b, _) = run(cfg.clone(), ds.clone());
    assert_eq!(a, b);
    cfg.seed = 2;
    let (c, _) = run(cfg, ds);
    assert_ne!(a[0].models[0].test, c[0].models[0].test);
}

#[test]
fn a_diverging_model_stops_alone_and_keeps_its_last_good_weights() {
    let ds = digits(1000, 200);
    let mut cfg = config(&ds, &[ModelKind::Ae, ModelKind::Vae], 2);
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
    assert!(diverged[0].1 >= 1 && diverged[0].1 <= 5, "diverges within a few steps: {}", diverged[0].1);
    let last = summaries.last().unwrap();
    assert!(last.models[0].diverged && !last.models[1].diverged);
    assert!(last.models[0].test.loss.is_finite(), "last good weights evaluate to a finite loss");
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
fn pause_step_resume_reset_and_stop_without_leaking_the_thread() {
    let ds = digits(2000, 200);
    let cfg = config(&ds, &[ModelKind::Ae], 1000);
    let mut trainer = Trainer::spawn(cfg.clone(), ds.clone(), None).unwrap();
    let next_progress = |t: &Trainer| loop {
        if let TrainEvent::Progress(p) = t.events().recv_timeout(Duration::from_secs(60)).unwrap() {
            return p;
        }
    };
    // Step once while paused: exactly one step.
    trainer.send(TrainCommand::Step);
    assert_eq!(next_progress(&trainer).step, 1);
    trainer.send(TrainCommand::Start);
    let running = next_progress(&trainer).step;
    trainer.send(TrainCommand::Pause);
    loop {
        if let TrainEvent::Paused = trainer.events().recv_timeout(Duration::from_secs(60)).unwrap() {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let before: Vec<_> = trainer.events().try_iter().filter_map(|e| if let TrainEvent::Progress(p) = e { Some(p.step) } else { None }).collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(trainer.events().try_iter().filter(|e| matches!(e, TrainEvent::Progress(_))).count(), 0, "no progress while paused");
    assert!(before.iter().all(|&s| s >= running));
    // Reset with a bad config: an error, and the old run stays usable.
    let mut bad = cfg.clone();
    bad.lr = -1.0;
    trainer.send(TrainCommand::Reset(Box::new(bad), None));
    loop {
        match trainer.events().recv_timeout(Duration::from_secs(60)).unwrap() {
            TrainEvent::Error(e) => {
                assert!(e.contains("learning rate -1"), "{e}");
                break;
            }
            _ => continue,
        }
    }
    // Reset with a good one: steps count from zero again.
    trainer.send(TrainCommand::Reset(Box::new(cfg), None));
    trainer.send(TrainCommand::Step);
    assert_eq!(next_progress(&trainer).step, 1);
    trainer.send(TrainCommand::Start);
    next_progress(&trainer);
    trainer.stop();
    assert!(!trainer.is_alive());
    drop(trainer);
    // Drop without an explicit stop also ends the thread.
    let t = Trainer::spawn(config(&ds, &[ModelKind::Ae], 1000), ds, None).unwrap();
    t.send(TrainCommand::Start);
    std::thread::sleep(Duration::from_millis(200));
    drop(t);
    assert_eq!(worker_threads(), 0, "a worker thread outlived its Trainer");
}

/// Worker threads of this process that are still alive (Linux: /proc/self/task).
fn worker_threads() -> usize {
    let prefix = &WORKER_THREAD_NAME[..15.min(WORKER_THREAD_NAME.len())];
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == prefix))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn bad_configs_are_refused_with_a_message() {
    let ds = digits(300, 100);
    let mut cfg = config(&ds, &[ModelKind::Ae, ModelKind::Ae], 1);
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
