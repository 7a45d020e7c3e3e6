//! The timeline's file form: a magic word, a version, then every frame, little-endian:
//! codes, σ and reconstructions as f32, weights as the frame holds them (f16, or f32
//! where f16 cannot hold a layer). Version 1 files (all f32) still read. Reading checks
//! every count against the bytes left, so a short or corrupt file is an error, never a
//! panic or a huge allocation.

use super::frame::{Frame, Packed, PackedHalves, PackedLayer};
use super::{Timeline, TimelineError};
use crate::model::{DecoderSnapshot, EncoderSnapshot, ModelConfig, ModelKind};
use crate::train::messages::{ModelSnapshot, Snapshot};
use half::f16;
use std::sync::Arc;

impl Timeline {
    /// The frames in a compact versioned binary form; see [`Timeline::from_bytes`].
    /// Exact: every frame reads back bit for bit as the timeline holds it. Fails only if a
    /// model's config cannot be written as JSON (then no file is better than a wrong one).
    pub fn to_bytes(&self) -> Result<Vec<u8>, TimelineError> {
        let mut w = Writer(Vec::with_capacity(self.total_bytes / 2 + 64));
        w.0.extend_from_slice(MAGIC);
        w.u32(VERSION);
        w.u64(self.budget_bytes as u64);
        w.u32(self.max_frames as u32);
        w.u32(self.frames.len() as u32);
        for f in &self.frames {
            write_frame(&mut w, f)?;
        }
        Ok(w.0)
    }

    /// Reads what [`Timeline::to_bytes`] wrote; a short, corrupt or foreign file is an
    /// error naming what is wrong, never a panic or a huge allocation.
    pub fn from_bytes(bytes: &[u8]) -> Result<Timeline, TimelineError> {
        let mut r = Reader {
            bytes,
            at: 0,
            half: false,
            codebooks: false,
        };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(TimelineError("not a LatentLab timeline".into()));
        }
        let version = r.u32()?;
        if !(1..=VERSION).contains(&version) {
            return Err(TimelineError(format!(
                "timeline version {version}; this LatentLab reads versions 1 to {VERSION}"
            )));
        }
        r.half = version >= 2;
        r.codebooks = version >= 3;
        let budget = r.u64()? as usize;
        let max_frames = r.u32()? as usize;
        let n = r.count(8)?;
        let mut t = Timeline::new(budget, max_frames);
        for _ in 0..n {
            let f = read_frame(&mut r)?;
            if t.frames.last().is_some_and(|l| l.step >= f.step) {
                return Err(TimelineError("frames out of step order".into()));
            }
            t.total_bytes += f.bytes();
            t.frames.push(Arc::new(f));
        }
        if r.at != bytes.len() {
            return Err(TimelineError("bytes left over after the last frame".into()));
        }
        Ok(t)
    }
}

