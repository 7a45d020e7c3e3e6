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
    kl_each_dim(mu, logvar)?.sum(D::Minus1)
}

/// The KL of each item and latent dimension, shape of `mu`: ½(σ² + μ² − log σ² − 1).
pub fn kl_each_dim(mu: &Tensor, logvar: &Tensor) -> Result<Tensor> {
    let inner = ((logvar.exp()? + mu.sqr()?)? - logvar)?;
    (inner - 1.0)? * 0.5
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
        let logvar = sigma.map(|s| (s * s).ln() as f32);
        let t: Vec<f32> = kl_to_standard_normal(
            &Tensor::new(&[[0.7f32, -1.2]], &Device::Cpu).unwrap(),
            &Tensor::new(&[logvar], &Device::Cpu).unwrap(),
        )
        .unwrap()
        .to_vec1()
        .unwrap();
        assert!(
            (mc - f64::from(t[0])).abs() < 0.01,
            "Monte Carlo {mc} vs kl_to_standard_normal {}",
            t[0]
        );
    }

    /// BCE of one pixel through the tensor function.
    fn bce(logit: f32, target: f32) -> f64 {
        let v: Vec<f32> = bce_with_logits(
            &Tensor::new(&[[logit]], &Device::Cpu).unwrap(),
            &Tensor::new(&[[target]], &Device::Cpu).unwrap(),
        )
        .unwrap()
        .to_vec1()
        .unwrap();
        f64::from(v[0])
    }

    #[test]
    fn bce_matches_the_bernoulli_likelihood_from_first_principles() {
        // -x ln p - (1-x) ln(1-p) with p = σ(l), in f64; 1 - σ(l) is taken as σ(-l) (the
        // same number, without the cancellation of 1 - p when p is close to 1).
        let sigmoid = |t: f64| 1.0 / (1.0 + (-t).exp());
        let logits = [-200.0f32, -30.0, -2.0, 0.0, 0.5, 3.0, 30.0, 200.0];
        let targets = [0.0f32, 1.0, 0.3, 0.5, 1.0, 0.0, 0.7, 1.0];
        for (&l, &x) in logits.iter().zip(&targets) {
            let (l64, x64) = (f64::from(l), f64::from(x));
            let nll = -x64 * sigmoid(l64).ln() - (1.0 - x64) * sigmoid(-l64).ln();
            let got = bce(l, x);
            assert!(
                (got - nll).abs() < 1e-5 * nll.max(1.0),
                "logit {l}, target {x}: {got} vs {nll}"
            );
        }
    }

    #[test]
    fn bce_hand_computed_values_and_asymptotes() {
        let ln2 = std::f64::consts::LN_2;
        // A logit of 0 is p = ½: ln 2 whatever the target.
        for x in [0.0, 0.25, 1.0] {
            assert!((bce(0.0, x) - ln2).abs() < 1e-6, "target {x}");
        }
        // l = ln 3 is p = ¾: -ln ¾ for a 1, -ln ¼ for a 0.
        let ln3 = 3f32.ln();
        assert!((bce(ln3, 1.0) - (4.0f64 / 3.0).ln()).abs() < 1e-6);
        assert!((bce(ln3, 0.0) - 4f64.ln()).abs() < 1e-6);
        // Confident and right: ln(1 + e^-|l|) ≈ e^-|l| (3.4e-4 at 8, to f32 resolution);
        // confident and wrong: about |l|, never inf.
        let small = (-8f64).exp().ln_1p();
        assert!((bce(8.0, 1.0) - small).abs() < 1e-3 * small);
        assert!((bce(-8.0, 0.0) - small).abs() < 1e-3 * small);
        assert!(bce(30.0, 1.0).abs() < 1e-8 && bce(-30.0, 0.0).abs() < 1e-8);
        assert!((bce(200.0, 0.0) - 200.0).abs() < 1e-4);
        assert!((bce(-200.0, 1.0) - 200.0).abs() < 1e-4);
        assert!(bce(1e6, 0.0).is_finite());
        // Pixels add up along the row.
        let row: Vec<f32> = bce_with_logits(
            &Tensor::new(&[[0.0f32, ln3, -20.0]], &Device::Cpu).unwrap(),
            &Tensor::new(&[[1.0f32, 0.0, 0.0]], &Device::Cpu).unwrap(),
        )
        .unwrap()
        .to_vec1()
        .unwrap();
        let expected = ln2 + 4f64.ln() + (-20f64).exp();
        assert!((f64::from(row[0]) - expected).abs() < 1e-5, "{row:?}");
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
