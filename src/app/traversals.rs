//! Traversals: one row per latent dimension, each row decoding the code with that one
//! dimension walked from −3 to +3 (prior σ for the variational kinds; the codes' own
//! spread for the others) around the origin or the pinned item's code. Rows are sorted by
//! how much the dimension is used (mean KL, or the codes' variance); a dimension the model
//! does not use (an inactive unit, Burda et al. 2016) is greyed and labelled.

use super::actions::Action;
use super::decodes::Decodes;
use super::items::{Tex, decode_failed_ui, key_of, row, show_items};
use super::selection::decode_class_ui;
use super::theme;
use super::unit_scores;
use super::view::{View, ViewCtx};
use crate::explore::traversal::{self, DimRow, STEPS};
use crate::train::ModelSnapshot;
use egui::{Color32, RichText, Ui};
use std::collections::HashMap;

/// Where the walks start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Around {
    /// z = 0 (the prior's mean) for the variational kinds; the codes' mean for the others.
    #[default]
    Centre,
    /// The pinned item's code.
    Pinned,
}

/// State of the traversals tab.
#[derive(Default)]
pub struct TraversalsPanel {
    around: Around,
    textures: HashMap<String, Tex>,
    decodes: Decodes,
}

const ABOUT: &str = "Each row walks one dimension of z from −3 to +3 while the others \
    stay where they are (at the origin, or at the pinned item's code); the seven images are \
    the decoder's outputs. For a VAE the steps are in units of the prior's σ = 1; for the \
    other kinds, of that dimension's spread over the test items. Rows are sorted by how much \
    the model uses the dimension (mean KL per dimension for a VAE, the codes' variance \
    otherwise). A grey row is an inactive unit (the mean code varies less than 0.01 over \
    the items, Burda et al. 2016): walking it changes nothing, the posterior collapse \
    the KL term can cause. In a disentangled code each active row changes one thing only: \
    the position, the size or the shape.";

impl View for TraversalsPanel {
    fn busy(&self) -> bool {
        self.decodes.busy()
    }

    fn title(&self) -> &'static str {
        "Traversals"
    }

    fn about(&self) -> (&'static str, &'static str) {
        (
            "Walk each dimension of z from −3 to +3: what each one does, and which are dead.",
            ABOUT,
        )
    }

    fn clear(&mut self) {
        self.textures.clear();
        self.decodes.clear();
    }

    fn ui(&mut self, ui: &mut Ui, cx: &mut ViewCtx<'_>) -> Vec<Action> {
        if !cx.ds.shape.is_image() {
            ui.label(
                "Traversals decode images: this data set is 2-D points, where the Latent \
                 grid shows the whole decoder at once.",
            );
            return Vec::new();
        }
        ui.horizontal(|ui| {
            ui.label("around");
            ui.selectable_value(&mut self.around, Around::Centre, "the centre");
            let pinned = cx.selection.pinned.is_some();
            ui.add_enabled_ui(pinned, |ui| {
                ui.selectable_value(&mut self.around, Around::Pinned, "the pinned item")
                    .on_disabled_hover_text("pin an item first: click a dot in Latent space");
            });
            if !pinned {
                self.around = Around::Centre;
            }
            decode_class_ui(ui, cx.selection, cx.snap, cx.ds);
        });
        let models: Vec<&ModelSnapshot> = cx.snap.models.iter().collect();
        let pinned = cx
            .selection
            .pinned
            .filter(|_| self.around == Around::Pinned);
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.columns(models.len().max(1), |cols| {
                for (ui, m) in cols.iter_mut().zip(&models) {
                    if let Some(rect) = self.model_ui(ui, m, cx, pinned) {
                        cx.rects.subject("traversals", ui, rect);
                    }
                }
            });
        });
        Vec::new()
    }
}

