//! The winners' two-level ensemble in one small TOML: inside each group (one architecture, its
//! k folds) a soft vote over probability stores, then a hard vote across the groups' masks.
//!
//! ```toml
//! more_than = 1                 # groups that must agree, minus one (default: a strict majority)
//!
//! [[group]]
//! name = "unet-resnet34"
//! stores = ["probs/unet-f0", "probs/unet-f1", "probs/unet-f2"]   # relative to this file
//! weights = [1.0, 1.0, 2.0]     # default: all 1
//! skip_empty = true             # default: true (the team's choice)
//! threshold = 0.5               # or: thresholds = "runs/unet-f0/thresholds.toml"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::mean::MeanOptions;
use crate::thresholds::ClassThresholds;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipeFile {
    more_than: Option<usize>,
    group: Vec<GroupFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    name: String,
    stores: Vec<PathBuf>,
    weights: Option<Vec<f64>>,
    #[serde(default = "yes")]
    skip_empty: bool,
    threshold: Option<f64>,
    thresholds: Option<PathBuf>,
}

fn yes() -> bool {
    true
}

/// One soft-voting group.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub name: String,
    pub stores: Vec<PathBuf>,
    pub mean: MeanOptions,
    pub thresholds: ClassThresholds,
}

/// A parsed recipe, paths resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    pub groups: Vec<Group>,
    /// A pixel is kept when more than this many groups have it.
    pub more_than: usize,
}

impl Recipe {
    pub fn load(path: &Path) -> Result<Recipe, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Recipe::parse(&text, path.parent().unwrap_or(Path::new("")), &path.display().to_string())
    }

    /// Parses `text`; relative paths are taken from `base`; `what` names the file in errors.
    pub fn parse(text: &str, base: &Path, what: &str) -> Result<Recipe, String> {
        let file: RecipeFile = toml::from_str(text).map_err(|e| format!("{what}: {e}"))?;
        if file.group.is_empty() {
            return Err(format!("{what}: no [[group]]"));
        }
        let mut groups = Vec::new();
        for group in file.group {
            let problem = |p: &str| format!("{what}: group `{}`: {p}", group.name);
            if group.stores.is_empty() {
                return Err(problem("no stores"));
            }
            let weights = group.weights.unwrap_or_else(|| vec![1.0; group.stores.len()]);
            if weights.len() != group.stores.len() {
                return Err(problem(&format!("{} weights for {} stores", weights.len(), group.stores.len())));
            }
            let thresholds = match (group.threshold, &group.thresholds) {
                (Some(_), Some(_)) => return Err(problem("give `threshold` or `thresholds`, not both")),
                (_, Some(file)) => ClassThresholds::load(&base.join(file))?,
                (threshold, None) => ClassThresholds::uniform(threshold.unwrap_or(0.5)),
            };
            groups.push(Group {
                stores: group.stores.iter().map(|s| base.join(s)).collect(),
                mean: MeanOptions { weights, skip_empty: group.skip_empty },
                thresholds,
                name: group.name,
            });
        }
        let more_than = file.more_than.unwrap_or(crate::vote::majority(groups.len()));
        if more_than >= groups.len() {
            return Err(format!(
                "{what}: more_than = {more_than} can never be met by {} groups",
                groups.len()
            ));
        }
        Ok(Recipe { groups, more_than })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_groups_with_defaults_and_names_problems() {
        let text = r#"
[[group]]
name = "unet"
stores = ["a", "b"]
weights = [1.0, 2.0]
[[group]]
name = "fpn"
stores = ["c"]
threshold = 0.4
skip_empty = false
[[group]]
name = "segformer"
stores = ["d"]
"#;
        let recipe = Recipe::parse(text, Path::new("/x"), "r.toml").unwrap();
        assert_eq!(recipe.more_than, 1);
        assert_eq!(recipe.groups[0].stores, vec![PathBuf::from("/x/a"), PathBuf::from("/x/b")]);
        assert_eq!(recipe.groups[0].mean, MeanOptions { weights: vec![1.0, 2.0], skip_empty: true });
        assert_eq!(recipe.groups[1].thresholds, ClassThresholds::uniform(0.4));
        assert!(!recipe.groups[1].mean.skip_empty);
        let err = Recipe::parse(
            "[[group]]\nname = \"u\"\nstores = [\"a\"]\nweights = []\n",
            Path::new(""),
            "r.toml",
        )
        .unwrap_err();
        assert_eq!(err, "r.toml: group `u`: 0 weights for 1 stores");
        let err = Recipe::parse(
            "more_than = 1\n[[group]]\nname = \"u\"\nstores = [\"a\"]\n",
            Path::new(""),
            "r.toml",
        )
        .unwrap_err();
        assert!(err.contains("can never be met"), "{err}");
    }
}
