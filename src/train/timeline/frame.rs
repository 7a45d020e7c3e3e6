//! One kept moment of a timeline, packed: the snapshot's codes, σ and reconstructions as
//! they came (f32), and both halves of every model with their weights as f16, about half
//! the bytes of the live snapshot (whose decoder also holds its weights twice once shown).
//! A frame is unpacked to a full [`Snapshot`] (weights back to f32) only when it is shown.
//!
//! f16 keeps 11 significant bits: a weight comes back within 2⁻¹¹ of itself, relatively,
//! far below what a scatter, a grid or a drawn item's code can show. A layer with a
//! weight f16 cannot hold (beyond ±65504, or a NaN) stays f32, so nothing turns infinite.

use crate::model::snapshot::DenseWeights;
use crate::model::vq::CodebookData;
use crate::model::{DecoderSnapshot, EncoderSnapshot};
use crate::train::messages::Snapshot;
use half::f16;
use std::sync::Arc;

/// Numbers stored as f16 where that is safe, else as they came.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Packed {
    /// Rounded to the nearest f16.
    Half(Vec<f16>),
    /// Kept exactly (a value out of f16's range).
    Full(Vec<f32>),
}

impl Packed {
    /// f16 when every value fits (finite in, finite out), else f32.
    pub(super) fn pack(v: &[f32]) -> Self {
        let half: Vec<f16> = v.iter().map(|&x| f16::from_f32(x)).collect();
        let fits = v
            .iter()
            .zip(&half)
            .all(|(x, h)| x.is_finite() && h.is_finite());
        if fits {
            Packed::Half(half)
        } else {
            Packed::Full(v.to_vec())
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Packed::Half(v) => v.len(),
            Packed::Full(v) => v.len(),
        }
    }

    fn unpack(&self) -> Vec<f32> {
        match self {
            Packed::Half(v) => v.iter().map(|h| h.to_f32()).collect(),
            Packed::Full(v) => v.clone(),
        }
    }

    /// Bytes held.
    fn bytes(&self) -> usize {
        match self {
            Packed::Half(v) => v.len() * 2,
            Packed::Full(v) => v.len() * 4,
        }
    }
}

/// One dense layer, packed.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct PackedLayer {
    pub(super) n_in: usize,
    pub(super) n_out: usize,
    pub(super) w: Packed,
    pub(super) b: Packed,
}

impl PackedLayer {
    pub(super) fn pack(l: &DenseWeights) -> Self {
        Self {
            n_in: l.n_in,
            n_out: l.n_out,
            w: Packed::pack(&l.w),
            b: Packed::pack(&l.b),
        }
    }

    /// A layer whose counts agree with its shape, else `None`.
    pub(super) fn checked(n_in: usize, n_out: usize, w: Packed, b: Packed) -> Option<Self> {
        (w.len() == n_in.saturating_mul(n_out) && b.len() == n_out).then_some(Self {
            n_in,
            n_out,
            w,
            b,
        })
    }

    fn unpack(&self) -> DenseWeights {
        DenseWeights {
            w: self.w.unpack(),
            b: self.b.unpack(),
            n_in: self.n_in,
            n_out: self.n_out,
        }
    }

    fn bytes(&self) -> usize {
        self.w.bytes() + self.b.bytes() + 32
    }
}

/// Both halves of one model, packed.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct PackedHalves {
    pub(super) decoder: Vec<PackedLayer>,
    pub(super) sigmoid_output: bool,
    pub(super) trunk: Vec<PackedLayer>,
    pub(super) mu_head: PackedLayer,
    pub(super) logvar_head: Option<PackedLayer>,
    /// A vq-vae's codebook: its dimension and its entries.
    pub(super) codebook: Option<(usize, Packed)>,
}

impl PackedHalves {
    fn pack(decoder: &DecoderSnapshot, encoder: &EncoderSnapshot) -> Self {
        Self {
            decoder: decoder.layers.iter().map(PackedLayer::pack).collect(),
            sigmoid_output: decoder.sigmoid_output,
            trunk: encoder.trunk.iter().map(PackedLayer::pack).collect(),
            mu_head: PackedLayer::pack(&encoder.mu_head),
            logvar_head: encoder.logvar_head.as_ref().map(PackedLayer::pack),
            codebook: decoder
                .codebook
                .as_ref()
                .map(|c| (c.dim, Packed::pack(&c.entries))),
        }
    }