const MAGIC: &[u8] = b"LLTIMELN";
/// 1: weights as f32; 2: weights packed (f16 where it holds them); 3: a flag after each
/// model's halves, then (set) a vq-vae's codebook: its dimension and its entries, packed.
const VERSION: u32 = 3;

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn f32s(&mut self, v: &[f32]) {
        self.u32(v.len() as u32);
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    fn opt_f32s(&mut self, v: Option<&[f32]>) {
        self.u8(u8::from(v.is_some()));
        if let Some(v) = v {
            self.f32s(v);
        }
    }
    fn u64s(&mut self, v: impl ExactSizeIterator<Item = u64>) {
        self.u32(v.len() as u32);
        for x in v {
            self.u64(x);
        }
    }
    fn packed(&mut self, v: &Packed) {
        match v {
            Packed::Full(v) => {
                self.u8(0);
                self.f32s(v);
            }
            Packed::Half(v) => {
                self.u8(1);
                self.u32(v.len() as u32);
                for x in v {
                    self.0.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
    }
    fn layer(&mut self, l: &PackedLayer) {
        self.u32(l.n_in as u32);
        self.u32(l.n_out as u32);
        self.packed(&l.w);
        self.packed(&l.b);
    }
}

fn write_frame(w: &mut Writer, f: &Frame) -> Result<(), TimelineError> {
    let s = f.light();
    w.u64(s.step);
    w.u64(s.epoch as u64);
    w.u64s(s.display_indices.iter().map(|&i| i as u64));
    w.u64s(s.display_labels.iter().map(|&l| u64::from(l)));
    w.u64s(s.recon_indices.iter().map(|&i| i as u64));
    w.f32s(&s.recon_inputs);
    w.u32(s.models.len() as u32);
    for (m, h) in s.models.iter().zip(f.halves()) {
        w.str(&m.name);
        w.str(m.kind.name());
        w.u32(m.latent_dim as u32);
        let config = serde_json::to_string(&m.config)
            .map_err(|e| TimelineError(format!("the config of {}: {e}", m.name)))?;
        w.str(&config);
        w.f32s(&m.codes);
        w.opt_f32s(m.sigmas.as_deref());
        w.f32s(&m.recon);
        w.opt_f32s(m.noisy_inputs.as_deref());
        w.f32s(&m.recon_losses);
        w.u8(u8::from(m.diverged));
        w.u8(u8::from(h.sigmoid_output));
        w.u32(h.decoder.len() as u32);
        h.decoder.iter().for_each(|l| w.layer(l));
        w.u32(h.trunk.len() as u32);
        h.trunk.iter().for_each(|l| w.layer(l));
        w.layer(&h.mu_head);
        w.u8(u8::from(h.logvar_head.is_some()));
        if let Some(l) = &h.logvar_head {
            w.layer(l);
        }
        w.u8(u8::from(h.codebook.is_some()));
        if let Some((dim, entries)) = &h.codebook {
            w.u32(*dim as u32);
            w.packed(entries);
        }
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Weights are packed (version 2), else all f32.
    half: bool,
    /// Each model's halves end with a codebook flag (version 3).
    codebooks: bool,
}

fn short() -> TimelineError {
    TimelineError("the file ends too soon".into())
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TimelineError> {
        let end = self.at.checked_add(n).ok_or_else(short)?;
        let out = self.bytes.get(self.at..end).ok_or_else(short)?;
        self.at = end;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, TimelineError> {
        Ok(self.take(1)?[0])
    }
    fn flag(&mut self) -> Result<bool, TimelineError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(TimelineError(format!("a flag of {v}"))),
        }
    }
    fn u32(&mut self) -> Result<u32, TimelineError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, TimelineError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    /// A count of items of at least `item_bytes` each: no more than the bytes left hold.
    fn count(&mut self, item_bytes: usize) -> Result<usize, TimelineError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(item_bytes) > self.bytes.len() - self.at {
            return Err(short());
        }
        Ok(n)
    }
    fn usize(&mut self) -> Result<usize, TimelineError> {
        Ok(self.u32()? as usize)
    }
    fn str(&mut self) -> Result<String, TimelineError> {
        let n = self.count(1)?;
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| TimelineError("a name that is not UTF-8".into()))
    }
    fn f32s(&mut self) -> Result<Vec<f32>, TimelineError> {
        let n = self.count(4)?;
        Ok(self
            .take(n * 4)?
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }
    fn opt_f32s(&mut self) -> Result<Option<Vec<f32>>, TimelineError> {
        Ok(if self.flag()? {
            Some(self.f32s()?)
        } else {
            None
        })
    }
    fn u64s(&mut self) -> Result<Vec<u64>, TimelineError> {
        let n = self.count(8)?;
        (0..n).map(|_| self.u64()).collect()
    }
    fn f16s(&mut self) -> Result<Vec<f16>, TimelineError> {
        let n = self.count(2)?;
        Ok(self
            .take(n * 2)?
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]))
            .collect())
    }
    /// Numbers of a layer: packed in version 2, f32 (packed on reading) in version 1.
    fn packed(&mut self) -> Result<Packed, TimelineError> {
        if !self.half {
            return Ok(Packed::pack(&self.f32s()?));
        }
        match self.u8()? {
            0 => Ok(Packed::Full(self.f32s()?)),
            1 => Ok(Packed::Half(self.f16s()?)),
            v => Err(TimelineError(format!("a number format of {v}"))),
        }
    }
    fn layer(&mut self) -> Result<PackedLayer, TimelineError> {
        let (n_in, n_out) = (self.usize()?, self.usize()?);
        let (w, b) = (self.packed()?, self.packed()?);
        let (nw, nb) = (w.len(), b.len());
        PackedLayer::checked(n_in, n_out, w, b).ok_or_else(|| {
            TimelineError(format!(
                "a {n_in}x{n_out} layer with {nw} weights and {nb} biases"
            ))
        })
    }
    fn layers(&mut self) -> Result<Vec<PackedLayer>, TimelineError> {
        let n = self.count(16)?;
        (0..n).map(|_| self.layer()).collect()
    }
}

