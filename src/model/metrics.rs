//! Metrics of a latent space that do not need the model: k-nearest-neighbour accuracy.

/// Accuracy of a k-nearest-neighbour classifier (Euclidean, majority vote) on codes.
/// `k = 0` counts as 1; codes of dimension 0 carry no information and score 0.
pub fn knn_accuracy(
    train: &[f32],
    train_labels: &[u32],
    test: &[f32],
    test_labels: &[u32],
    dim: usize,
    k: usize,
) -> f64 {
    if dim == 0 {
        return 0.0;
    }
    let k = k.max(1);
    let classes = train_labels.iter().max().map_or(1, |m| *m as usize + 1);
    let mut correct = 0usize;
    let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
    for (q, &label) in test.chunks_exact(dim).zip(test_labels) {
        best.clear();
        for (t, &tl) in train.chunks_exact(dim).zip(train_labels) {
            let d: f32 = q.iter().zip(t).map(|(a, b)| (a - b) * (a - b)).sum();
            if best.len() < k || d < best[best.len() - 1].0 {
                let pos = best.partition_point(|(bd, _)| *bd <= d);
                best.insert(pos, (d, tl));
                best.truncate(k);
            }
        }
        let mut votes = vec![0usize; classes.max(label as usize + 1)];
        for &(_, l) in &best {
            votes[l as usize] += 1;
        }
        let predicted = votes
            .iter()
            .enumerate()
            .max_by_key(|&(c, v)| (*v, usize::MAX - c))
            .map_or(0, |(c, _)| c);
        correct += usize::from(predicted == label as usize);
    }
    correct as f64 / test_labels.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knn_on_separated_clusters_is_perfect_and_on_noise_is_chance() {
        let train = [0.0f32, 0.0, 0.1, 0.1, 5.0, 5.0, 5.1, 5.0];
        let labels = [0, 0, 1, 1];
        assert_eq!(
            knn_accuracy(&train, &labels, &[0.05, 0.0, 5.0, 5.1], &[0, 1], 2, 1),
            1.0
        );
        assert_eq!(
            knn_accuracy(&train, &labels, &[0.05, 0.0, 5.0, 5.1], &[1, 0], 2, 1),
            0.0
        );
    }

    #[test]
    fn dimension_zero_and_k_zero_do_not_panic() {
        assert_eq!(knn_accuracy(&[], &[0, 1], &[], &[0, 1], 0, 5), 0.0);
        let train = [0.0f32, 1.0, 10.0];
        assert_eq!(
            knn_accuracy(&train, &[0, 0, 1], &[9.0, 0.2], &[1, 0], 1, 0),
            1.0
        );
    }
}
