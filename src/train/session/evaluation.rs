//! Evaluation on the worker: an epoch's close (training means, test metrics, k-NN accuracy,
//! keep-points) and the timed test reports.

use super::{Session, Slot};
use crate::data::Dataset;
use crate::model::metrics::knn_accuracy;
use crate::model::{Autoencoder, Metrics, batch_tensor, evaluate_with_codes};
use crate::rng::PortableRng;
use crate::train::messages::*;
use candle_core::{Result, Tensor};
use rand::SeedableRng;
use std::time::Duration;

/// Training items encoded for the k-NN accuracy at each epoch end.
const KNN_TRAIN_ITEMS: usize = 5000;

impl Session {
    /// Closes an epoch: the metrics of every model, and each live model's weights kept as
    /// its last good ones if they evaluate to a finite loss.
    pub(in crate::train) fn end_epoch(&mut self) -> Result<EpochSummary> {
        self.epoch += 1;
        self.step_in_epoch = 0;
        let probe = KnnProbe::new(&self.data, &self.display_indices)?;
        let mut models = Vec::new();
        for slot in &mut self.slots {
            let metrics = epoch_metrics(slot, &self.data, &self.config, self.epoch, &probe)?;
            if !slot.diverged && metrics.test.loss.is_finite() {
                slot.last_good = slot.model.weights()?;
            }
            models.push(metrics);
        }
        let secs = self.epoch_elapsed.as_secs_f64();
        let samples = self.order.batches_per_epoch() * self.config.batch_size;
        self.epoch_elapsed = Duration::ZERO;
        Ok(EpochSummary {
            epoch: self.epoch,
            step: self.step,
            elapsed_secs: self.elapsed.as_secs_f64(),
            samples_per_sec: if secs > 0.0 {
                samples as f64 / secs
            } else {
                0.0
            },
            models,
        })
    }

    /// Test metrics of every model now, mid-epoch: the timed evaluation rows. Training
    /// time (`elapsed`) does not include it.
    pub(in crate::train) fn test_report(&mut self) -> Result<TestReport> {
        let probe = KnnProbe::new(&self.data, &self.display_indices)?;
        let mut models = Vec::new();
        for slot in &self.slots {
            let mut eval_rng = PortableRng::seed_from_u64(
                self.config.seed.wrapping_mul(131).wrapping_add(self.step),
            );
            let (test, test_codes) = evaluate_with_codes(
                &slot.model,
                &self.data.test,
                self.data.dim(),
                &mut eval_rng,
                self.config.iw_samples,
            )?;
            models.push(ModelEpoch {
                name: slot.name.clone(),
                kind: slot.model.config.kind,
                train: Metrics::default(),
                test,
                knn_accuracy: probe.accuracy(&slot.model, &test_codes)?,
                diverged: slot.diverged,
            });
        }
        Ok(TestReport {
            epoch: self.epoch + 1,
            step: self.step,
            elapsed_secs: self.elapsed.as_secs_f64(),
            models,
        })
    }
}

/// The items the k-NN accuracy compares: training codes against the display items' codes.
struct KnnProbe {
    train_x: Tensor,
    train_labels: Vec<u32>,
    display_indices: Vec<usize>,
    display_labels: Vec<u32>,
}

impl KnnProbe {
    fn new(data: &Dataset, display_indices: &[usize]) -> Result<Self> {
        let dim = data.dim();
        let train: Vec<usize> = (0..data.train.len().min(KNN_TRAIN_ITEMS)).collect();
        Ok(Self {
            train_x: batch_tensor(data.train.gather(&train, dim), dim)?,
            train_labels: train.iter().map(|&i| data.train.labels[i]).collect(),
            display_indices: display_indices.to_vec(),
            display_labels: display_indices
                .iter()
                .map(|&i| data.test.labels[i])
                .collect(),
        })
    }

