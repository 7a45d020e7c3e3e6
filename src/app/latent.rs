//! Latent space, one plot per model side by side: test codes coloured by class, the
//! prior's σ circles and posterior ellipses for VAEs, a draggable probe decoded live
//! beside each plot, and a pinned test item.

use super::items::{Tex, key_of};
use super::theme;
use crate::data::Dataset;
use crate::explore::Pca2;
use crate::train::{ModelSnapshot, Snapshot};
use egui::{Color32, RichText, Ui};
use std::collections::{BTreeSet, HashMap};

/// Which plane of latent space the plots show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Two chosen dimensions (0-based).
    Dims(usize, usize),
    /// The two leading principal directions of the codes.
    Pca,
}

/// Per-model state of the latent view.
#[derive(Default)]
pub struct ModelView {
    /// The probe's full code; the plotted plane shows two coordinates of it.
    pub probe: Vec<f32>,
    /// The probe's current decoding.
    pub probe_decoded: Vec<f32>,
    pub(super) probe_tex: Tex,
    pub(super) pinned_tex: Tex,
    decoded_key: Option<u64>,
}

impl ModelView {
    /// Decodes the probe with `m`'s decoder only when the probe or the snapshot changed;
    /// returns the key that identifies this decoding (for texture caches).
    pub fn refresh_decoding(&mut self, m: &ModelSnapshot, step: u64) -> u64 {
        let key = key_of(&[step], &self.probe);
        if self.decoded_key != Some(key) {
            self.probe_decoded = m.decoder.decode(&self.probe).unwrap_or_default();
            self.decoded_key = Some(key);
        }
        key
    }
}

/// State of the latent-space tab.
pub struct LatentPanel {
    /// Plane shown for latent dim > 2.
    pub view: View,
    /// Every plot uses the union of the models' ranges.
    pub same_axes: bool,
    /// Draw the prior's 1σ and 2σ circles on VAE plots.
    pub show_prior: bool,
    /// Draw each point's posterior ellipse (first few hundred points) on VAE plots.
    pub show_posterior: bool,
    /// Classes hidden from the scatter.
    pub hidden_classes: BTreeSet<u32>,
    /// The pinned display item (index into the snapshot's display items).
    pub pinned: Option<usize>,
    /// One entry per model name.
    pub models: HashMap<String, ModelView>,
    /// Screen rectangle of each model's plot in the last frame (tests drive the probe with it).
    pub plot_rects: HashMap<String, egui::Rect>,
    pub(super) pca: HashMap<String, (u64, Pca2)>,
}

impl Default for LatentPanel {
    fn default() -> Self {
        Self {
            view: View::Dims(0, 1),
            same_axes: false,
            show_prior: true,
            show_posterior: false,
            hidden_classes: BTreeSet::new(),
            pinned: None,
            models: HashMap::new(),
            plot_rects: HashMap::new(),
            pca: HashMap::new(),
        }
    }
}

impl LatentPanel {
    /// Forgets per-model state (after a reset).
    pub fn clear(&mut self) {
        self.models.clear();
        self.pca.clear();
        self.pinned = None;
    }

    /// The 2-D plot coordinates of a code under the current view.
    pub(super) fn project(&self, m: &ModelSnapshot, code: &[f32]) -> [f64; 2] {
        match self.view_for(m) {
            View::Dims(a, b) => [
                f64::from(code[a]),
                if b < code.len() && m.latent_dim > 1 {
                    f64::from(code[b])
                } else {
                    0.0
                },
            ],
            View::Pca => {
                let p = self
                    .pca
                    .get(&m.name)
                    .map_or([0.0; 2], |(_, pca)| pca.project(code));
                [f64::from(p[0]), f64::from(p[1])]
            }
        }
    }

    /// The view, clamped to what this model's code size allows.
    pub(super) fn view_for(&self, m: &ModelSnapshot) -> View {
        match self.view {
            View::Pca if m.latent_dim > 2 => View::Pca,
            View::Dims(a, b) if a < m.latent_dim && b < m.latent_dim => View::Dims(a, b),
            _ => View::Dims(0, 1.min(m.latent_dim.saturating_sub(1))),
        }
    }

    pub(super) fn update_pca(&mut self, snap: &Snapshot) {
        if self.view != View::Pca {
            return;
        }
        for m in snap.models.iter().filter(|m| m.latent_dim > 2) {
            let fresh = self
                .pca
                .get(&m.name)
                .is_some_and(|(step, _)| *step == snap.step);
            if !fresh {
                self.pca.insert(
                    m.name.clone(),
                    (snap.step, Pca2::fit(&m.codes, m.latent_dim)),
                );
            }
        }
    }

    /// The full code at plane coordinates `p`: the probe with the two shown coordinates
    /// replaced (or, for PCA, the point on the principal plane).
    pub fn code_at(&self, m: &ModelSnapshot, p: [f64; 2]) -> Vec<f32> {
        let mut z = self
            .models
            .get(&m.name)
            .map(|v| v.probe.clone())
            .unwrap_or_default();
        z.resize(m.latent_dim, 0.0);
        match self.view_for(m) {
            View::Dims(a, b) => {
                z[a] = p[0] as f32;
                if m.latent_dim > 1 {
                    z[b] = p[1] as f32;
                }
            }
            View::Pca => {
                if let Some((_, pca)) = self.pca.get(&m.name) {
                    z = pca.unproject([p[0] as f32, p[1] as f32]);
                }
            }
        }
        z
    }

    /// Sets the probe of `m` from a point on its plot.
    pub(super) fn set_probe(&mut self, m: &ModelSnapshot, p: [f64; 2]) {
        let z = self.code_at(m, p);
        self.models.entry(m.name.clone()).or_default().probe = z;
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
        match self.view_for(m) {
            View::Dims(a, b) => format!("z{}", if k == 0 { a + 1 } else { b + 1 }),
            View::Pca => format!("PC{}", k + 1),
        }
    }

