//! Exclusive, process-long locks on a file: the operating system's advisory lock (`flock` on
//! Unix), which the kernel drops when the process ends however it ends, `kill -9` included, so
//! a crash never leaves a stale lock. The holder writes its process id into the file, so that
//! whoever finds it taken can say who holds it.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct LockFile {
    _file: File,
    path: PathBuf,
}

impl LockFile {
    /// Takes the lock on `path` (created if needed) at once, or says who holds it: `Ok(Err(holder))`
    /// with the holder's process id as text (empty while the holder is between locking and
    /// writing it).
    pub fn try_acquire(path: &Path) -> io::Result<Result<LockFile, String>> {
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(named)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Ok(Err(holder.trim().to_string()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(named(e)),
        }
        file.set_len(0).map_err(named)?;
        file.rewind().map_err(named)?;
        writeln!(file, "{}", std::process::id()).map_err(named)?;
        file.flush().map_err(named)?;
        Ok(Ok(LockFile { _file: file, path: path.to_path_buf() }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// How a holder's process id reads in a message.
pub fn describe_holder(holder: &str) -> String {
    match holder {
        "" => "a process that has not written its id yet".to_string(),
        pid => format!("pid {pid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = LockFile::try_acquire(&path).unwrap().unwrap();
        let holder = LockFile::try_acquire(&path).unwrap().unwrap_err();
        assert_eq!(holder, std::process::id().to_string());
        assert_eq!(describe_holder(&holder), format!("pid {}", std::process::id()));
        drop(first);
        LockFile::try_acquire(&path).unwrap().expect("free once its holder is gone");
    }
}
