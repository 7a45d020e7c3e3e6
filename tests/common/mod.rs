//! Helpers shared by the integration tests: small data and runs, the binary, test files.
#![allow(dead_code)] // each test file uses some of them

use latentlab::data::{self, Dataset, Sizes};
use latentlab::model::ModelKind;
use latentlab::train::{RunSpec, TrainConfig};
use std::process::{Command, Output};
use std::sync::Arc;

/// The built-in digits with the given split sizes (seed 1).
pub fn digits(train: usize, test: usize) -> Arc<Dataset> {
    Arc::new(data::load_with_sizes("digits", 1, Some(Sizes { train, test })).unwrap())
}

/// A run of `kinds` on `ds` for `epochs` epochs with hidden layers `hidden`, its models
/// and optimisation built the way the window and the command line build them (defaults). Not validated, so tests can
/// hand the worker configs it must refuse.
pub fn config(ds: &Dataset, kinds: &[ModelKind], epochs: usize, hidden: &[usize]) -> TrainConfig {
    let spec = RunSpec {
        models: kinds.to_vec(),
        hidden: hidden.to_vec(),
        ..RunSpec::default()
    };
    let mut c = TrainConfig::new(spec.model_configs(ds).unwrap());
    c.lr = spec.lr;
    c.batch_size = spec.batch_size;
    c.epochs = Some(epochs);
    c.display_count = 1000;
    c
}

/// Runs the `latentlab` binary with `args`.
pub fn latentlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args(args)
        .output()
        .expect("binary runs")
}

/// What a run of the binary printed on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The 54-byte header of a 24-bit BMP claiming `width` x `height` pixels, and three
/// bytes of pixels (readers must check the size before they allocate for it).
pub fn bmp_header(width: i32, height: i32) -> Vec<u8> {
    let mut b = b"BM".to_vec();
    b.extend_from_slice(&57u32.to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&54u32.to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&width.to_le_bytes());
    b.extend_from_slice(&height.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 27]);
    b
}

/// `latentlab train` arguments for a quick run into `out`: the 2-D moons, an AE and a VAE
/// with one hidden layer of 16, one epoch of 40 steps.
pub fn quick_run_args(out: &std::path::Path) -> Vec<String> {
    [
        "train",
        "--dataset",
        "moons",
        "--models",
        "ae,vae",
        "--hidden",
        "16",
        "--epochs",
        "1",
        "--batch-size",
        "200",
        "--grid",
        "4",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}
