//! Save and load a model: `<name>.safetensors` (weights) + `<name>.json` (everything else).
//! The program saves checkpoints only inside a saved run (`train::run`), whose manifest
//! vouches for both files with their hashes; [`save`] writes a bare pair (each file through
//! a temporary file and a rename) for tools and tests.

use super::{Autoencoder, Likelihood, Metrics, ModelConfig, ModelKind};
use crate::data::ItemShape;
use candle_core::{Device, Tensor};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Version of the JSON layout, checked on load.
pub const FORMAT_VERSION: u32 = 1;
/// Largest description read: a real one takes about 2 kB.
pub const MAX_JSON_BYTES: u64 = 1 << 20;
/// Room for the safetensors header (names, shapes, offsets) beyond the weights themselves.
const WEIGHTS_HEADER_BYTES: u64 = 1 << 20;

/// What a checkpoint's JSON holds besides the weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Model name (the kind's name, unless the user named it).
    pub name: String,
    /// Network and objective.
    pub config: ModelConfig,
    /// The data set it was trained on (as given to `--dataset`).
    pub dataset: String,
    /// Shape of one item.
    pub item_shape: ItemShape,
    /// Class names of that data set.
    pub class_names: Vec<String>,
    /// Epochs completed.
    pub epoch: usize,
    /// Optimiser steps completed.
    pub step: u64,
    /// Learning rate used.
    pub lr: f64,
    /// Seed of the run.
    pub seed: u64,
    /// Latest test metrics, if evaluated.
    pub test_metrics: Option<Metrics>,
}

/// Why a checkpoint could not be written or read. Messages name the file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The JSON is not a LatentLab checkpoint.
    #[error("{path}: not a valid checkpoint description: {message}")]
    BadJson { path: String, message: String },
    /// The weights file is corrupt, truncated or does not fit the description.
    #[error("{path}: {message}")]
    BadWeights { path: String, message: String },
    /// Not a file to read: a folder, or larger than what it should hold could be.
    #[error("{path}: {message}")]
    Refused { path: String, message: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The JSON and weights paths for a checkpoint given as `x.json`, `x.safetensors` or `x`.
pub fn paths(path: &Path) -> (PathBuf, PathBuf) {
    let stem = match path.extension().and_then(|e| e.to_str()) {
        Some("json") | Some("safetensors") => path.with_extension(""),
        _ => path.to_path_buf(),
    };
    let with = |ext: &str| {
        let mut s = stem.clone().into_os_string();
        s.push(ext);
        PathBuf::from(s)
    };
    (with(".json"), with(".safetensors"))
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
fn write_atomic(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), CheckpointError>,
) -> Result<(), CheckpointError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let done = write(&tmp).and_then(|()| std::fs::rename(&tmp, path).map_err(io_err(path)));
    if done.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    done
}

/// A checkpoint as bytes: the description (JSON) and the weights (safetensors).
pub fn to_bytes(
    model: &Autoencoder,
    meta: &CheckpointMeta,
) -> Result<(Vec<u8>, Vec<u8>), CheckpointError> {
    let tensors: HashMap<String, Tensor> = model
        .named_vars()
        .into_iter()
        .map(|(k, v)| (k, v.as_tensor().clone()))
        .collect();
    let weights = safetensors::tensor::serialize(&tensors, None).map_err(|e| {
        CheckpointError::BadWeights {
            path: format!("{}.safetensors", meta.name),
            message: format!("could not write weights: {e}"),
        }
    })?;
    let json = serde_json::to_string_pretty(meta).map_err(|e| CheckpointError::BadJson {
        path: format!("{}.json", meta.name),
        message: e.to_string(),
    })?;
    Ok((json.into_bytes(), weights))
}

/// Saves `model` with `meta` as `<stem>.safetensors` and `<stem>.json`.
pub fn save(
    model: &Autoencoder,
    meta: &CheckpointMeta,
    stem: &Path,
) -> Result<(), CheckpointError> {
    let (json_path, weights_path) = paths(stem);
    if let Some(dir) = json_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    // Serialised in memory and written with a plain `File::create`, so the file gets the
    // same permissions as every other file we write (candle's `save` goes through a 0600
    // temporary file).
    let (json, bytes) = to_bytes(model, meta)?;
    write_atomic(&weights_path, |tmp| {
        std::fs::write(tmp, &bytes).map_err(io_err(tmp))
    })?;
    write_atomic(&json_path, |tmp| {
        std::fs::write(tmp, &json).map_err(io_err(tmp))
    })
}

