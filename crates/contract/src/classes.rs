//! The 29 bone classes in their fixed order: channel order of every mask and logit tensor, and
//! row order of every image's block in the submission.

/// Number of classes (channels) in every mask.
pub const NUM_CLASSES: usize = 29;

/// Class names exactly as they appear in the annotation files and the submission CSV.
///
/// The 19 finger classes count from the thumb, each finger from the tip down: thumb distal,
/// proximal, metacarpal (1-3); index distal, middle, proximal, metacarpal (4-7); then the middle
/// (8-11), ring (12-15) and little (16-19) fingers. Then the 8 carpals, radius and ulna.
pub const CLASSES: [&str; NUM_CLASSES] = [
    "finger-1",
    "finger-2",
    "finger-3",
    "finger-4",
    "finger-5",
    "finger-6",
    "finger-7",
    "finger-8",
    "finger-9",
    "finger-10",
    "finger-11",
    "finger-12",
    "finger-13",
    "finger-14",
    "finger-15",
    "finger-16",
    "finger-17",
    "finger-18",
    "finger-19",
    "Trapezium",
    "Trapezoid",
    "Capitate",
    "Hamate",
    "Scaphoid",
    "Lunate",
    "Triquetrum",
    "Pisiform",
    "Radius",
    "Ulna",
];

/// The channel of a class name (exact, case-sensitive match, as the reference code does).
pub fn class_index(name: &str) -> Option<usize> {
    CLASSES.iter().position(|&c| c == name)
}

/// Named groups of classes a config may use where it lists classes.
pub const CLASS_GROUPS: [(&str, std::ops::Range<usize>); 2] = [("fingers", 0..19), ("carpals", 19..27)];

/// The channels of a list of class names and group names (`"carpals"`: Trapezium ...
/// Pisiform; `"fingers"`: finger-1 ... finger-19), in class order without repeats; an unknown
/// name is an error that lists what is known.
pub fn class_set(names: &[String]) -> Result<Vec<usize>, String> {
    let mut chosen = [false; NUM_CLASSES];
    for name in names {
        match (class_index(name), CLASS_GROUPS.iter().find(|(group, _)| group == name)) {
            (Some(class), _) => chosen[class] = true,
            (None, Some((_, range))) => range.clone().for_each(|class| chosen[class] = true),
            (None, None) => {
                let groups: Vec<&str> = CLASS_GROUPS.iter().map(|(group, _)| *group).collect();
                return Err(format!(
                    "unknown class `{name}`: use a class name (finger-1 ... finger-19, Trapezium, ..., Ulna, case as written) or a group ({})",
                    groups.join(", ")
                ));
            }
        }
    }
    Ok((0..NUM_CLASSES).filter(|&class| chosen[class]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_sets_take_names_and_groups() {
        let names = |list: &[&str]| class_set(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let carpals = names(&["carpals"]).unwrap();
        assert_eq!((CLASSES[carpals[0]], CLASSES[carpals[7]]), ("Trapezium", "Pisiform"));
        assert_eq!(carpals.len(), 8);
        assert_eq!(names(&["Pisiform", "finger-16", "Pisiform"]).unwrap(), [15, 26]);
        assert_eq!(names(&["fingers"]).unwrap().len(), 19);
        let error = names(&["pisiform"]).unwrap_err();
        assert!(error.contains("unknown class `pisiform`") && error.contains("carpals"), "{error}");
    }

    #[test]
    fn names_are_unique_and_indexed_in_order() {
        for (i, name) in CLASSES.iter().enumerate() {
            assert_eq!(class_index(name), Some(i));
        }
        assert_eq!(class_index("finger-20"), None);
        assert_eq!(class_index("radius"), None, "names are case-sensitive");
    }
}
