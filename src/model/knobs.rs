//! The knobs of the kind table: what a knob is (name, flag, range, default, live or not),
//! its values, why a value is refused, the knobs every kind has, and which knob switches
//! another off. The kinds that own them are in [`super::kinds`].

use serde::{Deserialize, Serialize};

/// A knob's value: a number, or one of a few named choices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KnobValue {
    /// A number within the knob's range.
    Number(f32),
    /// One of the knob's options.
    Choice(String),
}

impl std::fmt::Display for KnobValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KnobValue::Number(v) => write!(f, "{v}"),
            KnobValue::Choice(c) => f.write_str(c),
        }
    }
}

/// What values a knob takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KnobRange {
    /// A number from `min` to `max`; sliders stop at `slider_max` (typing can go further).
    Number {
        /// Smallest allowed value.
        min: f32,
        /// Largest allowed value.
        max: f32,
        /// The default.
        default: f32,
        /// Where a slider ends.
        slider_max: f32,
    },
    /// One of `options`.
    Choice {
        /// The allowed values, as written on the command line and in files.
        options: &'static [&'static str],
        /// The default.
        default: &'static str,
    },
}

/// One knob of a kind: how it is named, what it takes, and whether it changes a running model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KnobSpec {
    /// Key in `ModelConfig` files and settings ("noise_level").
    pub key: &'static str,
    /// Command-line flag without the dashes ("noise").
    pub flag: &'static str,
    /// Short label for the controls ("noise").
    pub label: &'static str,
    /// One sentence for tooltips and `--help`.
    pub help: &'static str,
    /// Allowed values and default.
    pub range: KnobRange,
    /// True if a running model takes a new value at once (no new models needed).
    pub live: bool,
}

impl KnobSpec {
    /// True if it takes whole numbers only (it is listed in [`WHOLE_NUMBER_KNOBS`]).
    pub fn whole(&self) -> bool {
        WHOLE_NUMBER_KNOBS.contains(&self.key)
    }

    /// The default value.
    pub fn default_value(&self) -> KnobValue {
        match self.range {
            KnobRange::Number { default, .. } => KnobValue::Number(default),
            KnobRange::Choice { default, .. } => KnobValue::Choice(default.to_string()),
        }
    }

    /// `value` if it fits this knob (choices compared without case), or why not.
    pub fn check(&self, value: &KnobValue) -> std::result::Result<KnobValue, KnobError> {
        let label = self.label;
        match (self.range, value) {
            (KnobRange::Number { min, max, .. }, KnobValue::Number(v)) => {
                if self.whole() && v.is_finite() && v.fract() != 0.0 {
                    Err(KnobError::NotWhole { label, value: *v })
                } else if v.is_finite() && (min..=max).contains(v) {
                    Ok(value.clone())
                } else {
                    Err(KnobError::OutOfRange {
                        label,
                        value: *v,
                        min,
                        max,
                    })
                }
            }
            (KnobRange::Choice { options, .. }, KnobValue::Choice(c)) => options
                .iter()
                .find(|o| o.eq_ignore_ascii_case(c.trim()))
                .map(|o| KnobValue::Choice(o.to_string()))
                .ok_or_else(|| KnobError::NotAnOption {
                    label,
                    value: format!("'{c}'"),
                    options: options.join(", "),
                }),
            (KnobRange::Number { .. }, KnobValue::Choice(c)) => Err(KnobError::NotANumber {
                label,
                value: c.clone(),
            }),
            (KnobRange::Choice { options, .. }, KnobValue::Number(v)) => {
                Err(KnobError::NotAnOption {
                    label,
                    value: v.to_string(),
                    options: options.join(", "),
                })
            }
        }
    }
}

