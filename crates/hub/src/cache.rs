//! The cache: where fetched files live, and the checksum record that makes a later run trust
//! them without asking the network.

use std::path::{Path, PathBuf};

use crate::digest::sha256_file;
use crate::error::FetchError;

/// `$BONESEG_CACHE`, else `$XDG_CACHE_HOME/boneseg`, else `$HOME/.cache/boneseg` (the XDG
/// default), else a folder in the system's temporary directory.
pub fn default_cache_root() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("BONESEG_CACHE").unwrap_or_else(|| {
        var("XDG_CACHE_HOME")
            .or_else(|| var("HOME").map(|home| home.join(".cache")))
            .unwrap_or_else(std::env::temp_dir)
            .join("boneseg")
    })
}

/// What the cache holds at a path.
#[derive(Debug, PartialEq, Eq)]
pub enum State {
    /// The file, with a record its bytes still match.
    Verified,
    /// A file without a record: put there by hand (as an offline error tells a user to).
    Placed,
    Absent,
}

/// The record beside `path`: `NAME.sha256`.
pub fn record_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256");
    path.with_file_name(name)
}

/// Where `path` stands. A file whose bytes no longer match its record (or `pinned`) is removed
/// with its record, so it is fetched again.
pub fn state(path: &Path, pinned: Option<&str>) -> Result<State, FetchError> {
    let io = |source| FetchError::Io { path: path.to_path_buf(), source };
    if !path.is_file() {
        return Ok(State::Absent);
    }
    let record = std::fs::read_to_string(record_path(path)).ok();
    let Some(recorded) = record.as_deref().and_then(|r| r.split_whitespace().next()) else {
        return Ok(State::Placed);
    };
    let actual = sha256_file(path).map_err(io)?;
    if actual == recorded && pinned.is_none_or(|pin| pin == actual) {
        return Ok(State::Verified);
    }
    std::fs::remove_file(path).map_err(io)?;
    let _ = std::fs::remove_file(record_path(path));
    Ok(State::Absent)
}

/// Writes the record of a verified file (under a temporary name, renamed).
pub fn record(path: &Path, sha256: &str) -> Result<(), FetchError> {
    let record = record_path(path);
    let partial = record.with_extension("sha256.partial");
    let io = |source| FetchError::Io { path: record.clone(), source };
    std::fs::write(
        &partial,
        format!("{sha256}  {}\n", path.file_name().unwrap_or_default().to_string_lossy()),
    )
    .map_err(io)?;
    std::fs::rename(&partial, &record).map_err(io)
}