/// The length of the file at `path`, refused if it is a folder or longer than `max` bytes
/// (`what` says what the file should hold), before anything is read.
fn checked_len(path: &Path, max: u64, what: &str) -> Result<u64, CheckpointError> {
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    let too_large = |message: String| CheckpointError::Refused {
        path: path.display().to_string(),
        message,
    };
    if meta.is_dir() {
        return Err(too_large("is a folder, not a file".into()));
    }
    if meta.len() > max {
        return Err(too_large(format!(
            "is {} bytes, more than the {max} {what} can take",
            meta.len()
        )));
    }
    Ok(meta.len())
}

/// A checkpoint given as a folder: say so, and name the descriptions in it.
fn folder_given(path: &Path) -> CheckpointError {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let hint = if names.is_empty() {
        "it holds no checkpoint descriptions (.json)".to_string()
    } else {
        format!("give one of its checkpoints: {}", names.join(", "))
    };
    CheckpointError::Refused {
        path: path.display().to_string(),
        message: format!("is a folder, not a checkpoint; {hint}"),
    }
}

/// Reads only the description.
pub fn load_meta(path: &Path) -> Result<CheckpointMeta, CheckpointError> {
    if path.is_dir() {
        return Err(folder_given(path));
    }
    let (json_path, _) = paths(path);
    checked_len(&json_path, MAX_JSON_BYTES, "bytes a checkpoint description")?;
    let text = std::fs::read_to_string(&json_path).map_err(io_err(&json_path))?;
    let bad = |message: String| CheckpointError::BadJson {
        path: json_path.display().to_string(),
        message,
    };
    let meta: CheckpointMeta = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if meta.format_version != FORMAT_VERSION {
        return Err(bad(format!(
            "format version {} (this build reads {FORMAT_VERSION})",
            meta.format_version
        )));
    }
    meta.config.validate().map_err(|e| bad(e.to_string()))?;
    check_fits_items(&meta).map_err(|e| bad(e.to_string()))?;
    Ok(meta)
}

/// Why a description does not fit the items it says it was trained on.
#[derive(Debug, thiserror::Error)]
enum Misfit {
    #[error("input_dim {input_dim} does not fit its items ({shape:?}: {} values each)", shape.dim())]
    InputDim { input_dim: usize, shape: ItemShape },
    #[error("a {found:?} likelihood does not fit {items} (they take {wanted:?})")]
    Likelihood {
        found: Likelihood,
        wanted: Likelihood,
        items: &'static str,
    },
}

/// Why the weights file's tensors are not the description's network.
#[derive(Debug, thiserror::Error)]
enum TensorProblem {
    #[error(
        "holds a tensor '{name}' that a {kind} with this description does not have \
         (does the .json belong to these weights?)"
    )]
    Unexpected { name: String, kind: ModelKind },
    #[error("tensor '{name}' is {dtype:?}; weights are f32")]
    NotF32 {
        name: String,
        dtype: candle_core::DType,
    },
    #[error("{0}")]
    Unreadable(#[from] candle_core::Error),
    #[error("tensor '{name}' holds a non-finite value ({value}) at index {index}")]
    NonFinite {
        name: String,
        value: f32,
        index: usize,
    },
}

/// The network's input and likelihood fit the items the description says it was trained
/// on: as many values as an item has, Bernoulli for images and Gaussian for points.
fn check_fits_items(meta: &CheckpointMeta) -> Result<(), Misfit> {
    let dim = meta.item_shape.dim();
    if meta.config.input_dim != dim {
        return Err(Misfit::InputDim {
            input_dim: meta.config.input_dim,
            shape: meta.item_shape,
        });
    }
    let wanted = if meta.item_shape.is_image() {
        Likelihood::Bernoulli
    } else {
        Likelihood::Gaussian
    };
    if meta.config.likelihood != wanted {
        return Err(Misfit::Likelihood {
            found: meta.config.likelihood,
            wanted,
            items: if meta.item_shape.is_image() {
                "images"
            } else {
                "points"
            },
        });
    }
    Ok(())
}

