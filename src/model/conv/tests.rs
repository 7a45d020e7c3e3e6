//! The conv layers against candle's own convolutions, their gradients against finite
//! differences, the frozen decoder against the candle one, and the plan's sizes.

use super::*;
use crate::model::arch::{Arch, DENSE};
use crate::model::config::ModelConfig;
use crate::model::{Autoencoder, Likelihood, ModelKind};
use rand::SeedableRng;

fn image(channels: usize, side: usize) -> ImageDims {
    ImageDims {
        channels,
        height: side,
        width: side,
    }
}

fn conv_config(kind: ModelKind, image: ImageDims, hidden: &[usize], latent: usize) -> ModelConfig {
    let dim = image.channels * image.height * image.width;
    let mut cfg = ModelConfig::new(kind, dim, Likelihood::Bernoulli);
    cfg.arch = Arch::Conv;
    cfg.image = Some(image);
    cfg.hidden = hidden.to_vec();
    cfg.latent_dim = latent;
    cfg
}

fn uniform(rng: &mut PortableRng, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
}

/// A conv model of `kind` with random biases too, so ReLUs are on and off everywhere.
fn model(kind: ModelKind, image: ImageDims, hidden: &[usize], latent: usize) -> Autoencoder {
    let cfg = conv_config(kind, image, hidden, latent);
    cfg.validate().unwrap();
    let mut rng = PortableRng::seed_from_u64(11);
    let m = Autoencoder::new(cfg, &mut rng).unwrap();
    for var in m.vars().iter().filter(|v| v.dims().len() == 1) {
        let b = uniform(&mut rng, var.dims()[0], 0.2);
        var.set(&Tensor::new(b.as_slice(), &Device::Cpu).unwrap())
            .unwrap();
    }
    m
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

#[test]
fn the_plan_halves_each_documented_size_and_refuses_the_rest() {
    let sides = |side: usize| -> Vec<usize> {
        let plan = ConvPlan::new(image(1, side)).unwrap();
        plan.convs.iter().map(|g| g.height).collect()
    };
    assert_eq!(sides(64), vec![64, 32, 16, 8]);
    assert_eq!(sides(32), vec![32, 16, 8]);
    assert_eq!(sides(28), vec![28, 14]);
    assert_eq!(sides(128), vec![128, 64, 32, 16, 8]);
    let p64 = ConvPlan::new(image(3, 64)).unwrap();
    assert_eq!(p64.flat_dim(), 4 * 4 * 32);
    assert_eq!(p64.convs[0].c_in, 3);
    assert_eq!(ConvPlan::new(image(1, 28)).unwrap().flat_dim(), 7 * 7 * 32);
    for bad in [7, 6, 27] {
        let e = ConvPlan::new(image(1, bad)).unwrap_err().to_string();
        assert!(e.contains("even and at least 8"), "{bad}: {e}");
    }
    assert!(
        ConvPlan::new(image(2, 64))
            .unwrap_err()
            .to_string()
            .contains("2 channels")
    );
    let mut points = ModelConfig::new(ModelKind::Vae, 2, Likelihood::Gaussian);
    points.arch = Arch::Conv;
    assert!(
        points
            .validate()
            .unwrap_err()
            .to_string()
            .contains("image items")
    );
}

#[test]
fn the_contractive_ae_is_refused_with_conv_and_every_other_kind_trains() {
    let cfg = conv_config(ModelKind::Cae, image(1, 8), &[6], 2);
    let e = cfg.validate().unwrap_err().to_string();
    assert!(
        e.contains("cannot use --arch conv") && e.contains("--arch mlp"),
        "{e}"
    );
    let mut mlp = cfg.clone();
    mlp.arch = Arch::Mlp;
    mlp.validate().unwrap();

    let mut rng = PortableRng::seed_from_u64(3);
    let x = Tensor::from_vec(uniform(&mut rng, 4 * 64, 0.5), (4, 64), &Device::Cpu)
        .unwrap()
        .affine(1.0, 0.5)
        .unwrap();
    // The cvae is refused with conv like the cae (its one-hot joins the dense layers only).
    let mut cvae = conv_config(ModelKind::Cvae, image(1, 8), &[6], 2);
    cvae.classes = 3;
    let e = cvae.validate().unwrap_err().to_string();
    assert!(e.contains("cannot use --arch conv"), "{e}");
    let others = |k: &ModelKind| ![ModelKind::Cae, ModelKind::Cvae].contains(k);
    for kind in ModelKind::all().filter(others) {
        let m = model(kind, image(1, 8), &[6], 2);
        assert_eq!(m.gradients(), crate::model::kinds::Gradients::Autograd);
        let mut opt = m.optimizer(1e-3);
        let before = values(&m.vars()[0].as_tensor().copy().unwrap());
        let terms = m
            .train_step(&mut opt, &x, &mut rng, crate::model::Schedule::START)
            .unwrap()
            .unwrap();
        assert!(terms.is_finite(), "{kind}");
        assert_eq!(terms.kl > 0.0, kind.is_variational(), "{kind}");
        assert_eq!(terms.penalty > 0.0, kind.penalty().is_some(), "{kind}");
        assert!(
            max_abs_diff(&before, &values(m.vars()[0].as_tensor())) > 0.0,
            "{kind}: the first convolution did not move"
        );
        let e = m
            .train_step_manual(&mut opt, &x, &mut rng, crate::model::Schedule::START)
            .unwrap_err();
        assert!(e.to_string().contains("autograd"), "{e}");
    }
}

/// Our channels-last convolution and its transpose against candle's `conv2d` and
/// `conv_transpose2d` (NCHW, kernels (out, in, k, k) and (in, out, k, k)).
#[test]
fn conv_layers_agree_with_candles_convolutions() {
    let dev = Device::Cpu;
    let mut rng = PortableRng::seed_from_u64(5);
    for (batch, side, c_in, c_out) in [(2, 8, 1, 32), (3, 12, 3, 5), (1, 16, 32, 32)] {
        let g = Geometry {
            height: side,
            width: side,
            c_in,
            c_out,
        };
        let x = uniform(&mut rng, batch * g.big(), 1.0);
        let w = uniform(&mut rng, g.patch() * c_out, 0.5);
        let b = uniform(&mut rng, c_out, 0.5);
        // Ours: x channels-last, w (ky, kx, ci, co).
        let xt = Tensor::from_vec(x.clone(), (batch, side, side, c_in), &dev).unwrap();
        let wt = Tensor::from_vec(w.clone(), (g.patch(), c_out), &dev).unwrap();
        let bt = Tensor::from_vec(b.clone(), c_out, &dev).unwrap();
        let ours = conv(&xt, &g, &wt, &bt).unwrap();
        // candle: NCHW input, kernel (co, ci, ky, kx).
        let x_nchw = xt.permute((0, 3, 1, 2)).unwrap().contiguous().unwrap();
        let k = wt
            .reshape((KERNEL, KERNEL, c_in, c_out))
            .unwrap()
            .permute((3, 2, 0, 1))
            .unwrap()
            .contiguous()
            .unwrap();
        let theirs = x_nchw
            .conv2d(&k, PADDING, STRIDE, 1, 1)
            .unwrap()
            .broadcast_add(&bt.reshape((1, c_out, 1, 1)).unwrap())
            .unwrap()
            .permute((0, 2, 3, 1))
            .unwrap();
        let d = max_abs_diff(&values(&ours), &values(&theirs));
        assert!(d < 1e-4, "conv {side}×{side}×{c_in}→{c_out}: {d}");

        // The transposed convolution: from (batch, side/2, side/2, c_out) back to c_in.
        let small = uniform(&mut rng, batch * g.places() * c_out, 1.0);
        let wt2 = Tensor::from_vec(
            uniform(&mut rng, c_out * g.patch(), 0.5),
            (c_out, g.patch()),
            &dev,
        )
        .unwrap();
        let b2 = Tensor::from_vec(uniform(&mut rng, c_in, 0.5), c_in, &dev).unwrap();
        let rows = Tensor::from_vec(small.clone(), (batch * g.places(), c_out), &dev).unwrap();
        let ours = conv_transpose(&rows, &g, &wt2, &b2).unwrap();
        let s_nchw = rows
            .reshape((batch, side / 2, side / 2, c_out))
            .unwrap()
            .permute((0, 3, 1, 2))
            .unwrap()
            .contiguous()
            .unwrap();
        // (co_of_g = in of the transpose, ky, kx, ci) → (in, out, ky, kx).
        let k2 = wt2
            .reshape((c_out, KERNEL, KERNEL, c_in))
            .unwrap()
            .permute((0, 3, 1, 2))
            .unwrap()
            .contiguous()
            .unwrap();
        let theirs = s_nchw
            .conv_transpose2d(&k2, PADDING, 0, STRIDE, 1)
            .unwrap()
            .broadcast_add(&b2.reshape((1, c_in, 1, 1)).unwrap())
            .unwrap()
            .permute((0, 2, 3, 1))
            .unwrap();
        let d = max_abs_diff(&values(&ours), &values(&theirs));
        assert!(d < 1e-4, "transposed {side}×{side}: {d}");
    }
}

/// The gradients of our one-op layers (written out in `conv/fused.rs`) against candle's
/// autograd through its own `conv2d` and `conv_transpose2d`, for the input, the weights and
/// the bias, with and without the ReLU, grey and colour.
#[test]
fn each_layers_gradients_agree_with_candles() {
    let dev = Device::Cpu;
    let mut rng = PortableRng::seed_from_u64(6);
    // The last: 512 patch values at 256 places, one item per block (`fused::BLOCK_VALUES`),
    // so the weights' gradients add up over blocks.
    let sizes = [(2, 8, 1, 32), (3, 12, 3, 5), (1, 16, 32, 4), (3, 32, 32, 8)];
    for (batch, side, c_in, c_out) in sizes {
        let g = Geometry {
            height: side,
            width: side,
            c_in,
            c_out,
        };
        let var = |rng: &mut PortableRng, n: usize, shape: &[usize], bound: f32| {
            Var::from_vec(uniform(rng, n, bound), shape, &dev).unwrap()
        };
        for relu in [false, true] {
            // The convolution: x (batch, side, side, c_in) → (batch·places, c_out).
            let x = var(&mut rng, batch * g.big(), &[batch, side, side, c_in], 1.0);
            let w = var(&mut rng, g.patch() * c_out, &[g.patch(), c_out], 0.5);
            let b = var(&mut rng, c_out, &[c_out], 0.5);
            let ours = conv_with(x.as_tensor(), &g, w.as_tensor(), b.as_tensor(), relu).unwrap();
            let k = w
                .as_tensor()
                .reshape((KERNEL, KERNEL, c_in, c_out))
                .unwrap()
                .permute((3, 2, 0, 1))
                .unwrap();
            let theirs = x
                .as_tensor()
                .permute((0, 3, 1, 2))
                .unwrap()
                .contiguous()
                .unwrap()
                .conv2d(&k.contiguous().unwrap(), PADDING, STRIDE, 1, 1)
                .unwrap()
                .broadcast_add(&b.as_tensor().reshape((1, c_out, 1, 1)).unwrap())
                .unwrap()
                .permute((0, 2, 3, 1))
                .unwrap()
                .reshape((batch * g.places(), c_out))
                .unwrap();
            let theirs = if relu { theirs.relu().unwrap() } else { theirs };
            compare_gradients(&ours, &theirs, &[&x, &w, &b], &mut rng, "conv", relu);

            // The transposed convolution: rows (batch·places, c_out) → maps.
            let rows = var(
                &mut rng,
                batch * g.places() * c_out,
                &[batch * g.places(), c_out],
                1.0,
            );
            let w2 = var(&mut rng, c_out * g.patch(), &[c_out, g.patch()], 0.5);
            let b2 = var(&mut rng, c_in, &[c_in], 0.5);
            let ours =
                conv_transpose_with(rows.as_tensor(), &g, w2.as_tensor(), b2.as_tensor(), relu)
                    .unwrap();
            let k2 = w2
                .as_tensor()
                .reshape((c_out, KERNEL, KERNEL, c_in))
                .unwrap()
                .permute((0, 3, 1, 2))
                .unwrap();
            let theirs = rows
                .as_tensor()
                .reshape((batch, side / 2, side / 2, c_out))
                .unwrap()
                .permute((0, 3, 1, 2))
                .unwrap()
                .contiguous()
                .unwrap()
                .conv_transpose2d(&k2.contiguous().unwrap(), PADDING, 0, STRIDE, 1)
                .unwrap()
                .broadcast_add(&b2.as_tensor().reshape((1, c_in, 1, 1)).unwrap())
                .unwrap()
                .permute((0, 2, 3, 1))
                .unwrap();
            let theirs = if relu { theirs.relu().unwrap() } else { theirs };
            compare_gradients(
                &ours,
                &theirs,
                &[&rows, &w2, &b2],
                &mut rng,
                "transposed",
                relu,
            );
        }
    }
}

/// The gradients of a random linear read-out of `ours` and of `theirs` (the same function
/// built from candle's ops) for each of `vars`.
fn compare_gradients(
    ours: &Tensor,
    theirs: &Tensor,
    vars: &[&Var],
    rng: &mut PortableRng,
    what: &str,
    relu: bool,
) {
    assert_eq!(ours.dims(), theirs.dims(), "{what}");
    let d = max_abs_diff(&values(ours), &values(theirs));
    assert!(d < 1e-4, "{what} (relu {relu}) forward: {d}");
    let r = Tensor::from_vec(
        uniform(rng, ours.elem_count(), 1.0),
        ours.shape(),
        &Device::Cpu,
    )
    .unwrap();
    let g_ours = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let g_theirs = (theirs * &r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    for (i, v) in vars.iter().enumerate() {
        let a = values(g_ours.get(v.as_tensor()).unwrap());
        let b = values(g_theirs.get(v.as_tensor()).unwrap());
        let scale = b.iter().fold(1f32, |m, x| m.max(x.abs()));
        let d = max_abs_diff(&a, &b);
        assert!(
            d < 1e-5 * scale.max(1.0) * 10.0,
            "{what} (relu {relu}) gradient of argument {i}: {d} apart (scale {scale})"
        );
    }
}

/// A random linear read-out of the encoder's (μ, log σ²) of `x` and of the decoder's logits
/// of `z`: a scalar of modest size whose gradient reaches every layer, so central
/// differences in f32 resolve even the first convolution's weights (a whole VAE loss of
/// 768 pixels is ~500 nats, and one f32 step of it swamps their gradients).
fn read_out(m: &Autoencoder, x: &Tensor, z: &Tensor) -> Tensor {
    let mut rng = PortableRng::seed_from_u64(99);
    let mut dot = |t: &Tensor| {
        let r = uniform(&mut rng, t.elem_count(), 1.0);
        let r = Tensor::from_vec(r, t.shape(), &Device::Cpu).unwrap();
        (t * r).unwrap().sum_all().unwrap()
    };
    let (mu, logvar) = m.encode(x).unwrap();
    let decoded = m.decode_raw(z).unwrap();
    ((dot(&mu) + dot(&logvar.unwrap())).unwrap() + dot(&decoded)).unwrap()
}

/// Autograd's gradient of every conv layer (and the dense ones between) against central
/// differences, on a colour 3×16×16 VAE (two convolutions, two transposed ones). One
/// channel's layers: `each_layers_gradients_agree_with_candles`.
#[test]
fn conv_gradients_match_finite_differences() {
    gradients_match_finite_differences(3);
}

fn gradients_match_finite_differences(channels: usize) {
    let m = model(ModelKind::Vae, image(channels, 16), &[12], 3);
    let mut rng = PortableRng::seed_from_u64(4);
    let dim = channels * 256;
    let x = Tensor::from_vec(
        (0..2 * dim)
            .map(|_| rng.random::<f32>())
            .collect::<Vec<_>>(),
        (2, dim),
        &Device::Cpu,
    )
    .unwrap();
    let z = Tensor::from_vec(uniform(&mut rng, 2 * 3, 2.0), (2, 3), &Device::Cpu).unwrap();
    let grads = read_out(&m, &x, &z).backward().unwrap();
    let h = 1e-3f32;
    let (mut checked, mut kinks) = (0, 0);
    for (name, var) in m.named_vars() {
        let g = values(grads.get(var.as_tensor()).unwrap());
        let original = var.as_tensor().copy().unwrap();
        let base = values(&original);
        // The largest entry and a spread of others.
        let largest = (0..g.len())
            .max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs()))
            .unwrap();
        assert!(
            g[largest].abs() > 1e-2,
            "{name}: gradient too small to test"
        );
        let step = (g.len() / 12).max(1);
        for i in (0..g.len()).step_by(step).chain([largest]) {
            let at = |delta: f32| {
                let mut v = base.clone();
                v[i] += delta;
                var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap())
                    .unwrap();
                f64::from(read_out(&m, &x, &z).to_scalar::<f32>().unwrap())
            };
            let central = |h: f32| (at(h) - at(-h)) / (2.0 * f64::from(h));
            let (fd, fd_small) = (central(h), central(h / 3.0));
            var.set(&original).unwrap();
            let analytic = f64::from(g[i]);
            let tolerance = 2e-2 * fd.abs().max(analytic.abs()) + 2e-3;
            // A ReLU that changes side within the step makes the two differences disagree:
            // the function has a kink there, and neither is its derivative.
            if (fd - fd_small).abs() > tolerance {
                kinks += 1;
                continue;
            }
            assert!(
                (fd - analytic).abs() < tolerance,
                "{channels} channels, {name}[{i}]: autograd {analytic} vs finite differences {fd}"
            );
            checked += 1;
        }
    }
    assert!(
        checked > 100 && kinks * 10 < checked,
        "{checked} checked, {kinks} at kinks"
    );
    eprintln!("{checked} entries checked, {kinks} skipped at a kink");
}

