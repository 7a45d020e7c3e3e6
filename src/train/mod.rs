//! The background trainer: a named worker thread, bounded channels, cooperative stop.

pub mod channels;
pub mod limits;
pub mod messages;
pub mod run;
mod session;
pub mod spec;
pub mod timeline;
mod worker;

pub use channels::{TrainCommand, TrainEvent};
pub use messages::*;
pub use spec::RunSpec;
pub use timeline::Timeline;
pub use worker::Notify;

use crate::data::Dataset;
use crossbeam_channel::{Receiver, Sender, bounded};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// Room in the event queue; progress is dropped when it is half full.
const EVENT_CAPACITY: usize = 256;
/// Room in the command queue.
const COMMAND_CAPACITY: usize = 64;

/// Name of the worker thread (visible in debuggers and in the thread-leak test).
pub const WORKER_THREAD_NAME: &str = "latentlab-trainer";

/// Owns the worker thread. Dropping it stops and joins the thread.
pub struct Trainer {
    commands: Sender<TrainCommand>,
    events: Receiver<TrainEvent>,
    stop: Arc<AtomicBool>,
    /// True until the worker thread's body has returned (or unwound).
    alive: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// Clears the trainer's `alive` flag when the worker thread's body ends, even by a panic.
struct AliveGuard(Arc<AtomicBool>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Trainer {
    /// Starts the worker with `config` on `data`. It builds the models, sends `Ready`
    /// (or `Error`), and waits for `Start` or `Step`. `notify` is called after events.
    pub fn spawn(
        config: TrainConfig,
        data: Arc<Dataset>,
        notify: Option<Notify>,
    ) -> std::io::Result<Self> {
        let (cmd_tx, cmd_rx) = bounded(COMMAND_CAPACITY);
        let (ev_tx, ev_rx) = bounded(EVENT_CAPACITY);
        let stop = Arc::new(AtomicBool::new(false));
        let alive = Arc::new(AtomicBool::new(true));
        let io = worker::WorkerIo::new(cmd_rx, ev_tx, stop.clone(), notify);
        let guard = AliveGuard(alive.clone());
        let handle = std::thread::Builder::new()
            .name(WORKER_THREAD_NAME.into())
            .spawn(move || {
                let _guard = guard;
                worker::run(config, data, io);
            })?;
        Ok(Self {
            commands: cmd_tx,
            events: ev_rx,
            stop,
            alive,
            handle: Some(handle),
        })
    }

    /// Sends a command; returns false if the queue is full or the worker has ended.
    pub fn send(&self, cmd: TrainCommand) -> bool {
        self.commands.try_send(cmd).is_ok()
    }

    /// The event queue (drain with `try_recv` in a UI, `recv` on the command line).
    pub fn events(&self) -> &Receiver<TrainEvent> {
        &self.events
    }

    /// True while the worker thread's body runs (false once it returned, also after `stop`).
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Stops the worker after its current step and waits for the thread to end.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.commands.try_send(TrainCommand::Stop).ok();
        if let Some(h) = self.handle.take() {
            h.join().ok();
        }
    }
}

impl Drop for Trainer {
    fn drop(&mut self) {
        self.stop();
    }
}
