//! One model's latent scatter with its probe and pinned item, for the latent-space tab:
//! gather what to draw, draw it, turn the pointer into a probe move or a pin, and show
//! the probe's decoding and the pinned item beside the plot.

use super::codebook::CodebookOverlay;
use super::items::{
    Decoded, decode_failed_ui, display_input, key_of, row, show_decoded, show_items,
};
use super::latent::{LatentPanel, MAPS, ViewChoice, bounds, format_code};
use super::latent_layout::Layout;
use super::projections::{self, ProjectedView};
use super::selection::{Plane, Selection};
use super::theme;
use super::view::ViewCtx;
use crate::data::Dataset;
use crate::explore::projection::Projection;
use crate::train::{ModelSnapshot, Snapshot};
use egui::{Color32, RichText, Ui};
use egui_plot::{Line, MarkerShape, Plot, PlotPoints, PlotUi, Points};
use std::collections::BTreeSet;

/// Posterior ellipses drawn per plot besides the pinned item's: a spread-out sample, few
/// enough to read (hundreds make a tangle early in training).
const SAMPLE_ELLIPSES: usize = 40;

/// The least plot side (points) whose axes carry their names; smaller plots name them in
/// the header.
const NAMED_AXES: f32 = 280.0;

/// The least radius of a posterior ellipse on screen, in points.
const MIN_ELLIPSE_RADIUS: f32 = 4.0;

/// Everything one model's plot shows, in plot coordinates, gathered before drawing.
struct Scene {
    /// Visible points by group (class, or a factor's value), each with its name and colour.
    groups: Vec<Group>,
    /// Every display item that has both a code and a label: position and label, by index.
    items: Vec<([f64; 2], u32)>,
    /// The probe, where it can be shown and dragged (not on t-SNE and UMAP plots).
    probe: Option<[f64; 2]>,
    pinned: Option<[f64; 2]>,
    ellipses: Vec<Ellipse>,
    /// Where the drawn item's code (μ) lies, if there is a drawn item.
    drawn: Option<[f64; 2]>,
    show_prior: bool,
    bounds: [[f64; 2]; 2],
    axis_names: [String; 2],
    /// A vq-vae's codebook entries (on a plane, not a t-SNE or UMAP map).
    codebook: Option<CodebookOverlay>,
}

/// Points drawn in one colour under one name.
struct Group {
    name: String,
    color: egui::Color32,
    points: Vec<[f64; 2]>,
}

/// What the pointer did on a plot.
enum PlotEvent {
    /// Move the probe to this point.
    Probe([f64; 2]),
    /// Pin this display item.
    Pin(usize),
}