impl TraversalsPanel {
    /// One model's column: a heading, then one row per dimension. Returns where its three
    /// most used rows are (what a lesson points at), once they are drawn.
    fn model_ui(
        &mut self,
        ui: &mut Ui,
        m: &ModelSnapshot,
        cx: &ViewCtx<'_>,
        at: Option<usize>,
    ) -> Option<egui::Rect> {
        let color = theme::model_color(m.kind);
        let d = m.latent_dim;
        let variational = m.kind.is_variational();
        let around = at.and_then(|i| row(&m.codes, i, d));
        let (rows, walk) = traversal::plan(&m.codes, m.sigmas.as_deref(), d, variational, around);
        let key = key_of(&[cx.snap.step, d as u64], around.unwrap_or(&[]));
        let shown = self.decodes.get(
            ui.ctx(),
            &m.name,
            key,
            &m.decoder,
            cx.selection.decode_class,
            || walk,
        );
        ui.horizontal(|ui| {
            ui.label(RichText::new(m.kind.title()).heading().color(color));
            if shown.as_ref().is_none_or(|s| s.stale) {
                ui.spinner().on_hover_text("decoding the newest traversals");
            }
        });
        let scores = unit_scores::of_model(m, cx.snap, cx.ds);
        let factors = unit_scores::dim_factors(m, cx.snap, cx.ds);
        ui.label(unit_scores::text(&scores))
            .on_hover_text(unit_scores::hover(scores.mig.is_some()));
        let shown = shown?;
        if let Some(error) = shown.decoded.error() {
            decode_failed_ui(ui, error);
            return None;
        }
        let label_width = 92.0;
        let gap = 2.0 * ui.spacing().item_spacing.x;
        let room = ui.available_width() - label_width - gap;
        let cell = (room / STEPS.len() as f32).floor().clamp(8.0, 96.0);
        let per_item = cx.ds.dim();
        let items = shown.decoded.items();
        let tex_key = shown.key;
        let mut leading = None::<egui::Rect>;
        // The columns' steps, over the images.
        ui.horizontal(|ui| {
            let gap = ui.spacing().item_spacing.x;
            ui.spacing_mut().item_spacing.x = 0.0;
            // The unit once, in the labels' column; the steps above their images.
            let unit = if variational {
                "steps of σ"
            } else {
                "steps of sd"
            };
            let unit = RichText::new(unit).small().weak();
            ui.add_sized([label_width + gap, 14.0], egui::Label::new(unit).truncate());
            for t in STEPS {
                let text = if t == 0.0 {
                    "0".to_string()
                } else {
                    format!("{t:+}")
                };
                ui.add_sized(
                    [cell, 14.0],
                    egui::Label::new(RichText::new(text).small().weak()).truncate(),
                );
            }
        });
        for (r, dim_row) in rows.iter().enumerate() {
            let Some(row_items) =
                items.get(r * STEPS.len() * per_item..(r + 1) * STEPS.len() * per_item)
            else {
                break;
            };
            let drawn = ui.horizontal(|ui| {
                let mut text = row_label(dim_row);
                let factor = factors.get(dim_row.dim).copied().flatten();
                if let Some((f, share)) = factor.filter(|_| dim_row.active) {
                    let name = cx.ds.factor_names.get(f).map_or("?", String::as_str);
                    text = format!("{text}\n≈ {name} {share:.2}");
                }
                let weak = if dim_row.active {
                    RichText::new(text)
                } else {
                    RichText::new(text).weak()
                };
                // Wrapped to its column: "≈ orientation 0.12" is wider than the labels'
                // room and pushed the row past the window's edge.
                let label =
                    ui.add_sized([label_width, cell], egui::Label::new(weak.small()).wrap());
                if factor.is_some() {
                    label.on_hover_text(FACTOR_HOVER);
                }
                let tex = self
                    .textures
                    .entry(format!("{}-{}", m.name, dim_row.dim))
                    .or_default();
                let name = format!("traversal-{}-{}", m.name, dim_row.dim);
                let response = show_items(
                    ui,
                    tex,
                    &name,
                    tex_key,
                    cx.ds,
                    row_items,
                    STEPS.len(),
                    cell,
                    color,
                );
                if !dim_row.active {
                    // Greyed: the class sees at once which rows do nothing.
                    ui.painter()
                        .rect_filled(response.rect, 0.0, Color32::from_black_alpha(150));
                }
            });
            if r < 3 {
                let rect = drawn.response.rect;
                leading = Some(leading.map_or(rect, |l| l.union(rect)));
            }
        }
        leading
    }
}

/// What a row's "≈ x 0.71" means.
const FACTOR_HOVER: &str = "On a data set with known factors (sprites, dSprites), \
    \"≈ x 0.71\": of the factors, this dimension says most about x; 0.71 is the share of x's \
    entropy it holds (mutual information of the dimension, cut into 20 bins, with the factor, \
    over the factor's entropy). In a disentangled code each factor has one row of its own.";

/// "z3 · KL 2.41" (or "z3 · var 0.80"), and "inactive" for a dimension the model does not use.
fn row_label(r: &DimRow) -> String {
    let used = match r.kl {
        Some(kl) => format!("KL {kl:.2}"),
        None => format!("var {:.2}", r.variance),
    };
    if r.active {
        format!("z{} · {used}", r.dim + 1)
    } else {
        format!("z{} · inactive", r.dim + 1)
    }
}
