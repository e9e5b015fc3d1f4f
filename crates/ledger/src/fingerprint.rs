//! A short, stable name for a dataset's content, so two runs can be seen to use the same data.

use std::path::Path;

use sha2::{Digest, Sha256};

/// SHA-256 (first 16 hex digits) over every file under `roots`, in sorted relative-path order:
/// the path and size of each file, and the full content of small files (labels, tables,
/// submissions: up to 16 MiB). Images are covered by name and size only, which keeps a
/// 2048² dataset's fingerprint to a directory walk; a root that is a file counts as one file.
pub fn fingerprint(roots: &[&Path]) -> std::io::Result<String> {
    const CONTENT_LIMIT: u64 = 16 << 20;
    let mut hasher = Sha256::new();
    for root in roots {
        let mut files = Vec::new();
        walk(root, root, &mut files)?;
        files.sort();
        for (rel, path) in files {
            let size = std::fs::metadata(&path)?.len();
            hasher.update(rel.as_bytes());
            hasher.update(size.to_le_bytes());
            let is_image = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
            if !is_image && size <= CONTENT_LIMIT {
                hasher.update(std::fs::read(&path)?);
            }
        }
    }
    Ok(hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect())
}

fn walk(root: &Path, at: &Path, out: &mut Vec<(String, std::path::PathBuf)>) -> std::io::Result<()> {
    if at.is_file() {
        let name = at.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let rel = at.strip_prefix(root).ok().filter(|r| !r.as_os_str().is_empty());
        out.push((rel.map_or(name, |r| r.to_string_lossy().replace('\\', "/")), at.to_path_buf()));
        return Ok(());
    }
    for entry in
        std::fs::read_dir(at).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", at.display())))?
    {
        let entry = entry?;
        if !entry.file_name().to_string_lossy().starts_with('.') {
            walk(root, &entry.path(), out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_and_names_change_the_fingerprint_order_does_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/x.json"), "1").unwrap();
        std::fs::write(dir.path().join("b.json"), "2").unwrap();
        let first = fingerprint(&[dir.path()]).unwrap();
        assert_eq!(first.len(), 16);
        assert_eq!(fingerprint(&[dir.path()]).unwrap(), first);
        std::fs::write(dir.path().join("a/x.json"), "3").unwrap();
        let changed = fingerprint(&[dir.path()]).unwrap();
        assert_ne!(changed, first);
        std::fs::write(dir.path().join(".hidden"), "x").unwrap();
        assert_eq!(fingerprint(&[dir.path()]).unwrap(), changed, "hidden files are not data");
    }
}
