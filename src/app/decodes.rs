//! Decodings of many codes at once (the grid, the samples, an interpolation), kept per
//! model and key. A multilayer decoder is fast enough to decode in the frame; a
//! convolutional one is not (a 20×20 grid at 64×64 took 184 ms on one core), so its
//! decodings are made on a thread and the last finished one is shown meanwhile, marked as
//! being redrawn. At most one thread per model and panel runs; a key asked for while it
//! runs is decoded next, and keys asked for in between are skipped.

use super::items::Decoded;
use super::job_slot::JobSlot;
use crate::model::DecoderSnapshot;
use std::collections::HashMap;

/// One panel's decodings, per model name.
#[derive(Default)]
pub struct Decodes {
    slots: HashMap<String, JobSlot<Decoded>>,
    /// Every decoder on a thread (tests of the thread path with a small decoder).
    all_on_threads: bool,
}

/// What a panel draws for a model: the decoding (of `key`) and whether a newer one is
/// being made.
pub struct Shown<'a> {
    /// The key of the decoding shown (a texture's key).
    pub key: u64,
    /// The decoded items.
    pub decoded: &'a Decoded,
    /// A decoding of a newer key is on its way: the one shown is an older one.
    pub stale: bool,
}

/// True when `decoder` is too slow to decode many codes inside a frame.
fn decodes_on_a_thread(decoder: &DecoderSnapshot) -> bool {
    decoder.conv.is_some()
}

impl Decodes {
    /// The decoding of `codes()` for model `name` under `key`: made now for a fast decoder;
    /// for a slow one, asked of a thread, showing the last finished decoding meanwhile
    /// (`None` before the first). `codes` is called only when a decoding must be made.
    pub fn get(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        key: u64,
        decoder: &DecoderSnapshot,
        class: u32,
        codes: impl FnOnce() -> Vec<f32>,
    ) -> Option<Shown<'_>> {
        // A conditional decoder's items depend on the class it decodes as.
        let key = match super::selection::class_key(decoder, class) {
            0 => key,
            class => super::items::key_of(&[key, class], &[]),
        };
        let slot = self.slots.entry(name.to_owned()).or_default();
        slot.collect(|| Decoded::failed("the decoding thread stopped"));
        if slot.is_stale(key) {
            if !(self.all_on_threads || decodes_on_a_thread(decoder)) {
                slot.set(key, Decoded::of_class(decoder, &codes(), class));
            } else if !slot.is_running() {
                let (decoder, codes) = (decoder.clone(), codes());
                let job = move || Decoded::of_class(&decoder, &codes, class);
                slot.start(ctx, key, "decode", job, |e| Decoded::failed(&e));
            }
        }
        let (shown_key, decoded) = slot.shown()?;
        Some(Shown {
            key: shown_key,
            decoded,
            stale: shown_key != key,
        })
    }

    /// Whether a decoding is being made on a thread (a screenshot would show the older).
    pub fn busy(&self) -> bool {
        self.slots.values().any(JobSlot::is_running)
    }

    /// Forgets every decoding (a new run).
    pub fn clear(&mut self) {
        self.slots.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::snapshot::DenseWeights;

    /// A 1 → 1 decoder that outputs sigmoid(w·z + b).
    fn dense(w: f32, b: f32) -> DecoderSnapshot {
        DecoderSnapshot::new(
            vec![DenseWeights {
                w: vec![w],
                b: vec![b],
                n_in: 1,
                n_out: 1,
            }],
            true,
        )
    }

    #[test]
    fn a_fast_decoder_decodes_in_the_frame_and_only_when_the_key_changes() {
        let ctx = egui::Context::default();
        let mut d = Decodes::default();
        let decoder = dense(2.0, 0.0);
        let mut calls = 0;
        let mut get = |d: &mut Decodes, key| {
            let shown = d.get(&ctx, "ae", key, &decoder, 0, || {
                calls += 1;
                vec![0.0, 1.0]
            });
            let s = shown.expect("decoded in the frame");
            assert!(!s.stale);
            assert_eq!(s.key, key);
            s.decoded.items().to_vec()
        };
        let items = get(&mut d, 1);
        get(&mut d, 1);
        get(&mut d, 2);
        assert_eq!(calls, 2, "decoded again for the same key");
        // sigmoid(0) and sigmoid(2), from the closed form.
        assert!((items[0] - 0.5).abs() < 1e-6);
        assert!((items[1] - 1.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-6);
    }

    /// Waits (up to 10 s) for `key`'s decoding to be shown.
    fn wait_for(d: &mut Decodes, ctx: &egui::Context, key: u64, decoder: &DecoderSnapshot) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let s = d.get(ctx, "vae", key, decoder, 0, || vec![key as f32]);
            if s.is_some_and(|s| s.key == key && !s.stale) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "key {key} never shown"
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    #[test]
    fn a_slow_decoder_shows_the_last_decoding_while_the_next_is_made() {
        let ctx = egui::Context::default();
        let mut d = Decodes {
            all_on_threads: true,
            ..Decodes::default()
        };
        let decoder = dense(1.0, 0.0);
        // Nothing to show before the first decoding comes back; meanwhile it is busy.
        assert!(d.get(&ctx, "vae", 0, &decoder, 0, || vec![0.0]).is_none());
        assert!(d.busy(), "a decoding on its thread");
        wait_for(&mut d, &ctx, 0, &decoder);
        assert!(!d.busy(), "the decoding shown, none on its way");
        // A new key: the old decoding stays, marked stale, until the new one is in.
        let s = d.get(&ctx, "vae", 3, &decoder, 0, || vec![3.0]).unwrap();
        assert_eq!((s.key, s.stale), (0, true));
        assert!((s.decoded.items()[0] - 0.5).abs() < 1e-6);
        assert!(d.busy());
        wait_for(&mut d, &ctx, 3, &decoder);
        assert!(!d.busy());
        let s = d.get(&ctx, "vae", 3, &decoder, 0, || vec![3.0]).unwrap();
        let expected = 1.0 / (1.0 + (-3.0f32).exp());
        assert!((s.decoded.items()[0] - expected).abs() < 1e-6);
    }
}
