//! The data sources: one table entry each. An entry says how a spec names it (a built-in
//! name, the downloaded sets, or `prefix:PATH`), its label, how a file dialog picks its path,
//! how to learn its item shape without loading it, its default sizes and how to load it.
//!
//! Adding a source: one [`DataSource`] in [`SOURCES`] (and its loader or generator in its
//! own file). `load`, `peek_shape`, the unknown-spec message, the command line's help, the
//! window's data-set menu and its Open… buttons and dialogs all read this table.

use super::{
    DataError, Dataset, IMAGE_SIDE, ItemShape, Sizes, digits, fetch, idx, load_csv, load_idx_dir,
    shapes, sprites, toy2d,
};
use std::path::Path;

/// How a file dialog picks a source's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// A folder.
    Folder,
    /// A file, offered with a filter.
    File {
        /// The filter's name ("CSV").
        filter: &'static str,
        /// The extensions it shows.
        extensions: &'static [&'static str],
    },
}

/// How a spec names a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    /// A built-in generator: one name, and how many items it makes by default.
    Builtin {
        /// The name ("digits").
        name: &'static str,
        /// Default item counts.
        sizes: Sizes,
        /// Default epochs of `latentlab train` on it.
        epochs: usize,
    },
    /// The sets `latentlab fetch` downloads, each by its own name (`mnist`, ...;
    /// `dsprites#train=N,test=N` picks the subset loaded).
    Downloaded,
    /// Files on disk: `prefix:ARG`.
    Prefix {
        /// The prefix before the colon ("idx").
        prefix: &'static str,
        /// What follows it, for help text ("DIR", "FILE").
        arg: &'static str,
        /// How a file dialog picks it.
        pick: Pick,
    },
}

/// Reads the shape of the items a spec's argument names, if it can without loading them.
pub type PeekFn = fn(&str) -> Result<Option<ItemShape>, DataError>;
/// Loads a spec's argument (a name, or the path after the prefix) with a seed and sizes
/// (sizes matter to built-in generators and dSprites; zero sizes mean "not given").
pub type LoadFn = fn(&str, u64, Sizes) -> Result<Dataset, DataError>;

/// One row of the table.
pub struct DataSource {
    /// How a spec names it.
    pub naming: Naming,
    /// Its label in the window ("IDX folder").
    pub label: &'static str,
    /// Its item shape without loading it.
    pub peek: PeekFn,
    /// How to load it.
    pub load: LoadFn,
}

/// Default epochs of `latentlab train`.
pub const DEFAULT_EPOCHS: usize = 10;

/// Default epochs on the built-in sprites (10,000 training items; `colour-sprites` has half
/// as many and twice the epochs): 64×64 shapes take about 300,000 items to tell apart (a
/// conv VAE at 10 epochs still drew squares and hearts as blobs; README, "Sprites").
const SPRITES_EPOCHS: usize = 30;

const GRID: Sizes = Sizes {
    train: 8_000,
    test: 2_000,
};

const IMAGE: ItemShape = ItemShape::gray(IMAGE_SIDE, IMAGE_SIDE);

fn image(_: &str) -> Result<Option<ItemShape>, DataError> {
    Ok(Some(IMAGE))
}

fn points(_: &str) -> Result<Option<ItemShape>, DataError> {
    Ok(Some(ItemShape::Points { dim: 2 }))
}

const fn toy(name: &'static str, label: &'static str) -> DataSource {
    DataSource {
        naming: Naming::Builtin {
            name,
            sizes: GRID,
            epochs: DEFAULT_EPOCHS,
        },
        label,
        peek: points,
        load: |name, seed, sizes| toy2d::generate(name, sizes, seed),
    }
}

