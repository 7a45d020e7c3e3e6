//! A vq-vae's codebook on its latent plot: every entry as a cross in the plot's projection,
//! the entry the probe snaps to ringed, and, while the pointer is over an entry, a line from
//! it to each shown item it takes and how many those are. The probe's caption says which
//! entry it snapped to. Nothing here for other kinds (they have no codebook).

use super::selection::Selection;
use super::theme;
use crate::model::vq::CodebookData;
use crate::train::ModelSnapshot;
use egui::RichText;
use egui_plot::{Line, MarkerShape, PlotPoint, PlotUi, Points, Text};
use std::collections::BTreeSet;

/// How near the pointer (in points) must be to an entry to show its items.
const HOVER_RADIUS: f32 = 9.0;

/// What the plot draws of one vq-vae's codebook, in plot coordinates.
pub(super) struct CodebookOverlay {
    /// Each entry's place on the plot.
    entries: Vec<[f64; 2]>,
    /// The places of the shown items each entry takes (hidden classes left out).
    items_of: Vec<Vec<[f64; 2]>>,
    /// The entry the probe snaps to, if the plot has a probe.
    snapped: Option<usize>,
}

impl CodebookOverlay {
    /// The overlay of `m`'s plot on its plane (`None` for a kind without a codebook).
    /// `labels` are the shown items' labels, in code order; `probe` whether the plot has one.
    pub(super) fn of(
        m: &ModelSnapshot,
        selection: &Selection,
        labels: &[u32],
        hidden: &BTreeSet<u32>,
        probe: bool,
    ) -> Option<Self> {
        let book = m.decoder.codebook.as_deref().filter(|c| !c.is_empty())?;
        let entries: Vec<[f64; 2]> = (0..book.len())
            .map(|k| selection.project(m, book.entry(k)))
            .collect();
        let mut items_of = vec![Vec::new(); book.len()];
        let codes = m.codes.chunks_exact(m.latent_dim.max(1));
        for (code, label) in codes.zip(labels) {
            if hidden.contains(label) {
                continue;
            }
            let (k, _) = book.nearest(code);
            items_of[k].push(selection.project(m, code));
        }
        let snapped = probe.then(|| snapped_entry(book, selection.probe_code(&m.name)));
        Some(Self {
            entries,
            items_of,
            snapped: snapped.flatten(),
        })
    }

    /// Where the probe is drawn: on the entry it snaps to.
    pub(super) fn probe_at(&self) -> Option<[f64; 2]> {
        self.snapped.and_then(|k| self.entries.get(k).copied())
    }

    /// Draws the crosses (dim for entries no shown item takes), and the hovered entry's
    /// items and count.
    pub(super) fn draw(&self, pui: &mut PlotUi<'_>) {
        let hovered = pui.pointer_coordinate().and_then(|p| {
            let at = pui.screen_from_plot(p);
            self.entries
                .iter()
                .enumerate()
                .map(|(k, e)| {
                    let s = pui.screen_from_plot(PlotPoint::new(e[0], e[1]));
                    (k, s.distance(at))
                })
                .filter(|(_, d)| *d <= HOVER_RADIUS)
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(k, _)| k)
        });
        if let Some(k) = hovered {
            let e = self.entries[k];
            for p in &self.items_of[k] {
                pui.line(
                    Line::new("", vec![e, *p])
                        .color(theme::CODEBOOK.gamma_multiply(0.6))
                        .width(1.0),
                );
            }
        }
        let (used, unused): (Vec<_>, Vec<_>) = self
            .entries
            .iter()
            .zip(&self.items_of)
            .partition(|(_, items)| !items.is_empty());
        let crosses = |v: Vec<(&[f64; 2], &Vec<[f64; 2]>)>| -> Vec<[f64; 2]> {
            v.into_iter().map(|(e, _)| *e).collect()
        };
        // A dark cross under each light one keeps it apart from any class's dots.
        for (points, color, radius) in [
            (crosses(used), theme::CODEBOOK, 4.5),
            (crosses(unused), theme::CODEBOOK.gamma_multiply(0.45), 3.5),
        ] {
            if points.is_empty() {
                continue;
            }
            pui.points(
                Points::new("codebook entries", points.clone())
                    .shape(MarkerShape::Cross)
                    .radius(radius + 1.5)
                    .color(theme::MARKER_OUTLINE),
            );
            pui.points(
                Points::new("codebook entries", points)
                    .shape(MarkerShape::Cross)
                    .radius(radius)
                    .color(color),
            );
        }
        if let Some(k) = hovered {
            let n = self.items_of[k].len();
            let e = self.entries[k];
            let items = if n == 1 { "item" } else { "items" };
            pui.text(
                Text::new(
                    "",
                    PlotPoint::new(e[0], e[1]),
                    RichText::new(format!("code {k}: {n} shown {items}"))
                        .color(theme::CODEBOOK)
                        .strong(),
                )
                .anchor(label_anchor(pui.plot_bounds(), e[0])),
            );
        }
    }
}

/// The entry nearest the probe's code (`None` before the probe has one).
fn snapped_entry(book: &CodebookData, probe: &[f32]) -> Option<usize> {
    (probe.len() == book.dim).then(|| book.nearest(probe).0)
}

/// A one-line note under a vq-vae's heading (nothing for other kinds), in the codebook's
/// colour.
pub(super) fn note_ui(ui: &mut egui::Ui, m: &ModelSnapshot, text: &str) {
    if m.decoder.codebook.is_some() {
        ui.label(RichText::new(text).small().color(theme::CODEBOOK))
            .on_hover_text(
                "a vq-vae's decoder only ever sees codebook entries: any code is snapped to \
                 its nearest entry first, so neighbouring codes decode the same image",
            );
    }
}

/// The probe caption's line for a vq-vae: which entry it snapped to, and how far; `None`
/// for other kinds.
pub(super) fn snapped_caption(m: &ModelSnapshot, probe: &[f32]) -> Option<String> {
    let book = m.decoder.codebook.as_deref().filter(|c| !c.is_empty())?;
    let k = snapped_entry(book, probe)?;
    Some(format!("code {k} of {}", book.len()))
}

/// Where a hovered entry's label goes: to the right of an entry in the left half of the
/// plot, to the left of one in the right half, so the label stays inside the plot (it was
/// cut at the plot's right edge).
fn label_anchor(bounds: egui_plot::PlotBounds, x: f64) -> egui::Align2 {
    if x > (bounds.min()[0] + bounds.max()[0]) / 2.0 {
        egui::Align2::RIGHT_BOTTOM
    } else {
        egui::Align2::LEFT_BOTTOM
    }
}

#[cfg(test)]
mod label_tests {
    use super::*;

    #[test]
    fn a_hovered_entrys_label_opens_towards_the_plots_middle() {
        let bounds = egui_plot::PlotBounds::from_min_max([-10.0, 0.0], [30.0, 5.0]);
        assert_eq!(label_anchor(bounds, 25.0), egui::Align2::RIGHT_BOTTOM);
        assert_eq!(label_anchor(bounds, 0.0), egui::Align2::LEFT_BOTTOM);
    }
}
