//! The background trainer: a named worker thread, bounded channels, cooperative stop.

pub mod messages;
mod session;
pub mod spec;
mod worker;

pub use messages::*;
pub use spec::RunSpec;
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
    handle: Option<JoinHandle<()>>,
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
        let io = worker::WorkerIo {
            commands: cmd_rx,
            events: ev_tx,
            stop: stop.clone(),
            notify,
        };
        let handle = std::thread::Builder::new()
            .name(WORKER_THREAD_NAME.into())
            .spawn(move || worker::run(config, data, io))?;
        Ok(Self {
            commands: cmd_tx,
            events: ev_rx,
            stop,
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

    /// True while the worker thread runs.
    pub fn is_alive(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Stops the worker after its current step and waits for the thread to end.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.commands.try_send(TrainCommand::Stop).ok();
        // Unblock a worker that waits to deliver an important event.
        while self.events.try_recv().is_ok() {}
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
