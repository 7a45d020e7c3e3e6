use super::*;
use crate::model::{Autoencoder, KnobValue, Likelihood, ModelConfig, ModelKind};
use rand::SeedableRng;

fn book(entries: &[f32], dim: usize) -> CodebookData {
    CodebookData {
        entries: entries.to_vec(),
        dim,
    }
}

#[test]
fn perplexity_of_hand_built_usages() {
    // Four codes, one item each: H = ln 4, exp(H) = 4.
    assert!((perplexity(&[1, 1, 1, 1]) - 4.0).abs() < 1e-12);
    // Everything on one code (others unused): H = 0.
    assert!((perplexity(&[0, 4, 0, 0]) - 1.0).abs() < 1e-12);
    // 3/1 split: H = −(¾ ln ¾ + ¼ ln ¼) = 0.562335..., exp(H) = 4 / 3^(3/4) = 1.754765...
    let by_hand = 4.0 / 3f64.powf(0.75);
    assert!((perplexity(&[3, 0, 1]) - by_hand).abs() < 1e-12);
    assert!((by_hand - 1.754_765).abs() < 1e-6);
    assert_eq!(in_use(&[3, 0, 1]), 2);
    assert_eq!(perplexity(&[0, 0]), 0.0);
}

#[test]
fn usage_counts_each_code_at_its_nearest_entry() {
    // Entries at the corners of a square; items near them.
    let c = book(&[0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0], 2);
    let items = [0.1, 0.1, 0.9, 0.2, 0.2, 0.8, 0.95, 0.9];
    assert_eq!(c.assign(&items), vec![0, 1, 2, 3]);
    let (p, used) = usage_scores(&c, &items);
    assert!((p - 4.0).abs() < 1e-12);
    assert_eq!(used, 4);
    let lopsided = [0.1, 0.1, 0.0, 0.2, -0.3, 0.1, 0.9, 0.9];
    assert_eq!(c.usage(&lopsided), vec![3, 0, 0, 1]);
    assert_eq!(
        c.quantize(&[0.9, 0.2]),
        vec![1.0, 0.0],
        "z_q is the entry itself"
    );
    // A tie goes to the lower index.
    assert_eq!(c.nearest(&[0.5, 0.0]).0, 0);
}

/// A small vq-vae on 6 values with a 2-D code and 3 entries placed by hand far apart, so
/// no small nudge changes an item's nearest entry.
fn small_vq() -> Autoencoder {
    let mut cfg = ModelConfig::new(ModelKind::VqVae, 6, Likelihood::Bernoulli);
    cfg.hidden = vec![5];
    cfg.set_knob("codebook", KnobValue::Number(3.0)).unwrap();
    let m = Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(3)).unwrap();
    let entries = Tensor::from_vec(
        vec![-3.0f32, 0.0, 3.0, 0.5, 0.0, -2.5],
        (3, 2),
        &Device::Cpu,
    )
    .unwrap();
    m.codebook.as_ref().unwrap().var.set(&entries).unwrap();
    m
}

