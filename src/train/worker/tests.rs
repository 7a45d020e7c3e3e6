//! The worker driven by hand, without a thread: the test holds both channels, calls
//! `handle` and `tick`, and reads the events.

use super::*;
use crate::data::{self, Sizes};
use crate::model::{KnobValue, Likelihood, ModelConfig, ModelKind, batch_tensor, checkpoint};
use crate::rng::PortableRng;
use crate::train::session::KEEP_EVERY_STEPS;
use candle_core::Tensor;
use crossbeam_channel::bounded;
use rand::SeedableRng;

/// 300 training and 100 test digits (seed 1).
fn digits() -> Arc<Dataset> {
    let sizes = Sizes {
        train: 300,
        test: 100,
    };
    Arc::new(data::load_with_sizes("digits", 1, Some(sizes)).unwrap())
}

/// Tiny models (hidden [16], 2-D codes), batches of 30 (10 per epoch), no epoch limit, and
/// clocks so slow that only steps and commands make events.
fn config(ds: &Dataset, kinds: &[ModelKind]) -> TrainConfig {
    let models = kinds
        .iter()
        .map(|&k| {
            let mut m = ModelConfig::new(k, ds.dim(), Likelihood::Bernoulli);
            m.hidden = vec![16];
            m
        })
        .collect();
    let mut c = TrainConfig::new(models);
    c.batch_size = 30;
    c.display_count = 50;
    c.recon_count = 5;
    c.progress_interval_ms = 600_000;
    c.snapshot_interval_ms = 600_000;
    c
}

/// A worker on channels the test holds; `capacity` is the room in the event queue.
fn worker(
    cfg: TrainConfig,
    ds: Arc<Dataset>,
    capacity: usize,
) -> (Worker, Receiver<TrainEvent>, Sender<TrainCommand>) {
    let (cmd_tx, cmd_rx) = bounded(8);
    let (ev_tx, ev_rx) = bounded(capacity);
    let io = WorkerIo::new(cmd_rx, ev_tx, Arc::new(AtomicBool::new(false)), None);
    let w = Worker::new(cfg, ds, io).expect("the config is good");
    (w, ev_rx, cmd_tx)
}

fn drain(rx: &Receiver<TrainEvent>) -> Vec<TrainEvent> {
    rx.try_iter().collect()
}

fn errors(events: &[TrainEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Error(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn ticks(w: &mut Worker, n: usize) {
    for _ in 0..n {
        w.tick();
    }
}

/// The latest snapshot among `events`.
fn last_snapshot(events: &[TrainEvent]) -> Arc<Snapshot> {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            TrainEvent::Snapshot(s) => Some(s.clone()),
            _ => None,
        })
        .expect("a snapshot")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn flat(weights: &[Tensor]) -> Vec<f32> {
    weights
        .iter()
        .flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .collect()
}

#[test]
fn step_while_paused_takes_exactly_one_step_and_stays_paused() {
    let ds = digits();
    let (mut w, rx, _cmd) = worker(config(&ds, &[ModelKind::Ae]), ds, 256);
    assert!(matches!(drain(&rx)[..], [TrainEvent::Ready { .. }]));
    ticks(&mut w, 3);
    assert_eq!(w.session.step, 0, "a new run waits for Start or Step");
    w.handle(TrainCommand::Step);
    ticks(&mut w, 4);
    assert_eq!(w.session.step, 1, "Step takes one step, then stays paused");
    let events = drain(&rx);
    assert!(!events.iter().any(|e| matches!(e, TrainEvent::Running)));
    let steps: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Progress(p) => Some(p.step),
            _ => None,
        })
        .collect();
    assert_eq!(steps, [1], "the single step reports where it is");
    assert_eq!(last_snapshot(&events).step, 1);
    // Running, then paused: no step until the next Step.
    w.handle(TrainCommand::Start);
    ticks(&mut w, 3);
    w.handle(TrainCommand::Pause);
    ticks(&mut w, 3);
    assert_eq!(w.session.step, 4);
    w.handle(TrainCommand::Step);
    ticks(&mut w, 3);
    assert_eq!(w.session.step, 5);
    let events = drain(&rx);
    assert!(matches!(events[0], TrainEvent::Running));
    assert!(events.iter().any(|e| matches!(e, TrainEvent::Paused)));
}