    /// The plot range of one model: its codes' range, and at least ±3 for a VAE.
    pub(super) fn bounds(&self, m: &ModelSnapshot) -> [[f64; 2]; 2] {
        let mut b = [[f64::INFINITY, f64::NEG_INFINITY]; 2];
        for code in m.codes.chunks_exact(m.latent_dim.max(1)) {
            let p = self.project(m, code);
            for k in 0..2 {
                if p[k].is_finite() {
                    b[k] = [b[k][0].min(p[k]), b[k][1].max(p[k])];
                }
            }
        }
        for axis in &mut b {
            if axis[0] > axis[1] {
                *axis = [-3.0, 3.0];
            }
            let pad = ((axis[1] - axis[0]) * 0.05).max(1e-3);
            *axis = [axis[0] - pad, axis[1] + pad];
            if m.kind.is_variational() {
                *axis = [axis[0].min(-3.0), axis[1].max(3.0)];
            }
        }
        b
    }

    /// Makes sure every model has a probe of the right size and the PCA is current.
    pub fn prepare(&mut self, snap: &Snapshot) {
        for m in &snap.models {
            let mv = self.models.entry(m.name.clone()).or_default();
            if mv.probe.len() != m.latent_dim {
                mv.probe = vec![0.0; m.latent_dim];
            }
        }
        if self.pinned.is_some_and(|p| p >= snap.display_labels.len()) {
            self.pinned = None;
        }
        self.update_pca(snap);
    }

    /// Draws the tab.
    pub fn ui(&mut self, ui: &mut Ui, snap: &Snapshot, ds: &Dataset) {
        self.toolbar_ui(ui, snap, ds);
        ui.label(RichText::new("Each dot is a test item placed at its code; colour is its class. Dashed circles: the VAE prior N(0, I) at 1σ and 2σ. Drag on a plot to move the probe (white ring) and watch its decoding; click a dot to pin it (gold diamond). Space starts and pauses training.").weak());
        let shared = self.same_axes.then(|| {
            snap.models.iter().map(|m| self.bounds(m)).fold(
                [[f64::INFINITY, f64::NEG_INFINITY]; 2],
                |acc, b| {
                    [
                        [acc[0][0].min(b[0][0]), acc[0][1].max(b[0][1])],
                        [acc[1][0].min(b[1][0]), acc[1][1].max(b[1][1])],
                    ]
                },
            )
        });
        let n = snap.models.len().max(1);
        ui.columns(n, |cols| {
            for (ui, m) in cols.iter_mut().zip(&snap.models) {
                // Each model's column is framed in its colour, as its curves are.
                egui::Frame::new()
                    .stroke(egui::Stroke::new(
                        1.5,
                        theme::model_color(m.kind).gamma_multiply(0.7),
                    ))
                    .corner_radius(4.0)
                    .inner_margin(6.0)
                    .show(ui, |ui| self.model_ui(ui, m, snap, ds, shared));
            }
        });
    }

    fn toolbar_ui(&mut self, ui: &mut Ui, snap: &Snapshot, ds: &Dataset) {
        ui.horizontal_wrapped(|ui| {
            ui.checkbox(&mut self.same_axes, "same axes for all models");
            if snap.models.iter().any(|m| m.kind.is_variational()) {
                ui.checkbox(&mut self.show_prior, "prior 1σ/2σ circles");
                ui.checkbox(&mut self.show_posterior, "posterior ellipses");
            }
            let max_dim = snap.models.iter().map(|m| m.latent_dim).max().unwrap_or(2);
            if max_dim > 2 {
                ui.separator();
                let plane = ui.label("plane:");
                let label = |v: View| match v {
                    View::Dims(a, b) => format!("z{} × z{}", a + 1, b + 1),
                    View::Pca => "PCA".to_string(),
                };
                egui::ComboBox::from_id_salt("latent-view")
                    .selected_text(label(self.view))
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.view, View::Pca, "PCA");
                        for a in 0..max_dim.min(8) {
                            for b in a + 1..max_dim.min(8) {
                                ui.selectable_value(
                                    &mut self.view,
                                    View::Dims(a, b),
                                    label(View::Dims(a, b)),
                                );
                            }
                        }
                    })
                    .response
                    .labelled_by(plane.id);
                ui.label(RichText::new("other dimensions stay at the probe's values").weak());
            }
        });
        ui.horizontal_wrapped(|ui| {
            ui.label("classes:");
            for (c, name) in ds.class_names.iter().enumerate() {
                let hidden = self.hidden_classes.contains(&(c as u32));
                let color = if hidden {
                    Color32::GRAY
                } else {
                    theme::class_color(c)
                };
                let mut text = RichText::new(name).color(color).strong();
                if hidden {
                    text = text.strikethrough();
                }
                let (dot, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                ui.painter().circle_filled(dot.center(), 5.0, color);
                if ui
                    .add(egui::Label::new(text).sense(egui::Sense::click()))
                    .on_hover_text("click to hide or show this class")
                    .clicked()
                {
                    if hidden {
                        self.hidden_classes.remove(&(c as u32));
                    } else {
                        self.hidden_classes.insert(c as u32);
                    }
                }
            }
        });
    }
}

/// A code as "(0.12, -1.30, …)", at most 6 values.
pub fn format_code(z: &[f32]) -> String {
    let shown: Vec<String> = z.iter().take(6).map(|v| format!("{v:.2}")).collect();
    let more = if z.len() > 6 { ", …" } else { "" };
    format!("({}{more})", shown.join(", "))
}
