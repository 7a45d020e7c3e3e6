//! Built-in handwritten-style digits, drawn stroke by stroke from a seed.
//!
//! Each class is a few pen strokes in a unit box (x right, y down). Every sample
//! jitters the control points, bends the whole glyph with a smooth warp, slants,
//! rotates, scales and moves it, picks a pen width, and rasterises the strokes
//! anti-aliased into 28x28.

use super::digit_glyphs::GLYPHS;
use super::{DataError, Dataset, IMAGE_SIDE, ItemShape, Sizes, generate_items};
use crate::rng::PortableRng;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::f32::consts::PI;

/// Standard deviation of the control-point jitter, in glyph units (the box is 1 wide).
const JITTER: f32 = 0.022;

fn gauss(rng: &mut PortableRng) -> f32 {
    StandardNormal.sample(rng)
}

/// Makes the `digits` data set: labels cycle through 0-9, so classes are balanced.
pub fn generate(sizes: Sizes, seed: u64) -> Result<Dataset, DataError> {
    let dim = IMAGE_SIDE * IMAGE_SIDE;
    let (train, test) = generate_items(sizes, dim, seed, |rng, i| {
        let label = (i % 10) as u32;
        (draw_digit(label as usize, rng), label)
    })?;
    Ok(Dataset {
        name: "digits".into(),
        shape: ItemShape::gray(IMAGE_SIDE, IMAGE_SIDE),
        class_names: (0..10).map(|d| d.to_string()).collect(),
        factor_names: Vec::new(),
        train,
        test,
    })
}

/// Draws one handwritten-style `digit` (0-9) as 28x28 pixels in [0, 1].
pub fn draw_digit(digit: usize, rng: &mut PortableRng) -> Vec<f32> {
    let variants = GLYPHS[digit % 10];
    let glyph = variants[rng.random_range(0..variants.len())];

    // One random smooth warp for the whole glyph: the hand's wobble.
    let warp = Warp::random(rng);
    let transform = Affine::random(rng);
    let pen_radius = rng.random_range(0.9f32..1.45);

    let paths: Vec<Vec<(f32, f32)>> = glyph
        .iter()
        .map(|stroke| {
            let control: Vec<(f32, f32)> = stroke
                .points
                .iter()
                .map(|&(x, y)| (x + JITTER * gauss(rng), y + JITTER * gauss(rng)))
                .collect();
            let path = if stroke.smooth {
                catmull_rom(&control, 8)
            } else {
                polyline(&control, 6)
            };
            path.into_iter()
                .map(|pt| transform.apply(warp.apply(pt)))
                .collect()
        })
        .collect();

    // As MNIST does: fit the digit's bounding box to a fixed size (keeping its aspect)
    // and centre it, so size and position carry little of the variation.
    let (mut lo, mut hi) = (
        (f32::INFINITY, f32::INFINITY),
        (f32::NEG_INFINITY, f32::NEG_INFINITY),
    );
    for &(x, y) in paths.iter().flatten() {
        lo = (lo.0.min(x), lo.1.min(y));
        hi = (hi.0.max(x), hi.1.max(y));
    }
    let target = rng.random_range(17.0f32..19.5);
    let scale = target / (hi.0 - lo.0).max(hi.1 - lo.1).max(1e-3);
    let centre = IMAGE_SIDE as f32 / 2.0;
    let shift = (
        rng.random_range(-0.6f32..0.6),
        rng.random_range(-0.6f32..0.6),
    );
    let mid = ((lo.0 + hi.0) / 2.0, (lo.1 + hi.1) / 2.0);
    let place = |(x, y): (f32, f32)| {
        (
            (x - mid.0) * scale + centre + shift.0,
            (y - mid.1) * scale + centre + shift.1,
        )
    };

    // Pen pressure: the stroke swells and thins a little along its length.
    let pressure = rng.random_range(0.0f32..0.25);
    let (freq, phase) = (
        rng.random_range(0.05f32..0.2),
        rng.random_range(0.0..2.0 * PI),
    );
    let mut canvas = vec![0.0f32; IMAGE_SIDE * IMAGE_SIDE];
    let mut k = 0.0f32;
    for path in &paths {
        let pixels: Vec<(f32, f32)> = path.iter().map(|&p| place(p)).collect();
        for seg in pixels.windows(2) {
            k += 1.0;
            let r = pen_radius * (1.0 + pressure * (freq * k + phase).sin());
            draw_segment(&mut canvas, seg[0], seg[1], r);
        }
    }
    canvas
}