/// The frozen conv decoder and encoder (plain loops) give what the candle model gives.
#[test]
fn the_snapshots_agree_with_the_candle_conv_model() {
    for (img, latent) in [(image(1, 64), 10), (image(3, 32), 4), (image(1, 28), 2)] {
        let m = model(ModelKind::Vae, img, &DENSE, latent);
        let dim = img.channels * img.height * img.width;
        let mut rng = PortableRng::seed_from_u64(8);
        let codes = uniform(&mut rng, 3 * latent, 2.0);
        let snap = m.decoder_snapshot().unwrap();
        assert_eq!((snap.latent_dim(), snap.output_dim()), (latent, dim));
        let raw = m
            .decode_raw(&Tensor::from_vec(codes.clone(), (3, latent), &Device::Cpu).unwrap())
            .unwrap();
        let d = max_abs_diff(&snap.decode_raw(&codes), &values(&raw));
        assert!(d < 1e-4, "{img:?}: decoder differs by {d}");
        let pixels = values(&candle_nn::ops::sigmoid(&raw).unwrap());
        assert!(max_abs_diff(&snap.decode(&codes).unwrap(), &pixels) < 1e-5);

        let x = (0..2 * dim)
            .map(|_| rng.random::<f32>())
            .collect::<Vec<_>>();
        let enc = m.encoder_snapshot().unwrap();
        assert_eq!(enc.input_dim(), dim);
        let (mu, logvar) = m
            .encode(&Tensor::from_vec(x.clone(), (2, dim), &Device::Cpu).unwrap())
            .unwrap();
        let (got_mu, got_logvar) = enc.encode_logvar(&x);
        assert!(max_abs_diff(&got_mu, &values(&mu)) < 1e-4, "{img:?}: μ");
        let lv = values(&logvar.unwrap());
        assert!(
            max_abs_diff(&got_logvar.unwrap(), &lv) < 1e-4,
            "{img:?}: log σ²"
        );
    }
}