impl LatentPanel {
    /// One model's column: header, plot, and the images beside (or below) it.
    pub(super) fn model_ui(
        &mut self,
        ui: &mut Ui,
        m: &ModelSnapshot,
        cx: &mut ViewCtx<'_>,
        shared: Option<[[f64; 2]; 2]>,
    ) {
        let pinned = cx.selection.pinned.is_some();
        let map = self.method_for(m);
        // The model's name heads the column, above the plot and the images.
        let probe_layout =
            Layout::choose(ui.available_width(), ui.available_height() - 30.0, pinned);
        // Codes of more than two dimensions have the view's menu in the header instead,
        // which names the plane.
        let axes = (probe_layout.plot < NAMED_AXES && m.latent_dim <= 2).then(|| {
            let (x, y) = (cx.selection.axis_name(m, 0), cx.selection.axis_name(m, 1));
            format!("{x} × {y}")
        });
        let plane = ViewChoice::Plane(cx.selection.plane_for(m));
        if let Some(choice) = header_ui(ui, m, axes.as_deref(), map, plane) {
            self.per_plot.insert(m.name.clone(), choice);
        }
        let layout = Layout::choose(ui.available_width(), ui.available_height(), pinned);
        // While the user drags the probe the axes hold still (training moves the codes,
        // and axes that follow them would move the point under the pointer).
        if !ui.input(|i| i.pointer.any_down()) {
            self.held_bounds.clear();
        }
        let held = self.held_bounds.get(&m.name).copied();
        // A t-SNE or UMAP plot has its own axes (without units) whatever the others share.
        let shared = shared.filter(|_| map.is_none());
        let projected = map.and_then(|_| self.projections.view(&m.name));
        let overlay = projected.as_ref().map(projections::Overlay::of);
        let scene = self.scene(
            m,
            cx.snap,
            cx.ds,
            cx.selection,
            shared.or(held),
            layout.plot,
            projected.as_ref(),
        );
        let bounds = scene.bounds;
        match &overlay {
            Some(_) => {
                let points = scene.items.iter().map(|(p, _)| *p).collect();
                cx.rects.latent_maps.insert(m.name.clone(), points)
            }
            None => cx.rects.latent_maps.remove(&m.name),
        };
        let body = |ui: &mut Ui| {
            let (rect, event, drawn) = plot_ui(ui, m, scene, layout.plot, &self.hidden_classes);
            if let Some(overlay) = &overlay {
                overlay.ui(ui, rect);
            }
            cx.rects.latent_plots.insert(m.name.clone(), rect);
            cx.rects.subject("latent plots", ui, rect);
            match drawn {
                Some(p) => cx.rects.drawn_markers.insert(m.name.clone(), p),
                None => cx.rects.drawn_markers.remove(&m.name),
            };
            match event {
                Some(PlotEvent::Probe(p)) => {
                    // The probe stays on the plot when the pointer leaves it mid-drag.
                    let p = [
                        p[0].clamp(bounds[0][0], bounds[0][1]),
                        p[1].clamp(bounds[1][0], bounds[1][1]),
                    ];
                    for other in &cx.snap.models {
                        if shared.is_some() || other.name == m.name {
                            self.held_bounds.entry(other.name.clone()).or_insert(bounds);
                        }
                    }
                    // With shared axes the probe is one point z for every model: each
                    // decodes the same code.
                    let linked = cx
                        .snap
                        .models
                        .iter()
                        .filter(|o| shared.is_some() || o.name == m.name);
                    for other in linked {
                        cx.selection.set_probe_at(other, p);
                    }
                    ui.ctx().request_repaint();
                }
                Some(PlotEvent::Pin(i)) => cx.selection.pin(m, i),
                None => {}
            }
            ui.horizontal_top(|ui| self.side_ui(ui, m, cx, layout.image));
        };
        if layout.beside {
            ui.horizontal_top(body);
        } else {
            ui.vertical(body);
        }
    }

