//! The loss curves of a run, per epoch (`losses.png`).

use super::canvas::{Canvas, FONT, FigureError, err, rgb};
use crate::explore::colors::model_rgb;
use crate::train::EpochSummary;
use plotters::prelude::*;
use std::path::Path;

/// Per-epoch loss curves: reconstruction, KL and total; solid train, dotted test.
pub fn loss_curves(path: &Path, summaries: &[EpochSummary]) -> Result<(), FigureError> {
    let Some(first) = summaries.first() else {
        return Err(err(path, "no epochs to plot"));
    };
    let mut canvas = Canvas::new(1500, 460);
    type Getter = fn(&crate::model::Metrics) -> f64;
    let panels: [(&str, Getter); 3] = [
        ("reconstruction (nats per item)", |m| m.recon),
        ("KL to the prior (nats per item)", |m| m.kl),
        ("total loss (nats per item; IWAE: −L_k)", |m| m.loss),
    ];
    canvas.draw(path, |root| -> Result<(), Box<dyn std::error::Error>> {
        for (area, (title, get)) in root.split_evenly((1, 3)).iter().zip(panels) {
            let values: Vec<f64> = summaries
                .iter()
                .flat_map(|s| {
                    s.models
                        .iter()
                        .filter(|m| !m.diverged)
                        .flat_map(|m| [get(&m.train), get(&m.test)])
                })
                .filter(|v| v.is_finite())
                .collect();
            let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let (lo, hi) = if lo.is_finite() && hi.is_finite() {
                (lo, hi.max(lo + 1e-3))
            } else {
                (0.0, 1.0)
            };
            let pad = (hi - lo) * 0.08;
            let (lo, hi) = (lo - pad, hi + pad);
            let epochs = summaries.len() as f64;
            let mut chart = ChartBuilder::on(area)
                .caption(title, (FONT, 18))
                .margin(12)
                .x_label_area_size(34)
                .y_label_area_size(56)
                .build_cartesian_2d(0.5f64..epochs + 0.5, lo..hi)?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .label_style((FONT, 13))
                .draw()?;
            for (mi, m) in first.models.iter().enumerate() {
                let colour = rgb(model_rgb(m.kind));
                let series = |test: bool| {
                    summaries
                        .iter()
                        .filter_map(move |s| {
                            s.models.get(mi).map(|mm| {
                                (s.epoch as f64, get(if test { &mm.test } else { &mm.train }))
                            })
                        })
                        .filter(|(_, v)| v.is_finite())
                        .collect::<Vec<_>>()
                };
                chart
                    .draw_series(LineSeries::new(series(false), colour.stroke_width(2)))?
                    .label(format!("{} train", m.kind.title()))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                    });
                chart
                    .draw_series(
                        series(true)
                            .into_iter()
                            .map(|p| Circle::new(p, 4, colour.filled())),
                    )?
                    .label(format!("{} test", m.kind.title()))
                    .legend(move |(x, y)| Circle::new((x + 9, y), 4, colour.filled()));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .label_font((FONT, 13))
                .draw()?;
        }
        Ok(())
    })?;
    canvas.save(path)
}
