//! Pretrained starts: `encoder_weights = "imagenet"` against a hub on 127.0.0.1 serving files in
//! SMP's layout, and every way of passing `model.weights` either loading all it should or
//! stopping with an error that lists the keys.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use boneseg_hub::test_server::{Storage, TestHub};
use boneseg_models::burn::store::bridge::to_data;
use boneseg_models::encoders::Encoder;
use boneseg_models::normalization::IMAGENET;
use boneseg_models::pretrained::{Source, load_encoder_weights, lookup};
use boneseg_models::weights::{
    PackTensor, WeightsError, load_start_weights, save_burnpack, state_dict, synthetic_state_dict,
};
use boneseg_models::{EncoderName, ModelSpec, SegmentationModel};
use burn::tensor::Device;

fn model(arch: &str, encoder: &str) -> SegmentationModel {
    let spec = ModelSpec::new(arch.parse().unwrap(), encoder.parse().unwrap(), 29).unwrap();
    SegmentationModel::new(spec, &Device::flex())
}

fn values(tensor: &PackTensor) -> Vec<f32> {
    to_data(tensor).unwrap().convert::<f32>().try_into_vec::<f32>().unwrap()
}

fn safetensors_bytes(tensors: &[PackTensor]) -> Vec<u8> {
    boneseg_models::weights::safetensors_bytes(tensors).unwrap()
}

/// The encoder's synthetic state dict as SMP-hub files hold it: SMP's keys plus the ImageNet
/// classifier (`fc`) that SMP drops on loading.
fn hub_weights(encoder: &str) -> Vec<PackTensor> {
    let name: EncoderName = encoder.parse().unwrap();
    let mut tensors = synthetic_state_dict(&Encoder::new(name, 32, &Device::flex()));
    let classifier = burn::tensor::TensorData::new(vec![0.25f32; 10 * 512], [10, 512]);
    tensors.push(burn::store::bridge::from_data(classifier, "fc.weight".into(), None));
    tensors
}

fn encoder_tensors(model: &SegmentationModel) -> BTreeMap<String, Vec<f32>> {
    state_dict(model)
        .iter()
        .filter_map(|t| t.name.strip_prefix("encoder.").map(|key| (key.to_string(), values(t))))
        .collect()
}

#[test]
fn imagenet_weights_load_every_served_tensor_and_bring_their_preprocessing() {
    let row = lookup("resnet18".parse().unwrap(), "imagenet").unwrap();
    let Source::Hub { repo, revision } = row.source else { panic!("resnet18 comes from the hub") };
    let served = hub_weights("resnet18");
    let server = TestHub::start();
    server.add(repo, revision, "model.safetensors", safetensors_bytes(&served), Storage::Lfs);
    let config = r#"{"input_space": "RGB", "input_range": [0, 1], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}"#;
    server.add(repo, revision, "config.json", config.as_bytes().to_vec(), Storage::Git);
    let cache = tempfile::tempdir().unwrap();
    let hub = server.hub(cache.path());

    let mut unet = model("unet", "resnet18");
    let (report, normalization) =
        load_encoder_weights(&mut unet, "resnet18".parse().unwrap(), "imagenet", &hub, false).unwrap();
    assert_eq!(normalization, IMAGENET);
    assert!(report.is_complete(), "{report:?}");
    let loaded = encoder_tensors(&unet);
    let expected: BTreeMap<String, Vec<f32>> =
        served.iter().filter(|t| !t.name.starts_with("fc.")).map(|t| (t.name.clone(), values(t))).collect();
    assert_eq!(loaded.len(), expected.len());
    for (key, values) in &expected {
        assert_eq!(loaded.get(key), Some(values), "{key}");
    }

    // A second model comes from the cache, asking nothing.
    let asked = server.requests().len();
    let mut fpn = model("fpn", "resnet18");
    load_encoder_weights(&mut fpn, "resnet18".parse().unwrap(), "imagenet", &hub, false).unwrap();
    assert_eq!(server.requests().len(), asked);
    assert_eq!(encoder_tensors(&fpn), loaded);
}

fn write(dir: &Path, name: &str, tensors: &[PackTensor]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, safetensors_bytes(tensors)).unwrap();
    path
}

