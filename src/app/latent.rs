//! Latent space, one plot per model side by side: test codes coloured by class, the
//! prior's σ circles and posterior ellipses for VAEs, a draggable probe decoded live
//! beside each plot, and a pinned test item. The models' columns and their drawing are in `scatter.rs` (which builds on this file, not the other way).

use super::actions::Action;
use super::items::Tex;
use super::projections::Projections;
use super::selection::decode_class_ui;
use super::selection::{Plane, Selection};
use super::theme;
use super::view::{View, ViewCtx};
use crate::data::Dataset;
use crate::explore;
use crate::explore::projection::Projection;
use crate::train::{ModelSnapshot, Snapshot};
use egui::{RichText, Ui};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// State of the latent-space tab (the probes and the plane are in the shared selection).
pub struct LatentPanel {
    /// Every plot uses the union of the models' ranges.
    pub same_axes: bool,
    /// Draw the prior's 1σ and 2σ circles on VAE plots.
    pub show_prior: bool,
    /// Draw each point's posterior ellipse (first few hundred points) on VAE plots.
    pub show_posterior: bool,
    /// Classes hidden from the scatter.
    pub hidden_classes: BTreeSet<u32>,
    /// Colour the points by this factor of the data set (`sprites`: shape, scale, x, ...)
    /// instead of by class.
    pub colour_by: Option<usize>,
    /// t-SNE or UMAP for every plot of codes with more than two dimensions (`None`: the
    /// shared plane, PCA or two dimensions, which the grid tab shows too).
    pub projection: Option<Projection>,
    /// A plot's own choice, by model name, over `projection` (`Some(None)`: the plane).
    pub per_plot: HashMap<String, Option<Projection>>,
    pub(super) projections: Projections,
    pub(super) probe_tex: HashMap<String, Tex>,
    pub(super) pinned_tex: HashMap<String, Tex>,
    /// Each plot's axes while the probe is dragged (they hold still until release).
    pub(super) held_bounds: HashMap<String, [[f64; 2]; 2]>,
}

impl Default for LatentPanel {
    fn default() -> Self {
        Self {
            same_axes: false,
            show_prior: true,
            show_posterior: false,
            hidden_classes: BTreeSet::new(),
            colour_by: None,
            projection: None,
            per_plot: HashMap::new(),
            projections: Projections::default(),
            probe_tex: HashMap::new(),
            pinned_tex: HashMap::new(),
            held_bounds: HashMap::new(),
        }
    }
}

/// The width of the "decode as class" label and menu, in points.
const DECODE_CLASS_WIDTH: f32 = 230.0;

const ABOUT: &str = "Axes: two coordinates of the code z (z1 × z2; with more than two \
    dimensions, another pair or the first two principal components, the other dimensions \
    staying at the probe's values; or t-SNE and UMAP, which place codes that are near each \
    other near each other, at the price of distances and directions that mean nothing, and \
    have no way back from a point to a code). Each dot is a random test item (up to 2000) placed at its \
    code, coloured by its class: the encoder's output for an AE, the posterior mean μ for a \
    VAE. Dashed circles: the VAE's prior N(0, I) at 1σ and 2σ, where its KL term pulls the \
    codes; \"posterior ellipses\" draw each item's 1σ (the spread of the z the VAE samples \
    around μ while training). An AE has no prior: its codes sit wherever training put them, \
    at any scale, so compare the axes. Drag on a plot to move the probe (white ring): the \
    image beside it is the decoder's output for exactly that z (no sampling; pixel \
    probabilities). Click a dot to pin it (gold diamond) and see its input and decoding. \
    Space starts and pauses training.";

impl View for LatentPanel {
    fn title(&self) -> &'static str {
        "Latent space"
    }

    fn about(&self) -> (&'static str, &'static str) {
        (
            "Where each model puts the test items: one dot per item at its code z, coloured \
             by class.",
            ABOUT,
        )
    }

    fn ui(&mut self, ui: &mut Ui, cx: &mut ViewCtx<'_>) -> Vec<Action> {
        // The options and the classes share one row where it is wide enough.
        ui.horizontal_wrapped(|ui| {
            self.toolbar_ui(ui, cx.snap, &mut cx.selection.plane);
            ui.separator();
            self.classes_ui(ui, cx.ds);
            // The menu is one block: where it would not fit it starts the next row instead
            // of running past the window.
            if ui.available_size_before_wrap().x < DECODE_CLASS_WIDTH {
                ui.end_row();
            }
            decode_class_ui(ui, cx.selection, cx.snap, cx.ds);
        });
        self.update_projections(ui, cx.snap, cx.settings.run.seed);
        let shared = self.same_axes.then(|| {
            let planar: Vec<&ModelSnapshot> = (cx.snap.models.iter())
                .filter(|m| self.method_for(m).is_none())
                .collect();
            union_bounds(&planar, cx.selection)
        });
        self.models_ui(ui, cx, shared);
        Vec::new()
    }

    fn clear(&mut self) {
        self.probe_tex.clear();
        self.pinned_tex.clear();
        self.projections.clear();
    }

    fn busy(&self) -> bool {
        self.projections.any_behind()
    }

    fn highlight(&mut self, h: &crate::lessons::Highlight) {
        self.same_axes = h.same_axes;
        self.show_prior = h.prior_circles;
        self.show_posterior = h.posterior_ellipses;
        self.hidden_classes = h.hidden_classes.clone();
        self.colour_by = h.colour_by;
        // A step's view is every plot's: the plots' own choices give way to it.
        self.projection = h.view.filter(|p| !p.invertible());
        self.per_plot.clear();
    }
}

