//! A throw-away kind, registered for one test thread, seen by every consumer of the kind
//! table: the command line's flags, the models, the manual backward pass, the inspector and
//! the figures. If one of them matched on the built-in kinds instead of reading the table,
//! the new row would be missing there.

use crate::cli::Cli;
use crate::model::backward;
use crate::model::inspect::inspect;
use crate::model::kinds::{
    CodePenalty, Gradients, KindSpec, KnobRange, KnobSpec, ManualPenalty, Penalty, PenaltyInput,
    register_for_test,
};
use crate::model::{Autoencoder, Likelihood, Metrics, ModelConfig, ModelKind};
use crate::rng::PortableRng;
use crate::train::messages::{EpochSummary, ModelEpoch};
use candle_core::{D, Device, Tensor};
use clap::CommandFactory;
use rand::SeedableRng;

const TOY_COLOUR: [u8; 3] = [3, 201, 177];

const TOY_WEIGHT: KnobSpec = KnobSpec {
    key: "toy_weight",
    flag: "toy-weight",
    label: "toy weight",
    help: "weight of the toy kind's squared code",
    range: KnobRange::Number {
        min: 0.0,
        max: 10.0,
        default: 0.25,
        slider_max: 1.0,
    },
    live: true,
};

/// toy_weight · ‖μ‖², with a hand-written gradient.
static TOY: KindSpec = KindSpec {
    name: "toy-kind",
    title: "Toy kind",
    about: "a test's kind: an AE with a squared penalty on its code",
    color: TOY_COLOUR,
    variational: false,
    knobs: &[TOY_WEIGHT],
    corrupt: None,
    penalty: Some(Penalty {
        label: "toy·‖μ‖²",
        loss: toy_loss,
        of_item: |config, _, _, mu| {
            f64::from(config.number("toy_weight"))
                * mu.iter().map(|m| f64::from(m * m)).sum::<f64>()
        },
        manual: Some(ManualPenalty::OfCode(CodePenalty {
            weight: |config| config.number("toy_weight"),
            value: |m| f64::from(m * m),
            derivative: |m| 2.0 * m,
        })),
    }),
    check: None,
    conditional: false,
};

fn toy_loss(p: &PenaltyInput<'_>) -> candle_core::Result<Tensor> {
    p.mu.sqr()?.sum(D::Minus1)? * f64::from(p.model.config.number("toy_weight"))
}

fn toy_model(rng: &mut PortableRng) -> Autoencoder {
    let kind = register_for_test(&TOY);
    let mut config = ModelConfig::new(kind, 6, Likelihood::Bernoulli);
    config.latent_dim = 3;
    config.hidden = vec![5];
    Autoencoder::new(config, rng).unwrap()
}

#[test]
fn the_command_line_offers_a_registered_kind_and_its_knob() {
    let kind = register_for_test(&TOY);
    assert_eq!(ModelKind::from_name("toy-kind"), Some(kind));
    assert_eq!(kind.knob("toy_weight"), Some(&TOY_WEIGHT));
    let cmd = Cli::command();
    let train = cmd.find_subcommand("train").unwrap();
    let flag = train
        .get_arguments()
        .find(|a| a.get_long() == Some("toy-weight"))
        .expect("--toy-weight among train's flags");
    let help = flag.get_help().unwrap().to_string();
    assert!(help.contains("toy-kind"), "{help}");
}

#[test]
fn a_registered_kind_trains_by_hand_with_its_own_penalty() {
    let mut rng = PortableRng::seed_from_u64(3);
    let model = toy_model(&mut rng);
    assert_eq!(model.config.kind.gradients(), Gradients::Manual);
    assert!(backward::supports(model.config.kind));
    let x = Tensor::from_vec(
        (0..24).map(|i| (i % 5) as f32 / 4.0).collect::<Vec<_>>(),
        (4, 6),
        &Device::Cpu,
    )
    .unwrap();
    // The same step by hand and through autograd: the same losses, penalty included.
    let manual = backward::gradients(
        &model,
        &x,
        &mut PortableRng::seed_from_u64(9),
        crate::model::Schedule::START,
    )
    .unwrap()
    .unwrap();
    let terms = model
        .loss_terms(&x, &mut PortableRng::seed_from_u64(9))
        .unwrap();
    let penalty: f32 = terms.penalty.mean_all().unwrap().to_scalar().unwrap();
    assert!(penalty > 0.0);
    assert!((manual.means.penalty - f64::from(penalty)).abs() < 1e-5);
    let objective = terms.objective(model.kl_weight()).unwrap();
    let auto = objective.backward().unwrap();
    for (var, hand) in model.vars().iter().zip(&manual.grads) {
        let auto = auto.get(var).unwrap();
        let diff: f32 = (auto - hand)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar()
            .unwrap();
        assert!(diff < 1e-4, "gradient differs by {diff}");
    }
}

#[test]
fn the_inspector_shows_a_registered_kinds_penalty() {
    let mut rng = PortableRng::seed_from_u64(4);
    let model = toy_model(&mut rng);
    let (encoder, decoder) = (
        model.encoder_snapshot().unwrap(),
        model.decoder_snapshot().unwrap(),
    );
    let x = [0.0, 0.5, 1.0, 0.25, 0.75, 0.0];
    let report = inspect(&model.config, &encoder, &decoder, &x, None).unwrap();
    let by_hand: f64 = 0.25 * report.mu.iter().map(|m| f64::from(m * m)).sum::<f64>();
    assert!(by_hand > 0.0);
    assert_eq!(report.penalty, Some(by_hand));
    assert_eq!(report.penalty_label, Some("toy·‖μ‖²"));
    assert!((report.objective - (report.recon_nats + by_hand)).abs() < 1e-9);
}

#[test]
fn the_figures_draw_a_registered_kind_in_its_colour() {
    let kind = register_for_test(&TOY);
    let metrics = |loss: f64| Metrics {
        recon: loss,
        loss,
        ..Metrics::default()
    };
    let summaries: Vec<EpochSummary> = (1..=3)
        .map(|epoch| EpochSummary {
            epoch,
            step: epoch as u64 * 10,
            elapsed_secs: 1.0,
            samples_per_sec: 1.0,
            models: vec![ModelEpoch {
                name: "toy-kind".into(),
                kind,
                train: metrics(10.0 / epoch as f64),
                test: metrics(12.0 / epoch as f64),
                knn_accuracy: 0.5,
                diverged: false,
            }],
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("losses.png");
    crate::report::loss_curves(&path, &summaries).unwrap();
    let image = image::open(&path).unwrap().to_rgb8();
    let toy_pixels = image.pixels().filter(|p| p.0 == TOY_COLOUR).count();
    assert!(
        toy_pixels > 50,
        "{toy_pixels} pixels in the toy kind's colour"
    );
}