#[test]
fn every_kind_of_weights_file_loads_whole_or_is_refused_with_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let served = hub_weights("resnet18");

    // An encoder alone (timm/torchvision/SMP-hub keys): goes under the encoder.
    let encoder_only = write(dir.path(), "resnet18.safetensors", &served);
    let mut unet = model("unet", "resnet18");
    let report = load_start_weights(&mut unet, &encoder_only, false).unwrap();
    assert_eq!(report.applied, served.len() - 1, "every tensor but the classifier");

    // A whole SMP model.
    let whole = write(dir.path(), "unet.safetensors", &synthetic_state_dict(&unet));
    let mut other = model("unet", "resnet18");
    let report = load_start_weights(&mut other, &whole, false).unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(
        state_dict(&other).len(),
        report.applied
            + state_dict(&other).iter().filter(|t| t.name.ends_with("num_batches_tracked")).count()
    );

    // An encoder from `boneseg weights import` (.bpk, burn's names).
    let bpk = dir.path().join("resnet18.bpk");
    save_burnpack(&Encoder::new("resnet18".parse().unwrap(), 32, &Device::flex()), &bpk).unwrap();
    let mut fresh = model("deeplabv3plus", "resnet18");
    let report = load_start_weights(&mut fresh, &bpk, false).unwrap();
    assert!(report.is_complete() && report.applied == 100, "resnet18's 100 tensors: {report:?}");

    // The wrong encoder: refused, with keys of both sides.
    let mut r34 = model("unet", "resnet34");
    let error = load_start_weights(&mut r34, &encoder_only, false).unwrap_err();
    assert!(matches!(error, WeightsError::Incomplete { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("layer1.2.bn1") && message.contains("allow-partial"), "{message}");
    // ... unless the user asks for what matches.
    let report = load_start_weights(&mut r34, &encoder_only, true).unwrap();
    assert!(report.applied > 0 && !report.missing.is_empty());

    // Nothing in common: refused even with allow_partial.
    let unrelated =
        burn::store::bridge::from_data(burn::tensor::TensorData::new(vec![1f32; 4], [4]), "w".into(), None);
    let stray = write(dir.path(), "stray.safetensors", &[unrelated]);
    let error = load_start_weights(&mut model("unet", "resnet18"), &stray, true).unwrap_err();
    assert!(
        matches!(error, WeightsError::NothingMatched { .. }) && error.to_string().contains("`w`")
            || error.to_string().contains("(w)"),
        "{error}"
    );
}

#[test]
fn a_checkpoint_model_bpk_loads_as_a_whole_model() {
    let dir = tempfile::tempdir().unwrap();
    let unet = model("unet", "resnet18");
    let path = dir.path().join("model.bpk");
    save_burnpack(&unet, &path).unwrap();
    let report = load_start_weights(&mut model("unet", "resnet18"), &path, false).unwrap();
    assert!(report.is_complete() && report.applied == 152, "every tensor of U-Net-ResNet18: {report:?}");
}

/// What SMP itself loads, from `tools/reference/pretrained_reference.py`: the same synthetic tensors served
/// from a local hub to `smp.create_model(..., encoder_weights="imagenet")`, each tensor's sha256.
#[test]
fn the_encoder_starts_from_the_tensors_smp_loads() {
    use sha2::{Digest, Sha256};
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pretrained");
    for (arch, name) in
        [("unetplusplus", "efficientnet-b5"), ("segformer", "mit_b0"), ("upernet", "tu-convnext_tiny")]
    {
        let fixture: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixtures.join(format!("{name}.json"))).unwrap())
                .unwrap();
        let encoder: EncoderName = name.parse().unwrap();
        let Source::Hub { repo, revision } = lookup(encoder, "imagenet").unwrap().source else { panic!() };
        assert_eq!(fixture["repo_id"].as_str(), Some(repo));
        // timm downloads `main`; our table pins the commit where it knows it.
        if !name.starts_with("tu-") {
            assert_eq!(fixture["revision"].as_str(), Some(revision));
        }

        // The served file: the encoder's tensors under the file's own keys (timm's for `tu-`
        // encoders), plus what SMP drops (the ImageNet classifier, timm's head).
        let ours = state_dict(&Encoder::new(encoder, 32, &Device::flex()));
        let mut served: Vec<PackTensor> = ours
            .iter()
            .map(|t| (common::timm_key(&t.name), t.shape.iter().copied().collect::<Vec<usize>>()))
            .chain(fixture["served_extra"].as_object().unwrap().iter().map(|(key, shape)| {
                (
                    key.clone(),
                    shape.as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect(),
                )
            }))
            .map(|(key, shape)| {
                let values = boneseg_models::weights::synthetic_values(&key, &shape);
                burn::store::bridge::from_data(burn::tensor::TensorData::new(values, shape), key, None)
            })
            .collect();
        served.retain(|t| !t.name.ends_with("num_batches_tracked"));
        let server = TestHub::start();
        server.add(repo, revision, "model.safetensors", safetensors_bytes(&served), Storage::Lfs);
        let config = serde_json::to_vec(&fixture["preprocessing"]).unwrap();
        server.add(repo, revision, "config.json", config, Storage::Git);
        let cache = tempfile::tempdir().unwrap();
        let hub = server.hub(cache.path());
        let mut segmentation = model(arch, name);
        let (_, normalization) =
            load_encoder_weights(&mut segmentation, encoder, "imagenet", &hub, false).unwrap();
        assert_eq!(normalization, IMAGENET);

        let ours: BTreeMap<String, String> = encoder_tensors(&segmentation)
            .into_iter()
            .map(|(key, values)| {
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                let digest: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
                (key, digest)
            })
            .collect();
        let smp: BTreeMap<String, String> = fixture["tensors"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(key, digest)| (key.clone(), digest.as_str().unwrap().to_string()))
            .collect();
        assert_eq!(ours.len(), smp.len(), "{name}: encoder tensor count");
        for (key, digest) in &smp {
            assert_eq!(ours.get(key), Some(digest), "{name}: {key}");
        }
    }
}