#[test]
fn train_until_stops_at_exactly_that_step_and_shows_it() {
    let ds = digits();
    let (mut w, rx, _cmd) = worker(config(&ds, &[ModelKind::Vae]), ds, 256);
    drain(&rx);
    w.handle(TrainCommand::TrainUntil(7));
    ticks(&mut w, 20);
    assert_eq!(w.session.step, 7, "stops at the asked step, not after");
    let events = drain(&rx);
    assert!(events.iter().any(|e| matches!(e, TrainEvent::Paused)));
    assert_eq!(last_snapshot(&events).step, 7, "a snapshot of that step");
    // Already there: nothing more is trained, the picture is sent again.
    w.handle(TrainCommand::TrainUntil(5));
    ticks(&mut w, 5);
    assert_eq!(w.session.step, 7);
    assert_eq!(last_snapshot(&drain(&rx)).step, 7);
    // Pause ends it early.
    w.handle(TrainCommand::TrainUntil(100));
    ticks(&mut w, 3);
    w.handle(TrainCommand::Pause);
    ticks(&mut w, 5);
    assert_eq!(w.session.step, 10);
}

#[test]
fn progress_after_pause_then_step_keeps_finite_losses_and_a_rate() {
    let ds = digits();
    let mut cfg = config(&ds, &[ModelKind::Ae, ModelKind::Vae]);
    cfg.progress_interval_ms = 0;
    let (mut w, rx, _cmd) = worker(cfg, ds, 256);
    w.handle(TrainCommand::Start);
    ticks(&mut w, 3);
    w.handle(TrainCommand::Pause);
    // A report with no new step (what the window asks for while paused).
    let idle = w.session.progress();
    w.handle(TrainCommand::Step);
    ticks(&mut w, 2);
    let progresses: Vec<Progress> = drain(&rx)
        .into_iter()
        .filter_map(|e| match e {
            TrainEvent::Progress(p) => Some(p),
            _ => None,
        })
        .chain([idle])
        .collect();
    assert!(progresses.len() >= 2);
    for p in &progresses {
        assert!(
            p.samples_per_sec > 0.0,
            "step {}: rate {}",
            p.step,
            p.samples_per_sec
        );
        for l in &p.losses {
            assert!(!l.diverged && l.loss.is_finite(), "step {}: {l:?}", p.step);
        }
    }
}

#[test]
fn start_or_step_after_the_last_epoch_sends_finished_again() {
    let ds = digits();
    let mut cfg = config(&ds, &[ModelKind::Ae]);
    cfg.epochs = Some(1);
    let (mut w, rx, _cmd) = worker(cfg, ds, 256);
    w.handle(TrainCommand::Start);
    ticks(&mut w, 15);
    assert_eq!(w.session.step, 10, "one epoch of 10 batches, then it stops");
    let events = drain(&rx);
    let finished = |e: &TrainEvent| matches!(e, TrainEvent::Finished { step: 10, epoch: 1 });
    assert_eq!(events.iter().filter(|e| finished(e)).count(), 1);
    for cmd in [TrainCommand::Start, TrainCommand::Step] {
        w.handle(cmd);
        ticks(&mut w, 3);
        let events = drain(&rx);
        assert!(events.first().is_some_and(finished), "{events:?}");
        assert!(!events.iter().any(|e| matches!(e, TrainEvent::Running)));
        assert_eq!(w.session.step, 10);
    }
}

#[test]
fn set_lr_changes_every_optimiser_except_one_with_its_own_rate() {
    let ds = digits();
    let mut cfg = config(&ds, &[ModelKind::Ae, ModelKind::Vae, ModelKind::BetaVae]);
    cfg.models[0].lr_override = Some(0.01);
    let (mut w, rx, _cmd) = worker(cfg, ds, 256);
    let lrs = |w: &Worker| -> Vec<f64> { w.session.slots.iter().map(|s| s.opt.lr).collect() };
    assert_eq!(lrs(&w), [0.01, 1e-3, 1e-3]);
    w.handle(TrainCommand::SetLr(0.005));
    assert_eq!(lrs(&w), [0.01, 0.005, 0.005]);
    assert_eq!(w.session.config.lr, 0.005);
    drain(&rx);
    for bad in [0.0, -1.0, 11.0, f64::NAN] {
        w.handle(TrainCommand::SetLr(bad));
    }
    let errors = errors(&drain(&rx));
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(
        errors[0].contains("learning rate 0 is out of range"),
        "{errors:?}"
    );
    assert_eq!(
        lrs(&w),
        [0.01, 0.005, 0.005],
        "a bad value keeps the old one"
    );
}