/// How long one 64×64 decode takes on the calling thread (printed, not asserted):
/// `cargo test --release --lib conv::tests::decode_time -- --nocapture --ignored`.
#[test]
#[ignore = "a timing, not a test"]
fn decode_time() {
    let m = model(ModelKind::Vae, image(1, 64), &DENSE, 10);
    let snap = m.decoder_snapshot().unwrap();
    let codes = uniform(&mut PortableRng::seed_from_u64(1), 400 * 10, 2.0);
    for rows in [1usize, 400] {
        let start = std::time::Instant::now();
        let reps = if rows == 1 { 200 } else { 3 };
        for _ in 0..reps {
            std::hint::black_box(snap.decode(&codes[..rows * 10]).unwrap());
        }
        let secs = start.elapsed().as_secs_f64() / reps as f64;
        eprintln!("64×64 conv decode of {rows} codes: {:.3} ms", secs * 1e3);
    }
}

/// Every weight matrix of `m` with the fan-in PyTorch's `kaiming_uniform_` counts for it:
/// rows of a dense layer or a convolution (its patch), the patch of a transposed one (its
/// output channels · KERNEL², the columns of our (c_out, patch) layout).
fn weights_with_fan_in(m: &Autoencoder) -> Vec<(String, Vec<f32>, usize)> {
    m.named_vars()
        .into_iter()
        .filter(|(_, v)| v.dims().len() == 2)
        .map(|(name, v)| {
            let d = v.dims();
            let fan_in = if name.starts_with("decoder.deconv") {
                d[1]
            } else {
                d[0]
            };
            (name, values(v.as_tensor()), fan_in)
        })
        .collect()
}

