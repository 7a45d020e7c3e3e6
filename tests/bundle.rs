//! Class bundles as a teacher and students use them: `latentlab pack` puts a lesson and the
//! saved run it opens into one `.latentlab` file, `latentlab --lesson FILE` opens it from
//! the cache folder, and a damaged or hostile bundle is refused with its own message,
//! before any window, with nothing written outside the cache folder.

mod common;

use latentlab::lessons::bundle::{self, BundleError};
use latentlab::train::run;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// A quick saved run (`latentlab train --out`), made once for this file's tests.
fn saved_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let out = dir.join("runs").join("quick");
        let args = common::quick_run_args(&out);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = common::latentlab(&args);
        assert!(o.status.success(), "{}", common::stderr(&o));
        out
    })
}

const LESSON: &str = "---\nname: class\ntitle: A class\n---\n\n## Open the run\nopen: RUN\ngrid: 5\n\n\
                      Look at the trained codes.\n\n## Later\ngrid: 7\n\nAnd a finer grid.\n";

/// A teacher's folder: `class.md` opening a copy of the saved run at `saved/quick`, beside
/// it (in the bundle it becomes `runs/quick`).
struct Class {
    tmp: tempfile::TempDir,
}

impl Class {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let teacher = tmp.path().join("teacher");
        let run_copy = teacher.join("saved").join("quick");
        std::fs::create_dir_all(&run_copy).unwrap();
        for e in std::fs::read_dir(saved_run()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), run_copy.join(e.file_name())).unwrap();
        }
        std::fs::write(
            teacher.join("class.md"),
            LESSON.replace("RUN", "saved/quick"),
        )
        .unwrap();
        std::fs::create_dir_all(tmp.path().join("home").join("cache")).unwrap();
        std::fs::create_dir_all(tmp.path().join("bundles")).unwrap();
        Class { tmp }
    }
    fn lesson(&self) -> PathBuf {
        self.tmp.path().join("teacher").join("class.md")
    }
    fn run(&self) -> PathBuf {
        self.tmp.path().join("teacher").join("saved").join("quick")
    }
    /// The students' cache folder (`$LATENTLAB_CACHE`).
    fn cache(&self) -> PathBuf {
        self.tmp.path().join("home").join("cache")
    }
    fn bundle(&self, name: &str) -> PathBuf {
        self.tmp.path().join("bundles").join(name)
    }
    /// `latentlab ARGS` with the cache folder set and no display.
    fn latentlab(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_latentlab"))
            .args(args)
            .env("LATENTLAB_CACHE", self.cache())
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .output()
            .expect("binary runs")
    }
    fn pack(&self, out: &Path) {
        let o = self.latentlab(&[
            "pack",
            self.lesson().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", common::stderr(&o));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.contains("1 saved run(s): quick"), "{stdout}");
    }
    /// Every file and folder under the test's folder, relative, sorted.
    fn tree(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(self.tmp.path(), self.tmp.path(), &mut out);
        out.sort();
        out
    }
    /// A refused bundle wrote nothing: the cache's parent holds only the cache, the cache
    /// no lesson (and no half-unpacked one), and no file appeared anywhere else.
    fn assert_nothing_written(&self, before: &[String]) {
        let home: Vec<_> = names(&self.tmp.path().join("home"));
        assert_eq!(home, vec!["cache"], "beside the cache");
        let lessons = self.cache().join("lessons");
        if lessons.exists() {
            assert_eq!(names(&lessons), Vec::<String>::new(), "in the cache");
        }
        let after: Vec<String> = self
            .tree()
            .into_iter()
            .filter(|p| !p.starts_with("home/cache/lessons"))
            .collect();
        assert_eq!(after, before, "files written outside the cache");
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.strip_prefix(root).unwrap().display().to_string());
        if p.is_dir() && !p.is_symlink() {
            walk(root, &p, out);
        }
    }
}