fn batch() -> Tensor {
    let v: Vec<f32> = (0..4 * 6).map(|i| ((i * 5) % 7) as f32 / 7.0).collect();
    Tensor::from_vec(v, (4, 6), &Device::Cpu).unwrap()
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

#[test]
fn straight_through_gives_the_encoder_the_decoders_gradient_at_z_q() {
    let m = small_vq();
    let x = batch();
    let (mu, _) = m.encode(&x).unwrap();
    let z_e = Var::from_tensor(&mu.detach()).unwrap();
    let codebook = m.codebook.as_ref().unwrap();
    // The loss through the straight-through path, differentiated with respect to z_e.
    let z = straight_through(Some(codebook), z_e.as_tensor()).unwrap();
    let recon = m.recon_nll(&m.decode_raw(&z).unwrap(), &x).unwrap();
    let grads = recon.sum_all().unwrap().backward().unwrap();
    let via_st = values(grads.get(z_e.as_tensor()).unwrap());
    // Separately: z_q from the plain-number rule as a leaf of its own, and the gradient of
    // the same loss with respect to it.
    let data = codebook.data().unwrap();
    let z_q = data.quantize(&values(&mu));
    assert_ne!(z_q, values(&mu), "the snap moves the codes");
    let z_q = Var::from_vec(z_q, (4, 2), &Device::Cpu).unwrap();
    let recon_q = m
        .recon_nll(&m.decode_raw(z_q.as_tensor()).unwrap(), &x)
        .unwrap();
    let grads_q = recon_q.sum_all().unwrap().backward().unwrap();
    let at_z_q = values(grads_q.get(z_q.as_tensor()).unwrap());
    assert!(at_z_q.iter().any(|g| g.abs() > 1e-4), "{at_z_q:?}");
    for (a, b) in via_st.iter().zip(&at_z_q) {
        assert!((a - b).abs() < 1e-6, "{via_st:?} vs {at_z_q:?}");
    }
    // The reconstruction's value is the decoder's at z_q, and no decoder gradient reaches
    // the codebook (it learns from its own term only).
    assert!(
        (values(&recon) == values(&recon_q)),
        "forward value is z_q's"
    );
    let to_book = grads.get(codebook.var.as_tensor());
    assert!(to_book.is_none_or(|g| values(g).iter().all(|v| *v == 0.0)));
}

/// ‖z − e‖² on plain numbers.
fn squared_distance(z: &[f64], e: &[f64]) -> f64 {
    z.iter().zip(e).map(|(a, b)| (a - b) * (a - b)).sum()
}

#[test]
fn the_commitment_gradient_matches_finite_differences_and_spares_the_codebook() {
    let beta = 0.25;
    let z_e = Var::from_vec(vec![0.7f32, -0.4, 2.1, 0.3], (2, 2), &Device::Cpu).unwrap();
    let book_var = Var::from_vec(vec![1.0f32, -1.0, 2.0, 1.0], (2, 2), &Device::Cpu).unwrap();
    // Row 0's nearest entry is 0, row 1's is 1 (checked below on plain numbers).
    let idx = Tensor::from_vec(vec![0u32, 1], 2, &Device::Cpu).unwrap();
    let z_q = book_var.as_tensor().index_select(&idx, 0).unwrap();
    let loss = commitment(z_e.as_tensor(), &z_q, beta)
        .unwrap()
        .sum_all()
        .unwrap();
    let grads = loss.backward().unwrap();
    let g_z = values(grads.get(z_e.as_tensor()).unwrap());
    let to_book = grads.get(book_var.as_tensor());
    assert!(
        to_book.is_none_or(|g| values(g).iter().all(|v| *v == 0.0)),
        "sg[e]: the codebook moves by EMA, not by this term"
    );

    let z0 = [0.7, -0.4, 2.1, 0.3];
    let e0 = [1.0, -1.0, 2.0, 1.0];
    let data = book(&e0.map(|v| v as f32), 2);
    assert_eq!(data.assign(&z0.map(|v| v as f32)), vec![0, 1]);
    // β Σ_rows ‖z_e − e‖² as a function of z_e (e fixed), differentiated numerically.
    let term = |z: &[f64]| -> f64 {
        (0..2)
            .map(|r| beta * squared_distance(&z[r * 2..r * 2 + 2], &e0[r * 2..r * 2 + 2]))
            .sum()
    };
    let h = 1e-4;
    for i in 0..4 {
        let (mut plus, mut minus) = (z0, z0);
        plus[i] += h;
        minus[i] -= h;
        let fd = (term(&plus) - term(&minus)) / (2.0 * h);
        assert!(
            (f64::from(g_z[i]) - fd).abs() < 1e-4,
            "z_e[{i}]: {g_z:?} vs {fd}"
        );
    }
}

/// A codebook with entries (−1, 0), (1, 0) and (100, 100), and a batch of four encoder
/// outputs: two nearest the first entry, two nearest the second, none near the third.
fn hand_codebook() -> (Autoencoder, Tensor) {
    let m = small_vq();
    let entries = Tensor::from_vec(
        vec![-1.0f32, 0.0, 1.0, 0.0, 100.0, 100.0],
        (3, 2),
        &Device::Cpu,
    )
    .unwrap();
    m.codebook.as_ref().unwrap().var.set(&entries).unwrap();
    let z_e = Tensor::from_vec(
        vec![-0.5f32, 0.0, -0.4, 0.1, 0.5, 0.0, 0.4, -0.1],
        (4, 2),
        &Device::Cpu,
    )
    .unwrap();
    (m, z_e)
}

#[test]
fn the_codebook_follows_its_items_by_moving_averages() {
    let (m, z_e) = hand_codebook();
    let codebook = m.codebook.as_ref().unwrap();
    let mut rng = PortableRng::seed_from_u64(2);
    codebook.nearest_entries(&z_e).unwrap();
    codebook.after_step(&mut rng).unwrap();
    let after_one = codebook.data().unwrap();
    // From empty averages, one step puts an entry at the mean of its items.
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
    assert!(close(after_one.entry(0), &[-0.45, 0.05]), "{after_one:?}");
    assert!(close(after_one.entry(1), &[0.45, -0.05]), "{after_one:?}");
    assert_eq!(after_one.entry(2), &[100.0, 100.0], "no item: it stays");
    // A second batch: entry 0 takes one item at (−2, 1). By hand, with γ = 0.99:
    // N = γ·0.02 + 0.01·1, m = γ·0.01·(−0.9, 0.1) + 0.01·(−2, 1), e = m / N
    //   = (γ·(−0.9, 0.1) + (−2, 1)) / (2γ + 1).
    let second = Tensor::from_vec(vec![-2.0f32, 1.0], (1, 2), &Device::Cpu).unwrap();
    codebook.nearest_entries(&second).unwrap();
    codebook.after_step(&mut rng).unwrap();
    let g = 0.99f32;
    let want = [
        (g * -0.9 - 2.0) / (2.0 * g + 1.0),
        (g * 0.1 + 1.0) / (2.0 * g + 1.0),
    ];
    let after_two = codebook.data().unwrap();
    assert!(
        close(after_two.entry(0), &want),
        "{after_two:?} vs {want:?}"
    );
    assert!(
        close(after_two.entry(1), after_one.entry(1)),
        "entry 1 had no item"
    );
}

#[test]
fn a_vq_vae_decodes_its_nearest_entries_and_reports_its_penalty() {
    let m = small_vq();
    let x = batch();
    let mut rng = PortableRng::seed_from_u64(1);
    let t = m.loss_terms(&x, &mut rng).unwrap();
    let (mu, _) = m.encode(&x).unwrap();
    let data = m.codebook.as_ref().unwrap().data().unwrap();
    let mu = values(&mu);
    // β·‖z_e − e‖² per row, computed on plain numbers.
    let want: Vec<f32> = mu
        .chunks(2)
        .map(|z| 0.25 * data.nearest(z).1)
        .collect::<Vec<_>>();
    for (got, want) in values(&t.penalty).iter().zip(&want) {
        assert!((got - want).abs() < 1e-4, "{got} vs {want}");
    }
    assert!(values(&t.kl).iter().all(|k| *k == 0.0), "no KL");
    // The snapshot decodes the entry, whatever point of its cell it is given.
    let dec = m.decoder_snapshot().unwrap();
    let near_entry_1 = dec.decode(&[2.6, 0.9]).unwrap();
    let entry_1 = dec.decode(&[3.0, 0.5]).unwrap();
    assert_eq!(near_entry_1, entry_1);
    let enc = m.encoder_snapshot().unwrap();
    assert_eq!(enc.codebook.as_deref(), Some(&data));
}

#[test]
fn a_dead_entry_restarts_at_an_encoder_output() {
    let (m, z_e) = hand_codebook();
    let codebook = m.codebook.as_ref().unwrap();
    let mut rng = PortableRng::seed_from_u64(2);
    let mut restarted = Vec::new();
    for step in 1..=RESTART_AFTER + 5 {
        codebook.nearest_entries(&z_e).unwrap();
        if codebook.after_step(&mut rng).unwrap() > 0 {
            restarted.push(step);
        }
    }
    assert_eq!(
        restarted,
        vec![RESTART_AFTER],
        "once, after {RESTART_AFTER} idle steps"
    );
    let moved_to = codebook.data().unwrap().entry(2).to_vec();
    let rows = values(&z_e);
    assert!(
        rows.chunks(2).any(|z| z == moved_to),
        "entry 2 {moved_to:?} sits on one of the batch's codes {rows:?}"
    );
}

#[test]
fn the_codebook_knob_is_a_whole_number_of_at_least_two() {
    let mut cfg = ModelConfig::new(ModelKind::VqVae, 6, Likelihood::Bernoulli);
    let zero = cfg
        .set_knob("codebook", KnobValue::Number(0.0))
        .unwrap_err();
    assert!(
        zero.to_string().contains("codebook 0 is out of range"),
        "{zero}"
    );
    cfg.knobs.insert("codebook".into(), KnobValue::Number(2.5));
    let half = cfg.validate().unwrap_err().to_string();
    assert!(
        half.contains("codebook 2.5 is not a whole number"),
        "{half}"
    );
}
