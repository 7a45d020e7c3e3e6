//! One model's latent scatter with its probe and pinned item, for the latent-space tab.

use super::items::{key_of, show_items};
use super::latent::{LatentPanel, View, format_code};
use super::theme;
use crate::data::Dataset;
use crate::train::{ModelSnapshot, Snapshot};
use egui::{Color32, RichText, Ui};
use egui_plot::{Line, MarkerShape, Plot, PlotPoints, Points};
use std::collections::BTreeSet;

/// Most posterior ellipses drawn per plot (each is a small polygon).
const MAX_ELLIPSES: usize = 300;

impl LatentPanel {
    pub(super) fn model_ui(
        &mut self,
        ui: &mut Ui,
        m: &ModelSnapshot,
        snap: &Snapshot,
        ds: &Dataset,
        shared: Option<[[f64; 2]; 2]>,
    ) {
        let color = theme::model_color(m.kind);
        ui.horizontal(|ui| {
            ui.label(RichText::new(m.kind.title()).heading().color(color));
            if m.diverged {
                ui.colored_label(theme::WARNING, "diverged: last good weights");
            }
        });
        let bounds = shared.unwrap_or_else(|| self.bounds(m));
        let layout = Layout::choose(ui.available_width(), ui.available_height());
        let side = layout.plot;
        let view = self.view_for(m);
        let axis_names = [self.axis_name(m, 0), self.axis_name(m, 1)];
        // Points per class, as plot coordinates.
        let mut per_class: Vec<Vec<[f64; 2]>> = vec![Vec::new(); ds.num_classes().max(1)];
        let mut all: Vec<[f64; 2]> = Vec::with_capacity(snap.display_labels.len());
        for (code, &label) in m
            .codes
            .chunks_exact(m.latent_dim.max(1))
            .zip(&snap.display_labels)
        {
            let p = self.project(m, code);
            all.push(p);
            if let Some(v) = per_class
                .get_mut(label as usize)
                .filter(|_| !self.hidden_classes.contains(&label))
            {
                v.push(p);
            }
        }
        let probe_now = self
            .models
            .get(&m.name)
            .map(|v| v.probe.clone())
            .unwrap_or_default();
        let probe_p = self.project(m, &probe_now);
        let pinned_p = self.pinned.and_then(|i| all.get(i).copied());
        let ellipses =
            if m.kind.is_variational() && self.show_posterior && matches!(view, View::Dims(..)) {
                ellipse_lines(m, snap, view, &self.hidden_classes)
            } else {
                Default::default()
            };
        let show_prior = m.kind.is_variational() && self.show_prior;
        let mut action: Option<Action> = None;
        let body = |ui: &mut Ui| {
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
                .x_axis_label(axis_names[0].clone())
                .y_axis_label(axis_names[1].clone())
                .show(ui, |pui| {
                    pui.set_plot_bounds_x(bounds[0][0]..=bounds[0][1]);
                    pui.set_plot_bounds_y(bounds[1][0]..=bounds[1][1]);
                    if show_prior {
                        for (r, name) in [(1.0, "prior 1σ"), (2.0, "prior 2σ")] {
                            pui.line(
                                Line::new(name, circle(0.0, 0.0, r, r))
                                    .color(theme::PRIOR)
                                    .style(egui_plot::LineStyle::dashed_loose()),
                            );
                        }
                    }
                    for pts in ellipses {
                        pui.line(Line::new("", pts.0).color(pts.1).width(0.7));
                    }
                    for (c, pts) in per_class.into_iter().enumerate() {
                        if !pts.is_empty() {
                            pui.points(
                                Points::new(
                                    ds.class_names.get(c).cloned().unwrap_or_default(),
                                    pts,
                                )
                                .color(theme::class_color(c))
                                .radius(theme::POINT_RADIUS)
                                .filled(true),
                            );
                        }
                    }
                    if let Some(p) = pinned_p {
                        pui.points(
                            Points::new("pinned", vec![p])
                                .shape(MarkerShape::Diamond)
                                .radius(11.0)
                                .color(theme::PINNED)
                                .filled(false),
                        );
                    }
                    pui.points(
                        Points::new("probe", vec![probe_p])
                            .shape(MarkerShape::Circle)
                            .radius(10.0)
                            .color(theme::PROBE)
                            .filled(false),
                    );
                    pui.points(
                        Points::new("probe", vec![probe_p])
                            .shape(MarkerShape::Circle)
                            .radius(5.0)
                            .color(theme::PROBE)
                            .filled(true),
                    );
                    let r = pui.response().clone();
                    let pointer = pui.pointer_coordinate();
                    if let Some(p) = pointer {
                        if r.clicked() {
                            let screen = |q: [f64; 2]| {
                                pui.screen_from_plot(egui_plot::PlotPoint::new(q[0], q[1]))
                            };
                            let at = pui.screen_from_plot(p);
                            let nearest = all
                                .iter()
                                .enumerate()
                                .filter(|(i, _)| {
                                    !self.hidden_classes.contains(&snap.display_labels[*i])
                                })
                                .map(|(i, q)| (i, screen(*q).distance(at)))
                                .min_by(|a, b| a.1.total_cmp(&b.1));
                            action = Some(match nearest {
                                Some((i, d)) if d < 8.0 => Action::Pin(i),
                                _ => Action::Probe([p.x, p.y]),
                            });
                        } else if r.dragged() || r.drag_started() {
                            action = Some(Action::Probe([p.x, p.y]));
                        }
                    }
                });
            self.plot_rects
                .insert(m.name.clone(), response.response.rect);
            match action {
                Some(Action::Probe(p)) => {
                    self.set_probe(m, p);
                    ui.ctx().request_repaint();
                }
                Some(Action::Pin(i)) => {
                    self.pinned = Some(i);
                    // The probe jumps to the pinned item's code, so its decoding is the reconstruction.
                    if let Some(v) = self.models.get_mut(&m.name) {
                        v.probe = m.codes[i * m.latent_dim..(i + 1) * m.latent_dim].to_vec();
                    }
                }
                None => {}
            }
            if layout.beside {
                ui.vertical(|ui| self.side_ui(ui, m, snap, ds, layout.image));
            } else {
                ui.horizontal(|ui| self.side_ui(ui, m, snap, ds, layout.image));
            }
        };
        if layout.beside {
            ui.horizontal(body);
        } else {
            ui.vertical(body);
        }
    }

