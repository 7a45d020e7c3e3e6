//! Saving on the worker: checkpoint descriptions and a whole run folder.

use super::{Session, Slot};
use crate::model::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use crate::train::messages::*;
use crate::train::run::{self, RunSave};
use std::path::PathBuf;

impl Session {
    /// The checkpoint description of `slot` now.
    fn checkpoint_meta(&self, slot: &Slot, metrics: &[ModelEpoch]) -> CheckpointMeta {
        CheckpointMeta {
            format_version: FORMAT_VERSION,
            name: slot.name.clone(),
            config: slot.model.config.clone(),
            dataset: self.data.name.clone(),
            item_shape: self.data.shape,
            class_names: self.data.class_names.clone(),
            epoch: self.epoch,
            step: self.step,
            lr: slot.opt.lr,
            seed: self.config.seed,
            test_metrics: metrics
                .iter()
                .find(|m| m.name == slot.name)
                .map(|m| m.test.clone()),
        }
    }

    /// Writes every model's checkpoint into the run's staging folder, then finishes the
    /// run (run.json last, renamed into place).
    pub(in crate::train) fn save_run(
        &mut self,
        save: &RunSave,
        metrics: &[ModelEpoch],
    ) -> std::result::Result<PathBuf, run::RunError> {
        let mut models = Vec::new();
        for slot in &self.slots {
            let meta = self.checkpoint_meta(slot, metrics);
            let written = checkpoint::to_bytes(&slot.model, &meta)
                .map_err(|e| run::RunError::Invalid {
                    path: save.staging.path().display().to_string(),
                    why: e.to_string(),
                })
                .and_then(|(json, weights)| {
                    save.staging
                        .write(&format!("{}.safetensors", slot.name), &weights)?;
                    save.staging.write(&format!("{}.json", slot.name), &json)
                });
            if let Err(e) = written {
                save.staging.abandon();
                return Err(e);
            }
            models.push(run::ModelEntry {
                name: slot.name.clone(),
                kind: slot.model.config.kind,
                checkpoint: slot.name.clone(),
            });
        }
        let fingerprint = self
            .fingerprint
            .get_or_insert_with(|| run::fingerprint(&self.data))
            .clone();
        let manifest = run::Manifest {
            format: run::RUN_FORMAT.into(),
            version: run::RUN_VERSION,
            written_by: format!("latentlab {}", env!("CARGO_PKG_VERSION")),
            spec: save.spec.clone(),
            grid_k: save.grid_k,
            data: run::DataInfo {
                name: self.data.name.clone(),
                seed: save.spec.seed,
                train: self.data.train.len(),
                test: self.data.test.len(),
                fingerprint,
                factor_names: self.data.factor_names.clone(),
            },
            models,
            step: self.step,
            epoch: self.epoch,
            batches_per_epoch: self.order.batches_per_epoch(),
            elapsed_secs: self.elapsed.as_secs_f64(),
            files: Vec::new(),
        };
        run::commit(&save.staging, manifest)
    }
}
