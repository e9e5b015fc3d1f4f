//! Person ids: the `IDxxx` folder that holds both hands of one person.

use std::fmt;
use std::str::FromStr;

/// A person, parsed from its folder name (`ID001`) or from the meta table's integer `ID` column.
///
/// Both images of a person must always land in the same fold, so splits group by this id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonId(pub u32);

impl fmt::Display for PersonId {
    /// Formats as the competition's folder name: `ID` and at least three digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ID{:03}", self.0)
    }
}

/// Why a folder name is not a person id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a person folder name: expected `ID` followed by digits, like `ID001`")]
pub struct PersonIdError(pub String);

impl FromStr for PersonId {
    type Err = PersonIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s
            .strip_prefix("ID")
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| PersonIdError(s.to_string()))?;
        digits.parse().map(PersonId).map_err(|_| PersonIdError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_folder_names() {
        assert_eq!("ID001".parse(), Ok(PersonId(1)));
        assert_eq!("ID1234".parse(), Ok(PersonId(1234)));
        assert_eq!(PersonId(7).to_string(), "ID007");
        assert_eq!(PersonId(1234).to_string(), "ID1234");
    }

    #[test]
    fn rejects_other_names() {
        for bad in ["", "ID", "id001", "ID12x", "ID-01", "X001", "ID 01"] {
            assert!(bad.parse::<PersonId>().is_err(), "{bad:?} should be rejected");
        }
    }
}