#[test]
fn set_knob_reaches_only_the_kinds_that_have_it_and_refuses_a_bad_value() {
    let ds = digits();
    let cfg = config(&ds, &[ModelKind::Vae, ModelKind::BetaVae]);
    let (mut w, rx, _cmd) = worker(cfg, ds, 256);
    let betas = |w: &Worker| -> Vec<f64> {
        w.session
            .slots
            .iter()
            .map(|s| s.model.kl_weight())
            .collect()
    };
    let beta = |v: f32| TrainCommand::SetKnob {
        key: "beta".into(),
        value: KnobValue::Number(v),
    };
    assert_eq!(betas(&w), [1.0, 4.0]);
    w.handle(beta(2.0));
    assert_eq!(betas(&w), [1.0, 2.0]);
    drain(&rx);
    w.handle(beta(-1.0));
    let errors = errors(&drain(&rx));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("beta-vae: β -1"), "{errors:?}");
    assert_eq!(betas(&w), [1.0, 2.0], "a bad value keeps the old one");
    // A knob every kind has reaches every optimiser.
    w.handle(TrainCommand::SetKnob {
        key: "weight_decay".into(),
        value: KnobValue::Number(0.02),
    });
    let decay: Vec<f64> = w.session.slots.iter().map(|s| s.opt.weight_decay).collect();
    assert!(decay.iter().all(|d| (d - 0.02).abs() < 1e-9), "{decay:?}");
}

#[test]
fn a_model_saved_from_the_worker_loads_decodes_the_same_and_trains_on() {
    let ds = digits();
    let kinds = [ModelKind::Ae, ModelKind::Vae, ModelKind::Dae];
    let (mut w, rx, _cmd) = worker(config(&ds, &kinds), ds.clone(), 256);
    w.handle(TrainCommand::Start);
    ticks(&mut w, 15);
    w.handle(TrainCommand::Pause);
    w.handle(TrainCommand::RequestSnapshot);
    w.tick();
    let dir = tempfile::tempdir().unwrap();
    let save = crate::train::run::RunSave {
        staging: crate::train::run::Staging::begin(&dir.path().join("run"), false).unwrap(),
        // The settings of `config`: a run's settings must build its models to open.
        spec: crate::train::RunSpec {
            dataset: "digits".into(),
            models: kinds.to_vec(),
            hidden: vec![16],
            batch_size: 30,
            ..crate::train::RunSpec::default()
        },
        grid_k: None,
    };
    w.handle(TrainCommand::SaveRun(Box::new(save)));
    let events = drain(&rx);
    let snapshot = last_snapshot(&events);
    assert_eq!(snapshot.step, 15);
    let saved = events
        .iter()
        .find_map(|e| match e {
            TrainEvent::RunSaved(r) => Some(r.clone()),
            _ => None,
        })
        .expect("SaveRun is answered")
        .expect("the save worked");
    let paths = crate::train::run::open_run(&saved).unwrap().checkpoints;
    assert_eq!(paths.len(), kinds.len());
    let z: Vec<f32> = (0..40).map(|i| (i as f32 * 0.7).sin() * 2.5).collect();
    let z_tensor = Tensor::from_slice(&z, (20, 2), &candle_core::Device::Cpu).unwrap();
    let x = batch_tensor(ds.test.gather(&(0..30).collect::<Vec<_>>(), 784), 784).unwrap();
    for (i, path) in paths.iter().enumerate() {
        let (model, meta) = checkpoint::load(path).unwrap();
        assert_eq!((meta.step, meta.epoch, meta.config.kind), (15, 1, kinds[i]));
        assert!(
            meta.test_metrics.is_some(),
            "the last epoch's metrics go along"
        );
        // Decoder: the loaded model's probabilities against the worker's snapshot decoder.
        let logits = model.decode_raw(&z_tensor).unwrap();
        let loaded = candle_nn::ops::sigmoid(&logits).unwrap();
        let loaded: Vec<f32> = loaded.flatten_all().unwrap().to_vec1().unwrap();
        let shown = snapshot.models[i].decoder.decode(&z).unwrap();
        assert!(max_abs_diff(&loaded, &shown) < 1e-6, "{}", kinds[i]);
        // Encoder: the same codes as the worker's model.
        let codes = |m: &crate::model::Autoencoder| -> Vec<f32> {
            m.encode(&x)
                .unwrap()
                .0
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        let worker_codes = codes(&w.session.slots[i].model);
        assert!(max_abs_diff(&codes(&model), &worker_codes) < 1e-6);
        // Resume: it keeps training with finite losses.
        let mut opt = model.optimizer(meta.lr);
        let mut rng = PortableRng::seed_from_u64(3);
        for _ in 0..20 {
            let values = model
                .train_step(&mut opt, &x, &mut rng, crate::model::Schedule::START)
                .unwrap();
            assert!(values.is_some_and(|v| v.is_finite()));
        }
    }
}

/// Drives `run` on a helper thread and fails instead of hanging if it blocks.
fn within_a_minute<T: Send + 'static>(run: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = bounded(1);
    std::thread::spawn(move || tx.send(run()).ok());
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the worker blocked on a full event queue")
}