/// A smooth random displacement field on the unit box.
struct Warp {
    amp: (f32, f32),
    freq: (f32, f32),
    phase: (f32, f32),
}

impl Warp {
    fn random(rng: &mut PortableRng) -> Self {
        Self {
            amp: (rng.random_range(0.0..0.035), rng.random_range(0.0..0.035)),
            freq: (rng.random_range(2.0..6.0), rng.random_range(2.0..6.0)),
            phase: (
                rng.random_range(0.0..2.0 * PI),
                rng.random_range(0.0..2.0 * PI),
            ),
        }
    }

    fn apply(&self, (x, y): (f32, f32)) -> (f32, f32) {
        (
            x + self.amp.0 * (self.freq.0 * y + self.phase.0).sin(),
            y + self.amp.1 * (self.freq.1 * x + self.phase.1).sin(),
        )
    }
}

/// Slant, rotation, scale and position: unit box to pixel coordinates.
struct Affine {
    m: [f32; 4],
    offset: (f32, f32),
}

impl Affine {
    fn random(rng: &mut PortableRng) -> Self {
        let slant = rng.random_range(-0.35f32..0.25);
        let angle = rng.random_range(-0.2f32..0.2);
        let size = 20.0;
        let aspect = rng.random_range(0.8f32..1.15);
        let (sx, sy) = (size * aspect, size);
        let (sin, cos) = angle.sin_cos();
        // rotation * shear * scale, with y pointing down
        let shear = [sx, -slant * sy, 0.0, sy];
        let m = [
            cos * shear[0] - sin * shear[2],
            cos * shear[1] - sin * shear[3],
            sin * shear[0] + cos * shear[2],
            sin * shear[1] + cos * shear[3],
        ];
        let centre = IMAGE_SIDE as f32 / 2.0;
        let shift = (
            rng.random_range(-1.5f32..1.5),
            rng.random_range(-1.5f32..1.5),
        );
        Self {
            m,
            offset: (centre + shift.0, centre + shift.1),
        }
    }

    fn apply(&self, (x, y): (f32, f32)) -> (f32, f32) {
        let (u, v) = (x - 0.5, y - 0.5);
        (
            self.m[0] * u + self.m[1] * v + self.offset.0,
            self.m[2] * u + self.m[3] * v + self.offset.1,
        )
    }
}

/// Points along a Catmull-Rom spline through `pts`, `steps` per span.
fn catmull_rom(pts: &[(f32, f32)], steps: usize) -> Vec<(f32, f32)> {
    let n = pts.len();
    let at = |i: isize| pts[i.clamp(0, n as isize - 1) as usize];
    let mut out = Vec::with_capacity(n * steps + 1);
    for i in 0..n.saturating_sub(1) {
        let (p0, p1, p2, p3) = (
            at(i as isize - 1),
            at(i as isize),
            at(i as isize + 1),
            at(i as isize + 2),
        );
        for k in 0..steps {
            let t = k as f32 / steps as f32;
            let (t2, t3) = (t * t, t * t * t);
            let blend = |a: f32, b: f32, c: f32, d: f32| {
                0.5 * (2.0 * b
                    + (c - a) * t
                    + (2.0 * a - 5.0 * b + 4.0 * c - d) * t2
                    + (3.0 * b - a - 3.0 * c + d) * t3)
            };
            out.push((blend(p0.0, p1.0, p2.0, p3.0), blend(p0.1, p1.1, p2.1, p3.1)));
        }
    }
    if let Some(&last) = pts.last() {
        out.push(last);
    }
    out
}

/// Points along straight segments through `pts`, `steps` per segment (keeps corners sharp).
fn polyline(pts: &[(f32, f32)], steps: usize) -> Vec<(f32, f32)> {
    let mut out = Vec::with_capacity(pts.len() * steps + 1);
    for w in pts.windows(2) {
        for k in 0..steps {
            let t = k as f32 / steps as f32;
            out.push((
                w[0].0 + (w[1].0 - w[0].0) * t,
                w[0].1 + (w[1].1 - w[0].1) * t,
            ));
        }
    }
    if let Some(&last) = pts.last() {
        out.push(last);
    }
    out
}