/// The table of data sources, in the order menus and help list them.
pub const SOURCES: &[DataSource] = &[
    DataSource {
        naming: Naming::Builtin {
            name: "digits",
            sizes: Sizes {
                train: 60_000,
                test: 10_000,
            },
            epochs: DEFAULT_EPOCHS,
        },
        label: "Digits (built-in)",
        peek: image,
        load: |_, seed, sizes| digits::generate(sizes, seed),
    },
    DataSource {
        naming: Naming::Builtin {
            name: "shapes",
            sizes: Sizes {
                train: 30_000,
                test: 5_000,
            },
            epochs: DEFAULT_EPOCHS,
        },
        label: "Shapes (built-in)",
        peek: image,
        load: |_, seed, sizes| shapes::generate(sizes, seed),
    },
    DataSource {
        naming: Naming::Builtin {
            name: "sprites",
            sizes: Sizes {
                train: 10_000,
                test: 2_000,
            },
            epochs: SPRITES_EPOCHS,
        },
        label: "Sprites 64×64 (built-in, dSprites' factors)",
        peek: |_| Ok(Some(ItemShape::image(1, sprites::SIDE, sprites::SIDE))),
        load: |_, seed, sizes| sprites::generate(sizes, seed, false),
    },
    DataSource {
        naming: Naming::Builtin {
            name: "colour-sprites",
            sizes: Sizes {
                train: 5_000,
                test: 1_000,
            },
            epochs: 2 * SPRITES_EPOCHS,
        },
        label: "Colour sprites 64×64 (built-in)",
        peek: |_| Ok(Some(ItemShape::image(3, sprites::SIDE, sprites::SIDE))),
        load: |_, seed, sizes| sprites::generate(sizes, seed, true),
    },
    toy("moons", "Two moons (2-D points)"),
    toy("rings", "Rings (2-D points)"),
    toy("blobs", "Blobs (2-D points)"),
    DataSource {
        naming: Naming::Downloaded,
        label: "Downloaded (mnist, …, dsprites)",
        // dSprites' shape is fixed; the IDX sets' is known once the cached files are read.
        peek: |spec| Ok(fetch::RemoteSet::from_spec(spec).and_then(|s| s.item_shape())),
        // Sizes of zero are "not given": the set's own (dSprites: its spec's or defaults).
        load: |spec, _, sizes| {
            let given = (sizes.train > 0).then_some(sizes);
            fetch::load_spec_from_default_cache(spec, given)
        },
    },
    DataSource {
        naming: Naming::Prefix {
            prefix: "idx",
            arg: "DIR",
            pick: Pick::Folder,
        },
        label: "IDX folder",
        peek: |dir| Ok(Some(idx::peek_shape(Path::new(dir))?)),
        load: |dir, _, _| load_idx_dir(Path::new(dir)),
    },
    DataSource {
        naming: Naming::Prefix {
            prefix: "folder",
            arg: "DIR",
            pick: Pick::Folder,
        },
        label: "Image folder",
        peek: |arg| Ok(Some(super::FolderOptions::parse(arg)?.1.shape())),
        load: |arg, seed, _| super::load_folder_spec(arg, seed),
    },
    DataSource {
        naming: Naming::Prefix {
            prefix: "csv",
            arg: "FILE",
            pick: Pick::File {
                filter: "CSV",
                extensions: &["csv", "txt"],
            },
        },
        label: "CSV",
        peek: image,
        load: |file, seed, _| load_csv(Path::new(file), seed),
    },
];

const fn count_builtin() -> usize {
    let (mut i, mut n) = (0, 0);
    while i < SOURCES.len() {
        if let Naming::Builtin { .. } = SOURCES[i].naming {
            n += 1;
        }
        i += 1;
    }
    n
}

const fn builtin_names() -> [&'static str; count_builtin()] {
    let mut out = [""; count_builtin()];
    let (mut i, mut n) = (0, 0);
    while i < SOURCES.len() {
        if let Naming::Builtin { name, .. } = SOURCES[i].naming {
            out[n] = name;
            n += 1;
        }
        i += 1;
    }
    out
}

/// `--epochs`' help: its range and the defaults, the built-in sets that have their own named.
pub fn epochs_help() -> String {
    let own: Vec<String> = SOURCES
        .iter()
        .filter_map(|s| match s.naming {
            Naming::Builtin { name, epochs, .. } if epochs != DEFAULT_EPOCHS => {
                Some(format!("{epochs} on {name}"))
            }
            _ => None,
        })
        .collect();
    format!(
        "Passes over the training data (1 to 100000) [default: {DEFAULT_EPOCHS}; {}]",
        own.join(", ")
    )
}

/// The built-in data-set names, for pickers and help text (the table's built-in rows).
pub const BUILTIN_NAMES: [&str; count_builtin()] = builtin_names();

impl DataSource {
    /// The argument its loader takes if `spec` names this source.
    pub fn matches<'a>(&self, spec: &'a str) -> Option<&'a str> {
        match self.naming {
            Naming::Builtin { name, .. } => (spec == name).then_some(spec),
            Naming::Downloaded => fetch::RemoteSet::from_spec(spec).map(|_| spec),
            Naming::Prefix { prefix, .. } => match spec.split_once(':') {
                Some((p, arg)) if p == prefix => Some(arg),
                _ => None,
            },
        }
    }

    /// How help text writes it: `digits`, `mnist, fashion-mnist, kmnist, dsprites`,
    /// `idx:DIR`.
    pub fn forms(&self) -> String {
        match self.naming {
            Naming::Builtin { name, .. } => name.to_string(),
            Naming::Downloaded => fetch::RemoteSet::ALL
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", "),
            Naming::Prefix { prefix, arg, .. } => format!("{prefix}:{arg}"),
        }
    }
}

/// The source `spec` names and the argument for its loader.
pub fn find(spec: &str) -> Option<(&'static DataSource, &str)> {
    SOURCES
        .iter()
        .find_map(|s| s.matches(spec).map(|arg| (s, arg)))
}

/// The source with file prefix `prefix` (`idx`), if there is one.
pub fn with_prefix(prefix: &str) -> Option<&'static DataSource> {
    SOURCES
        .iter()
        .find(|s| matches!(s.naming, Naming::Prefix { prefix: p, .. } if p == prefix))
}

/// The sources a file dialog opens: (prefix, label, pick), in table order.
pub fn file_sources() -> impl Iterator<Item = (&'static str, &'static str, Pick)> {
    SOURCES.iter().filter_map(|s| match s.naming {
        Naming::Prefix { prefix, pick, .. } => Some((prefix, s.label, pick)),
        _ => None,
    })
}

