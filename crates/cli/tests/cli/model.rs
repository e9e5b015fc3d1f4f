//! `boneseg model` and `boneseg weights`: the zoo from the command line.

use boneseg_models::burn::tensor::{Device, Tensor, TensorData};
use boneseg_models::weights::{PackTensor, synthetic_input, synthetic_state_dict};
use boneseg_models::{ModelSpec, SegmentationModel};
use safetensors::tensor::{Dtype, TensorView};

use crate::support::{boneseg, s};

fn unet_resnet18(classes: usize) -> SegmentationModel {
    let spec = ModelSpec::new("unet".parse().unwrap(), "resnet18".parse().unwrap(), classes).unwrap();
    SegmentationModel::new(spec, &Device::flex())
}

/// A PyTorch-style state dict file, wrapped under `prefix` as training scripts do.
fn write_state_dict(path: &std::path::Path, tensors: &[PackTensor], prefix: &str) {
    let parts: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|t| {
            (format!("{prefix}{}", t.name), t.shape.iter().copied().collect(), t.to_bytes().unwrap().to_vec())
        })
        .collect();
    let views: Vec<(String, TensorView)> = parts
        .iter()
        .map(|(name, shape, bytes)| {
            (name.clone(), TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap())
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// The `input` tensor file `model forward` reads.
fn write_input(path: &std::path::Path, shape: [usize; 4], values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F32, shape.to_vec(), &bytes).unwrap();
    std::fs::write(path, safetensors::serialize([("input", view)], None).unwrap()).unwrap();
}

#[test]
fn list_names_every_combination() {
    let run = boneseg(&["model", "list"]).expect(0);
    assert!(run.stdout.contains("unetplusplus   efficientnet-b5"), "{}", run.stdout);
    assert!(run.stdout.contains("fcn            resnet50"), "{}", run.stdout);
    for line in [
        "upernet        tu-convnext_tiny     smp.UPerNet",
        "hrnet          tu-hrnet_w48         HRNetV2 head",
        "unetplusplus   tu-hrnet_w64",
        "unet           resnext101_32x8d",
    ] {
        assert!(run.stdout.contains(line), "{line}:\n{}", run.stdout);
    }
    assert_eq!(run.stdout.lines().count(), 1 + ModelSpec::combinations().len());
}

#[test]
fn summary_counts_the_parameters_smp_counts() {
    // segmentation-models-pytorch 0.6: sum(p.numel() for p in smp.Unet("resnet18", classes=29).parameters())
    boneseg(&["model", "summary", "--arch", "unet", "--encoder", "resnet18", "--size", "64"])
        .expect(0)
        .says(&["total", "14332269", "logits", "[1, 29, 64, 64]", "encoder stage 5 (stride 32)"]);
    // smp.DeepLabV3Plus("resnet34", classes=29)
    boneseg(&["model", "summary", "--arch", "deeplabv3plus", "--encoder", "resnet34", "--size", "64"])
        .expect(0)
        .says(&["22444653"]);
    // smp.UPerNet("tu-convnext_tiny", classes=29), smp.UnetPlusPlus("tu-hrnet_w18", classes=29)
    boneseg(&["model", "summary", "--arch", "upernet", "--encoder", "tu-convnext_tiny", "--size", "64"])
        .expect(0)
        .says(&["37051069", "encoder.model.stages_2", "[1, 29, 64, 64]"]);
    boneseg(&["model", "summary", "--arch", "unetplusplus", "--encoder", "hrnet_w18", "--size", "64"])
        .expect(0)
        .says(&["20797569", "encoder.model.stage4"]);
}

#[test]
fn forward_reproduces_the_library_on_wrapped_weights_and_odd_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let model = unet_resnet18(3);
    let weights = dir.path().join("w.safetensors");
    write_state_dict(&weights, &synthetic_state_dict(&model), "state_dict.");
    let shape = [1, 3, 40, 56];
    let input = synthetic_input(shape);
    write_input(&dir.path().join("in.safetensors"), shape, &input);
    let out = dir.path().join("out.safetensors");
    boneseg(&[
        "model",
        "forward",
        "--arch",
        "unet",
        "--encoder",
        "resnet18",
        "--classes",
        "3",
        "--weights",
        s(&weights),
        "--input",
        s(&dir.path().join("in.safetensors")),
        "--out",
        s(&out),
    ])
    .expect(0)
    .says(&["[1, 3, 40, 56]"]);

    let written = std::fs::read(&out).unwrap();
    let file = safetensors::SafeTensors::deserialize(&written).unwrap();
    let logits = file.tensor("logits").unwrap();
    assert_eq!(logits.shape(), &[1, 3, 40, 56]);
    let ours: Vec<f32> =
        logits.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();

    let mut reference = unet_resnet18(3);
    let report = boneseg_models::weights::apply_state_dict(&mut reference, synthetic_state_dict(&model));
    assert!(report.is_complete());
    let expected = reference
        .forward(Tensor::<4>::from_data(TensorData::new(input, shape), &Device::flex()))
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let worst = ours.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(worst < 1e-5, "the CLI and the library differ by {worst}");
}

#[test]
fn forward_refuses_weights_of_another_model_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("resnet18.safetensors");
    write_state_dict(&weights, &synthetic_state_dict(&unet_resnet18(3)), "");
    write_input(&dir.path().join("in.safetensors"), [1, 3, 32, 32], &[0.0; 3 * 32 * 32]);
    let out = dir.path().join("out.safetensors");
    boneseg(&[
        "model",
        "forward",
        "--arch",
        "unet",
        "--encoder",
        "resnet34",
        "--classes",
        "3",
        "--weights",
        s(&weights),
        "--input",
        s(&dir.path().join("in.safetensors")),
        "--out",
        s(&out),
    ])
    .expect(2)
    .says(&["resnet18.safetensors", "missing", "is this a unet resnet34 checkpoint?"]);
    assert!(!out.exists(), "no output after a refusal");
}

#[test]
fn weights_import_keeps_the_encoder_and_reports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("smp_unet.safetensors");
    write_state_dict(&weights, &synthetic_state_dict(&unet_resnet18(29)), "");
    let out = dir.path().join("encoder.bpk");
    boneseg(&["weights", "import", s(&weights), "--encoder", "resnet18", "--out", s(&out)])
        .expect(0)
        .says(&["0 unused, 0 missing"]);
    assert!(out.metadata().unwrap().len() > 40_000_000, "resnet18 holds 11.7M parameters");
    boneseg(&["weights", "import", s(&weights), "--encoder", "efficientnet-b0", "--out", s(&out)])
        .expect(2)
        .says(&["none of its", "is it the right encoder?"]);
}

#[test]
fn bench_engine_times_both_kernel_sets_and_profiles_the_step() {
    boneseg(&["bench", "engine", "--python", "none", "--size", "32", "--iters", "1", "--profile"])
        .expect(0)
        .says(&[
            "| boneseg on flex, boneseg's kernels |",
            "| boneseg on flex, burn's kernels |",
            "| batch norm + ReLU (train, fwd+bwd) | 18 |",
            "| upsample nearest 2x + concatenation (fwd+bwd) | 4 |",
            "| conv weight gradient | 19 |",
            "| Adam step | 1 |",
        ]);
    boneseg(&["bench", "engine", "--python", "none", "--kernels", "cudnn"])
        .expect(2)
        .says(&["--kernels is boneseg, burn or both"]);
}