/// A conv model starts every layer at He's scale, uniform in ±√(6/fan-in), whose variance
/// is 2/fan-in in closed form (b²/3); biases zero. The MLP keeps PyTorch's default bound
/// 1/√fan-in, variance 1/(3·fan-in), so its numbers do not change.
#[test]
fn a_conv_model_starts_at_hes_scale_and_the_mlp_at_pytorchs() {
    let cfg = conv_config(ModelKind::Vae, image(1, 64), &DENSE, 10);
    let conv = Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(1)).unwrap();
    let mut mlp_cfg = ModelConfig::new(ModelKind::Vae, 784, Likelihood::Bernoulli);
    mlp_cfg.hidden = vec![400];
    let mlp = Autoencoder::new(mlp_cfg, &mut PortableRng::seed_from_u64(1)).unwrap();
    for (m, variance_times_fan_in) in [(&conv, 2.0), (&mlp, 1.0 / 3.0)] {
        let layers = weights_with_fan_in(m);
        assert!(layers.len() >= 5, "{} layers", layers.len());
        for (name, w, fan_in) in layers {
            let bound = (3.0 * variance_times_fan_in / fan_in as f64).sqrt();
            let n = w.len() as f64;
            let var = w.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / n;
            let expected = variance_times_fan_in / fan_in as f64;
            // The sample variance of n uniform draws has a relative spread of √(0.8/n).
            let tolerance = 5.0 * (0.8 / n).sqrt() + 1e-3;
            assert!(
                (var / expected - 1.0).abs() < tolerance,
                "{name}: variance {var} where {expected} (fan-in {fan_in})"
            );
            let largest = w.iter().fold(0f32, |a, &v| a.max(v.abs()));
            assert!(f64::from(largest) <= bound * 1.000_01, "{name}: {largest}");
        }
        let biases = m
            .named_vars()
            .into_iter()
            .filter(|(_, v)| v.dims().len() == 1);
        for (name, b) in biases {
            assert!(values(b.as_tensor()).iter().all(|&v| v == 0.0), "{name}");
        }
    }
}