/// Every tensor of the file is one the description's network has (no extra ones), f32, and
/// finite: checked before any weight is taken.
fn check_tensors(
    tensors: &HashMap<String, Tensor>,
    model: &Autoencoder,
) -> Result<(), TensorProblem> {
    let kind = model.config.kind;
    let expected: std::collections::HashSet<String> =
        model.named_vars().into_iter().map(|(n, _)| n).collect();
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    for name in names {
        if !expected.contains(name) {
            return Err(TensorProblem::Unexpected {
                name: name.clone(),
                kind,
            });
        }
        let t = &tensors[name];
        if t.dtype() != candle_core::DType::F32 {
            return Err(TensorProblem::NotF32 {
                name: name.clone(),
                dtype: t.dtype(),
            });
        }
        let values: Vec<f32> = t.flatten_all().and_then(|t| t.to_vec1())?;
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(TensorProblem::NonFinite {
                name: name.clone(),
                value: values[index],
                index,
            });
        }
    }
    Ok(())
}

/// Loads a checkpoint: checks every tensor's presence and shape against the description.
pub fn load(path: &Path) -> Result<(Autoencoder, CheckpointMeta), CheckpointError> {
    let meta = load_meta(path)?;
    let (_, weights_path) = paths(path);
    let bad = |message: String| CheckpointError::BadWeights {
        path: weights_path.display().to_string(),
        message,
    };
    // Eight bytes a parameter (f64 at most) and the header: more is not these weights.
    let most = meta
        .config
        .parameter_count()
        .saturating_mul(8)
        .saturating_add(WEIGHTS_HEADER_BYTES);
    checked_len(&weights_path, most, "bytes the description's weights")?;
    let bytes = std::fs::read(&weights_path).map_err(io_err(&weights_path))?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
        .map_err(|e| bad(format!("corrupt or truncated weights file: {e}")))?;
    let model = Autoencoder::new(
        meta.config.clone(),
        &mut crate::rng::PortableRng::seed_from_u64(0),
    )
    .map_err(|e| bad(e.to_string()))?;
    check_tensors(&tensors, &model).map_err(|e| bad(e.to_string()))?;
    for (name, var) in model.named_vars() {
        let t = tensors.get(&name).ok_or_else(|| {
            bad(format!(
                "tensor '{name}' is missing (does the .json belong to these weights?)"
            ))
        })?;
        if t.dims() != var.dims() {
            return Err(bad(format!(
                "tensor '{name}' has shape {:?} but the description implies {:?}",
                t.dims(),
                var.dims()
            )));
        }
        let t = t
            .to_dtype(candle_core::DType::F32)
            .map_err(|e| bad(e.to_string()))?;
        var.set(&t).map_err(|e| bad(e.to_string()))?;
    }
    Ok((model, meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Likelihood, ModelKind};

    fn meta(config: ModelConfig) -> CheckpointMeta {
        CheckpointMeta {
            format_version: FORMAT_VERSION,
            name: config.kind.name().into(),
            config,
            dataset: "digits".into(),
            item_shape: ItemShape::Points { dim: 6 },
            class_names: vec!["a".into()],
            epoch: 3,
            step: 30,
            lr: 1e-3,
            seed: 1,
            test_metrics: None,
        }
    }

    fn small(kind: ModelKind) -> Autoencoder {
        let mut cfg = ModelConfig::new(kind, 6, Likelihood::Gaussian);
        cfg.hidden = vec![5];
        Autoencoder::new(cfg, &mut crate::rng::PortableRng::seed_from_u64(9)).unwrap()
    }

    /// Saves a small VAE, then rewrites its weights file with `edit` applied to the tensors
    /// (or its description with `edit_meta`), and returns what loading says.
    fn load_edited(
        edit: impl FnOnce(&mut HashMap<String, Tensor>),
        edit_meta: impl FnOnce(&mut CheckpointMeta),
    ) -> String {
        let dir = tempfile::tempdir().unwrap();
        let m = small(ModelKind::Vae);
        let mut desc = meta(m.config.clone());
        edit_meta(&mut desc);
        save(&m, &desc, &dir.path().join("vae")).unwrap();
        let mut tensors: HashMap<String, Tensor> = m
            .named_vars()
            .into_iter()
            .map(|(k, v)| (k, v.as_tensor().clone()))
            .collect();
        edit(&mut tensors);
        candle_core::safetensors::save(&tensors, dir.path().join("vae.safetensors")).unwrap();
        match load(&dir.path().join("vae.json")) {
            Ok(_) => "loaded".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_description_or_weights_that_do_not_fit_are_refused_by_name() {
        let none = |_: &mut HashMap<String, Tensor>| {};
        let same = |_: &mut CheckpointMeta| {};
        assert_eq!(load_edited(none, same), "loaded");
        let extra = load_edited(
            |t| {
                t.insert(
                    "encoder.extra.weight".into(),
                    Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap(),
                );
            },
            same,
        );
        assert!(
            extra.contains("'encoder.extra.weight'") && extra.contains("does not have"),
            "{extra}"
        );
        let int = load_edited(
            |t| {
                let w = t["encoder.mu.bias"]
                    .to_dtype(candle_core::DType::I64)
                    .unwrap();
                t.insert("encoder.mu.bias".into(), w);
            },
            same,
        );
        assert!(int.contains("'encoder.mu.bias' is I64"), "{int}");
        let nan = load_edited(
            |t| {
                let n = t["decoder.0.bias"].elem_count();
                let mut v = vec![0.0f32; n];
                v[n - 1] = f32::NAN;
                t.insert(
                    "decoder.0.bias".into(),
                    Tensor::from_vec(v, n, &Device::Cpu).unwrap(),
                );
            },
            same,
        );
        assert!(
            nan.contains("'decoder.0.bias' holds a non-finite value (NaN) at index"),
            "{nan}"
        );
        let dims = load_edited(none, |m| m.item_shape = ItemShape::Points { dim: 7 });
        assert!(
            dims.contains("input_dim 6 does not fit its items"),
            "{dims}"
        );
        let likelihood = load_edited(none, |m| m.item_shape = ItemShape::gray(3, 2));
        assert!(
            likelihood.contains("a Gaussian likelihood does not fit images"),
            "{likelihood}"
        );
        // An AE's description over a VAE's weights: the log-variance head is extra.
        let kind = load_edited(none, |m| m.config.kind = ModelKind::Ae);
        assert!(kind.contains("'encoder.logvar.bias'"), "{kind}");
    }

    #[test]
    fn saved_and_loaded_decodes_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let m = small(ModelKind::Vae);
        save(&m, &meta(m.config.clone()), &dir.path().join("vae")).unwrap();
        let (back, meta) = load(&dir.path().join("vae.json")).unwrap();
        assert_eq!(meta.epoch, 3);
        let z = [0.3f32, -1.0, 2.0, 0.5];
        let a = m.decoder_snapshot().unwrap().decode(&z).unwrap();
        let b = back.decoder_snapshot().unwrap().decode(&z).unwrap();
        assert_eq!(a, b);
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn truncated_corrupt_and_mismatched_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("m");
        let m = small(ModelKind::Ae);
        save(&m, &meta(m.config.clone()), &stem).unwrap();
        let (json, weights) = paths(&stem);

        let bytes = std::fs::read(&weights).unwrap();
        std::fs::write(&weights, &bytes[..bytes.len() - 10]).unwrap();
        let err = load(&stem).err().unwrap().to_string();
        assert!(
            err.contains("m.safetensors") && err.contains("corrupt or truncated"),
            "{err}"
        );

        std::fs::write(&weights, b"garbage").unwrap();
        assert!(
            load(&stem)
                .err()
                .unwrap()
                .to_string()
                .contains("corrupt or truncated")
        );

        // Description says latent 3, weights have latent 2.
        std::fs::write(&weights, &bytes).unwrap();
        let mut other = meta(m.config.clone());
        other.config.latent_dim = 3;
        std::fs::write(&json, serde_json::to_string(&other).unwrap()).unwrap();
        let err = load(&stem).err().unwrap().to_string();
        assert!(err.contains("has shape"), "{err}");

        // A VAE description for AE weights: the log-variance head is missing.
        let mut vae = meta(m.config.clone());
        vae.config.kind = ModelKind::Vae;
        std::fs::write(&json, serde_json::to_string(&vae).unwrap()).unwrap();
        let err = load(&stem).err().unwrap().to_string();
        assert!(err.contains("'encoder.logvar.weight' is missing"), "{err}");

        std::fs::write(&json, "{not json").unwrap();
        let err = load(&stem).err().unwrap().to_string();
        assert!(
            err.contains("m.json") && err.contains("not a valid checkpoint"),
            "{err}"
        );
    }

    #[test]
    #[cfg(unix)]
    fn weights_get_the_same_permissions_as_any_new_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let m = small(ModelKind::Ae);
        save(&m, &meta(m.config.clone()), &dir.path().join("m")).unwrap();
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let (json, weights) = paths(&dir.path().join("m"));
        assert_eq!(mode(&weights), mode(&plain), "weights vs a plain new file");
        assert_eq!(mode(&json), mode(&plain), "description vs a plain new file");
    }

    #[test]
    fn folders_and_oversized_files_are_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("m");
        let m = small(ModelKind::Ae);
        save(&m, &meta(m.config.clone()), &stem).unwrap();
        let err = load(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("is a folder, not a checkpoint; give one of its checkpoints: m.json"),
            "{err}"
        );
        let (json, weights) = paths(&stem);
        // Weights far larger than the description's 6-5-2-5-6 network (98 parameters):
        // a sparse file, so nothing is written to disk.
        let good = std::fs::read(&weights).unwrap();
        std::fs::File::create(&weights)
            .unwrap()
            .set_len(2 << 20)
            .unwrap();
        let err = load(&stem).err().unwrap().to_string();
        assert!(
            err.contains("m.safetensors: is 2097152 bytes, more than the 1049360 bytes"),
            "{err}"
        );
        std::fs::write(&weights, good).unwrap();
        std::fs::File::options()
            .append(true)
            .open(&json)
            .unwrap()
            .set_len(MAX_JSON_BYTES + 1)
            .unwrap();
        let err = load(&stem).err().unwrap().to_string();
        assert!(
            err.contains("m.json: is 1048577 bytes, more than the 1048576 bytes"),
            "{err}"
        );
    }

    #[test]
    fn descriptions_written_before_the_kind_table_still_load() {
        // A config as checkpoints wrote it before knobs moved into the kind table: every
        // kind's knobs flat beside the fields, noise kind as an enum name.
        let old = |kind: &str| {
            format!(
                r#"{{"kind":"{kind}","input_dim":6,"latent_dim":2,"hidden":[5],"likelihood":"Gaussian",
                "beta":3.0,"noise_kind":"Masking","noise_level":0.25,"sparsity":0.7,
                "contraction":0.2,"weight_decay":0.01,"lr_override":null}}"#
            )
        };
        let dae: ModelConfig = serde_json::from_str(&old("dae")).unwrap();
        assert_eq!(dae.kind, ModelKind::Dae);
        assert_eq!(dae.choice("noise_kind"), "masking");
        assert_eq!(dae.number("noise_level"), 0.25);
        assert_eq!(dae.number("weight_decay"), 0.01);
        assert!(
            !dae.knobs.contains_key("beta"),
            "knobs of other kinds are dropped"
        );
        dae.validate().unwrap();
        let beta: ModelConfig = serde_json::from_str(&old("beta-vae")).unwrap();
        assert_eq!(beta.number("beta"), 3.0);
        // The new layout is the old one with fewer keys: it round-trips.
        let text = serde_json::to_string(&beta).unwrap();
        assert!(text.contains(r#""beta":3.0"#), "{text}");
        let back: ModelConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, beta);
        // A missing knob takes its default.
        let bare =
            r#"{"kind":"sae","input_dim":6,"latent_dim":2,"hidden":[5],"likelihood":"Gaussian"}"#;
        let sae: ModelConfig = serde_json::from_str(bare).unwrap();
        assert_eq!(sae.number("sparsity"), 0.5);
        let unknown =
            r#"{"kind":"gan","input_dim":6,"latent_dim":2,"hidden":[5],"likelihood":"Gaussian"}"#;
        let err = serde_json::from_str::<ModelConfig>(unknown)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown model kind 'gan'"), "{err}");
    }
}
