//! What the user has picked in latent space, shared by every tab: the probe code of each
//! model, the pinned test item, and the plane the scatters and grids show (with its PCA).
//! Panels read and move it through [`super::ViewCtx`]; no panel reaches into another.

use super::items::{Decoded, key_of, row};
use crate::explore::Pca2;
use crate::train::{ModelSnapshot, Snapshot};
use std::collections::HashMap;

/// Which plane of latent space the plots show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plane {
    /// Two chosen dimensions (0-based).
    Dims(usize, usize),
    /// The two leading principal directions of the codes.
    Pca,
}

/// One model's probe: a full code and its decoding, decoded only when either changes.
#[derive(Debug, Default)]
pub struct Probe {
    /// The probe's full code; a plane shows two coordinates of it.
    pub code: Vec<f32>,
    /// The decoding of `code` by the snapshot's decoder (or why it failed).
    pub decoded: Decoded,
    decoded_key: Option<u64>,
}

impl Probe {
    /// Decodes the code with `m`'s decoder only when the code or the snapshot changed;
    /// returns the key that identifies this decoding (for texture caches).
    /// A conditional model (cvae) decodes it as class `class`; the others ignore it.
    pub fn refresh_decoding(&mut self, m: &ModelSnapshot, step: u64, class: u32) -> u64 {
        let key = key_of(&[step, class_key(&m.decoder, class)], &self.code);
        if self.decoded_key != Some(key) {
            self.decoded = Decoded::of_class(&m.decoder, &self.code, class);
            self.decoded_key = Some(key);
        }
        key
    }
}

/// The shared selection: probes, the pinned item and the shown plane.
#[derive(Debug)]
pub struct Selection {
    /// One probe per model name.
    pub probes: HashMap<String, Probe>,
    /// The pinned display item (index into the snapshot's display items).
    pub pinned: Option<usize>,
    /// Plane shown for latent dim > 2, by the scatters and the grids alike.
    pub plane: Plane,
    /// The item drawn in the "Draw & inspect" tab (or loaded from a file): every model
    /// encodes it, and the scatters mark it. Kept across runs; cleared with the canvas.
    pub drawn: Option<Vec<f32>>,
    /// The class a conditional model (cvae) decodes every code as, wherever the window
    /// decodes (probe, grid, sliders, samples, traversals, interpolation); the other kinds
    /// ignore it. Kept across runs ([`decode_class_ui`] keeps it within the classes).
    pub decode_class: u32,
    /// The class the drawn item is said to be: what a conditional model (cvae) encodes and
    /// decodes it as, in the inspector and the scatters' marker. "Start from a test item"
    /// sets it to that item's label; the other kinds ignore it.
    pub drawn_class: u32,
    pca: HashMap<String, PcaView>,
}

impl Selection {
    /// Test item `i` of `ds` as the drawn item, with its class (nothing if there is none).
    pub fn draw_test_item(&mut self, ds: &crate::data::Dataset, i: usize) {
        if i < ds.test.len() {
            self.drawn = Some(ds.test.item(i, ds.dim()).to_vec());
            self.drawn_class = ds.test.labels.get(i).copied().unwrap_or(0);
        }
    }
}

/// What a decoding of `decoder` as class `class` adds to its cache key: the class for a
/// conditional decoder, nothing for the others (whose decodings do not depend on it).
pub fn class_key(decoder: &crate::model::DecoderSnapshot, class: u32) -> u64 {
    if decoder.classes > 0 {
        u64::from(class) + 1
    } else {
        0
    }
}

/// The "decode as class" choice, shown only while a conditional model (cvae) is in the
/// snapshot: a menu of the data set's class names. Returns true if the class changed.
pub fn decode_class_ui(
    ui: &mut egui::Ui,
    selection: &mut Selection,
    snap: &Snapshot,
    ds: &crate::data::Dataset,
) -> bool {
    class_menu(
        ui,
        &mut selection.decode_class,
        snap,
        ds,
        ("decode as class", "decode_class"),
        "what a conditional VAE (cvae) decodes every code as; other kinds ignore it",
    )
}