    /// Gathers the points, probe, pinned item and ellipses of one model's plot: on its plane,
    /// or at the points of its t-SNE or UMAP picture (`projected`; none until the first
    /// picture of these codes is finished).
    #[allow(clippy::too_many_arguments)] // one call site, each argument a different thing
    fn scene(
        &self,
        m: &ModelSnapshot,
        snap: &Snapshot,
        ds: &Dataset,
        selection: &Selection,
        fixed: Option<[[f64; 2]; 2]>,
        side: f32,
        projected: Option<&ProjectedView<'_>>,
    ) -> Scene {
        let count = m.codes.len() / m.latent_dim.max(1);
        let map: Option<&[[f32; 2]]> = projected.map(|v| {
            v.points
                .filter(|points| points.len() == count)
                .unwrap_or(&[])
        });
        // Each code's place on the plot; on a map, its point (none before the first).
        let place = |i: usize, code: &[f32]| match map {
            Some(points) => points.get(i).map(|p| [f64::from(p[0]), f64::from(p[1])]),
            None => Some(selection.project(m, code)),
        };
        let bounds = match map {
            Some(points) => map_bounds(points),
            None => fixed.unwrap_or_else(|| bounds(m, selection)),
        };
        // Ellipses smaller than a dot are drawn at a visible least size (the probe column
        // says how large σ really is).
        let least = |k: usize| {
            f64::from(MIN_ELLIPSE_RADIUS) * (bounds[k][1] - bounds[k][0]) / f64::from(side.max(1.0))
        };
        let least = [least(0), least(1)];
        // By class, or by the values of the factor chosen.
        let k = ds.factor_names.len();
        let mut groups: Vec<Group> = match self.colour_by.filter(|&j| j < k) {
            Some(j) => {
                let n = super::latent::factor_values(ds, j);
                (0..n)
                    .map(|v| Group {
                        name: format!("{} {v}", ds.factor_names[j]),
                        color: theme::ordered_color(v, n),
                        points: Vec::new(),
                    })
                    .collect()
            }
            None => (0..ds.num_classes().max(1))
                .map(|c| Group {
                    name: ds.class_names.get(c).cloned().unwrap_or_default(),
                    color: theme::class_color(c),
                    points: Vec::new(),
                })
                .collect(),
        };
        let group_of = |i: usize, label: u32| match self.colour_by.filter(|&j| j < k) {
            Some(j) => snap
                .display_indices
                .get(i)
                .and_then(|&t| ds.test.factors_of(t, k).get(j))
                .map(|&v| v as usize),
            None => Some(label as usize),
        };
        let mut items = Vec::with_capacity(snap.display_labels.len());
        // Codes and labels of a consistent snapshot have the same count; zip stops at the
        // shorter one if they do not.
        let codes = m.codes.chunks_exact(m.latent_dim.max(1));
        for (i, (code, &label)) in codes.zip(&snap.display_labels).enumerate() {
            // A map has a point for every code or for none: the indices stay the items'.
            let Some(p) = place(i, code) else {
                continue;
            };
            items.push((p, label));
            if self.hidden_classes.contains(&label) {
                continue;
            }
            if let Some(g) = group_of(i, label).and_then(|g| groups.get_mut(g)) {
                g.points.push(p);
            }
        }
        let plane = selection.plane_for(m);
        let pinned = selection.pinned;
        let mut ellipses = if m.kind.is_variational() && map.is_none() {
            ellipse_lines(
                m,
                snap,
                plane,
                &self.hidden_classes,
                self.show_posterior,
                pinned,
                least,
            )
        } else {
            Vec::new()
        };
        // A map has no place for a code it was not computed with (the drawn item's).
        let drawn = drawn_code(m, selection).filter(|_| map.is_none());
        if let (Some((mu, Some(sigma))), Plane::Dims(a, b)) = (&drawn, plane) {
            let at = |v: &[f32], k: usize| v.get(k).map_or(0.0, |x| f64::from(*x));
            for (scale, dashed) in [(1.0, false), (2.0, true)] {
                let (rx, ry) = (scale * at(sigma, a), scale * at(sigma, b));
                ellipses.push(Ellipse {
                    points: circle(at(mu, a), at(mu, b), rx, ry),
                    color: theme::DRAWN,
                    width: 2.5,
                    dashed,
                });
            }
        }
        let drawn = drawn.map(|(mu, _)| selection.project(m, &mu));
        let axis_names = match projected {
            Some(v) => [1, 2].map(|k| format!("{} {k}", v.method.title())),
            None => [selection.axis_name(m, 0), selection.axis_name(m, 1)],
        };
        let codebook = map.is_none().then(|| {
            CodebookOverlay::of(
                m,
                selection,
                &snap.display_labels,
                &self.hidden_classes,
                true,
            )
        });
        Scene {
            codebook: codebook.flatten(),
            groups,
            probe: map
                .is_none()
                .then(|| selection.project(m, selection.probe_code(&m.name))),
            pinned: selection.pinned.and_then(|i| items.get(i).map(|(p, _)| *p)),
            items,
            ellipses,
            drawn,
            show_prior: m.kind.is_variational() && self.show_prior && map.is_none(),
            bounds,
            axis_names,
        }
    }

