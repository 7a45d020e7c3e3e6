//! A projection computed on its own thread, polled by the window once a frame.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;

use super::{Projection, ProjectionError, project};

/// What a finished job hands back.
type Outcome = Result<Vec<[f32; 2]>, ProjectionError>;

/// One [`project`] call running on a thread named `projection`. Poll it with
/// [`ProjectionJob::try_result`]; dropping it cancels it.
pub struct ProjectionJob {
    method: Projection,
    progress: Arc<AtomicU32>,
    cancel: Arc<AtomicBool>,
    handle: Option<JoinHandle<Outcome>>,
}

impl ProjectionJob {
    /// Starts projecting `codes` (rows of `dim` values, moved to the thread) with `method`.
    /// Errs only when no thread can be started; bad codes come back from `try_result`.
    pub fn start(
        codes: Vec<f32>,
        dim: usize,
        method: Projection,
        seed: u64,
    ) -> Result<Self, ProjectionError> {
        let progress = Arc::new(AtomicU32::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let handle = std::thread::Builder::new()
            .name("projection".into())
            .spawn({
                let (progress, cancel) = (progress.clone(), cancel.clone());
                move || project(&codes, dim, method, seed, &progress, &cancel)
            })
            .map_err(|e| ProjectionError::Failed(format!("no thread for the projection: {e}")))?;
        Ok(Self {
            method,
            progress,
            cancel,
            handle: Some(handle),
        })
    }

    /// The method this job runs.
    pub fn method(&self) -> Projection {
        self.method
    }

    /// How far it is, per mille (1000 when done).
    pub fn progress_per_mille(&self) -> u32 {
        self.progress.load(Ordering::Relaxed).min(1000)
    }

    /// Whether it is still computing (false once its result is ready or taken).
    pub fn running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// The points, or why there are none, once finished: `Some` exactly once, `None`
    /// before and after.
    pub fn try_result(&mut self) -> Option<Outcome> {
        if !self.handle.as_ref()?.is_finished() {
            return None;
        }
        let handle = self.handle.take()?;
        Some(handle.join().unwrap_or_else(|_| {
            Err(ProjectionError::Failed(
                "the projection thread stopped unexpectedly".into(),
            ))
        }))
    }

    /// Asks the thread to stop; its result will be [`ProjectionError::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Drop for ProjectionJob {
    /// Cancels. The thread is joined only if it has already finished: the neighbour search
    /// of t-SNE checks the flag only between phases, and a frame must not wait for it. It
    /// owns nothing but its copy of the codes, and ends within a second.
    fn drop(&mut self) {
        self.cancel();
        if let Some(handle) = self.handle.take().filter(|h| h.is_finished()) {
            handle.join().ok();
        }
    }
}
