use super::*;
use crate::model::{DecoderSnapshot, EncoderSnapshot, Likelihood, ModelConfig, ModelKind};
use crate::train::ModelSnapshot;

/// A snapshot of an AE and a VAE at `step`, with weights of `hidden` units and values
/// that depend on the step (so frames differ), some of them awkward floats.
fn snap(step: u64, hidden: usize) -> Snapshot {
    let value = |i: usize| ((i as f32 + step as f32) * 0.37).sin() * 3.0;
    let layer = |n_in: usize, n_out: usize, seed: usize| DenseWeights {
        w: (0..n_in * n_out).map(|i| value(i + seed)).collect(),
        b: (0..n_out).map(|i| value(i + seed + 7)).collect(),
        n_in,
        n_out,
    };
    let items = 50;
    let model = |kind: ModelKind| {
        let variational = kind.is_variational();
        let mut codes: Vec<f32> = (0..items * 2).map(value).collect();
        codes[3] = f32::MIN_POSITIVE / 4.0; // a subnormal
        codes[5] = -0.0;
        ModelSnapshot {
            name: kind.name().into(),
            kind,
            latent_dim: 2,
            decoder: Arc::new(DecoderSnapshot::new(
                vec![layer(2, hidden, 1), layer(hidden, 16, 2)],
                true,
            )),
            encoder: Arc::new(EncoderSnapshot {
                trunk: vec![layer(16, hidden, 3)],
                mu_head: layer(hidden, 2, 4),
                logvar_head: variational.then(|| layer(hidden, 2, 5)),
                conv: None,
                classes: 0,
                codebook: None,
            }),
            config: ModelConfig::new(kind, 16, Likelihood::Bernoulli),
            codes,
            sigmas: variational.then(|| (0..items * 2).map(|i| value(i).abs()).collect()),
            recon: (0..3 * 16).map(value).collect(),
            noisy_inputs: None,
            recon_losses: vec![1.5, f32::NAN, 2.0],
            diverged: step % 2 == 1,
        }
    };
    Snapshot {
        step,
        epoch: (step / 100) as usize,
        display_indices: (0..items).map(|i| i * 3).collect(),
        display_labels: (0..items).map(|i| (i % 10) as u32).collect(),
        recon_indices: vec![4, 5, 6],
        recon_inputs: (0..3 * 16).map(|i| value(i) * 0.1).collect(),
        models: vec![model(ModelKind::Ae), model(ModelKind::Vae)],
    }
}

#[test]
fn an_hour_of_snapshots_stays_in_budget_keeps_both_ends_and_is_dense_early() {
    let frame = Frame::pack(&snap(0, 64)).bytes();
    // A little over 3 frames a second for an hour, a step every 20 ms: 180,000 steps.
    let budget = 40 * frame + frame / 2;
    let mut t = Timeline::new(budget, 600);
    let (pushes, every) = (12_000u64, 15u64);
    for i in 0..pushes {
        t.push(&snap(i * every, 64));
        assert!(t.bytes() <= budget, "over budget after {i} pushes");
    }
    let steps: Vec<u64> = t.frames().iter().map(|f| f.step).collect();
    assert_eq!(t.len(), 40, "the budget holds 40 frames: {steps:?}");
    assert_eq!(steps[0], 0, "the first frame stays");
    assert_eq!(
        *steps.last().unwrap(),
        (pushes - 1) * every,
        "the newest stays"
    );
    assert!(steps.windows(2).all(|w| w[0] < w[1]));
    let last = (pushes - 1) * every;
    let early = steps.iter().filter(|&&s| s <= last / 10).count();
    let late = steps.iter().filter(|&&s| s >= last / 2).count();
    assert!(early > 20, "more than half in the first tenth: {steps:?}");
    assert!(
        (2..=8).contains(&late),
        "a few in the second half: {steps:?}"
    );
    // Log-spaced: the gaps grow along the run.
    let gaps: Vec<u64> = steps.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[gaps.len() - 2] > 20 * gaps[1], "gaps {gaps:?}");
}

