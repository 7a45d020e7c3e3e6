//! The bound on log p(x) in Draw & inspect, driven by egui_kittest: a VAE's rows and
//! ELBO appear once its thread is done, an AE says it has none.

use egui_kittest::kittest::Queryable;
use latentlab::model::inspect::bound::{BOUND_KS, item_bound};
use std::time::{Duration, Instant};

mod ui;
use ui::{harness, small_settings, wait_for};

#[test]
fn draw_and_inspect_shows_a_vaes_bound_against_k_and_no_bound_for_an_ae() {
    let mut h = harness(small_settings(), false);
    wait_for(&mut h, "models", |a| a.session.snapshot.is_some());
    h.get_by_label("Draw & inspect").click();
    h.run_steps(1);
    let start = Instant::now();
    while h.query_by_label_contains("draws of q(z|x) in").is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the bound never came back from its thread"
        );
        std::thread::sleep(Duration::from_millis(20));
        h.run_steps(1);
    }
    assert!(h.query_by_label("log p(x) ≥").is_some(), "the K row");
    assert!(
        h.query_by_label("no posterior: no bound on log p(x)")
            .is_some(),
        "the AE says it has no bound"
    );
    // The numbers shown are those of the drawn item under the snapshot shown.
    let snap = h.state().session.snapshot.clone().unwrap();
    let vae = snap.models.iter().find(|m| m.name == "vae").unwrap();
    let x = h.state().selection.drawn.clone().expect("the canvas item");
    let b = item_bound(
        &vae.config,
        &vae.encoder,
        &vae.decoder,
        &x,
        &BOUND_KS,
        17,
        0,
    )
    .unwrap()
    .unwrap();
    for (k, v) in &b.by_k {
        let shown = format!("{v:.1}");
        assert!(h.query_by_label(&shown).is_some(), "K = {k}: {shown} shown");
    }
    assert!(
        h.query_by_label_contains(&format!("ELBO {:.1} nats", b.elbo))
            .is_some(),
        "the ELBO line"
    );
}

/// A conditional VAE's bound is on log p(x | c) for the class the drawn item is said to be
/// ("it is a"): the rows shown are that class's, and another class gives other rows.
#[test]
fn a_cvaes_bound_is_given_the_class_the_drawn_item_is_said_to_be() {
    use latentlab::model::ModelKind;
    let mut settings = small_settings();
    settings.run.models = vec![ModelKind::Vae, ModelKind::Cvae];
    let mut h = harness(settings, false);
    wait_for(&mut h, "models", |a| a.session.snapshot.is_some());
    h.get_by_label("Draw & inspect").click();
    h.run_steps(1);
    assert!(h.query_by_label("it is a").is_some(), "the class menu");
    let x = h.state().selection.drawn.clone().expect("the canvas item");
    let x: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, _)| (i % 7) as f32 / 7.0)
        .collect();
    let snap = h.state().session.snapshot.clone().unwrap();
    let cvae = snap.models.iter().find(|m| m.name == "cvae").unwrap();
    let mut shown_rows = Vec::new();
    for class in [3u32, 8] {
        h.state_mut().selection.drawn = Some(x.clone());
        h.state_mut().selection.drawn_class = class;
        let b = item_bound(
            &cvae.config,
            &cvae.encoder,
            &cvae.decoder,
            &x,
            &BOUND_KS,
            17,
            class,
        )
        .unwrap()
        .expect("a cvae has a posterior");
        let want = format!("ELBO {:.1} nats", b.elbo);
        let start = Instant::now();
        while h.query_all_by_label_contains(&want).count() == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "class {class}: '{want}' never shown"
            );
            std::thread::sleep(Duration::from_millis(20));
            h.run_steps(1);
        }
        assert!(
            h.query_by_label("log p(x|c) ≥").is_some(),
            "the cvae's K row"
        );
        for (k, v) in &b.by_k {
            let shown = format!("{v:.1}");
            assert!(
                h.query_all_by_label(&shown).count() > 0,
                "class {class}, K = {k}: {shown} shown"
            );
        }
        shown_rows.push(b.by_k);
    }
    assert_ne!(shown_rows[0], shown_rows[1], "the class changes the bound");
}
