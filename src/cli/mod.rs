//! Headless subcommands: train, eval, dataset, encode, codes, fetch, lessons, pack, sample. Scripts rely on these names.

mod args;
mod codes;
mod dataset;
mod encode;
mod eval;
mod fetch;
mod lessons;
mod output;
mod pack;
mod sample;
mod train;

pub use args::{Cli, CodesArgs, Command, DatasetArgs, EncodeArgs, EvalArgs, KnobArgs, TrainArgs};
pub use fetch::FetchArgs;
pub use pack::PackArgs;
pub use sample::SampleArgs;

use anyhow::Result;

/// Runs a subcommand; `threads` step the models of a training run in parallel.
pub fn run(command: Command, threads: usize) -> Result<()> {
    match command {
        Command::Train(a) => train::train(a, threads),
        Command::Eval(a) => eval::eval(a),
        Command::Dataset(a) => dataset::dataset(a),
        Command::Fetch(a) => fetch::run(a),
        Command::Encode(a) => encode::encode(a),
        Command::Codes(a) => codes::codes(a),
        Command::Lessons(a) => lessons::run(a),
        Command::Pack(a) => pack::run(a),
        Command::Sample(a) => sample::run(a),
    }
}
