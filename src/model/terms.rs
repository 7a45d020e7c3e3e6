//! Loss terms by name: what a model reports, a session sums, and plots, files and figures
//! show. One type from the model to the screen, so no slot of an array changes meaning on
//! the way.

/// The terms of the loss, in nats. `LossTerms<Tensor>` holds them per item (shape (batch,));
/// `LossTerms` (of `f64`) holds batch means or averages over steps.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossTerms<T = f64> {
    /// Reconstruction negative log-likelihood.
    pub recon: T,
    /// KL(q(z|x) || p(z)); zero for non-variational kinds.
    pub kl: T,
    /// The kind's penalty (sparsity, contraction, …); zero for kinds without one.
    pub penalty: T,
}

impl LossTerms {
    /// What training minimises: recon + kl_weight·kl + penalty.
    pub fn objective(&self, kl_weight: f64) -> f64 {
        self.recon + kl_weight * self.kl + self.penalty
    }

    /// True if every term is a finite number.
    pub fn is_finite(&self) -> bool {
        self.recon.is_finite() && self.kl.is_finite() && self.penalty.is_finite()
    }
}

/// Loss terms summed over steps, with the objective's sum and the number of steps: what a
/// session keeps between progress events and over an epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossSums {
    /// The terms, summed.
    pub terms: LossTerms,
    /// The total loss (recon + β·kl + penalty, `Autoencoder::kl_weight`'s β; −L_k for the
    /// iwae), summed.
    pub loss: f64,
    /// How many steps were added.
    pub steps: f64,
}

/// Mean loss terms and the mean objective.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossMeans {
    /// The terms' means.
    pub terms: LossTerms,
    /// The objective's mean.
    pub loss: f64,
}

impl LossSums {
    /// Adds one step's terms and objective.
    pub fn add(&mut self, terms: LossTerms, loss: f64) {
        self.terms.recon += terms.recon;
        self.terms.kl += terms.kl;
        self.terms.penalty += terms.penalty;
        self.loss += loss;
        self.steps += 1.0;
    }

    /// The means over the steps added, dividing by `max(steps, floor)` (a floor of 1 makes
    /// the means of no steps zeros, a floor of 0 makes them NaN).
    pub fn means(&self, floor: f64) -> LossMeans {
        let n = self.steps.max(floor);
        LossMeans {
            terms: LossTerms {
                recon: self.terms.recon / n,
                kl: self.terms.kl / n,
                penalty: self.terms.penalty / n,
            },
            loss: self.loss / n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_keep_each_term_in_its_own_field() {
        let mut s = LossSums::default();
        s.add(
            LossTerms {
                recon: 10.0,
                kl: 2.0,
                penalty: 0.5,
            },
            12.5,
        );
        s.add(
            LossTerms {
                recon: 20.0,
                kl: 4.0,
                penalty: 1.5,
            },
            25.5,
        );
        let m = s.means(1.0);
        assert_eq!(
            m.terms,
            LossTerms {
                recon: 15.0,
                kl: 3.0,
                penalty: 1.0
            }
        );
        assert_eq!(m.loss, 19.0);
        assert!(LossSums::default().means(0.0).loss.is_nan());
        assert_eq!(LossSums::default().means(1.0).terms, LossTerms::default());
        let t = LossTerms {
            recon: 1.0,
            kl: 2.0,
            penalty: 3.0,
        };
        assert_eq!(t.objective(4.0), 12.0);
        assert!(!LossTerms { kl: f64::NAN, ..t }.is_finite());
    }
}