/// The entries of a bundle, in order: (name, bytes).
fn entries(bundle: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(bundle).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().unwrap().to_string(), b)
        })
        .collect()
}

/// What a crafted bundle holds besides plain files.
enum Extra {
    None,
    Symlink(&'static str, &'static str),
}

/// Writes a bundle holding `files` (stored) and maybe a symbolic link.
fn write_bundle(path: &Path, files: &[(String, Vec<u8>)], extra: Extra) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in files {
        z.start_file(name, opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    if let Extra::Symlink(name, target) = extra {
        z.add_symlink(name, target, opts).unwrap();
    }
    z.finish().unwrap();
}

/// `files` with bundle.json changed by `edit`.
fn edit_manifest(
    mut files: Vec<(String, Vec<u8>)>,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Vec<(String, Vec<u8>)> {
    let m = files.iter_mut().find(|(n, _)| n == "bundle.json").unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&m.1).unwrap();
    edit(&mut v);
    m.1 = serde_json::to_vec(&v).unwrap();
    files
}

/// Lists a file in bundle.json (its true length and hash).
fn list(v: &mut serde_json::Value, name: &str, bytes: &[u8]) {
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    v["files"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": name, "bytes": bytes.len(), "sha256": sha}));
}

#[test]
fn a_packed_lesson_opens_from_the_cache_with_its_run_and_timeline() {
    let class = Class::new();
    let out = class.bundle("class.latentlab");
    class.pack(&out);
    assert_eq!(
        names(out.parent().unwrap()),
        vec!["class.latentlab"],
        "no temporaries"
    );
    let original = run::open_run(&class.run()).unwrap();
    assert!(
        original.extra.contains_key("timeline.bin"),
        "the quick run has a timeline: {:?}",
        original.extra.keys()
    );

    // The teacher's files go away: the bundle alone must carry the class.
    let teacher = class.tmp.path().join("teacher");
    std::fs::remove_dir_all(&teacher).unwrap();

    let lesson = bundle::open(&out, &class.cache()).unwrap();
    assert_eq!((lesson.name.as_str(), lesson.steps.len()), ("class", 2));
    assert_eq!(lesson.steps[1].text, "And a finer grid.");
    let opened = lesson.setup(0).open.expect("step 1 opens the run");
    let unpacked = class.cache().join("lessons");
    assert!(opened.starts_with(&unpacked), "{}", opened.display());
    let run = run::open_run(&opened).unwrap();
    assert_eq!(
        run.manifest, original.manifest,
        "the same run, every file's hash"
    );
    assert_eq!(run.extra, original.extra, "the same timeline");
    assert_eq!(run.losses, original.losses);
    assert_eq!(lesson.setup(1).grid, Some(7));

    // A second open reuses the folder; one damaged in the cache since is unpacked again.
    let folders = names(&unpacked);
    assert_eq!(folders.len(), 1, "{folders:?}");
    let timeline = opened.join("timeline.bin");
    let mut bytes = std::fs::read(&timeline).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&timeline, &bytes).unwrap();
    let again = bundle::open(&out, &class.cache()).unwrap();
    assert_eq!(again, lesson);
    assert_eq!(names(&unpacked), folders, "the same folder, no leftovers");
    assert_eq!(run::open_run(&opened).unwrap().extra, original.extra);

    // `latentlab --lesson class.latentlab` takes the bundle: with no display it goes as far
    // as the window (the bundle was accepted), in the cache folder it is given.
    // A folder half unpacked by a process that died is cleaned up on the way.
    std::fs::remove_dir_all(&unpacked).unwrap();
    let leftover = unpacked.join(format!(".{}.partial-999999999-0", folders[0]));
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("lesson.md"), "half").unwrap();
    let o = class.latentlab(&["--lesson", out.to_str().unwrap()]);
    let stderr = common::stderr(&o);
    assert!(
        !stderr.contains("bundle"),
        "the bundle was accepted: {stderr}"
    );
    assert!(
        stderr.contains("window"),
        "it went as far as the window: {stderr}"
    );
    assert_eq!(
        names(&unpacked),
        folders,
        "unpacked into $LATENTLAB_CACHE, no leftovers"
    );
}

