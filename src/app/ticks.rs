//! Tick marks and labels for the loss plots: round numbers of nats on log axes (never a
//! rounded-away "0.00"), and round step counts on the step axis.

use egui_plot::{GridInput, GridMark};

/// Grid marks of a log10 axis, each at a round number of nats: over a decade or more,
/// decades (heaviest), then 2× and 5×, then the other integer multiples; within less than
/// a decade, a 1-2-5 step in nats.
pub fn log_marks(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    if hi - lo < 1.0 {
        return narrow_log_marks(10f64.powf(lo), 10f64.powf(hi));
    }
    // A short plot over many decades has no room for a label at each decade (egui_plot
    // hides labels closer than about 20 points): label every `stride`-th decade, at most
    // about four, so the axis always has numbers.
    let stride = ((hi - lo) / 4.0).ceil().max(1.0) as i64;
    // Over many decades only the decades themselves are readable.
    let multiples: &[(f64, f64)] = if hi - lo > 8.0 {
        &[(1.0, 1.0)]
    } else {
        &[
            (1.0, 1.0),
            (2.0, 0.3),
            (5.0, 0.3),
            (3.0, 0.1),
            (4.0, 0.1),
            (6.0, 0.1),
            (7.0, 0.1),
            (8.0, 0.1),
            (9.0, 0.1),
        ]
    };
    let (first, last) = (lo.floor() as i64, hi.ceil() as i64);
    let mut marks = Vec::new();
    for decade in first..=last.min(first + 400) {
        for &(multiple, step_size) in multiples {
            let value = decade as f64 + f64::log10(multiple);
            let step_size = if multiple == 1.0 && decade.rem_euclid(stride) == 0 {
                stride as f64
            } else {
                step_size
            };
            if (lo..=hi).contains(&value) {
                marks.push(GridMark { value, step_size });
            }
        }
    }
    marks
}

/// Marks at multiples of a round step between `lo` and `hi` nats (positive), placed at
/// their log10: about four labelled ones, and five times as many thin lines.
fn narrow_log_marks(lo: f64, hi: f64) -> Vec<GridMark> {
    let major = nice_step((hi - lo) / 4.0);
    let mut marks = Vec::new();
    for (step, every) in [(major, 1), (nice_step((hi - lo) / 20.0), 0)] {
        // Labels are spaced by the tightest pair, at the top of the range.
        let step_size = if hi > step {
            (hi / (hi - step)).log10()
        } else {
            (hi / lo).log10()
        };
        let first = (lo / step).ceil() as i64;
        let last = ((hi / step).floor() as i64).min(first + 100);
        for i in first..=last {
            let v = i as f64 * step;
            // Thin lines skip the places of labelled marks.
            let on_major = every == 0 && (v / major - (v / major).round()).abs() < 1e-6;
            if v > 0.0 && !on_major {
                marks.push(GridMark {
                    value: v.log10(),
                    step_size: if every == 1 {
                        step_size
                    } else {
                        step_size / 5.0
                    },
                });
            }
        }
    }
    marks
}

/// Grid marks of the step axis: about four labelled round numbers (a 1-2-5 step) and
/// thin lines at a fifth of that step, so labels stay even on a narrow plot.
pub fn step_marks(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    let major = nice_step((hi - lo) / 4.0);
    let minor = major / 5.0;
    let first = (lo / minor).ceil() as i64;
    let last = ((hi / minor).floor() as i64).min(first + 100);
    (first..=last)
        .map(|i| GridMark {
            value: i as f64 * minor,
            step_size: if i % 5 == 0 { major } else { minor },
        })
        .collect()
}

/// The 1-2-5 number nearest above `raw` (positive).
fn nice_step(raw: f64) -> f64 {
    let power = 10f64.powf(raw.log10().floor());
    let m = raw / power;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// A value in nats with three significant digits and no trailing zeros ("0.001", "200",
/// "1e-5"): never a rounded-away "0.00".
pub fn format_nats(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || !a.is_finite() {
        return format!("{v}");
    }
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.0e}");
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui_plot::GridInput;

    #[test]
    fn many_decades_label_every_few_decades_so_a_short_plot_keeps_numbers() {
        // 1e-5 … 1e3 nats: eight decades.
        let marks = log_marks(GridInput {
            bounds: (-5.0, 3.0),
            base_step_size: 0.01,
        });
        let labelled: Vec<f64> = marks
            .iter()
            .filter(|m| m.step_size >= 2.0)
            .map(|m| m.value)
            .collect();
        assert_eq!(
            labelled,
            [-4.0, -2.0, 0.0, 2.0],
            "every second decade, four labels"
        );
        // Two decades keep their labels at each decade and the 2s and 5s between.
        let few = log_marks(GridInput {
            bounds: (0.0, 2.0),
            base_step_size: 0.01,
        });
        assert!(few.iter().any(|m| (m.value - 2f64.log10()).abs() < 1e-9));
    }

    #[test]
    fn tick_labels_are_round_numbers_and_never_a_fake_zero() {
        assert_eq!(format_nats(200.0), "200");
        assert_eq!(format_nats(10f64.powf(2.0 + 2f64.log10())), "200");
        assert_eq!(format_nats(0.001), "0.001");
        assert_eq!(format_nats(10f64.powf(-1.0 + 5f64.log10())), "0.5");
        assert_eq!(format_nats(1e-5), "1e-5");
        assert_eq!(format_nats(-1.25), "-1.25");
        assert_eq!(format_nats(123.4), "123");
        // A log axis from 0.0005 to 700 nats: every tick reads as what it is.
        let input = GridInput {
            bounds: (0.0005f64.log10(), 700f64.log10()),
            base_step_size: 0.01,
        };
        let marks = log_marks(input);
        let labels: Vec<String> = marks
            .iter()
            .map(|m| format_nats(10f64.powf(m.value)))
            .collect();
        for want in [
            "0.001", "0.01", "0.1", "1", "10", "100", "200", "500", "0.002",
        ] {
            assert!(
                labels.iter().any(|l| l == want),
                "{want} missing in {labels:?}"
            );
        }
        assert!(
            !labels.iter().any(|l| l == "0" || l == "0.00"),
            "{labels:?}"
        );
        let decades = marks.iter().filter(|m| m.step_size >= 1.0).count();
        assert_eq!(decades, 6, "0.001 to 100");
        // Within less than a decade (125 to 200 nats): round numbers, at their log.
        let input = GridInput {
            bounds: (125f64.log10(), 200f64.log10()),
            base_step_size: 0.001,
        };
        let marks = log_marks(input);
        let widest = marks.iter().map(|m| m.step_size).fold(0.0, f64::max);
        let labelled: Vec<String> = marks
            .iter()
            .filter(|m| m.step_size == widest)
            .map(|m| format_nats(10f64.powf(m.value)))
            .collect();
        assert_eq!(labelled, ["140", "160", "180", "200"]);
        assert!(marks.len() > 10, "thin lines between: {}", marks.len());
    }
}
