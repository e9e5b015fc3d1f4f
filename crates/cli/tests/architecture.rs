//! The layering of ARCHITECTURE.md, enforced: each crate's `[dependencies]` on other boneseg
//! crates stay within the crates below it in the pipeline, and only the crates that hold tensors
//! (kernels, models, infer, train and the CLI) reach burn, directly or through another crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each crate and the boneseg crates it may depend on (normal dependencies; tests and benches
/// may use more).
const ALLOWED: &[(&str, &[&str])] = &[
    ("workspace-hack", &[]),
    ("contract", &[]),
    ("ledger", &[]),
    ("hub", &[]),
    ("data", &["contract"]),
    ("phantom", &["contract", "data"]),
    ("augment", &["contract", "data"]),
    ("ensemble", &["contract"]),
    ("report", &["contract", "data", "augment"]),
    ("fuzz", &["contract", "data", "ensemble"]),
    ("kernels", &[]),
    ("models", &["contract", "hub", "kernels"]),
    ("infer", &["contract", "data", "ensemble", "ledger", "models"]),
    (
        "train",
        &[
            "contract", "data", "augment", "ensemble", "hub", "infer", "kernels", "ledger", "models",
            "phantom",
        ],
    ),
    (
        "cli",
        &[
            "contract", "data", "phantom", "augment", "ensemble", "report", "ledger", "hub", "kernels",
            "models", "infer", "train",
        ],
    ),
];

/// The feature pins under every crate (crates/workspace-hack): a dependency of each of them, so
/// that a build of any selection of crates compiles the shared third-party crates once.
const PINS: &str = "workspace-hack";

/// The crates that may hold burn tensors.
const WITH_BURN: &[&str] = &["kernels", "models", "infer", "train", "cli"];

/// Per crate folder: its boneseg dependencies (folder names) and whether it names burn itself.
fn workspace() -> BTreeMap<String, (BTreeSet<String>, bool)> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        let table: toml::Table =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        let folder = manifest.parent().unwrap().file_name().unwrap().to_string_lossy().to_string();
        let dependencies = table.get("dependencies").and_then(|d| d.as_table()).cloned().unwrap_or_default();
        let boneseg: BTreeSet<String> = dependencies
            .keys()
            .filter_map(|name| name.strip_prefix("boneseg-"))
            .map(str::to_string)
            .collect();
        graph.insert(folder, (boneseg, dependencies.contains_key("burn")));
    }
    graph
}

#[test]
fn every_crate_depends_only_on_the_crates_below_it() {
    let graph = workspace();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    for (name, (dependencies, _)) in &graph {
        let Some(permitted) = allowed.get(name.as_str()) else {
            panic!("crates/{name} is not in ARCHITECTURE.md's layering (add it there and to ALLOWED here)");
        };
        let outside: Vec<&String> =
            dependencies.iter().filter(|d| *d != PINS && !permitted.contains(&d.as_str())).collect();
        assert!(outside.is_empty(), "crates/{name} depends on {outside:?}, above it in the pipeline");
    }
    assert_eq!(graph.len(), ALLOWED.len(), "every crate of ALLOWED exists under crates/");
}

#[test]
fn every_crate_depends_on_the_feature_pins() {
    for (name, (dependencies, _)) in workspace() {
        assert!(
            name == PINS || dependencies.contains(PINS),
            "crates/{name}: add `boneseg-{PINS}.workspace = true` to its [dependencies]"
        );
    }
}

#[test]
fn only_the_tensor_crates_reach_burn() {
    let graph = workspace();
    let reaches_burn = |start: &str| {
        let mut stack = vec![start.to_string()];
        let mut seen = BTreeSet::new();
        while let Some(name) = stack.pop() {
            let (dependencies, names_burn) = &graph[&name];
            if *names_burn {
                return true;
            }
            stack.extend(dependencies.iter().filter(|d| seen.insert((*d).clone())).cloned());
        }
        false
    };
    for name in graph.keys() {
        assert_eq!(
            reaches_burn(name),
            WITH_BURN.contains(&name.as_str()),
            "crates/{name}: depends on burn {}",
            if reaches_burn(name) { "but must not" } else { "nowhere, yet is listed as a tensor crate" }
        );
    }
}