#[test]
fn a_full_event_queue_never_blocks_and_loses_only_progress_and_snapshots() {
    let ds = digits();
    let mut cfg = config(&ds, &[ModelKind::Ae, ModelKind::Vae]);
    cfg.epochs = Some(3);
    // Progress and a snapshot after every step, were there room.
    cfg.progress_interval_ms = 0;
    cfg.snapshot_interval_ms = 0;
    let (w, rx, cmd) = worker(cfg, ds, 8);
    // Nobody reads while it trains three epochs and refuses three bad learning rates.
    let mut w = within_a_minute(move || {
        let mut w = w;
        w.handle(TrainCommand::Start);
        for tick in 0..35 {
            if tick % 10 == 5 && tick < 30 {
                w.handle(TrainCommand::SetLr(-1.0));
            }
            w.tick();
        }
        w
    });
    assert_eq!(w.session.step, 30, "it kept training");
    assert_eq!(rx.len(), 8, "the queue is full");
    // Now read, letting the worker deliver what it held back.
    let mut events = Vec::new();
    while !rx.is_empty() || !w.io.backlog.is_empty() {
        events.extend(rx.try_iter());
        w.tick();
    }
    events.extend(rx.try_iter());
    let must_arrive: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Ready { .. } => Some("ready".to_string()),
            TrainEvent::Running => Some("running".into()),
            TrainEvent::Error(m) if m.contains("learning rate -1") => Some("error".into()),
            TrainEvent::EpochSummary(s) => Some(format!("epoch {}", s.epoch)),
            TrainEvent::Finished { step: 30, epoch: 3 } => Some("finished".into()),
            TrainEvent::Progress(_) | TrainEvent::Snapshot(_) => None,
            other => Some(format!("unexpected {other:?}")),
        })
        .collect();
    let expected = [
        "ready", "running", "error", "epoch 1", "error", "epoch 2", "error", "epoch 3", "finished",
    ];
    assert_eq!(must_arrive, expected);
    let dropped_kinds = events.len() - expected.len();
    assert!(
        dropped_kinds < 30,
        "most progress and snapshots were dropped, yet {dropped_kinds} arrived"
    );
    drop(cmd);
}

