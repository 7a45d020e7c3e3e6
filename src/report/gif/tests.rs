use super::*;
use crate::data::{self, Sizes};
use crate::model::{DecoderSnapshot, Likelihood, ModelConfig, ModelKind};
use crate::train::ModelSnapshot;
use image::codecs::gif::GifDecoder;
use image::{AnimationDecoder, RgbaImage};

/// A snapshot at `step` whose codes spread out from a blob into ten class clusters.
fn snap(step: u64, spread: f32, labels: &[u32]) -> Snapshot {
    let model = |kind: ModelKind| {
        let codes = labels
            .iter()
            .enumerate()
            .flat_map(|(i, &l)| {
                let angle = l as f32 * 0.628;
                let jitter = (i as f32 * 0.77).sin() * 0.3;
                [spread * angle.cos() + jitter, spread * angle.sin() - jitter]
            })
            .collect();
        ModelSnapshot {
            name: kind.name().into(),
            kind,
            latent_dim: 2,
            decoder: Arc::new(DecoderSnapshot::new(Vec::new(), true)),
            encoder: Default::default(),
            config: ModelConfig::new(kind, 784, Likelihood::Bernoulli),
            codes,
            sigmas: None,
            recon: Vec::new(),
            noisy_inputs: None,
            recon_losses: Vec::new(),
            diverged: false,
        }
    };
    Snapshot {
        step,
        epoch: (step / 100) as usize,
        display_indices: (0..labels.len()).collect(),
        display_labels: labels.to_vec(),
        recon_indices: Vec::new(),
        recon_inputs: Vec::new(),
        models: vec![model(ModelKind::Ae), model(ModelKind::Vae)],
    }
}

#[test]
fn the_gif_has_a_frame_per_snapshot_loops_and_holds_the_last_frame() {
    let ds = data::load_with_sizes(
        "digits",
        1,
        Some(Sizes {
            train: 20,
            test: 300,
        }),
    )
    .unwrap();
    let labels = ds.test.labels.clone();
    let frames: Vec<Arc<Snapshot>> = (0..12u64)
        .map(|k| Arc::new(snap(k * 20, 0.2 + k as f32 * 0.4, &labels)))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latent.gif");
    let stats = latent_gif(&path, &frames, &ds, Some(3)).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        stats,
        GifStats {
            frames: 12,
            bytes: bytes.len() as u64
        }
    );
    assert!(!dir.path().join("latent.gif.part").exists());
    // Loops forever: the NETSCAPE2.0 extension with a loop count of 0.
    let at = bytes
        .windows(11)
        .position(|w| w == b"NETSCAPE2.0")
        .expect("a looping extension");
    assert_eq!(&bytes[at + 11..at + 15], &[3, 1, 0, 0]);
    let decoded = GifDecoder::new(std::io::Cursor::new(&bytes))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(decoded.len(), 12);
    let ms = |f: &image::Frame| {
        let (n, d) = f.delay().numer_denom_ms();
        n / d
    };
    assert_eq!(ms(&decoded[0]), FRAME_MS);
    assert_eq!(ms(&decoded[11]), LAST_FRAME_MS);
    let (first, last) = (decoded[0].buffer(), decoded[11].buffer());
    assert_eq!(first.dimensions(), (2 * PANEL + LEGEND, PANEL + HEADER));
    let differing = first
        .pixels()
        .zip(last.pixels())
        .filter(|(a, b)| a != b)
        .count();
    assert!(differing > 2000, "{differing} pixels differ");
    // Every frame has class colours on it, not just white and text.
    let coloured = |img: &RgbaImage| {
        img.pixels()
            .filter(|p| {
                let [r, g, b, _] = p.0;
                r.max(g).max(b) - r.min(g).min(b) > 60
            })
            .count()
    };
    assert!(decoded.iter().all(|f| coloured(f.buffer()) > 500));
    assert!(latent_gif(&path, &[], &ds, None).is_err());
}
