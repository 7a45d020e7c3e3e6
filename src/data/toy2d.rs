//! Built-in 2-D point sets (moons, rings, blobs), scaled into the unit square.

use super::{DataError, Dataset, ItemShape, Sizes, generate_items};
use crate::rng::PortableRng;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::f32::consts::PI;

/// Makes `moons` (2 classes), `rings` (3 classes) or `blobs` (5 classes).
pub fn generate(name: &str, sizes: Sizes, seed: u64) -> Result<Dataset, DataError> {
    let (classes, class_names): (u32, Vec<String>) = match name {
        "moons" => (2, vec!["upper moon".into(), "lower moon".into()]),
        "rings" => (
            3,
            vec![
                "inner ring".into(),
                "middle ring".into(),
                "outer ring".into(),
            ],
        ),
        _ => (5, (0..5).map(|i| format!("blob {i}")).collect()),
    };
    let kind = name.to_string();
    let (train, test) = generate_items(sizes, 2, seed, |rng, i| {
        let label = (i as u32) % classes;
        let (x, y) = point(&kind, label, rng);
        (vec![x.clamp(0.0, 1.0), y.clamp(0.0, 1.0)], label)
    })?;
    Ok(Dataset {
        name: name.into(),
        shape: ItemShape::Points { dim: 2 },
        class_names,
        factor_names: Vec::new(),
        train,
        test,
    })
}

fn gauss(rng: &mut PortableRng) -> f32 {
    StandardNormal.sample(rng)
}

fn point(kind: &str, label: u32, rng: &mut PortableRng) -> (f32, f32) {
    match kind {
        "moons" => {
            let t = rng.random_range(0.0..PI);
            let (x, y) = if label == 0 {
                (t.cos(), t.sin())
            } else {
                (1.0 - t.cos(), 0.5 - t.sin())
            };
            // x in [-1, 2], y in [-0.5, 1]: map into [0.1, 0.9].
            let sd = 0.08;
            (
                0.1 + 0.8 * (x + sd * gauss(rng) + 1.0) / 3.0,
                0.25 + 0.8 * (y + sd * gauss(rng) + 0.5) / 3.0,
            )
        }
        "rings" => {
            let t = rng.random_range(0.0..2.0 * PI);
            let r = 0.12 + 0.14 * label as f32 + 0.015 * gauss(rng);
            (0.5 + r * t.cos(), 0.5 + r * t.sin())
        }
        _ => {
            let a = 2.0 * PI * label as f32 / 5.0;
            (
                0.5 + 0.3 * a.cos() + 0.05 * gauss(rng),
                0.5 + 0.3 * a.sin() + 0.05 * gauss(rng),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_have_increasing_radius_by_class() {
        let ds = generate(
            "rings",
            Sizes {
                train: 300,
                test: 30,
            },
            1,
        )
        .unwrap();
        let mut mean_r = [0.0f32; 3];
        for i in 0..ds.train.len() {
            let p = ds.train.item(i, 2);
            mean_r[ds.train.labels[i] as usize] +=
                ((p[0] - 0.5).powi(2) + (p[1] - 0.5).powi(2)).sqrt() / 100.0;
        }
        assert!(mean_r[0] < mean_r[1] && mean_r[1] < mean_r[2], "{mean_r:?}");
        assert!((mean_r[0] - 0.12).abs() < 0.01);
    }

    #[test]
    fn all_sets_stay_in_the_unit_square() {
        for name in ["moons", "rings", "blobs"] {
            let ds = generate(
                name,
                Sizes {
                    train: 500,
                    test: 100,
                },
                2,
            )
            .unwrap();
            assert!(
                ds.train
                    .x
                    .iter()
                    .chain(&ds.test.x)
                    .all(|v| (0.0..=1.0).contains(v)),
                "{name}"
            );
            assert_eq!(ds.train.x.len(), 1000);
        }
    }
}
