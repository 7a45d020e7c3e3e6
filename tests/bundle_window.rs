//! *Open lesson file…* takes a class bundle: the window unpacks it into the cache folder,
//! starts its lesson and opens the saved run its first step names, with no training.
//! (Its own test binary: it points `$LATENTLAB_CACHE` at a temporary folder, which is
//! safe only while no other test of the process runs.)

use latentlab::app::Action;
use std::process::Command;

mod common;
mod ui;
use ui::{harness, small_settings, wait_for};

#[test]
fn open_lesson_file_takes_a_bundle_and_opens_its_run() {
    let tmp = tempfile::tempdir().unwrap();
    let teacher = tmp.path().join("teacher");
    let args = common::quick_run_args(&teacher.join("saved").join("quick"));
    let o = common::latentlab(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", common::stderr(&o));
    let lesson = teacher.join("class.md");
    std::fs::write(
        &lesson,
        "---\nname: class\ntitle: A class\n---\n## Start\nopen: saved/quick\ntab: Latent grid\n\n\
         The trained models.\n",
    )
    .unwrap();
    let bundle = tmp.path().join("class.latentlab");
    let o = Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args(["pack", lesson.to_str().unwrap(), "--out"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::stderr(&o));
    std::fs::remove_dir_all(&teacher).unwrap();
    let cache = tmp.path().join("cache");
    // SAFETY: the only test of this binary, before any thread of its own starts.
    unsafe { std::env::set_var("LATENTLAB_CACHE", &cache) };

    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "the digits models", |a| {
        a.session.snapshot.is_some()
    });
    h.state_mut().apply(Action::OpenLessonFile(bundle));
    // Until the run is in, or an error says why not.
    wait_for(&mut h, "the bundled run", |a| {
        a.session.messages.iter().any(|m| m.is_error)
            || (a.session.snapshot.as_ref().is_some_and(|s| s.step >= 40)
                && a.session.data.as_ref().is_some_and(|d| d.name == "moons"))
    });
    let app = h.state();
    assert_eq!(
        app.lesson.as_ref().map(|l| l.lesson.name.as_str()),
        Some("class")
    );
    assert_eq!(app.settings.run.hidden, vec![16], "the run's own models");
    assert_eq!(app.tab_titles()[app.tab], "Latent grid");
    assert!(
        !app.session.messages.iter().any(|m| m.is_error),
        "{:?}",
        app.session.messages
    );
    let unpacked: Vec<_> = std::fs::read_dir(cache.join("lessons")).unwrap().collect();
    assert_eq!(unpacked.len(), 1, "one folder in the cache");
}
