//! The trainer pauses, steps, resumes, resets and stops without leaking its thread.
//! (Its own test binary, so no other test's worker threads are alive in the process.)

mod common;

use common::{config, digits};
use latentlab::model::ModelKind;
use latentlab::train::{TrainCommand, TrainEvent, Trainer, WORKER_THREAD_NAME};
use std::time::Duration;

/// The first event `pick` accepts, skipping the others (fails after a minute of silence).
fn next<T>(t: &Trainer, pick: impl Fn(TrainEvent) -> Option<T>) -> T {
    loop {
        let ev = t.events().recv_timeout(Duration::from_secs(60));
        if let Some(found) = pick(ev.expect("the worker went silent")) {
            return found;
        }
    }
}

fn progress_step(ev: TrainEvent) -> Option<u64> {
    match ev {
        TrainEvent::Progress(p) => Some(p.step),
        _ => None,
    }
}

#[test]
fn pause_step_resume_reset_and_stop_without_leaking_the_thread() {
    let ds = digits(2000, 200);
    let cfg = config(&ds, &[ModelKind::Ae], 1000, &[64]);
    let mut trainer = Trainer::spawn(cfg.clone(), ds.clone(), None).unwrap();
    assert!(trainer.is_alive());
    assert_worker_threads(1, "the count sees a live worker");
    // Step once while paused: exactly one step.
    trainer.send(TrainCommand::Step);
    assert_eq!(next(&trainer, progress_step), 1);
    trainer.send(TrainCommand::Start);
    let running = next(&trainer, progress_step);
    trainer.send(TrainCommand::Pause);
    next(&trainer, |e| matches!(e, TrainEvent::Paused).then_some(()));
    std::thread::sleep(Duration::from_millis(300));
    let before: Vec<u64> = trainer
        .events()
        .try_iter()
        .filter_map(progress_step)
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let after = trainer
        .events()
        .try_iter()
        .filter_map(progress_step)
        .count();
    assert_eq!(after, 0, "no progress while paused");
    assert!(before.iter().all(|&s| s >= running));
    // Reset with a bad config: an error, and the old run stays usable.
    let mut bad = cfg.clone();
    bad.lr = -1.0;
    trainer.send(TrainCommand::Reset(Box::new(bad), None));
    let error = next(&trainer, |e| match e {
        TrainEvent::Error(m) => Some(m),
        _ => None,
    });
    assert!(error.contains("learning rate -1"), "{error}");
    // Reset with a good one: steps count from zero again.
    trainer.send(TrainCommand::Reset(Box::new(cfg), None));
    trainer.send(TrainCommand::Step);
    assert_eq!(next(&trainer, progress_step), 1);
    trainer.send(TrainCommand::Start);
    next(&trainer, progress_step);
    assert!(trainer.is_alive(), "training");
    trainer.stop();
    assert!(!trainer.is_alive(), "the worker's body ended");
    assert_worker_threads(0, "stop ends the thread");
    drop(trainer);
    // Drop without an explicit stop also ends the thread.
    let t = Trainer::spawn(config(&ds, &[ModelKind::Ae], 1000, &[64]), ds, None).unwrap();
    t.send(TrainCommand::Start);
    std::thread::sleep(Duration::from_millis(200));
    assert!(t.is_alive());
    assert_worker_threads(1, "a second worker runs");
    drop(t);
    assert_worker_threads(0, "a worker thread outlived its Trainer");
}

/// Asserts how many worker threads this process has, by name in /proc/self/task, waiting
/// up to a second for it to become true (a new thread names itself as it starts; an ended
/// one may be listed for a moment after the join). Fails if /proc cannot be read.
#[cfg(target_os = "linux")]
fn assert_worker_threads(expected: usize, why: &str) {
    let mut count = worker_threads();
    for _ in 0..100 {
        if count == expected {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
        count = worker_threads();
    }
    assert_eq!(count, expected, "{why}");
}

/// Without /proc the test counts on `is_alive` alone.
#[cfg(not(target_os = "linux"))]
fn assert_worker_threads(_expected: usize, _why: &str) {}

/// Worker threads of this process that are alive now.
#[cfg(target_os = "linux")]
fn worker_threads() -> usize {
    // The kernel keeps the first 15 bytes of a thread's name.
    let prefix = &WORKER_THREAD_NAME[..15.min(WORKER_THREAD_NAME.len())];
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task is readable");
    let mut count = 0;
    for task in tasks {
        let comm = task.expect("a task entry").path().join("comm");
        match std::fs::read_to_string(&comm) {
            Ok(name) => count += usize::from(name.trim() == prefix),
            // A thread that ended while we listed the tasks.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("cannot read {}: {e}", comm.display()),
        }
    }
    count
}