    /// 5-NN accuracy of `model`'s display codes against its training codes. The display
    /// items' codes are taken from `test_codes`, every test item's (what
    /// [`evaluate_with_codes`] made just before); only the training items are encoded.
    fn accuracy(&self, model: &Autoencoder, test_codes: &[f32]) -> Result<f64> {
        let d = model.config.latent_dim;
        let display = self
            .display_indices
            .iter()
            .map(|&i| test_codes.get(i * d..(i + 1) * d))
            .collect::<Option<Vec<&[f32]>>>()
            .ok_or_else(|| candle_core::Error::Msg("a display item has no test code".into()))?
            .concat();
        // In parts: thousands of items through a 64×64 conv model at once hold GBs.
        // A conditional model (cvae) sees each item's class too.
        let train_x = model.input_of(&self.train_x, &self.train_labels)?;
        let (train_codes, _) = crate::model::conv::encode_in_parts(model, &train_x)?;
        Ok(knn_accuracy(
            &train_codes,
            &self.train_labels,
            &display,
            &self.display_labels,
            d,
            5,
        ))
    }
}

/// One model's epoch: the mean training losses (which it resets), the test metrics and
/// the k-NN accuracy.
fn epoch_metrics(
    slot: &mut Slot,
    data: &Dataset,
    config: &TrainConfig,
    epoch: usize,
    probe: &KnnProbe,
) -> Result<ModelEpoch> {
    let sums = std::mem::take(&mut slot.since_epoch);
    let means = sums.means(1.0);
    let kind = slot.model.config.kind;
    let train = Metrics {
        recon: means.terms.recon,
        kl: means.terms.kl,
        penalty: means.terms.penalty,
        loss: means.loss,
        elbo: kind
            .is_variational()
            .then_some(-(sums.terms.recon + sums.terms.kl) / sums.steps.max(1.0)),
        ..Metrics::default()
    };
    // Its own draws, so evaluating never shifts the training noise.
    let mut eval_rng =
        PortableRng::seed_from_u64(config.seed.wrapping_mul(31).wrapping_add(epoch as u64));
    let (test, test_codes) = evaluate_with_codes(
        &slot.model,
        &data.test,
        data.dim(),
        &mut eval_rng,
        config.iw_samples,
    )?;
    Ok(ModelEpoch {
        name: slot.name.clone(),
        kind,
        train,
        test,
        knn_accuracy: probe.accuracy(&slot.model, &test_codes)?,
        diverged: slot.diverged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Sizes;
    use crate::model::{Likelihood, ModelConfig, ModelKind};

    /// The probe's accuracy from the evaluation's codes equals the one from encoding the
    /// display items themselves, display items taken out of order.
    #[test]
    fn the_probe_takes_each_display_items_own_code_from_the_evaluation() {
        let sizes = Sizes {
            train: 400,
            test: 300,
        };
        let ds = crate::data::load_with_sizes("digits", 2, Some(sizes)).unwrap();
        let dim = ds.dim();
        let mut cfg = ModelConfig::new(ModelKind::Vae, dim, Likelihood::Bernoulli);
        cfg.latent_dim = 2;
        cfg.hidden = vec![16];
        let model = Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(3)).unwrap();
        let display: Vec<usize> = (0..300).rev().step_by(2).collect();
        let probe = KnnProbe::new(&ds, &display).unwrap();
        let mut rng = PortableRng::seed_from_u64(5);
        let (_, codes) = evaluate_with_codes(&model, &ds.test, dim, &mut rng, 0).unwrap();
        let got = probe.accuracy(&model, &codes).unwrap();
        let encode = |x: Tensor| -> Vec<f32> {
            let (mu, _) = model.encode(&x).unwrap();
            mu.flatten_all().unwrap().to_vec1().unwrap()
        };
        let train: Vec<usize> = (0..400).collect();
        let labels = |split: &crate::data::Split, idx: &[usize]| -> Vec<u32> {
            idx.iter().map(|&i| split.labels[i]).collect()
        };
        let want = knn_accuracy(
            &encode(batch_tensor(ds.train.gather(&train, dim), dim).unwrap()),
            &labels(&ds.train, &train),
            &encode(batch_tensor(ds.test.gather(&display, dim), dim).unwrap()),
            &labels(&ds.test, &display),
            2,
            5,
        );
        assert!(want > 0.0 && want < 1.0, "{want}");
        assert_eq!(got, want);
    }
}
