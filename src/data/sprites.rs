//! Built-in `sprites` and `colour-sprites`: 64×64 images drawn from a seed with the
//! factors of DeepMind's dSprites (Matthey et al. 2017), every factor's value known for
//! every item.
//!
//! The factors take dSprites' discrete values: shape (square, ellipse, heart), scale (6
//! values from 0.5 to 1), orientation (40 values over one turn), x and y position (32 values
//! each). `colour-sprites` adds a sixth, colour (6 hues), and three channels. Each item
//! draws every factor uniformly from its values, so any factor's effect can be read off
//! the data; the label is the shape. Items are `[channels, height, width]`, channel-planar,
//! values in [0, 1] (4×4 super-sampled coverage, times the colour).

use super::shapes::inside;
use super::{DataError, Dataset, ItemShape, Sizes, generate_items_with_factors};
use rand::Rng;
use std::f32::consts::PI;

/// The side of a sprite image.
pub const SIDE: usize = 64;

/// A sprite's half-size at scale 1, in pixels: the largest square is 24 pixels wide. At 9
/// pixels (a 15-pixel square) a conv VAE trained for 60 epochs still drew every square and
/// heart as a round blob; at 14 it tells the shapes apart within 20 (README, "Sprites").
const HALF_SIZE: f32 = 14.0;

/// The least distance from a sprite's centre to the image's edge, in pixels: the largest
/// square turned 45° reaches 14 · 0.85 · √2 ≈ 16.8 from its centre, so its tip stays out
/// of the border pixels' samples.
const MARGIN: f32 = 18.0;

/// The shapes, indexed by the shape factor (the label). Their outlines are those of the
/// `shapes` set (square, ellipse, heart).
pub const SHAPE_NAMES: [&str; 3] = ["square", "ellipse", "heart"];

/// The hues of `colour-sprites`, as RGB in [0, 1], indexed by the colour factor.
pub const COLOURS: [(&str, [f32; 3]); 6] = [
    ("white", [1.0, 1.0, 1.0]),
    ("red", [1.0, 0.25, 0.2]),
    ("green", [0.3, 0.9, 0.3]),
    ("blue", [0.3, 0.5, 1.0]),
    ("yellow", [1.0, 0.9, 0.2]),
    ("magenta", [0.95, 0.3, 0.9]),
];

/// The factor names of `sprites`, in the order of [`SpriteFactors::values`].
pub const FACTOR_NAMES: [&str; 5] = ["shape", "scale", "orientation", "x", "y"];

/// The factor names of `colour-sprites`.
pub const COLOUR_FACTOR_NAMES: [&str; 6] = ["shape", "scale", "orientation", "x", "y", "colour"];

/// How many values each factor takes, in the order of [`COLOUR_FACTOR_NAMES`].
pub const FACTOR_SIZES: [usize; 6] = [3, 6, 40, 32, 32, COLOURS.len()];

/// One sprite's factors, each as the index of its value (dSprites' "latent classes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpriteFactors {
    /// Index into [`SHAPE_NAMES`].
    pub shape: usize,
    /// 0..6: scale 0.5 + 0.1·i.
    pub scale: usize,
    /// 0..40: rotation 2π·i/40.
    pub orientation: usize,
    /// 0..32: left to right.
    pub x: usize,
    /// 0..32: top to bottom.
    pub y: usize,
    /// Index into [`COLOURS`] (0, white, for `sprites`).
    pub colour: usize,
}

impl SpriteFactors {
    /// Every factor drawn uniformly from its values; `colour` only if `coloured`.
    pub fn random(rng: &mut impl Rng, coloured: bool) -> Self {
        Self {
            shape: rng.random_range(0..FACTOR_SIZES[0]),
            scale: rng.random_range(0..FACTOR_SIZES[1]),
            orientation: rng.random_range(0..FACTOR_SIZES[2]),
            x: rng.random_range(0..FACTOR_SIZES[3]),
            y: rng.random_range(0..FACTOR_SIZES[4]),
            colour: if coloured {
                rng.random_range(0..FACTOR_SIZES[5])
            } else {
                0
            },
        }
    }

    /// The factor values in the order of the names (five, or six with colour).
    pub fn values(&self, coloured: bool) -> Vec<u32> {
        let mut v = vec![
            self.shape as u32,
            self.scale as u32,
            self.orientation as u32,
            self.x as u32,
            self.y as u32,
        ];
        if coloured {
            v.push(self.colour as u32);
        }
        v
    }

