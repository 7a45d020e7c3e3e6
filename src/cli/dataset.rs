//! `latentlab dataset`: make or load a data set, describe it (shape, classes, factors),
//! and optionally write a sheet of samples or the IDX files.

use super::args::DatasetArgs;
use super::output::out;
use crate::data::{self, Dataset};
use crate::report as figure;
use anyhow::{Result, anyhow};

pub(super) fn dataset(a: DatasetArgs) -> Result<()> {
    a.check_ranges().map_err(|e| anyhow!(e))?;
    let spec = a.folder.apply(&a.name).map_err(|e| anyhow!(e))?;
    let ds = load_dataset(&spec, a.seed)?;
    let shape = match ds.shape {
        data::ItemShape::Image {
            channels,
            width,
            height,
        } => {
            let kind = if channels == 1 { "gray" } else { "colour" };
            format!("{width}x{height} {kind} images")
        }
        data::ItemShape::Points { dim } => format!("{dim}-D points"),
    };
    out!(
        "{}: {} train, {} test, {shape}, {} classes: {}",
        ds.name,
        ds.train.len(),
        ds.test.len(),
        ds.num_classes(),
        ds.class_names.join(", ")
    );
    if !ds.factor_names.is_empty() {
        let k = ds.factor_names.len();
        // Each factor with how many values it takes in this set.
        let counts: Vec<String> = ds
            .factor_names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let values = (0..ds.train.len())
                    .map(|i| ds.train.factors_of(i, k).get(j).copied().unwrap_or(0))
                    .max()
                    .map_or(0, |m| m + 1);
                format!("{name} ({values} values)")
            })
            .collect();
        out!("factors: {}", counts.join(", "));
    }
    if let Some(path) = a.sheet {
        figure::data_sheet(&path, &ds, a.per_class)?;
        out!("sheet: {}", path.display());
    }
    if let Some(dir) = a.export_idx {
        data::export_idx_dir(&ds, &dir)?;
        out!("idx: {}", dir.display());
    }
    Ok(())
}

/// Loads a data set by its spec, the error prefixed "data set:".
pub(super) fn load_dataset(spec: &str, seed: u64) -> Result<Dataset> {
    data::load(spec, seed).map_err(|e| anyhow!("data set: {e}"))
}