/// A menu of the data set's class names choosing `class`, labelled `label` (its id salt
/// `salt`), shown only while a conditional model (cvae) is in the snapshot; `class` is kept
/// within the model's classes. Returns true if the class changed.
pub fn class_menu(
    ui: &mut egui::Ui,
    class: &mut u32,
    snap: &Snapshot,
    ds: &crate::data::Dataset,
    (label, salt): (&str, &str),
    help: &str,
) -> bool {
    let Some(classes) = snap
        .models
        .iter()
        .map(|m| m.decoder.classes)
        .find(|&c| c > 0)
    else {
        return false;
    };
    let before = *class;
    if *class as usize >= classes {
        *class = 0;
    }
    let name = |c: u32| {
        ds.class_names
            .get(c as usize)
            .cloned()
            .unwrap_or_else(|| c.to_string())
    };
    ui.horizontal(|ui| {
        let label = ui.label(label).on_hover_text(help);
        egui::ComboBox::from_id_salt(salt)
            .selected_text(name(*class))
            .show_ui(ui, |ui| {
                for c in 0..classes as u32 {
                    ui.selectable_value(class, c, name(c));
                }
            })
            .response
            .labelled_by(label.id)
            .on_hover_text(help);
    });
    *class != before
}

/// One model's PCA plane, the step it was fitted at and where it put the display items.
#[derive(Debug)]
struct PcaView {
    step: u64,
    pca: Pca2,
    points: Vec<[f32; 2]>,
}

impl Default for Selection {
    fn default() -> Self {
        Self {
            probes: HashMap::new(),
            pinned: None,
            plane: Plane::Dims(0, 1),
            drawn: None,
            decode_class: 0,
            drawn_class: 0,
            pca: HashMap::new(),
        }
    }
}

impl Selection {
    /// Forgets per-model state (after a reset); the chosen plane stays.
    pub fn clear(&mut self) {
        self.probes.clear();
        self.pca.clear();
        self.pinned = None;
    }

    /// Makes sure every model has a probe of the right size and the PCA is current.
    pub fn prepare(&mut self, snap: &Snapshot) {
        for m in &snap.models {
            let probe = self.probes.entry(m.name.clone()).or_default();
            if probe.code.len() != m.latent_dim {
                probe.code = vec![0.0; m.latent_dim];
            }
        }
        if self.pinned.is_some_and(|p| p >= snap.display_labels.len()) {
            self.pinned = None;
        }
        self.update_pca(snap);
    }

    fn update_pca(&mut self, snap: &Snapshot) {
        if self.plane != Plane::Pca {
            return;
        }
        for m in snap.models.iter().filter(|m| m.latent_dim > 2) {
            let previous = self.pca.get(&m.name);
            if previous.is_some_and(|v| v.step == snap.step) {
                continue;
            }
            // Keep the plane close to the last one, so the plot does not spin between
            // snapshots when the variances are nearly equal, and the items on the side
            // where they were, so the clusters do not flip while the codes move.
            let mut pca = Pca2::fit_aligned(&m.codes, m.latent_dim, previous.map(|v| &v.pca));
            if let Some(v) = previous {
                pca.orient_like(&m.codes, &v.points);
            }
            let points = m
                .codes
                .chunks_exact(m.latent_dim)
                .map(|c| pca.project(c))
                .collect();
            let view = PcaView {
                step: snap.step,
                pca,
                points,
            };
            self.pca.insert(m.name.clone(), view);
        }
    }

    /// The plane, clamped to what this model's code size allows.
    pub fn plane_for(&self, m: &ModelSnapshot) -> Plane {
        match self.plane {
            Plane::Pca if m.latent_dim > 2 => Plane::Pca,
            Plane::Dims(a, b) if a < m.latent_dim && b < m.latent_dim => Plane::Dims(a, b),
            _ => Plane::Dims(0, 1.min(m.latent_dim.saturating_sub(1))),
        }
    }

