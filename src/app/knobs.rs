//! The model and knob widgets of the side panel, made from the kind table: one checkbox per
//! kind, one widget per knob, and the live changes they send to the worker.

use super::actions::Action;
use super::theme;
use crate::model::kinds::{KnobRange, KnobSpec, all_knobs, kinds_with, unused_because};
use crate::model::{KnobValue, ModelKind};
use crate::train::RunSpec;
use crate::train::spec::parse_hidden;
use egui::{RichText, Ui};

/// One checkbox per kind, the code size and the hidden sizes.
pub fn models_ui(ui: &mut Ui, draft: &mut RunSpec) {
    ui.label(RichText::new("Models").strong());
    ui.horizontal_wrapped(|ui| {
        for kind in ModelKind::all() {
            let mut on = draft.models.contains(&kind);
            let text = RichText::new(kind.name())
                .color(theme::model_color(kind))
                .strong();
            let hover = format!("{}: {}", kind.title(), kind.spec().about);
            if ui.checkbox(&mut on, text).on_hover_text(hover).changed() {
                draft.models.retain(|k| *k != kind);
                if on {
                    draft.models.push(kind);
                    draft.models.sort();
                }
            }
        }
    });
    egui::Grid::new("arch").num_columns(2).show(ui, |ui| {
        let l = ui.label("latent dim");
        ui.add(egui::DragValue::new(&mut draft.latent_dim).range(1..=64))
            .labelled_by(l.id);
        ui.end_row();
        ui.label("network").on_hover_text(
            "mlp: dense layers of the sizes below; conv: 4×4 stride-2 convolutions to a \
             4×4 or 7×7 map, then dense 256, 256 (Burgess et al. 2018; images only)",
        );
        ui.horizontal(|ui| {
            for arch in crate::model::Arch::ALL {
                let on = draft.arch == arch;
                let chosen = ui
                    .selectable_label(on, arch.name())
                    .on_hover_text(format!("learning rate {} by default", arch.default_lr()));
                if chosen.clicked() && !on {
                    draft.set_arch(arch);
                }
            }
        });
        ui.end_row();
        if draft.arch == crate::model::Arch::Mlp {
            let l = ui.label("hidden");
            hidden_ui(ui, &mut draft.hidden, l.id);
            ui.end_row();
        }
    });
}

/// The hidden sizes as editable text. While the text does not parse, the sizes keep their
/// last good value and the field says why; once the field loses focus it shows the sizes.
fn hidden_ui(ui: &mut Ui, hidden: &mut Vec<usize>, label: egui::Id) {
    let id = egui::Id::unique("latentlab-hidden-text");
    let shown = join(hidden);
    let mut text = ui
        .data(|d| d.get_temp::<String>(id))
        .unwrap_or_else(|| shown.clone());
    let response = ui
        .add(egui::TextEdit::singleline(&mut text).desired_width(110.0))
        .labelled_by(label)
        .on_hover_text("encoder layer sizes, comma-separated; the decoder mirrors them");
    match parse_hidden(&text) {
        Ok(sizes) => *hidden = sizes,
        Err(e) if response.has_focus() => {
            ui.end_row();
            ui.label("");
            ui.colored_label(theme::ERROR, e.to_string());
        }
        Err(_) => text = shown,
    }
    if !response.has_focus() && parse_hidden(&text).as_ref() != Ok(hidden) {
        text = join(hidden);
    }
    ui.data_mut(|d| d.insert_temp(id, text));
}

/// The run-wide knobs (learning rate, batch size, seed) and one widget per model knob.
pub fn knobs_ui(ui: &mut Ui, draft: &mut RunSpec) {
    ui.label(RichText::new("Knobs").strong());
    egui::Grid::new("knobs").num_columns(2).show(ui, |ui| {
        let l = ui.label("learning rate");
        ui.add(
            egui::DragValue::new(&mut draft.lr)
                .range(1e-6..=crate::train::spec::MAX_LR)
                .speed(1e-4)
                .max_decimals(5),
        )
        .labelled_by(l.id);
        ui.end_row();
        let l = ui.label("batch size");
        ui.add(egui::DragValue::new(&mut draft.batch_size).range(1..=4096))
            .labelled_by(l.id);
        ui.end_row();
        let l = ui.label("seed");
        ui.add(egui::DragValue::new(&mut draft.seed))
            .labelled_by(l.id);
        ui.end_row();
    });
    // Shorter sliders than elsewhere: a knob's label names its kinds ("commitment
    // (vq-vae)"), and a wide row widens the whole side panel, which squeezes the plots.
    ui.scope(|ui| {
        ui.spacing_mut().slider_width = KNOB_SLIDER_WIDTH;
        for knob in all_knobs() {
            knob_ui(ui, knob, draft);
        }
    });
}

/// The width of a knob's slider in the side panel, in points.
const KNOB_SLIDER_WIDTH: f32 = 100.0;