    /// The probe's decoding and the pinned item, beside the plot.
    fn side_ui(&mut self, ui: &mut Ui, m: &ModelSnapshot, cx: &mut ViewCtx<'_>, image: f32) {
        let color = theme::model_color(m.kind);
        let Some(probe) = cx.selection.probes.get_mut(&m.name) else {
            return;
        };
        let text_width = image.max(Layout::TEXT);
        let probe_column = ui.vertical(|ui| {
            ui.set_max_width(text_width);
            ui.label(RichText::new("probe decodes to").strong());
            let key = probe.refresh_decoding(m, cx.snap.step, cx.selection.decode_class);
            let tex = self.probe_tex.entry(m.name.clone()).or_default();
            let name = format!("probe-{}", m.name);
            show_decoded(ui, tex, &name, key, cx.ds, &probe.decoded, 1, image, color);
            ui.label(RichText::new(format_code(&probe.code)).monospace().small());
            if let Some(snapped) = super::codebook::snapped_caption(m, &probe.code) {
                ui.label(RichText::new(snapped).small().color(theme::CODEBOOK))
                    .on_hover_text(
                        "the probe snapped to this codebook entry: a vq-vae's decoder only \
                         ever sees codebook entries, so wherever the probe is, it decodes the \
                         nearest entry (the ringed cross)",
                    );
                ui.label(RichText::new("× = a code").small())
                    .on_hover_text(
                        "each cross is one of the codebook's entries (codes), placed in this plot's \
                         view; a dim cross is one no shown item chose. Point at a cross to \
                         see the items it takes.",
                    );
            }
            if let Some(sigma) = median_sigma(m) {
                ui.label(RichText::new(format!("posterior σ ≈ {sigma:.2}")).small())
                    .on_hover_text(
                        "median σ of q(z|x) over the test items shown: how far the VAE's code \
                         of one item spreads. Pin an item to see its 1σ and 2σ ellipses; an ellipse \
                         smaller than a dot is drawn a little larger, so it can be seen.",
                    );
            }
        });
        cx.rects
            .subject("probe images", ui, probe_column.response.rect);
        let Some(i) = cx.selection.pinned else {
            return;
        };
        let pinned = ui.vertical(|ui| {
            ui.set_max_width(text_width);
            self.pinned_ui(ui, m, cx.snap, cx.ds, i, image / 2.0)
        });
        cx.rects.subject("pinned item", ui, pinned.response.rect);
    }

    /// The pinned item: its input, its reconstruction and its code.
    fn pinned_ui(
        &mut self,
        ui: &mut Ui,
        m: &ModelSnapshot,
        snap: &Snapshot,
        ds: &Dataset,
        i: usize,
        cell: f32,
    ) {
        let d = m.latent_dim;
        let (Some(&label), Some(&test_index), Some(input), Some(code)) = (
            snap.display_labels.get(i),
            snap.display_indices.get(i),
            display_input(ds, &snap.display_indices, i),
            row(&m.codes, i, d),
        ) else {
            ui.label(RichText::new("the pinned item is not in this snapshot").weak());
            return;
        };
        // A conditional model (cvae) reconstructs the item as its own class.
        let own_class = label;
        let class = ds
            .class_names
            .get(label as usize)
            .map_or("?", |s| s.as_str());
        let label = RichText::new(format!("pinned #{test_index} ({class})"))
            .small()
            .strong();
        ui.add(egui::Label::new(label).wrap());
        let mut pair = input.to_vec();
        let decoded = Decoded::of_class(&m.decoder, code, own_class);
        match decoded.error() {
            Some(error) => _ = decode_failed_ui(ui, error),
            None => pair.extend(decoded.items()),
        }
        let tex = self.pinned_tex.entry(m.name.clone()).or_default();
        let key = key_of(&[snap.step, i as u64], &[]);
        let color = theme::model_color(m.kind);
        let name = format!("pinned-{}", m.name);
        show_items(ui, tex, &name, key, ds, &pair, 2, cell.max(36.0), color);
        ui.label(RichText::new("input · decoded").small().weak());
        let mut code_text = format!("μ = {}", format_code(code));
        if let Some(sigma) = m.sigmas.as_deref().and_then(|s| row(s, i, d)) {
            code_text.push_str(&format!("\nσ = {}", format_code(sigma)));
        }
        ui.label(RichText::new(code_text).monospace().size(12.5));
    }
}

