//! Why a checkpoint does not load into the model its run's config describes, in a few lines:
//! which model each side holds, then a handful of the tensors that differ. (The store's own
//! error lists every key of both sides: eleven thousand characters on one line for a U-Net.)

use std::collections::BTreeMap;
use std::path::Path;

use boneseg_models::burn::store::{BurnpackStore, ModuleSnapshot, ModuleStore};
use boneseg_models::{ModelConfig, SegmentationModel};

/// Tensors named per kind of difference, at most.
const EXAMPLES: usize = 3;

/// The explanation for `weights` (a checkpoint's `model.bpk`) failing to load into `model`,
/// built from `config` (the run's `[model]`).
pub fn explain(
    model: &SegmentationModel,
    config: &ModelConfig,
    weights: &Path,
    config_path: &Path,
) -> String {
    let describe = |m: &ModelConfig| format!("{} on {} with {} classes", m.arch, m.encoder, m.classes);
    let mut lines = vec![format!(
        "{}: this checkpoint does not fit the model that {} describes",
        weights.display(),
        config_path.display()
    )];
    match checkpoint_model(weights) {
        Some(held) => lines.push(format!(
            "the config says {}, the checkpoint holds {} tensors",
            describe(config),
            describe(&held)
        )),
        None => lines.push(format!("the config says {}", describe(config))),
    }
    if let Some(differences) = differences(model, weights) {
        lines.push(differences);
    }
    lines.push(format!(
        "put back the [model] the run was trained with in {}, or use the run this checkpoint belongs to",
        config_path.display()
    ));
    lines.join("\n")
}

/// The `[model]` a checkpoint records in its `state.json` (checkpoints written by boneseg 0.1
/// after the record was added; older ones have none).
fn checkpoint_model(weights: &Path) -> Option<ModelConfig> {
    let state = std::fs::read(weights.with_file_name("state.json")).ok()?;
    let state: serde_json::Value = serde_json::from_slice(&state).ok()?;
    serde_json::from_value(state.get("model")?.clone()).ok()
}

/// Counts of the tensors only the model has, only the file has, and both have in other shapes,
/// with a few names of each.
fn differences(model: &SegmentationModel, weights: &Path) -> Option<String> {
    let expected: BTreeMap<String, Vec<usize>> =
        model.collect(None, None, false).into_iter().map(|t| (t.name.clone(), t.shape.to_vec())).collect();
    let mut store = BurnpackStore::from_file(weights);
    let found: BTreeMap<String, Vec<usize>> =
        store.get_all_tensors().ok()?.iter().map(|(name, t)| (name.clone(), t.shape.to_vec())).collect();
    let missing: Vec<&String> = expected.keys().filter(|k| !found.contains_key(*k)).collect();
    let unused: Vec<&String> = found.keys().filter(|k| !expected.contains_key(*k)).collect();
    let reshaped: Vec<String> = expected
        .iter()
        .filter_map(|(name, shape)| {
            let other = found.get(name).filter(|other| *other != shape)?;
            Some(format!("{name} {other:?} in the file, {shape:?} in the model"))
        })
        .collect();
    let some = |names: Vec<String>| {
        let more = names.len().saturating_sub(EXAMPLES);
        let mut shown: Vec<String> = names.into_iter().take(EXAMPLES).collect();
        if more > 0 {
            shown.push(format!("{more} more"));
        }
        shown.join(", ")
    };
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "{} model tensors are not in the file ({})",
            missing.len(),
            some(names(&missing))
        ));
    }
    if !unused.is_empty() {
        parts.push(format!("{} file tensors are not in the model ({})", unused.len(), some(names(&unused))));
    }
    if !reshaped.is_empty() {
        parts.push(format!("{} tensors differ in shape ({})", reshaped.len(), some(reshaped)));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn names(keys: &[&String]) -> Vec<String> {
    keys.iter().map(|k| k.to_string()).collect()
}