/// One knob: a slider for numbers, a drop-down for choices, labelled with the kinds it
/// belongs to in their colour.
fn knob_ui(ui: &mut Ui, knob: &KnobSpec, draft: &mut RunSpec) {
    let kinds = kinds_with(knob.key);
    // Only the knobs of the models chosen: the rest would push the panel past the fold.
    if !kinds.iter().any(|k| draft.models.contains(k)) {
        return;
    }
    let Some(current) = draft.knob(knob.key) else {
        return;
    };
    let label = if kinds.len() == ModelKind::all().count() {
        RichText::new(knob.label)
    } else {
        let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        let text = RichText::new(format!("{} ({})", knob.label, names.join(", ")));
        match kinds.first() {
            Some(&k) => text.color(theme::model_color(k)),
            None => text,
        }
    };
    let new_value = match (knob.range, current) {
        (
            KnobRange::Number {
                min, slider_max, ..
            },
            KnobValue::Number(mut v),
        ) => {
            // Greyed while another knob switches it off (β while a capacity is set).
            let unused = unused_because(knob.key, |key| draft.knob(key));
            let slider = egui::Slider::new(&mut v, min..=slider_max).text(label);
            // A count (the iwae's k) moves in whole steps.
            let slider = if knob.whole() {
                slider.integer()
            } else {
                slider
            };
            let response = ui.add_enabled(unused.is_none(), slider);
            let changed = match unused {
                Some(why) => response.on_disabled_hover_text(why),
                None => response.on_hover_text(knob.help),
            }
            .changed();
            changed.then_some(KnobValue::Number(v))
        }
        (KnobRange::Choice { options, .. }, KnobValue::Choice(mut c)) => {
            let before = c.clone();
            ui.horizontal(|ui| {
                let l = ui.label(label);
                egui::ComboBox::from_id_salt(knob.key)
                    .selected_text(c.clone())
                    .show_ui(ui, |ui| {
                        for option in options {
                            ui.selectable_value(&mut c, option.to_string(), *option);
                        }
                    })
                    .response
                    .labelled_by(l.id)
                    .on_hover_text(knob.help);
            });
            (c != before).then_some(KnobValue::Choice(c))
        }
        _ => None,
    };
    if let Some(v) = new_value {
        draft.knobs.insert(knob.key.to_string(), v);
    }
}

/// The actions that bring a running session from `applied` to `draft` without new
/// models: the learning rate and every live knob that changed.
pub fn live_changes(applied: &RunSpec, draft: &RunSpec) -> Vec<Action> {
    let mut out = Vec::new();
    // A new architecture brings its own learning rate with the new models it needs.
    if draft.lr != applied.lr && draft.arch == applied.arch {
        out.push(Action::SetLr(draft.lr));
    }
    for knob in all_knobs().into_iter().filter(|k| k.live) {
        if let Some(v) = draft
            .knob(knob.key)
            .filter(|v| Some(v) != applied.knob(knob.key).as_ref())
        {
            out.push(Action::SetKnob {
                key: knob.key.to_string(),
                value: v,
            });
        }
    }
    out
}

/// "512,256".
fn join(sizes: &[usize]) -> String {
    sizes
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the app does with these actions to its settings.
    fn apply(applied: &mut RunSpec, actions: &[Action]) {
        for a in actions {
            match a {
                Action::SetLr(lr) => applied.lr = *lr,
                Action::SetKnob { key, value } => {
                    applied.knobs.insert(key.clone(), value.clone());
                }
                other => panic!("not a live change: {other:?}"),
            }
        }
    }

    #[test]
    fn beta_is_greyed_while_a_capacity_is_set() {
        use egui_kittest::kittest::{NodeT, Queryable};
        let disabled = |capacity: f32| {
            let mut draft = RunSpec {
                models: vec![ModelKind::BetaVae],
                ..RunSpec::default()
            };
            draft
                .knobs
                .insert("capacity".into(), KnobValue::Number(capacity));
            let mut harness = egui_kittest::Harness::new_ui(move |ui| knobs_ui(ui, &mut draft));
            harness.run();
            // The slider and its value field, both greyed or neither.
            let state = |label: &str| {
                let nodes: Vec<bool> = harness
                    .get_all_by_label_contains(label)
                    .map(|n| n.accesskit_node().is_disabled())
                    .collect();
                assert_eq!(nodes.len(), 2, "{label}");
                assert!(nodes.iter().all(|&d| d == nodes[0]), "{label}: {nodes:?}");
                nodes[0]
            };
            (state("β (beta-vae)"), state("γ (beta-vae)"))
        };
        assert_eq!(disabled(0.0), (false, false));
        assert_eq!(disabled(5.0), (true, false), "β greyed, γ in use");
    }

    #[test]
    fn live_knobs_become_actions_once() {
        let mut applied = RunSpec::default();
        let mut draft = applied.clone();
        assert!(live_changes(&applied, &draft).is_empty());
        draft.lr = 0.01;
        draft.knobs.insert("beta".into(), KnobValue::Number(2.0));
        draft
            .knobs
            .insert("noise_kind".into(), KnobValue::Choice("masking".into()));
        let sent = live_changes(&applied, &draft);
        let keys: Vec<String> = sent
            .iter()
            .map(|c| match c {
                Action::SetLr(_) => "lr".to_string(),
                Action::SetKnob { key, .. } => key.clone(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(keys, vec!["lr", "beta", "noise_kind"]);
        apply(&mut applied, &sent);
        assert_eq!(applied.knob("beta"), Some(KnobValue::Number(2.0)));
        assert!(live_changes(&applied, &draft).is_empty(), "sent once");
        // A knob set back to its default is a change too.
        draft.knobs.remove("beta");
        let again = live_changes(&applied, &draft);
        assert!(matches!(
            &again[..],
            [Action::SetKnob { key, value: KnobValue::Number(v) }]
                if key == "beta" && *v == crate::model::DEFAULT_BETA
        ));
    }
}