/// The model's title in its colour, the plot's own view (codes of more than two
/// dimensions: its plane, t-SNE or UMAP), and a warning once it has diverged. Returns the
/// view the user picked for this plot (`Some(None)`: the plane).
fn header_ui(
    ui: &mut Ui,
    m: &ModelSnapshot,
    axes: Option<&str>,
    map: Option<Projection>,
    plane: ViewChoice,
) -> Option<Option<Projection>> {
    let color = theme::model_color(m.kind);
    ui.horizontal(|ui| {
        let title = ui.label(RichText::new(m.kind.title()).heading().color(color));
        let picked = (m.latent_dim > 2).then(|| plot_view_ui(ui, m, map, plane, title.id));
        // The plane's name only where it fits beside the title: in a narrow column (four
        // models at 1280×720, "Conditional VAE") it would widen the column, and egui then
        // widens every column to match, past the window's edge.
        if let Some(axes) = axes {
            let text = egui::WidgetText::from(RichText::new(axes).weak());
            let galley = text.clone().into_galley(
                ui,
                Some(egui::TextWrapMode::Extend),
                f32::INFINITY,
                egui::TextStyle::Body,
            );
            if galley.size().x <= ui.available_size_before_wrap().x {
                ui.label(text);
            }
        }
        if m.diverged {
            ui.colored_label(theme::WARNING, "diverged: last good weights");
        }
        picked.flatten()
    })
    .inner
}

/// One plot's view: its plane (the toolbar's PCA or pair of dimensions), t-SNE or UMAP.
fn plot_view_ui(
    ui: &mut Ui,
    m: &ModelSnapshot,
    map: Option<Projection>,
    plane: ViewChoice,
    title: egui::Id,
) -> Option<Option<Projection>> {
    let current = map.map_or(plane, ViewChoice::Map);
    let mut chosen = current;
    egui::ComboBox::from_id_salt(("plot view", &m.name))
        .selected_text(current.label())
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut chosen, plane, plane.label());
            for map in MAPS.map(ViewChoice::Map) {
                ui.selectable_value(&mut chosen, map, map.label());
            }
        })
        .response
        .labelled_by(title)
        .on_hover_text("this plot's view; the toolbar's \"view\" sets every plot's");
    (chosen != current).then_some(match chosen {
        ViewChoice::Map(p) => Some(p),
        ViewChoice::Plane(_) => None,
    })
}

/// Room above a t-SNE or UMAP picture for the note written over the plot, as a share of
/// the picture's side (the note takes two or three lines at the top).
const NOTE_HEADROOM: f64 = 0.24;

/// The range of a t-SNE or UMAP picture, padded 5%, with [`NOTE_HEADROOM`] above it and as
/// much spread left and right, so that one unit is as long across as up (its distances
/// mean the same both ways, and the plot is square); ±1 before there is one.
fn map_bounds(points: &[[f32; 2]]) -> [[f64; 2]; 2] {
    let mut b = [[f64::INFINITY, f64::NEG_INFINITY]; 2];
    for p in points {
        for k in 0..2 {
            b[k] = [b[k][0].min(f64::from(p[k])), b[k][1].max(f64::from(p[k]))];
        }
    }
    if !(b[0][0] <= b[0][1] && b[1][0] <= b[1][1]) {
        return [[-1.0, 1.0]; 2];
    }
    let half = b
        .iter()
        .map(|[lo, hi]| (hi - lo) / 2.0)
        .fold(0.0f64, f64::max);
    let [x, y] = b.map(|[lo, hi]| {
        let mid = (lo + hi) / 2.0;
        let (lo, hi) = crate::explore::axis_span((mid - half, mid + half), false);
        [lo, hi]
    });
    let room = NOTE_HEADROOM * (y[1] - y[0]);
    [[x[0] - room / 2.0, x[1] + room / 2.0], [y[0], y[1] + room]]
}