    /// Scale as dSprites gives it: 0.5 to 1.
    pub fn scale_value(&self) -> f32 {
        0.5 + 0.1 * self.scale as f32
    }

    /// The sprite's centre in pixels: 18 to 46 on each axis, so the largest sprite turned
    /// any way stays inside the image.
    pub fn centre(&self) -> (f32, f32) {
        let at = |i: usize| {
            MARGIN + (SIDE as f32 - 2.0 * MARGIN) * i as f32 / (FACTOR_SIZES[3] - 1) as f32
        };
        (at(self.x), at(self.y))
    }
}

/// Makes `sprites` (grey) or `colour-sprites` (`coloured`: three channels and a colour
/// factor); the label is the shape.
pub fn generate(sizes: Sizes, seed: u64, coloured: bool) -> Result<Dataset, DataError> {
    let channels = if coloured { 3 } else { 1 };
    let shape = ItemShape::image(channels, SIDE, SIDE);
    let names: &[&str] = if coloured {
        &COLOUR_FACTOR_NAMES
    } else {
        &FACTOR_NAMES
    };
    let (train, test) =
        generate_items_with_factors(sizes, shape.dim(), names.len(), seed, |rng, _| {
            let f = SpriteFactors::random(rng, coloured);
            (draw(&f, channels), f.shape as u32, f.values(coloured))
        })?;
    Ok(Dataset {
        name: if coloured {
            "colour-sprites"
        } else {
            "sprites"
        }
        .into(),
        shape,
        class_names: SHAPE_NAMES.iter().map(|s| s.to_string()).collect(),
        factor_names: names.iter().map(|s| s.to_string()).collect(),
        train,
        test,
    })
}

/// The index in the `shapes` outlines of a sprite shape.
fn outline(shape: usize) -> usize {
    match shape {
        0 => 0, // square
        1 => 1, // ellipse
        _ => 3, // heart
    }
}