#[test]
fn pack_refuses_a_lesson_whose_run_does_not_open_and_an_existing_file() {
    let class = Class::new();
    let out = class.bundle("class.latentlab");
    let lesson = class.lesson();
    let args = [
        "pack",
        lesson.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];

    let ckpt = class.run().join("ae.safetensors");
    let good = std::fs::read(&ckpt).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    std::fs::write(&ckpt, &bad).unwrap();
    let o = class.latentlab(&args);
    assert!(!o.status.success());
    let stderr = common::stderr(&o);
    assert!(
        stderr.contains("class.md:7: step 'Open the run' opens") && stderr.contains("SHA-256"),
        "stderr: {stderr}"
    );
    assert_eq!(
        names(&class.tmp.path().join("bundles")),
        Vec::<String>::new()
    );

    std::fs::write(&ckpt, &good).unwrap();
    class.pack(&out);
    let o = class.latentlab(&args);
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains("--overwrite"),
        "{}",
        common::stderr(&o)
    );
    let mut with = args.to_vec();
    with.push("--overwrite");
    let o = class.latentlab(&with);
    assert!(o.status.success(), "{}", common::stderr(&o));
}

#[test]
fn a_damaged_bundle_stops_before_the_window_and_writes_nothing() {
    let class = Class::new();
    let good = class.bundle("good.latentlab");
    class.pack(&good);
    let bad = class.bundle("bad.latentlab");
    let mut files = entries(&good);
    let ckpt = files
        .iter_mut()
        .find(|(n, _)| n == "runs/quick/ae.safetensors")
        .unwrap();
    let mid = ckpt.1.len() / 2;
    ckpt.1[mid] ^= 1;
    write_bundle(&bad, &files, Extra::None);
    let before = class.tree();

    let o = class.latentlab(&["--lesson", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let stderr = common::stderr(&o);
    assert!(
        stderr.contains("bad.latentlab: 'runs/quick/ae.safetensors' has another SHA-256"),
        "stderr: {stderr}"
    );
    assert!(!stderr.contains("window"), "no window was tried: {stderr}");
    class.assert_nothing_written(&before);
}

/// A damaged bundle: what it is, how to make it at a path, what its refusal says.
type Case = (&'static str, Box<dyn Fn(&Path)>, String);

/// Each damaged or hostile bundle, made from a good one, and what its refusal says.
#[test]
fn each_damaged_or_hostile_bundle_is_refused_with_its_own_message() {
    let class = Class::new();
    let good_path = class.bundle("good.latentlab");
    class.pack(&good_path);
    let good = entries(&good_path);
    let abs = class.tmp.path().join("home").join("evil-absolute");
    let abs = abs.to_str().unwrap().to_string();

    let mut cases: Vec<Case> = Vec::new();
    cases.push((
        "truncated",
        Box::new(move |p| {
            let bytes = std::fs::read(&good_path).unwrap();
            std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
        }),
        "not a whole zip archive, it may be cut short".into(),
    ));
    let g = good.clone();
    cases.push((
        "dot-dot",
        Box::new(move |p| {
            let mut f = g.clone();
            f.push(("../../../evil".into(), b"x".to_vec()));
            write_bundle(p, &f, Extra::None)
        }),
        "entry '../../../evil' holds '..', which would leave the folder".into(),
    ));
    let g = good.clone();
    let a = abs.clone();
    cases.push((
        "absolute",
        Box::new(move |p| {
            let mut f = g.clone();
            f.push((a.clone(), b"x".to_vec()));
            write_bundle(p, &f, Extra::None)
        }),
        format!("entry '{abs}' is an absolute path"),
    ));
    let g = good.clone();
    cases.push((
        "symlink",
        Box::new(move |p| {
            let f = edit_manifest(g.clone(), |v| list(v, "runs/quick/link", b"../../../.."));
            write_bundle(p, &f, Extra::Symlink("runs/quick/link", "../../../.."))
        }),
        "entry 'runs/quick/link' is a symbolic link".into(),
    ));
    let g = good.clone();
    cases.push((
        "huge size",
        Box::new(move |p| {
            let f = edit_manifest(g.clone(), |v| {
                for f in v["files"].as_array_mut().unwrap() {
                    if f["name"] == "runs/quick/ae.safetensors" {
                        f["bytes"] = serde_json::json!(1u64 << 50);
                    }
                }
            });
            write_bundle(p, &f, Extra::None)
        }),
        "bundle.json says 'runs/quick/ae.safetensors' is 1125899906842624 bytes, more than a \
         file in a bundle may be"
            .into(),
    ));
    let g = good.clone();
    cases.push((
        "too many entries",
        Box::new(move |p| {
            let mut f = g.clone();
            f.extend((0..10_001).map(|i| (format!("runs/quick/{i}"), Vec::new())));
            write_bundle(p, &f, Extra::None)
        }),
        format!(
            "it holds {} entries, more than a bundle may (10000)",
            good.len() + 10_001
        ),
    ));
    let g = good.clone();
    cases.push((
        "unlisted",
        Box::new(move |p| {
            let mut f = g.clone();
            f.push(("runs/quick/notes.txt".into(), b"x".to_vec()));
            write_bundle(p, &f, Extra::None)
        }),
        "entry 'runs/quick/notes.txt' is not listed in bundle.json".into(),
    ));
    let g = good.clone();
    cases.push((
        "missing",
        Box::new(move |p| {
            let f: Vec<_> = g
                .iter()
                .filter(|(n, _)| n != "runs/quick/losses.csv")
                .cloned()
                .collect();
            write_bundle(p, &f, Extra::None)
        }),
        "'runs/quick/losses.csv' is missing (bundle.json lists it)".into(),
    ));
    let g = good.clone();
    cases.push((
        "run changed, bundle.json to match",
        Box::new(move |p| {
            let mut f = g.clone();
            let (_, bytes) = f
                .iter_mut()
                .find(|(n, _)| n == "runs/quick/ae.safetensors")
                .unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 1;
            let changed = bytes.clone();
            let f = edit_manifest(f, |v| {
                let files = v["files"].as_array_mut().unwrap();
                files.retain(|f| f["name"] != "runs/quick/ae.safetensors");
                list(v, "runs/quick/ae.safetensors", &changed);
            });
            write_bundle(p, &f, Extra::None)
        }),
        "the saved run 'runs/quick' in it does not open".into(),
    ));

    // Every case is tried, and every one that fails is said.
    let mut failed = Vec::new();
    for (i, (what, make, says)) in cases.iter().enumerate() {
        let path = class.bundle(&format!("bad{i}.latentlab"));
        make(&path);
        let mut before = class.tree();
        before.retain(|p| !p.starts_with("home/cache/lessons"));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let err = bundle::open(&path, &class.cache()).expect_err(what);
            let msg = err.to_string();
            assert!(msg.contains(says.as_str()), "{what}: {msg}");
            assert!(
                msg.starts_with(&path.display().to_string()),
                "{what} names the bundle: {msg}"
            );
            if *what == "run changed, bundle.json to match" {
                assert!(matches!(err, BundleError::Run { .. }), "{what}: {err:?}");
                assert!(msg.contains("SHA-256"), "{msg}");
            }
            class.assert_nothing_written(&before);
            assert!(!Path::new(&abs).exists(), "{what}");
        }));
        if outcome.is_err() {
            failed.push(*what);
            // The next case starts from an empty cache.
            std::fs::remove_dir_all(class.cache().join("lessons")).ok();
        }
    }
    assert!(
        failed.is_empty(),
        "not refused as they should be: {failed:?}"
    );
}
