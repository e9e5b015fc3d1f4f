//! The optimisers against torch.optim and the `adamp` package (`tools/reference/train_reference.py`),
//! global-norm clipping against `clip_grad_norm_`, accumulation, the encoder's rate, and
//! checkpoints that resume exactly.

use boneseg_models::burn;
use boneseg_models::burn::module::{Module, Param};
use boneseg_models::burn::optim::GradientsParams;
use boneseg_models::burn::tensor::{Device, Tensor, TensorData};
use boneseg_train::optim::{Optim, OptimConfig, OptimError, OptimKind, grads};
use serde_json::Value;

/// Three parameters shaped as the fixture's: a conv weight, a matrix, a bias.
#[derive(Module, Debug)]
struct Three {
    conv: Param<Tensor<4>>,
    matrix: Param<Tensor<2>>,
    bias: Param<Tensor<1>>,
}

/// A model with an encoder, the way `SegmentationModel` nests it under an enum variant.
#[derive(Module, Debug)]
struct EncoderDecoder {
    encoder: Three,
    decoder: Three,
}

#[derive(Module, Debug)]
enum Wrapped {
    Smp(EncoderDecoder),
}

fn device() -> Device {
    Device::flex().autodiff()
}

fn param<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), &device()).require_grad())
}

fn three(values: &[Vec<f32>]) -> Three {
    Three {
        conv: param(values[0].clone(), [4, 2, 3, 3]),
        matrix: param(values[1].clone(), [3, 5]),
        bias: param(values[2].clone(), [4]),
    }
}

fn filled(value: f32) -> Three {
    three(&[vec![value; 72], vec![value; 15], vec![value; 4]])
}

fn constant<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), &device())
}

/// `Σ θ·g` over the parameters: its gradient is exactly `g`, produced by burn's backward.
fn linear_loss(model: &Three, g: &[Vec<f32>]) -> Tensor<1> {
    (model.conv.val() * constant(g[0].clone(), [4, 2, 3, 3])).sum()
        + (model.matrix.val() * constant(g[1].clone(), [3, 5])).sum()
        + (model.bias.val() * constant(g[2].clone(), [4])).sum()
}

fn gradients(model: &Three, g: &[Vec<f32>]) -> GradientsParams {
    GradientsParams::from_grads(linear_loss(model, g).backward(), model)
}

fn values(model: &Three) -> Vec<Vec<f32>> {
    vec![
        model.conv.val().try_into_vec_as::<f32>().unwrap(),
        model.matrix.val().try_into_vec_as::<f32>().unwrap(),
        model.bias.val().try_into_vec_as::<f32>().unwrap(),
    ]
}

fn floats(value: &Value) -> Vec<f32> {
    value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()
}

fn tensors(value: &Value) -> Vec<Vec<f32>> {
    value.as_array().unwrap().iter().map(floats).collect()
}

fn max_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter().flatten().zip(b.iter().flatten()).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/optimisers.json")).expect("valid fixture")
}

#[test]
fn updates_match_torch_and_adamp() {
    let fixture = fixture();
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let config: OptimConfig = serde_json::from_value(case["config"].clone()).expect("config parses");
        let mut optim = Optim::new(&config).unwrap();
        let mut model = three(&tensors(&case["initial"]));
        for step in case["grads"].as_array().unwrap() {
            let grads = gradients(&model, &tensors(step));
            model = optim.step(config.lr, model, grads);
        }
        let expected = tensors(&case["expected"]);
        let moved = max_difference(&tensors(&case["initial"]), &expected);
        let error = max_difference(&values(&model), &expected);
        println!(
            "{name}: max |difference| {error:.2e} after {} steps (parameters moved up to {moved:.2e})",
            optim.updates()
        );
        assert!(error <= 2e-6, "{name}: differs from the reference by {error}");
    }
}

#[test]
fn clipping_matches_clip_grad_norm() {
    let clip = &fixture()["clip"];
    let model = filled(0.0);
    let raw = tensors(&clip["grads"]);
    let (clipped, norm) =
        grads::clip_grad_norm(&model, gradients(&model, &raw), clip["max_norm"].as_f64().unwrap());
    let expected_norm = clip["total_norm"].as_f64().unwrap();
    let got: Vec<Vec<f32>> = vec![
        clipped.get::<4>(model.conv.id).unwrap().try_into_vec_as::<f32>().unwrap(),
        clipped.get::<2>(model.matrix.id).unwrap().try_into_vec_as::<f32>().unwrap(),
        clipped.get::<1>(model.bias.id).unwrap().try_into_vec_as::<f32>().unwrap(),
    ];
    let error = max_difference(&got, &tensors(&clip["clipped"]));
    println!(
        "clip_grad_norm: total norm {norm:.6} vs {expected_norm:.6}; max |clipped difference| {error:.2e}"
    );
    assert!((norm - expected_norm).abs() <= 1e-5 * expected_norm);
    assert!(error <= 1e-6);
}

