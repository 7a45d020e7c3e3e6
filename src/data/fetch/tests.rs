use super::download::{already_good, file_md5, join_url};
use super::*;

#[test]
fn every_builtin_table_lists_its_files_with_a_valid_md5_and_size() {
    for set in RemoteSet::ALL {
        let sums = Checksums::builtin(set);
        for file in set.file_names() {
            let e = sums
                .get(file)
                .unwrap_or_else(|| panic!("{}: {file} has no valid MD5", set.name()));
            // dSprites' size is not known (see the comment on its row).
            if set != RemoteSet::Dsprites {
                assert!(e.size.is_some_and(|s| s > 4_000), "{}: {file}", set.name());
            }
        }
        assert!(!set.mirrors().is_empty());
        assert_eq!(RemoteSet::from_name(set.name()), Some(set));
        assert_eq!(RemoteSet::from_spec(set.name()), Some(set));
    }
    assert_eq!(RemoteSet::Mnist.file_names(), FILE_NAMES);
    assert_eq!(
        RemoteSet::Dsprites.file_names(),
        ["dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"]
    );
    assert_eq!(
        RemoteSet::from_spec("dsprites#train=5"),
        Some(RemoteSet::Dsprites)
    );
    assert_eq!(
        RemoteSet::Dsprites.class_names(),
        ["square", "ellipse", "heart"]
    );
    let e = Checksums::builtin(RemoteSet::Dsprites)
        .get(RemoteSet::Dsprites.file_names()[0])
        .unwrap();
    assert_eq!(md5_hex(&e.md5), "7da33b31b13a06f4b04a70402ce90c2e");
    // One value typed from torchvision's table, read back through the parser.
    let e = Checksums::builtin(RemoteSet::Mnist)
        .get("t10k-labels-idx1-ubyte.gz")
        .unwrap();
    assert_eq!(md5_hex(&e.md5), "ec29112dd5afa0611ce80d1b7f02629c");
}

#[test]
fn md5_matches_rfc_1321_test_vectors() {
    let dir = tempfile::tempdir().unwrap();
    // RFC 1321, appendix A.5.
    for (text, hex) in [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
    ] {
        let path = dir.path().join("f");
        std::fs::write(&path, text).unwrap();
        assert_eq!(md5_hex(&file_md5(&path).unwrap()), hex, "MD5({text:?})");
    }
}

#[test]
fn checksum_files_parse_and_bad_lines_are_named() {
    let path = Path::new("sums.txt");
    let good = "# test sums\n\
        train-images-idx3-ubyte.gz 900150983cd24fb0d6963f7d28e17f72 3\n\
        train-labels-idx1-ubyte.gz d41d8cd98f00b204e9800998ecf8427e\n\
        \n\
        t10k-images-idx3-ubyte.gz  F96B697D7CB7938D525A2F31AAF161D0 14  # upper case\n\
        t10k-labels-idx1-ubyte.gz d41d8cd98f00b204e9800998ecf8427e 0\n";
    let sums = Checksums::parse(RemoteSet::Mnist, good, path).unwrap();
    let e = sums.get("t10k-images-idx3-ubyte.gz").unwrap();
    assert_eq!(md5_hex(&e.md5), "f96b697d7cb7938d525a2f31aaf161d0");
    assert_eq!(e.size, Some(14));
    assert_eq!(sums.get("train-labels-idx1-ubyte.gz").unwrap().size, None);

    let lines: Vec<&str> = good.lines().collect();
    let with_line = |i: usize, replacement: &str| {
        let mut l = lines.clone();
        l[i] = replacement;
        l.join("\n")
    };
    for (text, needle) in [
        (
            with_line(1, "train-images-idx3-ubyte.gz 9001"),
            "sums.txt:2: '9001' is not 32 hex",
        ),
        (
            with_line(1, "train-images.gz 900150983cd24fb0d6963f7d28e17f72"),
            "sums.txt:2: unknown file",
        ),
        (
            with_line(
                1,
                "train-images-idx3-ubyte.gz 900150983cd24fb0d6963f7d28e17f72 x",
            ),
            "size 'x'",
        ),
        (
            with_line(1, "just-one-field"),
            "sums.txt:2: expected `FILENAME MD5 [SIZE]`",
        ),
        (
            with_line(4, lines[1]),
            "sums.txt:5: 'train-images-idx3-ubyte.gz' appears twice",
        ),
        (
            with_line(5, ""),
            "sums.txt:0: no checksum for t10k-labels-idx1-ubyte.gz",
        ),
    ] {
        let err = Checksums::parse(RemoteSet::Mnist, &text, path)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{err}\n  should contain {needle}");
    }
}

