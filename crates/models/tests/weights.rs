//! Reading PyTorch checkpoints as training scripts save them.

use std::path::PathBuf;

use boneseg_models::weights::read_state_dict;

/// `torch.save({"state_dict": {"classifier.0.weight", "classifier.4.bias", ...}, "epoch": 12})`
#[test]
fn wrapped_pth_keeps_sequential_positions() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wrapped_sequential_gaps.pth");
    let mut names: Vec<String> = read_state_dict(&path).unwrap().into_iter().map(|t| t.name).collect();
    names.sort();
    assert_eq!(names, ["classifier.0.weight", "classifier.1.num_batches_tracked", "classifier.4.bias"]);
}

#[test]
fn unknown_formats_and_missing_files_name_the_file() {
    let error = read_state_dict(&PathBuf::from("weights.onnx")).unwrap_err().to_string();
    assert!(error.contains("weights.onnx") && error.contains(".safetensors, .pth"), "{error}");
    let error = read_state_dict(&PathBuf::from("/nonexistent/w.safetensors")).unwrap_err().to_string();
    assert!(error.contains("/nonexistent/w.safetensors"), "{error}");
}