#[test]
fn a_diverged_model_falls_back_to_its_weights_at_the_last_keep_point() {
    let ds = digits();
    let mut cfg = config(&ds, &[ModelKind::Vae, ModelKind::Ae]);
    // 150 batches per epoch, so no epoch end falls between the keep-points used here.
    cfg.batch_size = 2;
    cfg.lr = 3e-3;
    cfg.models[1].lr_override = Some(1e-3);
    let (mut w, rx, _cmd) = worker(cfg, ds.clone(), 1024);
    let vae = |w: &Worker| w.session.slots[0].model.weights().unwrap();
    let initial = flat(&vae(&w));
    w.handle(TrainCommand::Start);
    ticks(&mut w, 2 * KEEP_EVERY_STEPS as usize);
    let at_keep_point = flat(&vae(&w));
    ticks(&mut w, 20);
    // Good steps so far; now a rate that diverges the VAE: its own, which SetLr applies.
    assert!(!w.session.slots[0].diverged);
    w.session.slots[0].model.config.lr_override = Some(1e30);
    w.handle(TrainCommand::SetLr(1e-3));
    let diverged_at = (0..3 * KEEP_EVERY_STEPS).find_map(|_| {
        w.tick();
        drain(&rx).into_iter().find_map(|e| match e {
            TrainEvent::Diverged { model, step, .. } => Some((model, step)),
            _ => None,
        })
    });
    let (model, step) = diverged_at.expect("lr 1e30 diverges the VAE");
    assert_eq!(model, "vae");
    // Step s diverging means steps up to s - 1 were finite: the keep-point at 2K held (its
    // step 2K + 1 was finite) and the next one, 3K, did not happen before step 3K + 1.
    assert!(
        step > 2 * KEEP_EVERY_STEPS + 20 && step <= 3 * KEEP_EVERY_STEPS + 1,
        "diverged at step {step}"
    );
    let restored = flat(&vae(&w));
    let off = max_abs_diff(&restored, &at_keep_point);
    assert!(
        off == 0.0,
        "not the last keep-point's weights: off by up to {off}"
    );
    let moved = max_abs_diff(&restored, &initial);
    assert!(moved > 0.0, "the restored weights are the initial ones");
    let x = batch_tensor(ds.test.gather(&(0..30).collect::<Vec<_>>(), 784), 784).unwrap();
    let m = &w.session.slots[0].model;
    let (mu, _) = m.encode(&x).unwrap();
    let decoded: Vec<f32> = m
        .decode_raw(&mu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert!(decoded.iter().all(|v| v.is_finite()));
    assert!(
        !w.session.slots[1].diverged,
        "the AE trains on at its own rate"
    );
}

#[test]
fn recon_numbers_are_the_nll_of_the_reconstruction_shown() {
    let ds = digits();
    let kinds = [ModelKind::Ae, ModelKind::Vae, ModelKind::Dae];
    let (mut w, rx, _cmd) = worker(config(&ds, &kinds), ds, 256);
    w.handle(TrainCommand::Start);
    ticks(&mut w, 20);
    w.handle(TrainCommand::Pause);
    w.handle(TrainCommand::RequestSnapshot);
    w.tick();
    let snap = last_snapshot(&drain(&rx));
    let clean = &snap.recon_inputs;
    for (i, m) in snap.models.iter().enumerate() {
        assert_eq!(m.recon_losses.len(), 5);
        for (item, &shown_nll) in m.recon_losses.iter().enumerate() {
            let range = item * 784..(item + 1) * 784;
            // Bernoulli NLL of the clean pixels under the shown probabilities, by hand.
            let nll: f64 = m.recon[range.clone()]
                .iter()
                .zip(&clean[range])
                .map(|(&p, &x)| {
                    let (p, x) = (f64::from(p), f64::from(x));
                    -(x * p.ln() + (1.0 - x) * (1.0 - p).ln())
                })
                .sum();
            let tolerance = 1e-4 * nll + 1e-2;
            assert!(
                (nll - f64::from(shown_nll)).abs() < tolerance,
                "{} item {item}: shown {shown_nll}, the image's NLL {nll}",
                m.name
            );
        }
        // The denoiser's image is the decoding of the corrupted input it shows.
        if let Some(noisy) = &m.noisy_inputs {
            let model = &w.session.slots[i].model;
            let (mu, _) = model
                .encode(&batch_tensor(noisy.clone(), 784).unwrap())
                .unwrap();
            let codes: Vec<f32> = mu.flatten_all().unwrap().to_vec1().unwrap();
            assert!(max_abs_diff(&m.decoder.decode(&codes).unwrap(), &m.recon) < 1e-6);
        }
    }
}

#[test]
fn the_kl_weight_warms_up_linearly_over_the_configured_epochs() {
    let ds = digits();
    let mut cfg = config(&ds, &[ModelKind::Vae]);
    cfg.kl_warmup_epochs = 2.0;
    let (mut w, _rx, _cmd) = worker(cfg, ds, 256);
    w.handle(TrainCommand::Start);
    // 10 steps per epoch: the factor is steps / 20 up to 1, then stays 1.
    let mut seen = Vec::new();
    for step in 0..=30u64 {
        assert_eq!(w.session.step, step);
        let expected = (step as f64 / 20.0).min(1.0);
        let factor = w.session.kl_warmup_factor();
        assert!((factor - expected).abs() < 1e-12, "step {step}: {factor}");
        seen.push(factor);
        w.tick();
    }
    assert_eq!(
        (seen[0], seen[10], seen[20], seen[30]),
        (0.0, 0.5, 1.0, 1.0)
    );
}

#[test]
fn timed_evaluations_come_every_interval_of_training_time() {
    let ds = digits();
    let mut cfg = config(&ds, &[ModelKind::Ae, ModelKind::Vae]);
    cfg.eval_every_secs = Some(0.1);
    let (mut w, rx, _cmd) = worker(cfg, ds, 4096);
    w.handle(TrainCommand::Start);
    let mut reports = Vec::new();
    for _ in 0..100_000 {
        w.tick();
        reports.extend(drain(&rx).into_iter().filter_map(|e| match e {
            TrainEvent::TestReport(r) => Some(r),
            _ => None,
        }));
        if w.session.elapsed.as_secs_f64() >= 0.45 {
            break;
        }
    }
    let trained = w.session.elapsed.as_secs_f64();
    assert!(trained >= 0.45, "trained only {trained} s");
    // One report per 0.1 s of training, each at the first step past its mark.
    let marks: Vec<f64> = reports.iter().map(|r| r.elapsed_secs).collect();
    assert_eq!(reports.len(), (trained / 0.1).floor() as usize, "{marks:?}");
    for (k, r) in reports.iter().enumerate() {
        let mark = 0.1 * (k + 1) as f64;
        assert!(
            r.elapsed_secs >= mark && r.elapsed_secs < mark + 0.1,
            "{marks:?}"
        );
        assert!(r.epoch >= 1 && r.epoch <= w.session.epoch + 1);
        assert_eq!(r.models.len(), 2);
        for m in &r.models {
            assert!(m.test.loss.is_finite() && (0.0..=1.0).contains(&m.knn_accuracy));
        }
    }
    let steps: Vec<u64> = reports.iter().map(|r| r.step).collect();
    assert!(steps.windows(2).all(|s| s[0] < s[1]), "{steps:?}");
}

/// The window is woken at most once per `WAKE_EVERY` however many events go out, and a
/// wake-up held back is not lost: a later tick delivers it.
#[test]
fn wake_ups_are_spaced_and_one_held_back_still_goes_out() {
    use std::sync::atomic::AtomicUsize;
    let ds = digits();
    let woken = Arc::new(AtomicUsize::new(0));
    let count = woken.clone();
    let notify: Notify = Arc::new(move || {
        count.fetch_add(1, Ordering::SeqCst);
    });
    let (_cmd_tx, cmd_rx) = bounded(8);
    let (ev_tx, ev_rx) = bounded(1024);
    let io = WorkerIo::new(
        cmd_rx,
        ev_tx,
        Arc::new(AtomicBool::new(false)),
        Some(notify),
    );
    let mut cfg = config(&ds, &[ModelKind::Ae]);
    // A progress event at every step: far more events than wake-ups.
    cfg.progress_interval_ms = 0;
    let mut w = Worker::new(cfg, ds, io).expect("the config is good");
    let started = Instant::now();
    w.handle(TrainCommand::Start);
    ticks(&mut w, 30);
    let elapsed = started.elapsed();
    let sent = drain(&ev_rx).len();
    let wakes = woken.load(Ordering::SeqCst);
    let allowed = 2 + (elapsed.as_millis() / WAKE_EVERY.as_millis()) as usize;
    assert!(sent >= 30, "a progress event per step: {sent} events");
    assert!(
        wakes <= allowed,
        "{wakes} wake-ups for {sent} events in {elapsed:?}: at most {allowed}"
    );
    // Paused, with its snapshot out, the worker has nothing more to send. After a quiet
    // interval an event wakes the window at once; a second one at once is held back, and
    // a tick after the interval (which sends nothing itself) delivers it.
    w.handle(TrainCommand::Pause);
    w.tick();
    assert!(!w.snapshot_wanted && !w.trains());
    std::thread::sleep(WAKE_EVERY);
    let before = woken.load(Ordering::SeqCst);
    w.io.send(TrainEvent::Error("a first event".into()));
    assert_eq!(
        woken.load(Ordering::SeqCst),
        before + 1,
        "after a quiet interval: at once"
    );
    w.io.send(TrainEvent::Error("a second event".into()));
    assert_eq!(
        woken.load(Ordering::SeqCst),
        before + 1,
        "too soon: held back"
    );
    std::thread::sleep(WAKE_EVERY);
    w.tick();
    assert_eq!(
        woken.load(Ordering::SeqCst),
        before + 2,
        "the held-back wake-up goes out on the next tick"
    );
}