impl LatentPanel {
    /// The t-SNE or UMAP that `m`'s plot shows, or `None` where it shows the plane (always
    /// for codes of one or two dimensions: z1 × z2 is then the code itself).
    pub(super) fn method_for(&self, m: &ModelSnapshot) -> Option<Projection> {
        if m.latent_dim <= 2 {
            return None;
        }
        let chosen = self.per_plot.get(&m.name).copied();
        chosen
            .unwrap_or(self.projection)
            .filter(|p| !p.invertible())
    }

    /// Polls and starts the projected plots' jobs (never waits for one); forgets the jobs of
    /// plots that show a plane again.
    fn update_projections(&mut self, ui: &Ui, snap: &Snapshot, seed: u64) {
        let now = Instant::now();
        let mut keep = Vec::new();
        for m in &snap.models {
            if let Some(method) = self.method_for(m) {
                self.projections.update(m, method, seed, now);
                keep.push(m.name.as_str());
            }
        }
        self.projections.retain(&keep);
        if self.projections.any_running() {
            // The progress moves and the result arrives without any input.
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }
    }

    fn toolbar_ui(&mut self, ui: &mut Ui, snap: &Snapshot, plane: &mut Plane) {
        ui.scope(|ui| {
            ui.checkbox(&mut self.same_axes, "same axes for all models")
                .on_hover_text(
                    "one scale for every plot, and one probe: every model decodes the same z",
                );
            if snap.models.iter().any(|m| m.kind.is_variational()) {
                ui.checkbox(&mut self.show_prior, "prior 1σ/2σ circles");
                ui.checkbox(&mut self.show_posterior, "posterior ellipses")
                    .on_hover_text(
                        "1σ of q(z|x) for 40 test items spread over the classes; the pinned \
                         item always shows its 1σ and 2σ (dashed)",
                    );
            }
            let max_dim = snap.models.iter().map(|m| m.latent_dim).max().unwrap_or(2);
            if max_dim > 2 {
                ui.separator();
                if view_ui(ui, plane, &mut self.projection, max_dim) {
                    // A choice for all plots is for all of them.
                    self.per_plot.clear();
                }
            }
        });
    }

    fn classes_ui(&mut self, ui: &mut Ui, ds: &Dataset) {
        self.colour_by = self.colour_by.filter(|&j| j < ds.factor_names.len());
        if !ds.factor_names.is_empty() {
            factor_ui(ui, &mut self.colour_by, ds);
        }
        // The legend flows on in the toolbar's wrapped row, onto a row of its own when
        // little is left (in a narrow leftover it stacked one word per line and took
        // the plots' height: sprites at 1280×720).
        if ui.available_size_before_wrap().x < 240.0 {
            ui.end_row();
        }
        {
            ui.label("classes:");
            for (c, name) in ds.class_names.iter().enumerate() {
                let hidden = self.hidden_classes.contains(&(c as u32));
                let color = if hidden {
                    theme::QUIET
                } else {
                    theme::class_color(c)
                };
                let mut text = RichText::new(name).color(color).strong();
                if hidden {
                    text = text.strikethrough();
                }
                let (dot, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                ui.painter().circle_filled(dot.center(), 5.0, color);
                let clicked = ui
                    .add(egui::Label::new(text).sense(egui::Sense::click()))
                    .on_hover_text("click to hide or show this class")
                    .clicked();
                if clicked && hidden {
                    self.hidden_classes.remove(&(c as u32));
                } else if clicked {
                    self.hidden_classes.insert(c as u32);
                }
            }
        }
    }
}

/// What a plot of codes with more than two dimensions shows: a plane (shared with the grid
/// tab and the probe) or a neighbour map.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum ViewChoice {
    /// PCA or two dimensions.
    Plane(Plane),
    /// t-SNE or UMAP.
    Map(Projection),
}

impl ViewChoice {
    /// The name in the menus ("PCA", "z1 × z3", "t-SNE").
    pub(super) fn label(self) -> String {
        match self {
            ViewChoice::Plane(Plane::Dims(a, b)) => format!("z{} × z{}", a + 1, b + 1),
            ViewChoice::Plane(Plane::Pca) => "PCA".to_string(),
            ViewChoice::Map(p) => p.title().to_string(),
        }
    }
}

/// The maps a plot can show besides its plane.
pub(super) const MAPS: [Projection; 2] = [Projection::Tsne, Projection::Umap];

