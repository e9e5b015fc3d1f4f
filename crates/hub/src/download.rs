//! One file over HTTP(S) into the cache: redirects followed by hand (the hub states a file's
//! checksum on its first answer, before it sends the client to its CDN), a partial file resumed
//! with a range request, the whole checked before it is renamed into place.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cache;
use crate::digest::Checksum;
use crate::error::FetchError;
use crate::progress::ProgressMode;

const MAX_REDIRECTS: usize = 10;

/// What the hub says about a file on its way to the bytes.
#[derive(Debug, Default)]
struct Stated {
    checksum: Option<Checksum>,
    size: Option<u64>,
}

/// Downloads `url` to `dest` (its folder is created), checked against `pinned` (a sha256) when
/// given, else against the checksum the server states; returns the file's sha256.
pub fn download(
    url: &str,
    dest: &Path,
    pinned: Option<&str>,
    progress: ProgressMode,
) -> Result<String, FetchError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FetchError::Io { path, source }
    };
    let folder = dest.parent().expect("cache paths have a folder");
    std::fs::create_dir_all(folder).map_err(io(folder))?;
    let partial = partial_path(dest);
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(false)
        .open(&partial)
        .map_err(io(&partial))?;
    // Two processes fetching the same file: the second waits for the first, then finds it done.
    file.lock().map_err(io(&partial))?;
    if let cache::State::Verified = cache::state(dest, pinned)? {
        return std::fs::read_to_string(cache::record_path(dest))
            .map(|r| r.split_whitespace().next().unwrap_or_default().to_string())
            .map_err(io(dest));
    }
    let mut offset = file.metadata().map_err(io(&partial))?.len();

    let agent = agent(0);
    let network = |source: ureq::Error| FetchError::Network {
        url: url.to_string(),
        path: dest.to_path_buf(),
        source: Box::new(source),
    };
    let mut stated = Stated::default();
    let mut current = url.to_string();
    let mut redirects = 0;
    let response = loop {
        let mut request = agent.get(&current);
        if offset > 0 {
            request = request.header("Range", format!("bytes={offset}-"));
        }
        let response = request.call().map_err(network)?;
        let status = response.status().as_u16();
        let header =
            |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        if stated.checksum.is_none() {
            stated.checksum = header("x-linked-etag").as_deref().and_then(Checksum::from_etag);
        }
        if stated.size.is_none() {
            stated.size = header("x-linked-size").and_then(|s| s.parse().ok());
        }
        match status {
            300..=399 if redirects < MAX_REDIRECTS => {
                let location = header("location").ok_or_else(|| FetchError::Status {
                    url: current.clone(),
                    status,
                    path: dest.to_path_buf(),
                })?;
                current = join(&current, &location);
                redirects += 1;
            }
            200 => {
                if stated.checksum.is_none() {
                    stated.checksum = header("etag").as_deref().and_then(Checksum::from_etag);
                }
                if stated.size.is_none() {
                    stated.size = header("content-length").and_then(|s| s.parse().ok());
                }
                // The server sends the whole file: what was kept goes.
                if offset > 0 {
                    file.set_len(0).map_err(io(&partial))?;
                    offset = 0;
                }
                break response;
            }
            206 => {
                let range = header("content-range").unwrap_or_default();
                if range_start(&range) != Some(offset) {
                    file.set_len(0).map_err(io(&partial))?;
                    offset = 0;
                    continue;
                }
                if stated.size.is_none() {
                    stated.size = range.rsplit('/').next().and_then(|s| s.parse().ok());
                }
                break response;
            }
            // A partial file as long as (or longer than) the whole: start again.
            416 if offset > 0 => {
                file.set_len(0).map_err(io(&partial))?;
                offset = 0;
            }
            _ => return Err(FetchError::Status { url: current, status, path: dest.to_path_buf() }),
        }
    };

    let received = copy_body(response, &mut file, offset, &stated, url, &partial, progress)?;
    file.sync_all().map_err(io(&partial))?;
    let discard = |error: FetchError| {
        let _ = std::fs::remove_file(&partial);
        error
    };
    if let Some(expected) = stated.size.filter(|&size| size != received) {
        return Err(discard(FetchError::Size { url: url.to_string(), expected, actual: received }));
    }
    let sha256 = crate::digest::sha256_file(&partial).map_err(io(&partial))?;
    let wanted = match pinned {
        Some(pin) => Some(Checksum::Sha256(pin.to_string())),
        None => stated.checksum,
    };
    if let Some(checksum) = wanted {
        let actual = match &checksum {
            Checksum::Sha256(_) => sha256.clone(),
            other => other.compute(&partial).map_err(io(&partial))?,
        };
        if actual != checksum.expected() {
            return Err(discard(FetchError::Checksum {
                url: url.to_string(),
                algorithm: checksum.algorithm(),
                expected: checksum.expected().to_string(),
                actual,
            }));
        }
    }
    std::fs::rename(&partial, dest).map_err(io(dest))?;
    cache::record(dest, &sha256)?;
    Ok(sha256)
}

