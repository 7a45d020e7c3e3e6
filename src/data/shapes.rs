//! Built-in sprites with known factors: shape (the label), position, scale and rotation.

use super::{DataError, Dataset, IMAGE_SIDE, ItemShape, Sizes, generate_items};
use rand::Rng;
use std::f32::consts::PI;

/// The class names, indexed by label.
pub const SHAPE_NAMES: [&str; 4] = ["square", "ellipse", "triangle", "heart"];

/// The generating factors of one sprite.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Factors {
    /// Index into [`SHAPE_NAMES`].
    pub shape: usize,
    /// Centre in pixels.
    pub x: f32,
    /// Centre in pixels.
    pub y: f32,
    /// Half-size in pixels.
    pub scale: f32,
    /// Rotation in radians.
    pub angle: f32,
}

/// Makes the `shapes` data set: labels cycle through the shapes.
pub fn generate(sizes: Sizes, seed: u64) -> Result<Dataset, DataError> {
    let (train, test) = generate_items(sizes, IMAGE_SIDE * IMAGE_SIDE, seed, |rng, i| {
        let shape = i % SHAPE_NAMES.len();
        let f = Factors {
            shape,
            x: rng.random_range(9.0..19.0),
            y: rng.random_range(9.0..19.0),
            scale: rng.random_range(4.0..7.5),
            angle: rng.random_range(0.0..2.0 * PI),
        };
        (draw(&f), shape as u32)
    })?;
    Ok(Dataset {
        name: "shapes".into(),
        shape: ItemShape::gray(IMAGE_SIDE, IMAGE_SIDE),
        class_names: SHAPE_NAMES.iter().map(|s| s.to_string()).collect(),
        factor_names: Vec::new(),
        train,
        test,
    })
}

/// True when the point (u, v), in the shape's own unit frame, lies inside it.
pub(crate) fn inside(shape: usize, u: f32, v: f32) -> bool {
    match shape {
        0 => u.abs() <= 0.85 && v.abs() <= 0.85,
        1 => (u / 1.0).powi(2) + (v / 0.55).powi(2) <= 1.0,
        2 => {
            // Equilateral triangle of circumradius 1 pointing up: inside all three
            // half-planes whose inner distance from the centre is 0.5.
            [-PI / 2.0, PI / 6.0, 5.0 * PI / 6.0]
                .iter()
                .all(|a| u * a.cos() + v * a.sin() >= -0.5)
        }
        _ => {
            // The classic implicit heart, flipped so it points down in image coordinates.
            let (x, y) = (u * 1.15, -v * 1.15 + 0.1);
            (x * x + y * y - 1.0).powi(3) - x * x * y * y * y <= 0.0
        }
    }
}

/// Renders a sprite with 4x4 super-sampling.
pub fn draw(f: &Factors) -> Vec<f32> {
    let (sin, cos) = f.angle.sin_cos();
    let mut img = vec![0.0f32; IMAGE_SIDE * IMAGE_SIDE];
    const SUB: usize = 4;
    for py in 0..IMAGE_SIDE {
        for px in 0..IMAGE_SIDE {
            let mut hits = 0;
            for sy in 0..SUB {
                for sx in 0..SUB {
                    let x = px as f32 + (sx as f32 + 0.5) / SUB as f32 - f.x;
                    let y = py as f32 + (sy as f32 + 0.5) / SUB as f32 - f.y;
                    let u = (cos * x + sin * y) / f.scale;
                    let v = (-sin * x + cos * y) / f.scale;
                    hits += usize::from(inside(f.shape, u, v));
                }
            }
            img[py * IMAGE_SIDE + px] = hits as f32 / (SUB * SUB) as f32;
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_grows_with_scale_and_shapes_are_filled() {
        for (shape, name) in SHAPE_NAMES.iter().enumerate() {
            let small = Factors {
                shape,
                x: 14.0,
                y: 14.0,
                scale: 4.0,
                angle: 0.3,
            };
            let large = Factors {
                scale: 7.0,
                ..small
            };
            let (a, b): (f32, f32) = (draw(&small).iter().sum(), draw(&large).iter().sum());
            assert!(a > 10.0, "{name} too small: {a}");
            let ratio = b / a;
            assert!(
                (ratio - (7.0f32 / 4.0).powi(2)).abs() < 0.5,
                "{}: area ratio {ratio}",
                SHAPE_NAMES[shape]
            );
        }
    }

    #[test]
    fn position_moves_the_centre_of_mass() {
        let f = Factors {
            shape: 1,
            x: 10.0,
            y: 17.0,
            scale: 5.0,
            angle: 0.0,
        };
        let img = draw(&f);
        let total: f32 = img.iter().sum();
        let cx: f32 = img
            .iter()
            .enumerate()
            .map(|(i, v)| v * ((i % IMAGE_SIDE) as f32 + 0.5))
            .sum::<f32>()
            / total;
        let cy: f32 = img
            .iter()
            .enumerate()
            .map(|(i, v)| v * ((i / IMAGE_SIDE) as f32 + 0.5))
            .sum::<f32>()
            / total;
        assert!(
            (cx - 10.0).abs() < 0.3 && (cy - 17.0).abs() < 0.3,
            "centre ({cx}, {cy})"
        );
    }
}