#[test]
fn a_frame_cap_holds_for_small_frames_and_the_same_step_replaces() {
    let mut t = Timeline::new(usize::MAX, 10);
    for s in 0..100 {
        t.push(&snap(s, 4));
    }
    assert_eq!(t.len(), 10);
    let bytes = t.bytes();
    // A paused run sends its moment again: it replaces the newest frame.
    t.push(&snap(99, 4));
    assert_eq!((t.len(), t.bytes()), (10, bytes));
    // A step before the newest is a new run.
    t.push(&snap(3, 4));
    assert_eq!(t.len(), 1);
    assert_eq!(t.bytes(), Frame::pack(&snap(3, 4)).bytes());
}

#[test]
fn nearest_and_between_pick_frames_by_step() {
    let mut t = Timeline::default();
    assert_eq!(t.nearest(5), None);
    for s in [0, 10, 20, 40] {
        t.push(&snap(s, 4));
    }
    assert_eq!(t.nearest(0), Some(0));
    assert_eq!(t.nearest(14), Some(1));
    assert_eq!(t.nearest(15), Some(1));
    assert_eq!(t.nearest(16), Some(2));
    assert_eq!(t.nearest(1000), Some(3));
    let light = t.light_between(10, 30);
    let steps: Vec<u64> = light.iter().map(|f| f.step).collect();
    assert_eq!(steps, [10, 20]);
    // Light frames carry the codes, not the weights.
    assert_eq!(light[0].models[1].codes, snap(10, 4).models[1].codes);
    assert!(light[0].models[1].decoder.layers.is_empty());
}

/// Every number of a snapshot, as bits, in a fixed order.
fn bits(s: &Snapshot) -> Vec<u64> {
    let mut out = vec![s.step, s.epoch as u64];
    out.extend(s.display_indices.iter().map(|&i| i as u64));
    out.extend(s.display_labels.iter().map(|&i| u64::from(i)));
    out.extend(s.recon_indices.iter().map(|&i| i as u64));
    let f = |v: &[f32]| v.iter().map(|x| u64::from(x.to_bits())).collect::<Vec<_>>();
    out.extend(f(&s.recon_inputs));
    for m in &s.models {
        out.extend([m.latent_dim as u64, u64::from(m.diverged)]);
        out.extend(f(&m.codes));
        out.extend(f(m.sigmas.as_deref().unwrap_or(&[])));
        out.extend(f(&m.recon));
        out.extend(f(&m.recon_losses));
        let layers = m.decoder.layers.iter().chain(&m.encoder.trunk);
        for l in layers
            .chain([&m.encoder.mu_head])
            .chain(&m.encoder.logvar_head)
        {
            out.extend([l.n_in as u64, l.n_out as u64]);
            out.extend(f(&l.w));
            out.extend(f(&l.b));
        }
    }
    out
}

