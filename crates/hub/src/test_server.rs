//! A hub on 127.0.0.1 for tests: serves files in Hugging Face's layout and answers the way it
//! does (an LFS file is a 302 to a blob URL carrying `X-Linked-Etag`/`X-Linked-Size`; a git file
//! a 200 with its blob id as `ETag`), honours range requests, and can lie about a checksum or cut
//! a connection mid-file. It counts every request, so a test can show a cache hit asked nothing.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// How a served file is stored on the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// Large files (weights): a redirect to the blob, sha256 stated.
    Lfs,
    /// Small files kept in git (config.json): served directly, blob sha1 as the ETag.
    Git,
    /// Anything else (a package index page, a wheel): served directly, no checksum stated.
    Plain,
}

#[derive(Debug, Clone)]
pub struct ServedFile {
    pub body: Vec<u8>,
    pub storage: Storage,
    /// A checksum to state instead of the true one (to test the refusal).
    pub stated_sha256: Option<String>,
}

#[derive(Default)]
struct State {
    files: HashMap<String, ServedFile>,
    /// Close the connection after this many body bytes, on the next body sent (once).
    cut_after: Option<u64>,
    requests: Vec<String>,
}

/// The running server; stopped when dropped.
pub struct TestHub {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestHub {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        let endpoint = format!("http://{}", listener.local_addr().expect("bound"));
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let state = state.clone();
                        std::thread::spawn(move || serve(stream, &state));
                    }
                }
            })
        };
        TestHub { endpoint, state, stop, thread: Some(thread) }
    }

    /// A [`Hub`](crate::Hub) that fetches from this server into `cache`, online and silent.
    pub fn hub(&self, cache: &std::path::Path) -> crate::Hub {
        crate::Hub {
            endpoint: self.endpoint.clone(),
            cache: cache.to_path_buf(),
            offline: false,
            progress: crate::ProgressMode::Silent,
            pypi_index: format!("{}/simple", self.endpoint),
        }
    }

    /// Serves `body` as `repo`'s `file` at `revision`.
    pub fn add(&self, repo: &str, revision: &str, file: &str, body: Vec<u8>, storage: Storage) {
        let path = format!("/{repo}/resolve/{revision}/{file}");
        self.state.lock().unwrap().files.insert(path, ServedFile { body, storage, stated_sha256: None });
    }

    /// Serves `body` at `path` (e.g. `/simple/package/`), stating no checksum.
    pub fn add_path(&self, path: &str, body: Vec<u8>) {
        let file = ServedFile { body, storage: Storage::Plain, stated_sha256: None };
        self.state.lock().unwrap().files.insert(path.to_string(), file);
    }

    /// States `sha256` for every LFS file from now on, whatever their bytes.
    pub fn lie_about_checksums(&self, sha256: &str) {
        for file in self.state.lock().unwrap().files.values_mut() {
            file.stated_sha256 = Some(sha256.to_string());
        }
    }

    /// Cuts the next body after `bytes` bytes.
    pub fn cut_next_body_after(&self, bytes: u64) {
        self.state.lock().unwrap().cut_after = Some(bytes);
    }

    /// Every request so far: `GET /path` with ` range=START-` when it asked for a range.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().expect("a clonable socket"));
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) =
            (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().to_string());
        let mut range_start = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("range")
            {
                range_start = value
                    .trim()
                    .strip_prefix("bytes=")
                    .and_then(|r| r.trim_end_matches('-').parse::<u64>().ok());
            }
        }
        let keep_open = respond(&mut writer, state, &method, &target, range_start);
        if !keep_open {
            return;
        }
    }
}

/// Writes one answer; false when the connection must close (a cut, or an error).
fn respond(
    out: &mut TcpStream,
    state: &Mutex<State>,
    method: &str,
    target: &str,
    range_start: Option<u64>,
) -> bool {
    let mut state = state.lock().unwrap();
    let range_note = range_start.map_or(String::new(), |s| format!(" range={s}-"));
    state.requests.push(format!("{method} {target}{range_note}"));
    let blob = target.strip_prefix("/blobs/").map(str::to_string);
    let file = match &blob {
        Some(sha) => state.files.values().find(|f| hex(&Sha256::digest(&f.body)) == *sha).cloned(),
        None => state.files.get(target).cloned(),
    };
    let Some(file) = file else {
        return write_head(out, "404 Not Found", &[("Content-Length", "0".into())]);
    };
    let sha256 = hex(&Sha256::digest(&file.body));
    if blob.is_none() && file.storage == Storage::Lfs {
        let stated = file.stated_sha256.clone().unwrap_or_else(|| sha256.clone());
        return write_head(
            out,
            "302 Found",
            &[
                ("Location", format!("/blobs/{sha256}")),
                ("X-Linked-Etag", format!("\"{stated}\"")),
                ("X-Linked-Size", file.body.len().to_string()),
                ("X-Repo-Commit", "0".repeat(40)),
                ("ETag", format!("\"{stated}\"")),
                ("Content-Length", "0".into()),
            ],
        );
    }
    let total = file.body.len() as u64;
    let start = range_start.unwrap_or(0).min(total);
    let mut headers =
        vec![("Content-Length", (total - start).to_string()), ("Accept-Ranges", "bytes".into())];
    if file.storage == Storage::Git {
        let mut hasher = Sha1::new();
        hasher.update(format!("blob {total}\0").as_bytes());
        hasher.update(&file.body);
        headers.push(("ETag", format!("\"{}\"", hex(&hasher.finalize()))));
        headers.push(("X-Repo-Commit", "0".repeat(40)));
    }
    let status = if range_start.is_some() {
        headers.push(("Content-Range", format!("bytes {start}-{}/{total}", total.saturating_sub(1))));
        "206 Partial Content"
    } else {
        "200 OK"
    };
    if !write_head(out, status, &headers) || method == "HEAD" {
        return method == "HEAD";
    }
    let body = &file.body[start as usize..];
    match state.cut_after.take() {
        Some(cut) => {
            let _ = out.write_all(&body[..(cut as usize).min(body.len())]);
            let _ = out.flush();
            let _ = out.shutdown(std::net::Shutdown::Both);
            false
        }
        None => out.write_all(body).and_then(|()| out.flush()).is_ok(),
    }
}

fn write_head(out: &mut TcpStream, status: &str, headers: &[(&str, String)]) -> bool {
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes()).and_then(|()| out.flush()).is_ok()
}
