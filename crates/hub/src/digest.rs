//! The checksums a hub states for its files, and computing them over a file.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// A checksum a file must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// sha256 of the bytes: what Hugging Face states for LFS files (`X-Linked-Etag`) and what
    /// our table pins.
    Sha256(String),
    /// git's blob id, `sha1("blob <size>\0" + bytes)`: Hugging Face's `ETag` of a small file kept
    /// in git itself (`config.json`).
    GitBlobSha1(String),
}

impl Checksum {
    /// The checksum an `ETag`/`X-Linked-Etag` header carries, if it is one (weak marker and
    /// quotes removed; 64 hex digits are a sha256, 40 a git blob id).
    pub fn from_etag(etag: &str) -> Option<Checksum> {
        let value = etag.trim().trim_start_matches("W/").trim_matches('"').to_ascii_lowercase();
        if !value.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        match value.len() {
            64 => Some(Checksum::Sha256(value)),
            40 => Some(Checksum::GitBlobSha1(value)),
            _ => None,
        }
    }

    pub fn algorithm(&self) -> &'static str {
        match self {
            Checksum::Sha256(_) => "sha256",
            Checksum::GitBlobSha1(_) => "git blob sha1",
        }
    }

    pub fn expected(&self) -> &str {
        match self {
            Checksum::Sha256(hex) | Checksum::GitBlobSha1(hex) => hex,
        }
    }

    /// This kind of checksum of the file at `path`.
    pub fn compute(&self, path: &Path) -> io::Result<String> {
        match self {
            Checksum::Sha256(_) => sha256_file(path),
            Checksum::GitBlobSha1(_) => {
                let size = std::fs::metadata(path)?.len();
                let mut hasher = Sha1::new();
                hasher.update(format!("blob {size}\0").as_bytes());
                hash_file(path, |chunk| hasher.update(chunk))?;
                Ok(hex(&hasher.finalize()))
            }
        }
    }
}

/// The sha256 of a file, in lower-case hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut hasher = Sha256::new();
    hash_file(path, |chunk| hasher.update(chunk))?;
    Ok(hex(&hasher.finalize()))
}

fn hash_file(path: &Path, mut update: impl FnMut(&[u8])) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(());
        }
        update(&buffer[..read]);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_name_their_algorithm() {
        let sha = "a".repeat(64);
        assert_eq!(Checksum::from_etag(&format!("\"{sha}\"")), Some(Checksum::Sha256(sha)));
        let blob = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(Checksum::from_etag(&format!("W/\"{blob}\"")), Some(Checksum::GitBlobSha1(blob.into())));
        assert_eq!(Checksum::from_etag("\"abc-123\""), None);
    }

    #[test]
    fn git_blob_ids_match_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hello");
        std::fs::write(&path, b"hello\n").unwrap();
        let id = Checksum::GitBlobSha1(String::new()).compute(&path).unwrap();
        assert_eq!(id, "ce013625030ba8dba906f756967f9e9ca394464a");
        assert_eq!(
            sha256_file(&path).unwrap(),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
    }
}