/// Three micro-batches accumulated step once, on their mean: as one step on the mean.
#[test]
fn accumulation_steps_on_the_mean() {
    let fixture = fixture();
    let micro: Vec<Vec<Vec<f32>>> =
        fixture["cases"][0]["grads"].as_array().unwrap()[..3].iter().map(tensors).collect();
    let mean: Vec<Vec<f32>> = (0..3)
        .map(|t| {
            (0..micro[0][t].len()).map(|i| (micro[0][t][i] + micro[1][t][i] + micro[2][t][i]) / 3.0).collect()
        })
        .collect();
    let initial = tensors(&fixture["cases"][0]["initial"]);
    let config =
        OptimConfig { accumulate: 3, clip_grad_norm: Some(0.5), ..OptimConfig::new(OptimKind::Adam, 1e-2) };

    let mut accumulating = Optim::new(&config).unwrap();
    let mut model = three(&initial);
    for (index, g) in micro.iter().enumerate() {
        assert_eq!(accumulating.will_step(), index == 2);
        let grads = gradients(&model, g);
        model = accumulating.step(1e-2, model, grads);
        let unchanged = max_difference(&values(&model), &initial) == 0.0;
        assert_eq!(unchanged, index < 2, "the model changes only on the third micro-batch");
    }
    assert_eq!(accumulating.updates(), 1);

    let mut single = Optim::new(&OptimConfig { accumulate: 1, ..config }).unwrap();
    let reference = three(&initial);
    let grads = gradients(&reference, &mean);
    let reference = single.step(1e-2, reference, grads);
    let (norm, mean_norm) = (accumulating.last_grad_norm().unwrap(), single.last_grad_norm().unwrap());
    assert!((norm - mean_norm).abs() <= 1e-6 * mean_norm, "clipped norms {norm} and {mean_norm}");
    let error = max_difference(&values(&model), &values(&reference));
    assert!(error <= 1e-6, "accumulated and mean steps differ by {error}");
}

#[test]
fn the_encoder_trains_at_its_scaled_rate() {
    let config = OptimConfig { encoder_lr_scale: Some(0.1), ..OptimConfig::new(OptimKind::Sgd, 0.5) };
    let mut optim = Optim::new(&config).unwrap();
    let model = Wrapped::Smp(EncoderDecoder { encoder: filled(1.0), decoder: filled(1.0) });
    let ones = [vec![1.0; 72], vec![1.0; 15], vec![1.0; 4]];
    let Wrapped::Smp(inner) = &model;
    let loss = linear_loss(&inner.encoder, &ones) + linear_loss(&inner.decoder, &ones);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let Wrapped::Smp(stepped) = optim.step(0.5, model, grads);
    let moved = |m: &Three| 1.0 - values(m)[0][0];
    assert!((moved(&stepped.encoder) - 0.05).abs() < 1e-6, "encoder moved {}", moved(&stepped.encoder));
    assert!((moved(&stepped.decoder) - 0.5).abs() < 1e-6, "decoder moved {}", moved(&stepped.decoder));
}

/// Saved mid-accumulation, through a file and back, the optimiser goes on bit for bit.
#[test]
fn a_checkpoint_resumes_exactly() {
    let fixture = fixture();
    let case = &fixture["cases"][4];
    let steps: Vec<Vec<Vec<f32>>> = case["grads"].as_array().unwrap().iter().map(tensors).collect();
    let config = OptimConfig {
        accumulate: 2,
        clip_grad_norm: Some(1.0),
        ..serde_json::from_value(case["config"].clone()).unwrap()
    };
    let mut original = Optim::new(&config).unwrap();
    let mut model = three(&tensors(&case["initial"]));
    for g in &steps[..3] {
        let grads = gradients(&model, g);
        model = original.step(1e-2, model, grads);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optim.bpk");
    original.save(&path, &model).unwrap();
    let mut restored = Optim::new(&config).unwrap();
    restored.load(&path, &model).unwrap();
    assert_eq!(restored.updates(), original.updates());

    let (mut a, mut b) = (model.clone(), model.clone());
    for g in steps[3..].iter().chain(&steps[..2]) {
        let grads = gradients(&a, g);
        a = original.step(1e-2, a, grads);
        let grads = gradients(&b, g);
        b = restored.step(1e-2, b, grads);
    }
    assert_eq!(original.updates(), 3);
    let (a, b) = (values(&a), values(&b));
    assert!(
        a.iter().flatten().zip(b.iter().flatten()).all(|(x, y)| x.to_bits() == y.to_bits()),
        "resumed run differs"
    );

    let stranger = filled(0.0);
    let error = Optim::new(&config).unwrap().load(&path, &stranger).unwrap_err();
    assert!(matches!(error, OptimError::Mismatch(_)), "{error}");
}

#[test]
fn the_config_form_parses_and_mistakes_are_named() {
    #[derive(serde::Deserialize)]
    struct Config {
        optim: OptimConfig,
    }
    let text = "[optim]\nkind = \"adamw\"\nlr = 3e-4\nclip_grad_norm = 1.0\nencoder_lr_scale = 0.1\naccumulate = 4\n";
    let config: Config = toml::from_str(text).unwrap();
    assert_eq!(config.optim.kind, OptimKind::AdamW);
    assert_eq!(config.optim.accumulate, 4);
    Optim::new(&config.optim).unwrap();

    let unknown = toml::from_str::<Config>("[optim]\nkind = \"lion\"\nlr = 1.0\n").err().unwrap().to_string();
    for kind in ["adam", "adamw", "sgd", "adamp"] {
        assert!(unknown.contains(kind), "the error names `{kind}`: {unknown}");
    }
    let misplaced =
        Optim::new(&OptimConfig { momentum: Some(0.9), ..OptimConfig::new(OptimKind::Adam, 1e-3) })
            .unwrap_err()
            .to_string();
    assert!(misplaced.contains("momentum does not apply"), "{misplaced}");
    let nesterov = OptimConfig { nesterov: Some(true), ..OptimConfig::new(OptimKind::Sgd, 1e-3) };
    assert!(Optim::new(&nesterov).is_err(), "nesterov without momentum is refused, as torch does");
}