#[test]
fn the_cache_folder_follows_option_then_env_then_xdg_then_home() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| OsString::from(v))
        }
    };
    let all: &[(&str, &str)] = &[
        ("LATENTLAB_CACHE", "/c"),
        ("XDG_CACHE_HOME", "/x"),
        ("HOME", "/h"),
    ];
    let root = |explicit: Option<&str>, pairs| {
        cache_root_from(explicit.map(Path::new), env(pairs)).map_err(|e| e.to_string())
    };
    assert_eq!(root(Some("/opt"), all), Ok(PathBuf::from("/opt")));
    assert_eq!(root(None, all), Ok(PathBuf::from("/c")));
    assert_eq!(
        root(
            None,
            &[
                ("LATENTLAB_CACHE", ""),
                ("XDG_CACHE_HOME", "/x"),
                ("HOME", "/h")
            ]
        ),
        Ok(PathBuf::from("/x/latentlab"))
    );
    if !cfg!(windows) {
        // A relative XDG_CACHE_HOME is invalid by the spec and ignored.
        assert_eq!(
            root(None, &[("XDG_CACHE_HOME", "rel"), ("HOME", "/h")]),
            Ok(PathBuf::from("/h/.cache/latentlab"))
        );
        let none = root(None, &[]).unwrap_err();
        assert!(
            none.contains("--cache") && none.contains("LATENTLAB_CACHE"),
            "{none}"
        );
    }
}

#[test]
fn mirror_and_file_join_with_one_slash() {
    let want = "http://h/m/train-images-idx3-ubyte.gz";
    assert_eq!(join_url("http://h/m/", FILE_NAMES[0]), want);
    assert_eq!(join_url("http://h/m", FILE_NAMES[0]), want);
}

#[test]
fn a_cached_file_with_wrong_bytes_is_not_good_and_stays_until_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let abc = Expected {
        md5: parse_md5("900150983cd24fb0d6963f7d28e17f72").unwrap(),
        size: Some(3),
    };
    std::fs::write(&path, "abc").unwrap();
    assert!(already_good(&path, abc).unwrap());
    assert!(path.exists());
    std::fs::write(&path, "abd").unwrap();
    assert!(!already_good(&path, abc).unwrap());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"abd",
        "kept until a verified file replaces it"
    );
    std::fs::remove_file(&path).unwrap();
    assert!(!already_good(&path, abc).unwrap(), "absent is not good");
}

#[test]
fn loading_an_unfetched_set_names_the_command_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_cached(RemoteSet::FashionMnist, dir.path(), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("latentlab fetch fashion-mnist")
            && err.contains("no train-images-idx3-ubyte.gz in")
            && err.contains("LATENTLAB_CACHE"),
        "{err}"
    );
}

#[test]
fn fetch_refuses_empty_and_non_http_mirrors_before_touching_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = AtomicBool::new(false);
    for (mirrors, needle) in [
        (vec![], "no mirror"),
        (vec!["ftp://x/".to_string()], "mirror 'ftp://x/'"),
    ] {
        let opts = FetchOptions {
            mirrors,
            cache_root: dir.path().join("cache"),
            checksums: Checksums::builtin(RemoteSet::Mnist),
        };
        let err = fetch(RemoteSet::Mnist, &opts, &mut |_| {}, &cancel).unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
        assert!(!opts.cache_root.exists());
    }
}

#[test]
fn a_checksum_file_names_the_files_of_its_own_set() {
    let path = Path::new("sums.txt");
    let npz = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz";
    let line = format!("{npz} 900150983cd24fb0d6963f7d28e17f72 40960");
    let sums = Checksums::parse(RemoteSet::Dsprites, &line, path).unwrap();
    assert_eq!(sums.get(npz).unwrap().size, Some(40_960));
    // The same line is no MNIST file, and an MNIST line is no dSprites file.
    let err = Checksums::parse(RemoteSet::Mnist, &line, path).unwrap_err();
    assert!(err.to_string().contains("unknown file"), "{err}");
    let mnist = "train-images-idx3-ubyte.gz 900150983cd24fb0d6963f7d28e17f72";
    let err = Checksums::parse(RemoteSet::Dsprites, mnist, path).unwrap_err();
    assert!(err.to_string().contains(npz), "{err}");
}

#[test]
fn dsprites_specs_give_its_shape_and_options_and_other_sets_take_none() {
    use crate::data::{ItemShape, load_with_sizes, peek_shape};
    let shape = Some(ItemShape::image(1, 64, 64));
    assert_eq!(peek_shape("dsprites").unwrap(), shape);
    assert_eq!(peek_shape("dsprites#train=10,test=2").unwrap(), shape);
    assert_eq!(peek_shape("kmnist").unwrap(), None);
    // Options are read before the cache is looked at, so these fail the same anywhere.
    let err = load_with_sizes("dsprites#colour", 1, None).unwrap_err();
    assert!(
        err.to_string()
            .contains("dsprites#colour: 'colour' is not key=value"),
        "{err}"
    );
    let err = load_with_sizes("mnist#train=5", 1, None).unwrap_err();
    assert!(matches!(err, DataError::UnknownSpec(_)), "{err}");
}