/// Draws the plot; returns its screen rectangle and what the pointer did on it.
fn plot_ui(
    ui: &mut Ui,
    m: &ModelSnapshot,
    scene: Scene,
    side: f32,
    hidden: &BTreeSet<u32>,
) -> (egui::Rect, Option<PlotEvent>, Option<egui::Pos2>) {
    let [x_name, y_name] = scene.axis_names.clone();
    // A small plot keeps its room for the points: its axes' names go in the header.
    let (x_name, y_name) = if side >= NAMED_AXES {
        (x_name, y_name)
    } else {
        (String::new(), String::new())
    };
    let response = Plot::new(("latent", &m.name))
        .width(side)
        .height(side)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .show_x(true)
        .show_y(true)
        .x_axis_label(x_name)
        .y_axis_label(y_name)
        .show(ui, |pui| {
            pui.set_plot_bounds_x(scene.bounds[0][0]..=scene.bounds[0][1]);
            pui.set_plot_bounds_y(scene.bounds[1][0]..=scene.bounds[1][1]);
            let event = pointer_event(pui, &scene.items, hidden, scene.probe.is_some());
            let drawn = scene
                .drawn
                .map(|p| pui.screen_from_plot(egui_plot::PlotPoint::new(p[0], p[1])));
            draw_scene(pui, scene);
            (event, drawn)
        });
    let (event, drawn) = response.inner;
    (response.response.rect, event, drawn)
}

/// Ellipses, the probe ring, the class points, then on top what a lesson points at: the
/// prior's circles, the pinned item and the drawn item.
fn draw_scene(pui: &mut PlotUi<'_>, scene: Scene) {
    for e in scene.ellipses {
        let style = if e.dashed {
            egui_plot::LineStyle::dashed_dense()
        } else {
            egui_plot::LineStyle::Solid
        };
        pui.line(
            Line::new("", e.points)
                .color(e.color)
                .width(e.width)
                .style(style),
        );
    }
    // A thin hollow ring under the dots: a cloud that sits where the probe is (a VAE's
    // whole cloud on shared axes) still shows through it.
    // A vq-vae's ring sits on the entry the probe snaps to, a thin line back to the pointer.
    let snapped = scene.codebook.as_ref().and_then(CodebookOverlay::probe_at);
    if let Some(probe) = scene.probe {
        let at = snapped.unwrap_or(probe);
        if snapped.is_some() {
            pui.line(
                Line::new("probe", vec![probe, at])
                    .color(theme::PROBE)
                    .width(1.0),
            );
        }
        let ring = Points::new("probe", vec![at]).shape(MarkerShape::Circle);
        pui.points(ring.radius(11.0).color(theme::PROBE).filled(false));
        let centre = Points::new("probe", vec![probe]).shape(MarkerShape::Circle);
        pui.points(centre.radius(2.5).color(theme::PROBE).filled(true));
    }
    for g in scene.groups {
        if !g.points.is_empty() {
            pui.points(
                Points::new(g.name, g.points)
                    .color(g.color)
                    .radius(theme::POINT_RADIUS)
                    .filled(true),
            );
        }
    }
    if let Some(codebook) = &scene.codebook {
        codebook.draw(pui);
    }
    if scene.show_prior {
        for (r, name) in [(1.0, "prior 1σ"), (2.0, "prior 2σ")] {
            pui.line(
                Line::new(name, circle(0.0, 0.0, r, r))
                    .color(theme::PRIOR)
                    .width(2.0)
                    .style(egui_plot::LineStyle::dashed_loose()),
            );
        }
    }
    if let Some(p) = scene.pinned {
        let marker = Points::new("pinned", vec![p]).shape(MarkerShape::Diamond);
        pui.points(marker.radius(14.0).color(theme::PINNED).filled(false));
    }
    if let Some(p) = scene.drawn {
        // A dark disc behind the star keeps it apart from any class's dots.
        let disc = Points::new("drawn", vec![p]).shape(MarkerShape::Circle);
        pui.points(disc.radius(11.0).color(theme::MARKER_OUTLINE).filled(true));
        let marker = Points::new("drawn", vec![p]).shape(MarkerShape::Asterisk);
        pui.points(marker.radius(20.0).color(theme::DRAWN));
    }
}

