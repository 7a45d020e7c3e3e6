//! The trainer pauses, steps, resumes, resets and stops without leaking its thread.
//! (Its own test binary, so no other test's worker threads are alive in the process.)

mod common;

use common::{config, digits};
use latentlab::model::ModelKind;
use latentlab::train::{TrainCommand, TrainEvent, Trainer, WORKER_THREAD_NAME};
use std::time::Duration;

#[test]
fn pause_step_resume_reset_and_stop_without_leaking_the_thread() {
    let ds = digits(2000, 200);
    let cfg = config(&ds, &[ModelKind::Ae], 1000, &[64]);
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
        if let TrainEvent::Paused = trainer
            .events()
            .recv_timeout(Duration::from_secs(60))
            .unwrap()
        {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let before: Vec<_> = trainer
        .events()
        .try_iter()
        .filter_map(|e| {
            if let TrainEvent::Progress(p) = e {
                Some(p.step)
            } else {
                None
            }
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        trainer
            .events()
            .try_iter()
            .filter(|e| matches!(e, TrainEvent::Progress(_)))
            .count(),
        0,
        "no progress while paused"
    );
    assert!(before.iter().all(|&s| s >= running));
    // Reset with a bad config: an error, and the old run stays usable.
    let mut bad = cfg.clone();
    bad.lr = -1.0;
    trainer.send(TrainCommand::Reset(Box::new(bad), None));
    loop {
        match trainer
            .events()
            .recv_timeout(Duration::from_secs(60))
            .unwrap()
        {
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
    let t = Trainer::spawn(config(&ds, &[ModelKind::Ae], 1000, &[64]), ds, None).unwrap();
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
                .filter(|e| {
                    std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == prefix)
                })
                .count()
        })
        .unwrap_or(0)
}