/// Why a knob's value, or a kind's own rule over its knobs and architecture, refused a
/// config. The words are the kind table's.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum KnobError {
    /// A number outside the knob's range (or not finite).
    #[error("{label} {value} is out of range ({min} to {max})")]
    OutOfRange {
        /// The knob's label.
        label: &'static str,
        /// The value given.
        value: f32,
        /// Least allowed.
        min: f32,
        /// Most allowed.
        max: f32,
    },
    /// A value that is not one of a choice knob's options (quoted if it was text).
    #[error("{label} {value} is not one of {options}")]
    NotAnOption {
        /// The knob's label.
        label: &'static str,
        /// The value given, as written.
        value: String,
        /// The options, comma-separated.
        options: String,
    },
    /// A fraction where a count belongs.
    #[error("{label} {value} is not a whole number")]
    NotWhole {
        /// The knob's label.
        label: &'static str,
        /// The value given.
        value: f32,
    },
    /// Too many importance samples for a conv model on items this large.
    #[error(
        "k {k} is too many for --arch conv on {pixels}-pixel items: every sample goes through \
         the convolutions with its gradients, about {gb:.0} GB a step at batch 64; at most \
         {most} here (or --arch mlp)"
    )]
    TooManySamplesForConv {
        /// The k given.
        k: usize,
        /// Pixels per item (height × width).
        pixels: usize,
        /// Estimated memory of one step, GB.
        gb: f64,
        /// The largest k allowed here.
        most: usize,
    },
    /// Text where a number belongs.
    #[error("{label} '{value}' is not a number")]
    NotANumber {
        /// The knob's label.
        label: &'static str,
        /// The text given.
        value: String,
    },
    /// A masking probability above 1.
    #[error("noise {level} is out of range for masking (a probability, 0 to 1)")]
    MaskingAboveOne {
        /// The noise level given.
        level: f32,
    },
    /// A conditional kind on a data set without (enough) classes.
    #[error(
        "{kind} needs a data set with classes (at least 2; this one has {classes}): it \
         decodes a code as a chosen class"
    )]
    NeedsClasses {
        /// The kind's name.
        kind: &'static str,
        /// The classes the data set has.
        classes: usize,
    },
    /// A conditional kind on an architecture other than the MLP.
    #[error(
        "{kind} cannot use --arch conv: its one-hot class joins the dense layers of the MLP, \
         and the convolutions do not take it; use --arch mlp for {kind}"
    )]
    ConditionalMlpOnly {
        /// The kind's name.
        kind: &'static str,
    },
    /// The kind cannot use the architecture asked for.
    #[error(transparent)]
    Arch(#[from] super::arch::ArchError),
}

/// Knobs every kind has.
pub const COMMON_KNOBS: &[KnobSpec] = &[KnobSpec {
    key: "weight_decay",
    flag: "weight-decay",
    label: "weight decay",
    help: "decoupled L2 weight decay in the optimiser (AdamW style)",
    range: KnobRange::Number {
        min: 0.0,
        max: 1.0,
        default: 0.0,
        slider_max: 0.1,
    },
    live: true,
}];

/// A knob that another knob switches off: `knob` is not used while `switch` is above 0.
/// The controls grey such a knob; the objective ([`super::objective`]) reads the same rule.
pub struct KnobSwitch {
    /// The knob switched off ("beta").
    pub knob: &'static str,
    /// The number knob that switches it off when above 0 ("capacity").
    pub switch: &'static str,
    /// Why, for the greyed knob's tooltip.
    pub why: &'static str,
}

/// The number knobs that count something (their sliders move in steps of 1; a fraction is
/// refused).
pub const WHOLE_NUMBER_KNOBS: &[&str] = &["k", "codebook"];

/// Every knob that another knob switches off.
pub const KNOB_SWITCHES: &[KnobSwitch] = &[KnobSwitch {
    knob: "beta",
    switch: "capacity",
    why: "β is not used while capacity is above 0: the β-VAE then minimises \
          recon + γ·|KL − C|",
}];

/// Why knob `key` is not used when the other knobs have the values `value_of` gives (`None`
/// for a knob not set), or `None` if it is used.
pub fn unused_because(
    key: &str,
    value_of: impl Fn(&str) -> Option<KnobValue>,
) -> Option<&'static str> {
    KNOB_SWITCHES
        .iter()
        .filter(|s| s.knob == key)
        .find(|s| matches!(value_of(s.switch), Some(KnobValue::Number(v)) if v > 0.0))
        .map(|s| s.why)
}