/// A click near a visible dot pins it; any other click or a drag moves the probe, where
/// the plot has one (`probe`: a plane, not a t-SNE or UMAP map).
fn pointer_event(
    pui: &PlotUi<'_>,
    items: &[([f64; 2], u32)],
    hidden: &BTreeSet<u32>,
    probe: bool,
) -> Option<PlotEvent> {
    let r = pui.response();
    let p = pui.pointer_coordinate()?;
    if r.clicked() {
        let at = pui.screen_from_plot(p);
        let nearest = items
            .iter()
            .enumerate()
            .filter(|(_, (_, label))| !hidden.contains(label))
            .map(|(i, (q, _))| {
                let screen = pui.screen_from_plot(egui_plot::PlotPoint::new(q[0], q[1]));
                (i, screen.distance(at))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match nearest {
            Some((i, d)) if d < 8.0 => Some(PlotEvent::Pin(i)),
            _ => probe.then_some(PlotEvent::Probe([p.x, p.y])),
        }
    } else if probe && (r.dragged() || r.drag_started()) {
        Some(PlotEvent::Probe([p.x, p.y]))
    } else {
        None
    }
}

/// An axis-aligned ellipse as a closed line.
fn circle(cx: f64, cy: f64, rx: f64, ry: f64) -> PlotPoints<'static> {
    (0..=48)
        .map(|i| {
            let t = i as f64 / 48.0 * std::f64::consts::TAU;
            [cx + rx * t.cos(), cy + ry * t.sin()]
        })
        .collect()
}

/// The drawn item's μ and σ under this model, if an item is drawn and not blank.
fn drawn_code(m: &ModelSnapshot, selection: &Selection) -> Option<(Vec<f32>, Option<Vec<f32>>)> {
    let x = selection.drawn.as_ref()?;
    if x.len() != m.encoder.input_dim() || x.iter().all(|&v| v == 0.0) {
        return None;
    }
    let (mu, logvar) = m.encoder.encode_logvar_as(x, selection.drawn_class);
    let sigma = logvar.map(|lv| lv.iter().map(|v| (0.5 * v).exp()).collect());
    Some((mu, sigma))
}

/// The median posterior σ over the display items and code dimensions (VAEs only).
fn median_sigma(m: &ModelSnapshot) -> Option<f32> {
    let mut all: Vec<f32> = m
        .sigmas
        .as_ref()?
        .iter()
        .copied()
        .filter(|s| s.is_finite())
        .collect();
    if all.is_empty() {
        return None;
    }
    let mid = all.len() / 2;
    Some(*all.select_nth_unstable_by(mid, f32::total_cmp).1)
}

/// One posterior ellipse to draw.
struct Ellipse {
    points: PlotPoints<'static>,
    color: Color32,
    width: f32,
    dashed: bool,
}

/// Posterior ellipses of a VAE: 1σ and 2σ (dashed) of the pinned item, bold in the pin's
/// colour, and, if `sample`, the 1σ ellipses of a spread-out sample of display items in
/// their class colours. Items whose code or σ is missing from the snapshot are skipped.
fn ellipse_lines(
    m: &ModelSnapshot,
    snap: &Snapshot,
    plane: Plane,
    hidden: &BTreeSet<u32>,
    sample: bool,
    pinned: Option<usize>,
    least: [f64; 2],
) -> Vec<Ellipse> {
    let (Some(sigmas), Plane::Dims(a, b)) = (&m.sigmas, plane) else {
        return Vec::new();
    };
    let d = m.latent_dim;
    let b = if d > 1 { b } else { a };
    let at = |v: &[f32], k: usize| v.get(k).map_or(0.0, |x| f64::from(*x));
    let ellipse = |i: usize, scale: f64, color: Color32, width: f32, dashed: bool| {
        let (mu, s) = (row(&m.codes, i, d)?, row(sigmas, i, d)?);
        let rx = (scale * at(s, a)).max(scale * least[0]);
        let ry = (scale * at(s, b)).max(scale * least[1]);
        let points = circle(at(mu, a), at(mu, b), rx, ry);
        Some(Ellipse {
            points,
            color,
            width,
            dashed,
        })
    };
    let n = snap.display_labels.len();
    let step = (n / SAMPLE_ELLIPSES).max(1);
    let mut out: Vec<Ellipse> = (0..n)
        .step_by(step)
        .take(if sample { SAMPLE_ELLIPSES } else { 0 })
        .filter(|&i| !hidden.contains(&snap.display_labels[i]))
        .filter_map(|i| {
            let color = theme::class_color(snap.display_labels[i] as usize);
            ellipse(i, 1.0, color, 1.2, false)
        })
        .collect();
    if let Some(i) = pinned {
        out.extend(ellipse(i, 1.0, theme::PINNED, 2.5, false));
        out.extend(ellipse(i, 2.0, theme::PINNED, 2.0, true));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{self, Sizes};
    use crate::model::{Autoencoder, Likelihood, ModelConfig, ModelKind};
    use rand::SeedableRng;

    #[test]
    fn colour_by_a_factor_puts_each_item_in_its_values_group() {
        let ds = data::load_with_sizes("sprites", 2, Some(Sizes { train: 4, test: 60 })).unwrap();
        let k = ds.factor_names.len();
        let config = {
            let mut c = ModelConfig::new(ModelKind::Ae, ds.dim(), Likelihood::Bernoulli);
            c.hidden = vec![4];
            c
        };
        let mut rng = crate::rng::PortableRng::seed_from_u64(1);
        let model = Autoencoder::new(config.clone(), &mut rng).unwrap();
        // Item i's code is (i, 0): the group of a point says which item it is.
        let n = ds.test.len();
        let m = ModelSnapshot {
            name: "ae".into(),
            kind: ModelKind::Ae,
            latent_dim: 2,
            decoder: std::sync::Arc::new(model.decoder_snapshot().unwrap()),
            encoder: Default::default(),
            config,
            codes: (0..n).flat_map(|i| [i as f32, 0.0]).collect(),
            sigmas: None,
            recon: Vec::new(),
            noisy_inputs: None,
            recon_losses: Vec::new(),
            diverged: false,
        };
        let snap = Snapshot {
            step: 1,
            epoch: 0,
            display_indices: (0..n).collect(),
            display_labels: ds.test.labels.clone(),
            recon_indices: Vec::new(),
            recon_inputs: Vec::new(),
            models: vec![m.clone()],
        };
        let selection = Selection::default();
        let mut panel = LatentPanel::default();
        for colour_by in [None, Some(3)] {
            panel.colour_by = colour_by;
            let scene = panel.scene(&m, &snap, &ds, &selection, None, 300.0, None);
            let groups = scene.groups.len();
            assert_eq!(groups, if colour_by.is_some() { 32 } else { 3 });
            for (g, group) in scene.groups.iter().enumerate() {
                for p in &group.points {
                    let i = p[0] as usize;
                    let want = match colour_by {
                        Some(j) => ds.test.factors_of(i, k)[j] as usize,
                        None => ds.test.labels[i] as usize,
                    };
                    assert_eq!(g, want, "item {i} in {}", group.name);
                }
            }
            let total: usize = scene.groups.iter().map(|g| g.points.len()).sum();
            assert_eq!(total, n);
        }
        // The colours of an ordered factor run from dark to bright.
        let luma = |c: egui::Color32| 0.3 * c.r() as f32 + 0.6 * c.g() as f32 + 0.1 * c.b() as f32;
        assert!(luma(theme::ordered_color(0, 32)) < luma(theme::ordered_color(31, 32)));
    }
}