    /// The 2-D plot coordinates of a code on the shown plane (0 where the code is short).
    pub fn project(&self, m: &ModelSnapshot, code: &[f32]) -> [f64; 2] {
        let at = |i: usize| code.get(i).map_or(0.0, |v| f64::from(*v));
        match self.plane_for(m) {
            Plane::Dims(a, b) => [at(a), if m.latent_dim > 1 { at(b) } else { 0.0 }],
            Plane::Pca => {
                let p = self
                    .pca
                    .get(&m.name)
                    .map_or([0.0; 2], |v| v.pca.project(code));
                [f64::from(p[0]), f64::from(p[1])]
            }
        }
    }

    /// The probe code of `name` (empty before the first snapshot).
    pub fn probe_code(&self, name: &str) -> &[f32] {
        self.probes.get(name).map_or(&[], |p| &p.code)
    }

    /// The full code at plane coordinates `p`: the probe with the two shown coordinates
    /// replaced (or, for PCA, the point on the principal plane).
    pub fn code_at(&self, m: &ModelSnapshot, p: [f64; 2]) -> Vec<f32> {
        let mut z = self.probe_code(&m.name).to_vec();
        z.resize(m.latent_dim, 0.0);
        match self.plane_for(m) {
            Plane::Dims(a, b) => {
                if let Some(v) = z.get_mut(a) {
                    *v = p[0] as f32;
                }
                if m.latent_dim > 1
                    && let Some(v) = z.get_mut(b)
                {
                    *v = p[1] as f32;
                }
            }
            Plane::Pca => {
                if let Some(v) = self.pca.get(&m.name) {
                    z = v.pca.unproject([p[0] as f32, p[1] as f32]);
                }
            }
        }
        z
    }

    /// Moves the probe of `m` to a point on its plot.
    pub fn set_probe_at(&mut self, m: &ModelSnapshot, p: [f64; 2]) {
        let z = self.code_at(m, p);
        self.set_probe(&m.name, z);
    }

    /// Sets the probe code of model `name`.
    pub fn set_probe(&mut self, name: &str, code: Vec<f32>) {
        self.probes.entry(name.to_string()).or_default().code = code;
    }

    /// Pins display item `i`; the probe of `m` jumps to its code, so the probe's decoding
    /// is the item's reconstruction. An item without a code is not pinned.
    pub fn pin(&mut self, m: &ModelSnapshot, i: usize) {
        if let Some(code) = row(&m.codes, i, m.latent_dim) {
            self.pinned = Some(i);
            self.set_probe(&m.name, code.to_vec());
        }
    }

    /// The range of the codes on the shown plane: ((x_min, x_max), (y_min, y_max)).
    pub fn code_box(&self, m: &ModelSnapshot) -> ((f32, f32), (f32, f32)) {
        let mut b = [(f32::INFINITY, f32::NEG_INFINITY); 2];
        for code in m.codes.chunks_exact(m.latent_dim.max(1)) {
            let p = self.project(m, code);
            for k in 0..2 {
                if p[k].is_finite() {
                    b[k] = (b[k].0.min(p[k] as f32), b[k].1.max(p[k] as f32));
                }
            }
        }
        let fix = |(lo, hi): (f32, f32)| if lo < hi { (lo, hi) } else { (-3.0, 3.0) };
        (fix(b[0]), fix(b[1]))
    }

    /// A label for the shown plane's axes ("z1", "PC2").
    pub fn axis_name(&self, m: &ModelSnapshot, k: usize) -> String {
        match self.plane_for(m) {
            Plane::Dims(a, b) => format!("z{}", if k == 0 { a + 1 } else { b + 1 }),
            Plane::Pca => format!("PC{}", k + 1),
        }
    }
}