    /// The probe's decoding and the pinned item, beside the plot.
    fn side_ui(
        &mut self,
        ui: &mut Ui,
        m: &ModelSnapshot,
        snap: &Snapshot,
        ds: &Dataset,
        image: f32,
    ) {
        let color = theme::model_color(m.kind);
        let Some(mv) = self.models.get_mut(&m.name) else {
            return;
        };
        ui.vertical(|ui| {
            ui.label(RichText::new("probe decodes to").strong());
            let key = mv.refresh_decoding(m, snap.step);
            show_items(
                ui,
                &mut mv.probe_tex,
                &format!("probe-{}", m.name),
                key,
                ds,
                &mv.probe_decoded,
                1,
                image,
                color,
            );
            ui.label(RichText::new(format_code(&mv.probe)).monospace().small());
        });
        let Some(i) = self.pinned else {
            return;
        };
        ui.separator();
        ui.vertical(|ui| {
            let label = snap.display_labels[i] as usize;
            let test_index = snap.display_indices[i];
            ui.label(
                RichText::new(format!(
                    "pinned: test #{test_index}, class {}",
                    ds.class_names.get(label).map_or("?", |s| s.as_str())
                ))
                .strong(),
            );
            let dim = ds.dim();
            let code = &m.codes[i * m.latent_dim..(i + 1) * m.latent_dim];
            let mut pair = ds.test.item(test_index, dim).to_vec();
            pair.extend(m.decoder.decode(code).unwrap_or_default());
            show_items(
                ui,
                &mut mv.pinned_tex,
                &format!("pinned-{}", m.name),
                key_of(&[snap.step, i as u64], &[]),
                ds,
                &pair,
                2,
                80.0,
                color,
            );
            ui.label(RichText::new("input · reconstruction").small().weak());
            let mut code_text = format!("μ = {}", format_code(code));
            if let Some(s) = &m.sigmas {
                code_text.push_str(&format!(
                    "\nσ = {}",
                    format_code(&s[i * m.latent_dim..(i + 1) * m.latent_dim])
                ));
            }
            ui.label(RichText::new(code_text).monospace().small());
        });
    }
}

/// Where the probe image goes: beside the plot when the column is wide, below when narrow.
#[derive(Clone, Copy)]
struct Layout {
    beside: bool,
    plot: f32,
    image: f32,
}

impl Layout {
    /// The arrangement that gives the larger plot in a `w`×`h` column.
    fn choose(w: f32, h: f32) -> Self {
        let image_beside = theme::PROBE_IMAGE.min(w * 0.35);
        let beside = (w - image_beside - 16.0).min(h - 30.0);
        let image_below = theme::PROBE_IMAGE.min(w * 0.45).min(h * 0.3);
        let below = w.min(h - image_below - 90.0);
        if beside >= below {
            Self {
                beside: true,
                plot: beside.max(120.0),
                image: image_beside,
            }
        } else {
            Self {
                beside: false,
                plot: below.max(120.0),
                image: image_below,
            }
        }
    }
}

enum Action {
    Probe([f64; 2]),
    Pin(usize),
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

/// Posterior 1σ ellipses of the first display items, in their class colours.
fn ellipse_lines(
    m: &ModelSnapshot,
    snap: &Snapshot,
    view: View,
    hidden: &BTreeSet<u32>,
) -> Vec<(PlotPoints<'static>, Color32)> {
    let (Some(sigmas), View::Dims(a, b)) = (&m.sigmas, view) else {
        return Vec::new();
    };
    let d = m.latent_dim;
    (0..snap.display_labels.len().min(MAX_ELLIPSES))
        .filter(|&i| !hidden.contains(&snap.display_labels[i]))
        .map(|i| {
            let (mu, s) = (&m.codes[i * d..(i + 1) * d], &sigmas[i * d..(i + 1) * d]);
            let colour = theme::class_color(snap.display_labels[i] as usize).gamma_multiply(0.6);
            let b = if d > 1 { b } else { a };
            (
                circle(
                    f64::from(mu[a]),
                    f64::from(mu[b]),
                    f64::from(s[a]),
                    f64::from(s[b]),
                ),
                colour,
            )
        })
        .collect()
}