/// The view picker for codes of more than two dimensions, for every plot at once: PCA,
/// t-SNE, UMAP, then pairs of dimensions. Returns whether the user chose.
fn view_ui(
    ui: &mut Ui,
    plane: &mut Plane,
    projection: &mut Option<Projection>,
    max_dim: usize,
) -> bool {
    let current = match *projection {
        Some(p) if !p.invertible() => ViewChoice::Map(p),
        _ => ViewChoice::Plane(*plane),
    };
    let mut chosen = current;
    let label = ui.label("view:");
    let response = egui::ComboBox::from_id_salt("latent-view")
        .selected_text(current.label())
        .show_ui(ui, |ui| {
            let pca = ViewChoice::Plane(Plane::Pca);
            let mut clicked = ui.selectable_value(&mut chosen, pca, pca.label()).clicked();
            for map in MAPS.map(ViewChoice::Map) {
                clicked |= ui.selectable_value(&mut chosen, map, map.label()).clicked();
            }
            for a in 0..max_dim.min(8) {
                for b in a + 1..max_dim.min(8) {
                    let dims = ViewChoice::Plane(Plane::Dims(a, b));
                    clicked |= ui
                        .selectable_value(&mut chosen, dims, dims.label())
                        .clicked();
                }
            }
            clicked
        });
    response
        .response
        .labelled_by(label.id)
        // A hover text, not a label: a label here fills the rest of the row, and the
        // classes after it then stack one under another in what is left, taking the
        // height of the plots (three models at 1280×720 had none left).
        .on_hover_text(
            "for every plot (each plot can choose its own above it). PCA and z_i × z_j: \
             other dimensions stay at the probe's values, and the grid tab shows the same \
             plane. t-SNE and UMAP keep neighbours together, computed in the background; \
             their axes have no units and the probe cannot be dragged there.",
        );
    let clicked = response.inner.unwrap_or(false);
    match chosen {
        ViewChoice::Plane(p) => {
            *plane = p;
            *projection = None;
        }
        ViewChoice::Map(p) => *projection = Some(p),
    }
    clicked
}

/// The plot range of one model: its codes' range, and at least ±3 for a VAE.
pub(super) fn bounds(m: &ModelSnapshot, selection: &Selection) -> [[f64; 2]; 2] {
    let mut b = [[f64::INFINITY, f64::NEG_INFINITY]; 2];
    for code in m.codes.chunks_exact(m.latent_dim.max(1)) {
        let p = selection.project(m, code);
        for k in 0..2 {
            if p[k].is_finite() {
                b[k] = [b[k][0].min(p[k]), b[k][1].max(p[k])];
            }
        }
    }
    b.map(|[lo, hi]| {
        let (lo, hi) = explore::axis_span((lo, hi), m.kind.is_variational());
        [lo, hi]
    })
}

/// The union of the plot ranges of `models` ("same axes for all models"; t-SNE and UMAP
/// plots keep their own, which have no units).
fn union_bounds(models: &[&ModelSnapshot], selection: &Selection) -> [[f64; 2]; 2] {
    models.iter().map(|m| bounds(m, selection)).fold(
        [[f64::INFINITY, f64::NEG_INFINITY]; 2],
        |acc, b| {
            [
                [acc[0][0].min(b[0][0]), acc[0][1].max(b[0][1])],
                [acc[1][0].min(b[1][0]), acc[1][1].max(b[1][1])],
            ]
        },
    )
}

/// A code as "(0.12, -1.30, …)", at most 6 values.
pub fn format_code(z: &[f32]) -> String {
    let shown: Vec<String> = z.iter().take(6).map(|v| format!("{v:.2}")).collect();
    let more = if z.len() > 6 { ", …" } else { "" };
    format!("({}{more})", shown.join(", "))
}

/// "colour by: class | shape | scale | …" for a set with known factors, and the colour
/// scale of the factor chosen.
fn factor_ui(ui: &mut Ui, colour_by: &mut Option<usize>, ds: &Dataset) {
    ui.label("colour by");
    let name = |c: &Option<usize>| match c {
        Some(j) => ds.factor_names.get(*j).cloned().unwrap_or_default(),
        None => "class".to_string(),
    };
    egui::ComboBox::from_id_salt("colour by")
        .selected_text(name(colour_by))
        .show_ui(ui, |ui| {
            ui.selectable_value(colour_by, None, "class");
            for (j, f) in ds.factor_names.iter().enumerate() {
                ui.selectable_value(colour_by, Some(j), f);
            }
        })
        .response
        .on_hover_text("which direction of z moves x, which moves the scale: colour by it");
    if let Some(j) = *colour_by {
        let n = factor_values(ds, j);
        ui.label(
            RichText::new("0")
                .color(theme::ordered_color(0, n))
                .strong(),
        );
        ui.label(RichText::new("→").color(theme::QUIET));
        let last = n.saturating_sub(1);
        ui.label(
            RichText::new(last.to_string())
                .color(theme::ordered_color(last, n))
                .strong(),
        );
        ui.separator();
    }
}

/// How many values factor `j` takes among the test items (its largest value plus one).
pub(super) fn factor_values(ds: &Dataset, j: usize) -> usize {
    let k = ds.factor_names.len();
    (0..ds.test.len())
        .filter_map(|i| ds.test.factors_of(i, k).get(j).copied())
        .max()
        .map_or(1, |m| m as usize + 1)
}