/// The HTTP client: rustls checking certificates against the platform's trust store (so that
/// a proxy whose CA the machine trusts works, and `SSL_CERT_FILE` is honoured), our user agent,
/// bounded waits; `redirects` followed by ureq itself (0 where the hub's first answer must be
/// read).
fn agent(redirects: u32) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build();
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .tls_config(tls)
            .max_redirects(redirects)
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .user_agent(concat!("boneseg/", env!("CARGO_PKG_VERSION")))
            .build(),
    )
}

/// A small text document (a package index page); `dest` is the file it leads to, named in
/// the errors so that a user without a network knows where to put it.
pub fn get_text(url: &str, dest: &Path) -> Result<String, FetchError> {
    let network = |source: ureq::Error| FetchError::Network {
        url: url.to_string(),
        path: dest.to_path_buf(),
        source: Box::new(source),
    };
    let mut response = agent(MAX_REDIRECTS as u32).get(url).call().map_err(network)?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(FetchError::Status { url: url.to_string(), status, path: dest.to_path_buf() });
    }
    response.body_mut().read_to_string().map_err(network)
}

/// `NAME.partial` beside `dest`.
pub fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dest.with_file_name(name)
}

/// Appends the body to `file` (positioned after `offset` bytes); the bytes in the file after it.
fn copy_body(
    response: ureq::http::Response<ureq::Body>,
    file: &mut File,
    offset: u64,
    stated: &Stated,
    url: &str,
    partial: &Path,
    progress: ProgressMode,
) -> Result<u64, FetchError> {
    use std::io::{Seek, SeekFrom};
    let io = |source| FetchError::Io { path: partial.to_path_buf(), source };
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    let bar = progress.start(url, stated.size, offset);
    let mut reader = response.into_body().into_reader();
    let mut buffer = vec![0u8; 1 << 16];
    let mut received = offset;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(source) => {
                bar.finish();
                let _ = file.sync_all();
                return Err(FetchError::Interrupted {
                    url: url.to_string(),
                    received,
                    total: stated.size.map_or("?".to_string(), |s| s.to_string()),
                    partial: partial.to_path_buf(),
                    source,
                });
            }
        };
        file.write_all(&buffer[..read]).map_err(io)?;
        received += read as u64;
        bar.advance(read as u64);
    }
    bar.finish();
    Ok(received)
}

/// `bytes START-END/TOTAL` -> START.
fn range_start(content_range: &str) -> Option<u64> {
    content_range.strip_prefix("bytes ")?.split('-').next()?.trim().parse().ok()
}

/// A `Location` (or a link) against the URL it came from: absolute, host-relative (`/path`) or
/// relative, with `.` and `..` segments resolved as RFC 3986 says.
pub fn join(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let (origin, base_path) = base.split_at(host_end);
    let path = if location.starts_with('/') {
        location.to_string()
    } else {
        let folder = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        format!("{}{location}", if folder.is_empty() { "/" } else { folder })
    };
    format!("{origin}{}", remove_dot_segments(&path))
}

/// `/a/./b` -> `/a/b`, `/a/b/../c` -> `/a/c`; `..` never climbs above the root.
fn remove_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len() - 1;
    let mut kept: Vec<&str> = Vec::with_capacity(segments.len());
    for (i, &segment) in segments.iter().enumerate() {
        match segment {
            "." | ".." => {
                if segment == ".." && kept.len() > 1 {
                    kept.pop();
                }
                // A path ending in `.` or `..` names a folder: keep its trailing slash.
                if i == last {
                    kept.push("");
                }
            }
            other => kept.push(other),
        }
    }
    kept.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_as_browsers_do() {
        let base = "http://127.0.0.1:8000/smp-hub/r.imagenet/resolve/abc/model.safetensors";
        assert_eq!(join(base, "https://cdn.example/x"), "https://cdn.example/x");
        assert_eq!(join(base, "/blobs/123"), "http://127.0.0.1:8000/blobs/123");
        assert_eq!(join(base, "other.bin"), "http://127.0.0.1:8000/smp-hub/r.imagenet/resolve/abc/other.bin");
        assert_eq!(join("http://h:1/simple/a/", "../../files/w.whl"), "http://h:1/files/w.whl");
        assert_eq!(join("http://h:1/simple/a/", "./w.whl"), "http://h:1/simple/a/w.whl");
        assert_eq!(join("http://h:1", "w.whl"), "http://h:1/w.whl");
        assert_eq!(join("http://h:1/a", "../../../w.whl"), "http://h:1/w.whl");
    }

    #[test]
    fn content_ranges_give_their_start() {
        assert_eq!(range_start("bytes 100-199/200"), Some(100));
        assert_eq!(range_start("items 1-2"), None);
    }
}
