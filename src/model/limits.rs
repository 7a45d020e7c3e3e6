//! The ranges numeric settings must lie in, each with the name its messages use. The
//! window, the command line and files read through these, so a value is judged the same
//! wherever it comes from. The run's own settings (batch size, epochs, ...) are in
//! `train::spec`; the ones here belong to a model.

use std::fmt::Display;

/// An allowed range of one setting and the words that name it in messages.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit<T> {
    /// What messages call the setting ("latent dimension").
    pub name: &'static str,
    /// Smallest allowed value (or the bound it must stay above, if `above_min`).
    pub min: T,
    /// Largest allowed value.
    pub max: T,
    /// True if `min` itself is not allowed (a learning rate must be above 0).
    pub above_min: bool,
}

impl<T: PartialOrd + Display + Copy> Limit<T> {
    /// An inclusive range.
    pub const fn new(name: &'static str, min: T, max: T) -> Self {
        Self {
            name,
            min,
            max,
            above_min: false,
        }
    }

    /// True if `v` lies in the range (NaN never does).
    pub fn contains(&self, v: T) -> bool {
        let low = if self.above_min {
            v > self.min
        } else {
            v >= self.min
        };
        low && v <= self.max
    }

    /// The range as messages and help texts write it: "(1 to 64)".
    pub fn range_text(&self) -> String {
        if self.above_min {
            format!("(above {}, at most {})", self.min, self.max)
        } else {
            format!("({} to {})", self.min, self.max)
        }
    }

    /// `v` if it is in range, else "latent dimension 100 is out of range (1 to 64)".
    pub fn check(&self, v: T) -> Result<T, OutOfRange> {
        if self.contains(v) {
            Ok(v)
        } else {
            Err(OutOfRange {
                flag: None,
                name: self.name,
                value: v.to_string(),
                range: self.range_text(),
            })
        }
    }

    /// Like [`Limit::check`], the message led by the command-line flag that gave the value:
    /// "--latent-dim: latent dimension 100 is out of range (1 to 64)".
    pub fn check_flag(&self, flag: &str, v: T) -> Result<T, OutOfRange> {
        self.check(v).map_err(|e| OutOfRange {
            flag: Some(flag.to_string()),
            ..e
        })
    }
}

/// A value outside its [`Limit`]: "latent dimension 100 is out of range (1 to 64)", led by
/// "--latent-dim: " when a command-line flag gave it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}{name} {value} is out of range {range}", flag_text(.flag))]
pub struct OutOfRange {
    /// The command-line flag that gave the value (without its dashes), if one did.
    pub flag: Option<String>,
    /// What messages call the setting.
    pub name: &'static str,
    /// The value, as it was written.
    pub value: String,
    /// The allowed range: "(1 to 64)".
    pub range: String,
}

fn flag_text(flag: &Option<String>) -> String {
    flag.as_ref()
        .map(|f| format!("--{f}: "))
        .unwrap_or_default()
}

/// Cells per side of a latent grid (the figure's `--grid`, a saved run's `grid_k`).
pub const GRID: Limit<usize> = Limit::new("grid side", 1, 100);
/// Size of the code z.
pub const LATENT_DIM: Limit<usize> = Limit::new("latent dimension", 1, 64);
/// Width of one hidden layer.
pub const HIDDEN_SIZE: Limit<usize> = Limit::new("hidden size", 1, 8192);
/// Number of hidden layers of the encoder (the decoder mirrors them).
pub const HIDDEN_LAYERS: Limit<usize> = Limit::new("number of hidden layers", 1, 16);
/// Importance samples per item for the IWAE log p(x): the evaluation holds
/// `samples × input size` values at once for each item (10 000 × 784 floats is 31 MB).
pub const IW_SAMPLES: Limit<usize> = Limit::new("importance samples", 0, 10_000);
/// Values per item a model may take (a 512×512 image; the IDX loader's largest).
/// Classes a conditional model (cvae) sees as a one-hot vector.
pub const CLASSES: Limit<usize> = Limit::new("number of classes", 0, 1000);
/// Values per item.
pub const INPUT_DIM: Limit<usize> = Limit::new("input size", 1, 512 * 512);
/// Weights and biases of all the models of one run together. With Adam's two moments and
/// the gradients that is 4 floats each: 25 million parameters take 400 MB.
pub const MAX_PARAMETERS: u64 = 25_000_000;

/// A count with thousands separators, as the parameter messages write it: 1,234,567.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_the_setting_and_the_range() {
        assert_eq!(LATENT_DIM.check(64), Ok(64));
        assert_eq!(
            LATENT_DIM.check(65).unwrap_err().to_string(),
            "latent dimension 65 is out of range (1 to 64)"
        );
        assert!(LATENT_DIM.check(0).is_err());
        let lr = Limit {
            above_min: true,
            ..Limit::new("learning rate", 0.0, 10.0)
        };
        assert!(
            lr.check(0.0)
                .unwrap_err()
                .to_string()
                .contains("(above 0, at most 10)")
        );
        assert!(lr.check(f64::NAN).is_err() && lr.check(f64::INFINITY).is_err());
        assert_eq!(lr.check(10.0), Ok(10.0));
        assert_eq!(
            IW_SAMPLES
                .check_flag("iw-samples", 10_001)
                .unwrap_err()
                .to_string(),
            "--iw-samples: importance samples 10001 is out of range (0 to 10000)"
        );
    }

    #[test]
    fn parameter_count_is_what_the_network_holds() {
        use crate::model::{Autoencoder, Likelihood, ModelConfig, ModelKind};
        use rand::SeedableRng;
        for kind in [
            ModelKind::Ae,
            ModelKind::Vae,
            ModelKind::Cae,
            ModelKind::VqVae,
        ] {
            for hidden in [vec![5], vec![7, 3, 4]] {
                let mut cfg = ModelConfig::new(kind, 6, Likelihood::Gaussian);
                cfg.hidden = hidden;
                cfg.latent_dim = 3;
                let mut rng = crate::rng::PortableRng::seed_from_u64(1);
                let model = Autoencoder::new(cfg.clone(), &mut rng).unwrap();
                let held: usize = model
                    .named_vars()
                    .iter()
                    .map(|(_, v)| v.as_tensor().elem_count())
                    .sum();
                assert_eq!(
                    cfg.parameter_count(),
                    held as u64,
                    "{kind} {:?}",
                    cfg.hidden
                );
            }
        }
    }

    #[test]
    fn too_many_parameters_are_refused_with_the_count() {
        use crate::model::{Likelihood, ModelConfig, ModelKind};
        let mut cfg = ModelConfig::new(ModelKind::Ae, 784, Likelihood::Bernoulli);
        cfg.hidden = vec![8192, 8192];
        // By hand: 785·8192 + 8193·8192 + 8193·2 (encoder) + 3·8192 + 8193·8192 + 8193·784.
        assert_eq!(
            cfg.validate().unwrap_err().to_string(),
            "147,129,106 parameters is more than the 25,000,000 allowed (use fewer or \
                narrower hidden layers)"
        );
        // A description from a file claiming a huge input neither overflows nor passes.
        cfg.hidden = vec![64];
        cfg.input_dim = usize::MAX;
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("input size")
        );
        assert_eq!(cfg.parameter_count(), u64::MAX);
        cfg.input_dim = 784;
        cfg.hidden = vec![1; 17];
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("number of hidden layers 17 is out of range (1 to 16)")
        );
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(25_000_000), "25,000,000");
        assert_eq!(grouped(123_456_789_012), "123,456,789,012");
    }
}