/// Paints a round-capped segment of radius `r` (pixels), anti-aliased, keeping the maximum.
fn draw_segment(canvas: &mut [f32], a: (f32, f32), b: (f32, f32), r: f32) {
    let side = IMAGE_SIDE as isize;
    let reach = r + 1.0;
    let x0 = (a.0.min(b.0) - reach).floor().max(0.0) as isize;
    let x1 = (a.0.max(b.0) + reach).ceil().min(side as f32 - 1.0) as isize;
    let y0 = (a.1.min(b.1) - reach).floor().max(0.0) as isize;
    let y1 = (a.1.max(b.1) + reach).ceil().min(side as f32 - 1.0) as isize;
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = (dx * dx + dy * dy).max(1e-12);
    for py in y0..=y1 {
        for px in x0..=x1 {
            let (cx, cy) = (px as f32 + 0.5, py as f32 + 0.5);
            let t = (((cx - a.0) * dx + (cy - a.1) * dy) / len2).clamp(0.0, 1.0);
            let (ex, ey) = (cx - (a.0 + t * dx), cy - (a.1 + t * dy));
            let dist = (ex * ex + ey * ey).sqrt();
            let coverage = (r + 0.5 - dist).clamp(0.0, 1.0);
            let cell = &mut canvas[(py * side + px) as usize];
            *cell = cell.max(coverage);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn same_seed_same_digits() {
        let a = generate(Sizes { train: 20, test: 5 }, 3).unwrap();
        let b = generate(Sizes { train: 20, test: 5 }, 3).unwrap();
        assert_eq!(a.train.x, b.train.x);
        assert_eq!(a.test.labels, b.test.labels);
        let c = generate(Sizes { train: 20, test: 5 }, 4).unwrap();
        assert_ne!(a.train.x, c.train.x);
    }

    #[test]
    fn digits_have_ink_inside_the_frame_and_values_in_range() {
        let mut rng = PortableRng::seed_from_u64(11);
        for d in 0..10 {
            for _ in 0..50 {
                let img = draw_digit(d, &mut rng);
                assert!(img.iter().all(|v| (0.0..=1.0).contains(v)));
                let ink: f32 = img.iter().sum();
                assert!(ink > 25.0, "digit {d} has too little ink: {ink}");
                // The outermost ring of pixels stays (almost) empty, as in MNIST.
                let border: f32 = (0..IMAGE_SIDE)
                    .flat_map(|i| {
                        [
                            img[i],
                            img[i * IMAGE_SIDE],
                            img[i * IMAGE_SIDE + IMAGE_SIDE - 1],
                            img[(IMAGE_SIDE - 1) * IMAGE_SIDE + i],
                        ]
                    })
                    .sum();
                assert!(border < 2.0, "digit {d} touches the border: {border}");
            }
        }
    }

    #[test]
    fn classes_differ_more_than_samples_within_a_class() {
        // Mean images per class: within-class spread is smaller than between-class distance.
        let ds = generate(
            Sizes {
                train: 2000,
                test: 0,
            },
            5,
        )
        .unwrap();
        let dim = ds.dim();
        let mut means = vec![vec![0.0f32; dim]; 10];
        for i in 0..ds.train.len() {
            let l = ds.train.labels[i] as usize;
            for (m, v) in means[l].iter_mut().zip(ds.train.item(i, dim)) {
                *m += v / 200.0;
            }
        }
        let dist =
            |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f32>();
        let mut nearest_correct = 0;
        for i in 0..ds.train.len() {
            let x = ds.train.item(i, dim);
            let best = (0..10)
                .min_by(|&a, &b| dist(x, &means[a]).total_cmp(&dist(x, &means[b])))
                .unwrap_or(0);
            nearest_correct += usize::from(best == ds.train.labels[i] as usize);
        }
        let acc = nearest_correct as f32 / ds.train.len() as f32;
        assert!(acc > 0.6, "nearest-class-mean accuracy only {acc}");
    }
}