/// Why the scale matters: at initialisation the code of a 64×64 `sprites` item must depend
/// on the item, or the decoder learns the mean image and the KL closes the code. PyTorch's
/// twin (`benches/peer/conv_torch.py`), measured on 256 sprites as first drawn (half-size
/// 9): the spread of μ between items averages 0.09 with He's initialisation and 0.0003 with
/// PyTorch's default. Ours on today's larger sprites: 0.38 (more ink, more input). Below 1,
/// the prior's σ, the code does not start out wider than the noise it is sampled with.
#[test]
fn at_initialisation_the_code_of_a_sprite_depends_on_the_sprite() {
    let sizes = crate::data::Sizes {
        train: 256,
        test: 1,
    };
    let ds = crate::data::sprites::generate(sizes, 1, false).unwrap();
    let idx: Vec<usize> = (0..256).collect();
    let x = crate::model::batch_tensor(ds.train.gather(&idx, 4096), 4096).unwrap();
    let cfg = conv_config(ModelKind::Vae, image(1, 64), &DENSE, 10);
    let m = Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(1)).unwrap();
    let (mu, _) = m.encode(&x).unwrap();
    // The standard deviation over items of each of the 10 code units, averaged.
    let spread = mu
        .var_keepdim(0)
        .unwrap()
        .sqrt()
        .unwrap()
        .mean_all()
        .unwrap();
    let spread = spread.to_scalar::<f32>().unwrap();
    assert!(
        (0.03..1.0).contains(&spread),
        "spread of μ between items: {spread}"
    );
}

/// Codes encoded in parts (`Arch::inference_rows` items at a time, so 300 items make three
/// parts) are the codes of one pass over every item, σ included.
#[test]
fn encoding_in_parts_gives_the_codes_of_one_pass() {
    let m = model(ModelKind::Vae, image(1, 16), &[12], 3);
    let rows = 300;
    assert!(rows > 2 * Arch::Conv.inference_rows());
    let mut rng = PortableRng::seed_from_u64(5);
    let x: Vec<f32> = (0..rows * 256).map(|_| rng.random::<f32>()).collect();
    let x = Tensor::from_vec(x, (rows, 256), &Device::Cpu).unwrap();
    let (codes, sigmas) = encode_in_parts(&m, &x).unwrap();
    let (mu, logvar) = m.encode(&x).unwrap();
    let sigma = logvar.unwrap().affine(0.5, 0.0).unwrap().exp().unwrap();
    assert_eq!(codes.len(), rows * 3);
    assert!(max_abs_diff(&codes, &values(&mu)) < 1e-5);
    assert!(max_abs_diff(&sigmas.unwrap(), &values(&sigma)) < 1e-5);
}
