//! `latentlab lessons --render` in a real window under a virtual X server: one PNG per step,
//! exactly the asked size. Needs `xvfb-run` (see .ci/run); without it the test says so and
//! passes, except under CI, where it must run.

use std::process::Command;

mod common;

#[test]
fn render_writes_one_png_per_step_at_exactly_the_size() {
    let has_xvfb = Command::new("xvfb-run").arg("--help").output().is_ok();
    if !has_xvfb {
        assert!(
            std::env::var_os("CI").is_none(),
            "xvfb-run is needed under CI (.ci/run installs it)"
        );
        eprintln!("skipped: no xvfb-run (apt-get install xvfb imagemagick enables this test)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lesson = dir.path().join("two.md");
    std::fs::write(
        &lesson,
        "---\nname: two\ntitle: Two steps\n---\n\
         ## Codes\ndataset: moons\nmodels: ae, vae\ntab: Latent space\ntraining: run\nsubject: latent plots\n\nLook.\n\n\
         ## Samples\ntab: Samples\nsubject: samples\n\nLook again.\n",
    )
    .unwrap();
    let out = dir.path().join("shots");
    let o = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1600x1000x24"])
        .arg(env!("CARGO_BIN_EXE_latentlab"))
        .args(["lessons", "--render"])
        .arg(&lesson)
        .args(["--size", "1024x640", "--presentation", "--out"])
        .arg(&out)
        .output()
        .expect("xvfb-run runs");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", common::stderr(&o));
    assert!(stdout.contains("step 1 'Codes': fits"), "{stdout}");
    for name in ["01.png", "02.png"] {
        let img = image::open(out.join(name)).expect(name);
        assert_eq!((img.width(), img.height()), (1024, 640), "{name}");
    }
    assert!(!out.join("03.png").exists(), "one picture per step");
}