    fn unpack(&self) -> (DecoderSnapshot, EncoderSnapshot) {
        let codebook = self.codebook.as_ref().map(|(dim, entries)| {
            Arc::new(CodebookData {
                entries: entries.unpack(),
                dim: *dim,
            })
        });
        let decoder = DecoderSnapshot::new(
            self.decoder.iter().map(PackedLayer::unpack).collect(),
            self.sigmoid_output,
        )
        .with_codebook(codebook.clone());
        let encoder = EncoderSnapshot {
            trunk: self.trunk.iter().map(PackedLayer::unpack).collect(),
            mu_head: self.mu_head.unpack(),
            logvar_head: self.logvar_head.as_ref().map(PackedLayer::unpack),
            // Both read the plan and the class count from the config (`with_plan_of`).
            conv: None,
            classes: 0,
            codebook,
        };
        (decoder, encoder)
    }

    fn bytes(&self) -> usize {
        self.decoder
            .iter()
            .chain(&self.trunk)
            .chain(std::iter::once(&self.mu_head))
            .chain(&self.logvar_head)
            .map(PackedLayer::bytes)
            .sum::<usize>()
            + self.codebook.as_ref().map_or(0, |(_, c)| c.bytes())
    }

    /// Size of the code the decoder takes.
    pub(super) fn latent_dim(&self) -> usize {
        self.decoder.first().map_or(0, |l| l.n_in)
    }
}

/// One moment of a timeline: the snapshot without its weights (codes, σ,
/// reconstructions: all a latent GIF draws) and each model's halves, packed.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The step it was taken at.
    pub step: u64,
    light: Arc<Snapshot>,
    halves: Vec<PackedHalves>,
    bytes: usize,
}

impl Frame {
    /// Packs a snapshot.
    pub fn pack(s: &Snapshot) -> Self {
        let halves = s
            .models
            .iter()
            .map(|m| PackedHalves::pack(&m.decoder, &m.encoder))
            .collect();
        Self::from_parts(strip_weights(s), halves)
    }

    /// A frame of a light snapshot (see [`strip_weights`]) and its models' halves.
    pub(super) fn from_parts(mut light: Snapshot, halves: Vec<PackedHalves>) -> Self {
        // A frame read from a file has its codebooks in the halves only.
        for (m, h) in light.models.iter_mut().zip(&halves) {
            if m.decoder.codebook.is_none()
                && let Some((dim, entries)) = &h.codebook
            {
                let mut decoder = (*m.decoder).clone();
                decoder.codebook = Some(Arc::new(CodebookData {
                    entries: entries.unpack(),
                    dim: *dim,
                }));
                m.decoder = Arc::new(decoder);
            }
        }
        let bytes =
            super::snapshot_bytes(&light) + halves.iter().map(PackedHalves::bytes).sum::<usize>();
        Self {
            step: light.step,
            light: Arc::new(light),
            halves,
            bytes,
        }
    }

    /// The whole snapshot again, weights back in f32 (within f16's precision of the
    /// originals): what a tab draws.
    pub fn unpack(&self) -> Snapshot {
        let mut s = (*self.light).clone();
        for (m, h) in s.models.iter_mut().zip(&self.halves) {
            let (decoder, encoder) = h.unpack();
            // A conv model's layers are read through the plan its config gives.
            m.decoder = Arc::new(decoder.with_plan_of(&m.config));
            m.encoder = Arc::new(encoder.with_plan_of(&m.config));
        }
        s
    }

    /// The snapshot without weights: codes, σ, labels, reconstructions and a vq-vae's
    /// codebook, for drawing scatters (the latent GIF). Its decoders and encoders are
    /// otherwise empty.
    pub fn light(&self) -> &Arc<Snapshot> {
        &self.light
    }

    /// Bytes the frame holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub(super) fn halves(&self) -> &[PackedHalves] {
        &self.halves
    }
}

/// The snapshot with every model's decoder and encoder emptied (no layers).
fn strip_weights(s: &Snapshot) -> Snapshot {
    let mut light = s.clone();
    for m in &mut light.models {
        let mut decoder = DecoderSnapshot::new(Vec::new(), m.decoder.sigmoid_output);
        // A vq-vae's few entries stay: the latent GIF marks them over the codes.
        decoder.codebook = m.decoder.codebook.clone();
        m.decoder = Arc::new(decoder);
        m.encoder = Arc::new(EncoderSnapshot::default());
    }
    light
}