/// Draws a sprite: `channels` planes (1, or 3 for colour) of [`SIDE`]×[`SIDE`].
pub fn draw(f: &SpriteFactors, channels: usize) -> Vec<f32> {
    const SUB: usize = 4;
    let half = HALF_SIZE * f.scale_value();
    let angle = 2.0 * PI * f.orientation as f32 / FACTOR_SIZES[2] as f32;
    let (sin, cos) = angle.sin_cos();
    let (cx, cy) = f.centre();
    let shape = outline(f.shape);
    let mut cover = vec![0.0f32; SIDE * SIDE];
    for py in 0..SIDE {
        for px in 0..SIDE {
            let mut hits = 0;
            for sy in 0..SUB {
                for sx in 0..SUB {
                    let x = px as f32 + (sx as f32 + 0.5) / SUB as f32 - cx;
                    let y = py as f32 + (sy as f32 + 0.5) / SUB as f32 - cy;
                    let u = (cos * x + sin * y) / half;
                    let v = (-sin * x + cos * y) / half;
                    hits += usize::from(inside(shape, u, v));
                }
            }
            cover[py * SIDE + px] = hits as f32 / (SUB * SUB) as f32;
        }
    }
    if channels == 1 {
        return cover;
    }
    let rgb = COLOURS[f.colour.min(COLOURS.len() - 1)].1;
    let mut out = Vec::with_capacity(channels * SIDE * SIDE);
    for c in 0..channels {
        let k = rgb[c.min(2)];
        out.extend(cover.iter().map(|v| v * k));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn centre_of_mass(img: &[f32]) -> (f32, f32) {
        let total: f32 = img.iter().sum();
        let mut c = (0.0, 0.0);
        for (i, v) in img.iter().enumerate() {
            c.0 += v * ((i % SIDE) as f32 + 0.5);
            c.1 += v * ((i / SIDE) as f32 + 0.5);
        }
        (c.0 / total, c.1 / total)
    }

    fn base() -> SpriteFactors {
        SpriteFactors {
            shape: 1,
            scale: 3,
            orientation: 0,
            x: 10,
            y: 20,
            colour: 0,
        }
    }

    #[test]
    fn position_factors_move_the_centre_of_mass_to_their_pixels() {
        let f = base();
        let (cx, cy) = f.centre();
        let (mx, my) = centre_of_mass(&draw(&f, 1));
        // 18 + 28·10/31 and 18 + 28·20/31, computed by hand: 27.03 and 36.06.
        assert!((cx - 27.032).abs() < 1e-3 && (cy - 36.065).abs() < 1e-3);
        assert!(
            (mx - cx).abs() < 0.2 && (my - cy).abs() < 0.2,
            "({mx}, {my})"
        );
    }

    #[test]
    fn scale_grows_the_area_as_its_square_and_nothing_leaves_the_frame() {
        for (shape, name) in SHAPE_NAMES.iter().enumerate() {
            let small = SpriteFactors {
                shape,
                scale: 0,
                ..base()
            };
            let large = SpriteFactors { scale: 5, ..small };
            let a: f32 = draw(&small, 1).iter().sum();
            let b: f32 = draw(&large, 1).iter().sum();
            // Half-sizes 7 and 14 pixels: the area grows 4 times.
            assert!((b / a - 4.0).abs() < 0.15, "{name}: {}", b / a);
        }
        // The largest square turned 45° in a corner: no ink on the border.
        let corner = SpriteFactors {
            shape: 0,
            scale: 5,
            orientation: 5,
            x: 0,
            y: 31,
            colour: 0,
        };
        let img = draw(&corner, 1);
        let border =
            (0..SIDE).flat_map(|i| [i, (SIDE - 1) * SIDE + i, i * SIDE, i * SIDE + SIDE - 1]);
        assert!(border.into_iter().all(|i| img[i] == 0.0));
    }

    #[test]
    fn colour_is_the_coverage_times_the_hue_in_each_plane() {
        let f = SpriteFactors {
            colour: 1,
            ..base()
        };
        let grey = draw(&f, 1);
        let rgb = draw(&f, 3);
        assert_eq!(rgb.len(), 3 * SIDE * SIDE);
        let plane = |c: usize| &rgb[c * SIDE * SIDE..(c + 1) * SIDE * SIDE];
        for (c, k) in [1.0f32, 0.25, 0.2].into_iter().enumerate() {
            let sum: f32 = plane(c).iter().sum();
            let want: f32 = grey.iter().sum::<f32>() * k;
            assert!((sum - want).abs() < 1e-2 * want.max(1.0), "plane {c}");
        }
    }

    #[test]
    fn the_data_set_carries_each_items_factors_and_redraws_from_them() {
        let sizes = Sizes { train: 6, test: 4 };
        let ds = generate(sizes, 5, true).unwrap();
        assert_eq!(ds.shape, ItemShape::image(3, SIDE, SIDE));
        assert_eq!(ds.factor_names, COLOUR_FACTOR_NAMES);
        let k = ds.factor_names.len();
        for split in [&ds.train, &ds.test] {
            assert_eq!(split.factors.len(), split.len() * k);
            for i in 0..split.len() {
                let f = split.factors_of(i, k);
                // The label is the shape factor, and the factors redraw the item exactly.
                assert_eq!(split.labels[i], f[0]);
                let again = SpriteFactors {
                    shape: f[0] as usize,
                    scale: f[1] as usize,
                    orientation: f[2] as usize,
                    x: f[3] as usize,
                    y: f[4] as usize,
                    colour: f[5] as usize,
                };
                assert_eq!(draw(&again, 3), split.item(i, ds.dim()));
            }
        }
        let grey = generate(sizes, 5, false).unwrap();
        assert_eq!(grey.factor_names.len(), 5);
        assert_eq!(grey.dim(), SIDE * SIDE);
    }

    #[test]
    fn random_factors_cover_every_value_and_stay_in_range() {
        let mut rng = crate::rng::PortableRng::seed_from_u64(3);
        let mut seen = vec![vec![false; 40]; 6];
        for _ in 0..4000 {
            let v = SpriteFactors::random(&mut rng, true).values(true);
            for (k, &x) in v.iter().enumerate() {
                assert!((x as usize) < FACTOR_SIZES[k]);
                seen[k][x as usize] = true;
            }
        }
        for (k, &n) in FACTOR_SIZES.iter().enumerate() {
            assert!(seen[k][..n].iter().all(|&s| s), "factor {k}");
        }
        let grey = SpriteFactors::random(&mut rng, false);
        assert_eq!(grey.colour, 0);
        assert_eq!(grey.values(false).len(), 5);
    }
}