#[test]
fn bytes_round_trip_exactly_and_broken_files_are_errors() {
    let mut t = Timeline::new(1 << 30, 50);
    for s in [0, 7, 30] {
        t.push(&snap(s, 8));
    }
    let bytes = t.to_bytes().unwrap();
    let back = Timeline::from_bytes(&bytes).unwrap();
    assert_eq!(back.len(), 3);
    for (a, b) in t.frames().iter().zip(back.frames()) {
        assert_eq!(bits(&a.unpack()), bits(&b.unpack()));
        assert_eq!(a.halves(), b.halves());
        for (ma, mb) in a.light().models.iter().zip(&b.light().models) {
            assert_eq!(
                (&ma.name, ma.kind, &ma.config),
                (&mb.name, mb.kind, &mb.config)
            );
            assert_eq!(ma.decoder.sigmoid_output, mb.decoder.sigmoid_output);
        }
    }
    assert_eq!(back.to_bytes().unwrap(), bytes);
    assert_eq!(back.bytes(), t.bytes());
    // The weights are f16 (2 bytes), the rest f32 or u64: the file is about the size of
    // the numbers in it.
    let numbers = bits(&t.frames()[0].unpack()).len() * 3 * 4;
    assert!(bytes.len() < numbers, "{} bytes", bytes.len());
    // Every cut is an error, never a panic.
    for cut in (0..bytes.len()).step_by(97) {
        assert!(Timeline::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut wrong = bytes.clone();
    wrong[8] = 9;
    let err = Timeline::from_bytes(&wrong).unwrap_err().to_string();
    assert!(err.contains("version 9"), "{err}");
    assert!(Timeline::from_bytes(b"PNG....").is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Timeline::from_bytes(&longer).is_err());
}

#[test]
fn the_progress_schedule_is_dense_early_and_the_same_shape_for_any_length() {
    let short = progress_schedule(1876, 40);
    let long = progress_schedule(9380, 40);
    assert!(short.len() >= 35 && long.len() >= 38, "{short:?}");
    assert!(short.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(*long.last().unwrap(), 9380);
    // Half the frames in the first fifth of the run.
    for s in [&short, &long] {
        let total = *s.last().unwrap();
        let early = s.iter().filter(|&&x| x <= total / 5).count();
        assert!(early * 2 >= s.len(), "{s:?}");
    }
    assert!(progress_schedule(0, 40).is_empty());
    assert_eq!(progress_schedule(3, 40), [1, 2, 3]);
}

/// The weights of every layer of a snapshot, in a fixed order.
fn weights(s: &Snapshot) -> Vec<f32> {
    let mut out = Vec::new();
    for m in &s.models {
        let layers = m.decoder.layers.iter().chain(&m.encoder.trunk);
        for l in layers
            .chain([&m.encoder.mu_head])
            .chain(&m.encoder.logvar_head)
        {
            out.extend(&l.w);
            out.extend(&l.b);
        }
    }
    out
}

#[test]
fn packed_weights_come_back_within_f16_precision_and_out_of_range_layers_stay_exact() {
    let mut s = snap(12, 32);
    // Weights over many scales, as training leaves them.
    let mut dec = (*s.models[1].decoder).clone();
    for (i, w) in dec.layers[1].w.iter_mut().enumerate() {
        *w *= 10f32.powi((i % 9) as i32 - 6);
    }
    s.models[1].decoder = Arc::new(dec);
    // A layer f16 cannot hold (70,000 > 65,504) stays f32.
    let mut enc = (*s.models[0].encoder).clone();
    enc.mu_head.w[0] = 70_000.0;
    s.models[0].encoder = Arc::new(enc);

    let back = Frame::pack(&s).unpack();
    let (a, b) = (weights(&s), weights(&back));
    assert_eq!(a.len(), b.len());
    let mut rounded = 0;
    for (x, y) in a.iter().zip(&b) {
        // f16 has 11 significant bits: round to nearest is within 2^-11 relatively in
        // its normal range (above 2^-14), and within half its smallest step (2^-24) below.
        let err = (x - y).abs();
        let bound = if x.abs() >= 2f32.powi(-14) {
            x.abs() * 2f32.powi(-11)
        } else {
            2f32.powi(-25)
        };
        assert!(err <= bound, "{x} came back as {y}");
        rounded += usize::from(x != y);
    }
    assert!(rounded > a.len() / 2, "the weights were rounded: {rounded}");
    assert_eq!(
        back.models[0].encoder.mu_head.w,
        s.models[0].encoder.mu_head.w
    );
    assert_eq!(back.models[0].encoder.mu_head.w[0], 70_000.0);
    // Codes and reconstructions are not rounded.
    assert_eq!(bits_of_codes(&back), bits_of_codes(&s));
}

fn bits_of_codes(s: &Snapshot) -> Vec<u32> {
    s.models
        .iter()
        .flat_map(|m| m.codes.iter().chain(&m.recon))
        .map(|x| x.to_bits())
        .collect()
}

/// A snapshot shaped like the window's default pair: an AE and a VAE of 784-128-64-2,
/// 2,000 display items and 10 reconstructions.
fn default_pair() -> Snapshot {
    let layer = |n_in: usize, n_out: usize| DenseWeights {
        w: (0..n_in * n_out)
            .map(|i| (i as f32 * 0.01).sin() * 0.1)
            .collect(),
        b: vec![0.01; n_out],
        n_in,
        n_out,
    };
    let (items, recon) = (2000, 10);
    let model = |kind: ModelKind| ModelSnapshot {
        name: kind.name().into(),
        kind,
        latent_dim: 2,
        decoder: Arc::new(DecoderSnapshot::new(
            vec![layer(2, 64), layer(64, 128), layer(128, 784)],
            true,
        )),
        encoder: Arc::new(EncoderSnapshot {
            trunk: vec![layer(784, 128), layer(128, 64)],
            mu_head: layer(64, 2),
            logvar_head: kind.is_variational().then(|| layer(64, 2)),
            conv: None,
            classes: 0,
            codebook: None,
        }),
        config: ModelConfig::new(kind, 784, Likelihood::Bernoulli),
        codes: vec![0.5; items * 2],
        sigmas: kind.is_variational().then(|| vec![0.1; items * 2]),
        recon: vec![0.2; recon * 784],
        noisy_inputs: None,
        recon_losses: vec![1.0; recon],
        diverged: false,
    };
    Snapshot {
        step: 0,
        epoch: 0,
        display_indices: (0..items).collect(),
        display_labels: vec![1; items],
        recon_indices: (0..recon).collect(),
        recon_inputs: vec![0.3; recon * 784],
        models: vec![model(ModelKind::Ae), model(ModelKind::Vae)],
    }
}

#[test]
fn a_frame_of_the_default_pair_holds_at_most_half_the_bytes_of_its_snapshot() {
    let s = default_pair();
    let live = snapshot_bytes(&s);
    let frame = Frame::pack(&s).bytes();
    // Counted by hand: per model 108,866 (AE) or 108,996 (VAE) encoder and 109,648
    // decoder numbers; as f32 with the decoder twice that is 2.63 MB for the pair.
    let numbers = 108_866 + 108_996 + 2 * 109_648;
    assert!(live > (numbers + 2 * 109_648) * 4, "{live}");
    assert!(frame * 2 <= live, "frame {frame} B, snapshot {live} B");
    assert!(frame >= numbers * 2, "the weights are all there: {frame}");
    let mut t = Timeline::default();
    t.push(&s);
    assert_eq!(t.bytes(), frame);
}

#[test]
fn a_timeline_read_from_a_thin_file_grows_again_under_the_windows_limits() {
    let mut t = Timeline::new(1 << 30, 50);
    for s in 0..30 {
        t.push(&snap(s * 10, 8));
    }
    let file = t.thinned(1 << 30, 6).to_bytes().unwrap();
    let read = Timeline::from_bytes(&file).unwrap();
    assert_eq!(read.len(), 6);
    let mut grown = read.with_limits(DEFAULT_BUDGET_BYTES, DEFAULT_MAX_FRAMES);
    for s in 30..60 {
        grown.push(&snap(s * 10, 8));
    }
    assert_eq!(grown.len(), 36, "the saved 6 and the new 30");
    assert_eq!(grown.frames()[0].step, 0);
}

#[test]
fn a_vq_vaes_codebook_survives_a_frame_and_the_file() {
    let mut s = snap(10, 8);
    let entries: Vec<f32> = (0..6).map(|i| i as f32 * 0.75 - 2.0).collect();
    let book = Arc::new(crate::model::vq::CodebookData {
        entries: entries.clone(),
        dim: 2,
    });
    let vq = &mut s.models[0];
    vq.kind = ModelKind::VqVae;
    vq.config = ModelConfig::new(ModelKind::VqVae, 16, Likelihood::Bernoulli);
    vq.decoder = Arc::new((*vq.decoder).clone().with_codebook(Some(book.clone())));
    let unpacked = Frame::pack(&s).unpack();
    let mut t = Timeline::new(1 << 30, 100);
    t.push(&s);
    let read = Timeline::from_bytes(&t.to_bytes().unwrap()).unwrap();
    let from_file = read.frames()[0].unpack();
    for back in [&unpacked, &from_file] {
        let m = &back.models[0];
        // These entries are exact in f16 (multiples of 0.25).
        assert_eq!(m.decoder.codebook.as_deref(), Some(&*book));
        assert_eq!(m.encoder.codebook.as_deref(), Some(&*book));
        assert!(
            back.models[1].decoder.codebook.is_none(),
            "the vae has none"
        );
        // The unpacked decoder still snaps: a code near entry 1 decodes as entry 1.
        assert_eq!(
            m.decoder.decode(&[-1.2, -0.4]).unwrap(),
            m.decoder.decode(&entries[2..4]).unwrap()
        );
    }
    // The light snapshots the latent GIF draws keep the entries too, live and read back.
    for light in [
        Frame::pack(&s).light().clone(),
        read.frames()[0].light().clone(),
    ] {
        assert_eq!(light.models[0].decoder.codebook.as_deref(), Some(&*book));
        assert!(light.models[0].decoder.layers.is_empty(), "no weights");
        assert!(light.models[1].decoder.codebook.is_none());
    }
}