/// timm's HRNet checkpoint (an unpinned row: `main`) loads into both HRNet layouts: SMP's
/// features through the `incre` blocks, and HRNetV2's, which has no `incre` blocks and leaves
/// them out as it leaves out timm's classification head.
#[test]
fn timm_hrnet_weights_load_into_both_hrnet_layouts() {
    let encoder: EncoderName = "tu-hrnet_w18".parse().unwrap();
    let Source::Hub { repo, revision } = lookup(encoder, "imagenet").unwrap().source else { panic!() };
    assert_eq!((repo, revision), ("timm/hrnet_w18.ms_aug_in1k", boneseg_models::pretrained::UNPINNED));
    let head = [("classifier.weight", vec![1000, 2048]), ("classifier.bias", vec![1000])];
    let served: Vec<PackTensor> = state_dict(&Encoder::new(encoder, 32, &Device::flex()))
        .iter()
        .map(|t| (common::timm_key(&t.name), t.shape.iter().copied().collect::<Vec<usize>>()))
        .chain(head.iter().map(|(key, shape)| (key.to_string(), shape.clone())))
        .map(|(key, shape)| {
            let values = vec![0.5f32; shape.iter().product()];
            burn::store::bridge::from_data(burn::tensor::TensorData::new(values, shape), key, None)
        })
        .collect();
    let server = TestHub::start();
    server.add(repo, revision, "model.safetensors", safetensors_bytes(&served), Storage::Lfs);
    let config = r#"{"architecture": "hrnet_w18", "pretrained_cfg": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}"#;
    server.add(repo, revision, "config.json", config.as_bytes().to_vec(), Storage::Git);
    let cache = tempfile::tempdir().unwrap();
    let hub = server.hub(cache.path());
    for (arch, incre) in [("unetplusplus", true), ("hrnet", false)] {
        let mut segmentation = model(arch, "tu-hrnet_w18");
        let (report, normalization) =
            load_encoder_weights(&mut segmentation, encoder, "imagenet", &hub, false).unwrap();
        assert!(report.is_complete(), "{arch}: {report:?}");
        assert_eq!(normalization, IMAGENET);
        let loaded = encoder_tensors(&segmentation);
        assert_eq!(loaded.keys().any(|k| k.starts_with("model.incre_modules.")), incre, "{arch}");
        assert!(loaded.values().all(|values| values.iter().all(|&v| v == 0.5)), "{arch}");
    }
}