/// Every form of spec, comma-separated: what an unknown spec's message lists.
pub fn spec_forms() -> String {
    SOURCES
        .iter()
        .map(DataSource::forms)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The data-set help of the command line: every form, the downloaded ones marked (no
/// final stop: clap drops it from one-line help).
pub fn spec_help() -> String {
    let forms: Vec<String> = SOURCES
        .iter()
        .map(|s| match s.naming {
            Naming::Downloaded => format!("{} (after `latentlab fetch`)", s.forms()),
            _ => s.forms(),
        })
        .collect();
    match forms.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => forms.join(""),
    }
}

/// The path forms (`idx:DIR, folder:DIR or csv:FILE`), for a hint where no dialog opens.
pub fn path_forms() -> String {
    let forms: Vec<String> = SOURCES
        .iter()
        .filter(|s| matches!(s.naming, Naming::Prefix { .. }))
        .map(DataSource::forms)
        .collect();
    match forms.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => forms.join(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{default_sizes, load_with_sizes, peek_shape};

    /// A spec naming `source`: its name, a downloaded set's name, or its prefix and a path.
    fn example(source: &DataSource) -> String {
        match source.naming {
            Naming::Builtin { name, .. } => name.to_string(),
            Naming::Downloaded => "fashion-mnist".to_string(),
            Naming::Prefix { prefix, .. } => format!("{prefix}:/no/such/path"),
        }
    }

    #[test]
    fn every_row_is_found_by_its_own_specs_and_listed_wherever_specs_are_listed() {
        let unknown = load_with_sizes("nonsense", 1, None)
            .unwrap_err()
            .to_string();
        let help = spec_help();
        for source in SOURCES {
            let spec = example(source);
            let (found, arg) = find(&spec).unwrap_or_else(|| panic!("{spec} is not found"));
            assert_eq!(found.label, source.label, "{spec} finds another row");
            assert!(spec.ends_with(arg), "{spec}: argument {arg}");
            let forms = source.forms();
            assert!(unknown.contains(&forms), "{forms} missing from: {unknown}");
            assert!(
                help.contains(&forms),
                "{forms} missing from the help: {help}"
            );
        }
        assert_eq!(
            unknown,
            "unknown data set 'nonsense': expected one of digits, shapes, sprites, \
             colour-sprites, moons, rings, blobs, mnist, fashion-mnist, kmnist, dsprites, \
             idx:DIR, folder:DIR, csv:FILE"
        );
        assert!(find("nonsense").is_none());
        assert!(find("zip:/a").is_none(), "an unknown prefix is no source");
    }

    #[test]
    fn built_in_rows_give_the_names_sizes_shapes_and_items() {
        let builtins: Vec<_> = SOURCES
            .iter()
            .filter_map(|s| match s.naming {
                Naming::Builtin { name, sizes, .. } => Some((name, sizes)),
                _ => None,
            })
            .collect();
        assert_eq!(
            BUILTIN_NAMES.to_vec(),
            builtins.iter().map(|b| b.0).collect::<Vec<_>>()
        );
        assert_eq!(
            BUILTIN_NAMES,
            [
                "digits",
                "shapes",
                "sprites",
                "colour-sprites",
                "moons",
                "rings",
                "blobs"
            ]
        );
        let tiny = Sizes { train: 6, test: 4 };
        for (name, sizes) in builtins {
            assert_eq!(default_sizes(name), Some(sizes), "{name}");
            let ds = load_with_sizes(name, 1, Some(tiny)).unwrap();
            assert_eq!((ds.train.len(), ds.test.len()), (6, 4), "{name}");
            assert_eq!(peek_shape(name).unwrap(), Some(ds.shape), "{name}");
            assert_eq!(ds.name, name);
        }
        assert_eq!(default_sizes("digits").map(|s| s.train), Some(60_000));
        assert_eq!(default_sizes("mnist"), None);
    }

    #[test]
    fn the_file_rows_are_what_dialogs_open_with_their_filters() {
        let rows: Vec<_> = file_sources().collect();
        let prefixes: Vec<_> = rows.iter().map(|r| r.0).collect();
        assert_eq!(prefixes, ["idx", "folder", "csv"]);
        for (prefix, label, pick) in rows {
            let row = with_prefix(prefix).unwrap();
            assert_eq!(row.label, label);
            assert!(matches!(row.naming, Naming::Prefix { pick: p, .. } if p == pick));
        }
        assert_eq!(
            with_prefix("csv").map(|s| s.naming),
            Some(Naming::Prefix {
                prefix: "csv",
                arg: "FILE",
                pick: Pick::File {
                    filter: "CSV",
                    extensions: &["csv", "txt"]
                }
            })
        );
        assert_eq!(path_forms(), "idx:DIR, folder:DIR or csv:FILE");
        // A file row loads through its own loader: the error names the path it was given.
        let err = load_with_sizes("csv:/no/such/file.csv", 1, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/no/such/file.csv"), "{err}");
    }
}