fn read_frame(r: &mut Reader<'_>) -> Result<Frame, TimelineError> {
    let step = r.u64()?;
    let epoch = r.u64()? as usize;
    let display_indices = r.u64s()?.into_iter().map(|i| i as usize).collect();
    let display_labels = r.u64s()?.into_iter().map(|l| l as u32).collect();
    let recon_indices = r.u64s()?.into_iter().map(|i| i as usize).collect();
    let recon_inputs = r.f32s()?;
    let n = r.count(32)?;
    let mut models = Vec::with_capacity(n);
    let mut halves = Vec::with_capacity(n);
    for _ in 0..n {
        let (m, h) = read_model(r)?;
        models.push(m);
        halves.push(h);
    }
    let light = Snapshot {
        step,
        epoch,
        display_indices,
        display_labels,
        recon_indices,
        recon_inputs,
        models,
    };
    Ok(Frame::from_parts(light, halves))
}

fn read_model(r: &mut Reader<'_>) -> Result<(ModelSnapshot, PackedHalves), TimelineError> {
    let name = r.str()?;
    let kind_name = r.str()?;
    let kind = ModelKind::from_name(&kind_name)
        .ok_or_else(|| TimelineError(format!("unknown model kind '{kind_name}'")))?;
    let latent_dim = r.usize()?;
    let config: ModelConfig = serde_json::from_str(&r.str()?)
        .map_err(|e| TimelineError(format!("{name}: its settings: {e}")))?;
    let codes = r.f32s()?;
    let sigmas = r.opt_f32s()?;
    let recon = r.f32s()?;
    let noisy_inputs = r.opt_f32s()?;
    let recon_losses = r.f32s()?;
    let diverged = r.flag()?;
    let sigmoid_output = r.flag()?;
    let halves = PackedHalves {
        decoder: r.layers()?,
        sigmoid_output,
        trunk: r.layers()?,
        mu_head: r.layer()?,
        logvar_head: if r.flag()? { Some(r.layer()?) } else { None },
        codebook: if r.codebooks && r.flag()? {
            let dim = r.usize()?;
            let entries = r.packed()?;
            if dim != latent_dim || entries.len() % dim.max(1) != 0 {
                return Err(TimelineError(format!(
                    "{name}: a codebook of {} values does not fit its latent size {latent_dim}",
                    entries.len()
                )));
            }
            Some((dim, entries))
        } else {
            None
        },
    };
    if latent_dim == 0 || codes.len() % latent_dim != 0 || halves.latent_dim() != latent_dim {
        return Err(TimelineError(format!(
            "{name}: codes or decoder do not match its latent size {latent_dim}"
        )));
    }
    let model = ModelSnapshot {
        name,
        kind,
        latent_dim,
        decoder: Arc::new(DecoderSnapshot::new(Vec::new(), sigmoid_output)),
        encoder: Arc::new(EncoderSnapshot::default()),
        config,
        codes,
        sigmas,
        recon,
        noisy_inputs,
        recon_losses,
        diverged,
    };
    Ok((model, halves))
}
