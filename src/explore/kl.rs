//! The KL of a diagonal Gaussian posterior to the prior N(0, I), one number per latent
//! dimension: which dimensions carry information and which have collapsed to the prior.

/// Mean over items of KL(N(μ_j, σ_j²) ‖ N(0, 1)) = ½(μ_j² + σ_j² − 1 − ln σ_j²), for each
/// latent dimension j, in nats. `mus` and `sigmas` hold `latent_dim` values per item, back
/// to back; items missing from either list are skipped. Empty when there is no item or
/// `latent_dim` is 0.
pub fn mean_kl_per_dim(mus: &[f32], sigmas: &[f32], latent_dim: usize) -> Vec<f64> {
    if latent_dim == 0 {
        return Vec::new();
    }
    let items = mus.len().min(sigmas.len()) / latent_dim;
    if items == 0 {
        return Vec::new();
    }
    let mut sums = vec![0.0f64; latent_dim];
    let rows = mus
        .chunks_exact(latent_dim)
        .zip(sigmas.chunks_exact(latent_dim));
    for (mu, sigma) in rows.take(items) {
        for ((sum, &m), &s) in sums.iter_mut().zip(mu).zip(sigma) {
            let (m, var) = (f64::from(m), f64::from(s) * f64::from(s));
            *sum += 0.5 * (m * m + var - 1.0 - var.ln());
        }
    }
    sums.iter().map(|s| s / items as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::PortableRng;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    #[test]
    fn hand_computed_cases() {
        // Two items, three dimensions: the prior itself (0), a shifted mean (½μ² = 0.5) and
        // a halved σ (½(¼ − 1 + ln 4) = 0.318147...), then the same with μ = 3 on dim 0.
        let mus = [0.0, 1.0, 0.0, 3.0, 1.0, 0.0];
        let sigmas = [1.0, 1.0, 0.5, 1.0, 1.0, 0.5];
        let kl = mean_kl_per_dim(&mus, &sigmas, 3);
        let halved = 0.5 * (0.25 - 1.0 + 4f64.ln());
        let want = [(0.0 + 4.5) / 2.0, 0.5, halved];
        for (got, want) in kl.iter().zip(want) {
            assert!((got - want).abs() < 1e-9, "{kl:?} vs {want}");
        }
        assert!((halved - 0.318_147_180_559_945_3).abs() < 1e-12);
    }

    #[test]
    fn matches_a_monte_carlo_estimate() {
        // KL(q ‖ p) = E_q[ln q(z) − ln p(z)], estimated with samples z = μ + σε.
        let items = [(0.7f32, 0.3f32), (-1.2, 1.6), (0.0, 0.05)];
        let mus: Vec<f32> = items.iter().map(|i| i.0).collect();
        let sigmas: Vec<f32> = items.iter().map(|i| i.1).collect();
        let kl = mean_kl_per_dim(&mus, &sigmas, 1);
        let mut rng = PortableRng::seed_from_u64(7);
        let n = 200_000;
        let mut total = 0.0;
        for &(mu, sigma) in &items {
            let (mu, sigma) = (f64::from(mu), f64::from(sigma));
            let mut sum = 0.0;
            for _ in 0..n {
                let eps: f64 = StandardNormal.sample(&mut rng);
                let z = mu + sigma * eps;
                let ln_q = -0.5 * eps * eps - sigma.ln();
                let ln_p = -0.5 * z * z;
                sum += ln_q - ln_p;
            }
            total += sum / n as f64;
        }
        let estimate = total / items.len() as f64;
        assert!(
            (kl[0] - estimate).abs() < 0.02,
            "closed form {} vs Monte Carlo {estimate}",
            kl[0]
        );
    }

    #[test]
    fn short_or_empty_lists_give_what_they_can() {
        assert!(mean_kl_per_dim(&[1.0, 2.0], &[1.0, 1.0], 0).is_empty());
        assert!(mean_kl_per_dim(&[1.0], &[], 2).is_empty());
        // σ for one item only: the second item's μ is ignored.
        let kl = mean_kl_per_dim(&[2.0, 0.0, 9.0, 9.0], &[1.0, 1.0], 2);
        assert_eq!(kl, vec![2.0, 0.0]);
    }
}
