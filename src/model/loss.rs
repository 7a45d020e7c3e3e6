//! Loss terms in nats per item: reconstruction (Bernoulli or Gaussian), KL, penalties.
//!
//! The tensor functions return one value per row (shape `(batch,)`); callers average.

use candle_core::{D, Result, Tensor};

/// Standard deviation of the fixed Gaussian decoder used for 2-D points (data in [0, 1]).
pub const POINT_SIGMA: f64 = 0.05;

/// Bernoulli negative log-likelihood from logits, summed over pixels, stable for any logit:
/// `max(l, 0) - l*x + log(1 + exp(-|l|))`.
pub fn bce_with_logits(logits: &Tensor, target: &Tensor) -> Result<Tensor> {
    let softplus_neg_abs = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    let per_pixel = ((logits.relu()? - (logits * target)?)? + softplus_neg_abs)?;
    per_pixel.sum(D::Minus1)
}

/// Gaussian negative log-likelihood with fixed sigma [`POINT_SIGMA`], summed over coordinates.
pub fn gaussian_nll(mean: &Tensor, target: &Tensor) -> Result<Tensor> {
    let dim = target.dim(D::Minus1)? as f64;
    let var = POINT_SIGMA * POINT_SIGMA;
    let constant = 0.5 * dim * (2.0 * std::f64::consts::PI * var).ln();
    let sq = (mean - target)?.sqr()?.sum(D::Minus1)?;
    (sq * (0.5 / var))? + constant
}

/// KL(N(mu, exp(logvar)) || N(0, I)) summed over latent dimensions.
pub fn kl_to_standard_normal(mu: &Tensor, logvar: &Tensor) -> Result<Tensor> {
    let inner = ((logvar.exp()? + mu.sqr()?)? - logvar)?;
    ((inner - 1.0)? * 0.5)?.sum(D::Minus1)
}

/// The same BCE for one value, in plain f64: the reference the tests compare against.
pub fn bce_scalar(logit: f64, target: f64) -> f64 {
    logit.max(0.0) - logit * target + (-logit.abs()).exp().ln_1p()
}

/// The same KL in plain f64 for one item.
pub fn kl_scalar(mu: &[f64], logvar: &[f64]) -> f64 {
    mu.iter()
        .zip(logvar)
        .map(|(m, lv)| 0.5 * (lv.exp() + m * m - 1.0 - lv))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn kl_matches_hand_computed_values() {
        // mu = 0, sigma = 1: zero. mu = 1, sigma = 1: 0.5 per dimension.
        // mu = 0, sigma = e: 0.5 (e^2 - 1 - 2) = 2.1945...
        let dev = Device::Cpu;
        let mu = Tensor::new(&[[0.0f32, 0.0], [1.0, 1.0], [0.0, 0.0]], &dev).unwrap();
        let lv = Tensor::new(&[[0.0f32, 0.0], [0.0, 0.0], [2.0, 0.0]], &dev).unwrap();
        let kl: Vec<f32> = kl_to_standard_normal(&mu, &lv).unwrap().to_vec1().unwrap();
        let expected = [0.0, 1.0, 0.5 * (2f64.exp() - 3.0)];
        for (k, e) in kl.iter().zip(expected) {
            assert!((*k as f64 - e).abs() < 1e-5, "{k} vs {e}");
        }
    }

    #[test]
    fn kl_matches_a_monte_carlo_estimate() {
        // E_q[log q(z) - log p(z)] by sampling, for mu = (0.7, -1.2), sigma = (0.5, 1.6).
        let (mu, sigma) = ([0.7f64, -1.2], [0.5f64, 1.6]);
        let logvar: Vec<f64> = sigma.iter().map(|s| (s * s).ln()).collect();
        let closed = kl_scalar(&mu, &logvar);
        let mut rng = crate::rng::PortableRng::seed_from_u64(1);
        let n = 400_000;
        let normal = Normal::new(0.0, 1.0).unwrap();
        let mut sum = 0.0;
        for _ in 0..n {
            for d in 0..2 {
                let e: f64 = normal.sample(&mut rng);
                let z = mu[d] + sigma[d] * e;
                let log_q = -0.5 * e * e - sigma[d].ln();
                let log_p = -0.5 * z * z;
                sum += log_q - log_p;
            }
        }
        let mc = sum / n as f64;
        assert!(
            (mc - closed).abs() < 0.01,
            "Monte Carlo {mc} vs closed form {closed}"
        );
        let t: Vec<f32> = kl_to_standard_normal(
            &Tensor::new(&[[0.7f32, -1.2]], &Device::Cpu).unwrap(),
            &Tensor::new(&[[logvar[0] as f32, logvar[1] as f32]], &Device::Cpu).unwrap(),
        )
        .unwrap()
        .to_vec1()
        .unwrap();
        assert!((t[0] as f64 - closed).abs() < 1e-4);
    }

    #[test]
    fn bce_matches_direct_formula_and_survives_extreme_logits() {
        let logits = [-200.0f32, -30.0, -2.0, 0.0, 0.5, 3.0, 30.0, 200.0];
        let targets = [0.0f32, 1.0, 0.3, 0.5, 1.0, 0.0, 0.7, 1.0];
        for (&l, &x) in logits.iter().zip(&targets) {
            let got: Vec<f32> = bce_with_logits(
                &Tensor::new(&[[l]], &Device::Cpu).unwrap(),
                &Tensor::new(&[[x]], &Device::Cpu).unwrap(),
            )
            .unwrap()
            .to_vec1()
            .unwrap();
            assert!(got[0].is_finite(), "logit {l}");
            let reference = bce_scalar(l as f64, x as f64);
            assert!(
                (got[0] as f64 - reference).abs() < 1e-4 * reference.abs().max(1.0),
                "logit {l}: {} vs {reference}",
                got[0]
            );
            if l.abs() < 20.0 {
                // The textbook form -x log p - (1-x) log(1-p) where it is still accurate.
                let p = 1.0 / (1.0 + (-(l as f64)).exp());
                let direct = -(x as f64) * p.ln() - (1.0 - x as f64) * (1.0 - p).ln();
                assert!((reference - direct).abs() < 1e-9, "logit {l}");
            }
        }
        // Saturated and wrong: the loss grows linearly with the logit, never inf.
        assert!((bce_scalar(200.0, 0.0) - 200.0).abs() < 1e-9);
    }

    #[test]
    fn gaussian_nll_at_the_mean_is_the_normaliser() {
        let x = Tensor::new(&[[0.2f32, 0.4]], &Device::Cpu).unwrap();
        let got: Vec<f32> = gaussian_nll(&x, &x).unwrap().to_vec1().unwrap();
        let expected = (2.0 * std::f64::consts::PI * POINT_SIGMA * POINT_SIGMA).ln();
        assert!((got[0] as f64 - expected).abs() < 1e-4);
        let moved = Tensor::new(&[[0.25f32, 0.4]], &Device::Cpu).unwrap();
        let got: Vec<f32> = gaussian_nll(&moved, &x).unwrap().to_vec1().unwrap();
        assert!(
            (got[0] as f64 - (expected + 0.5)).abs() < 1e-3,
            "one sigma away adds 0.5 nats"
        );
    }
}
