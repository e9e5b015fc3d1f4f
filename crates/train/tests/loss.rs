//! The losses against PyTorch / segmentation-models-pytorch (values and autograd gradients,
//! `tools/reference/train_reference.py`), against finite differences, and the config's forms.

use boneseg_models::burn::tensor::{Device, Tensor, TensorData};
use boneseg_train::loss::{ClassWeights, Loss, LossKind, LossStage, LossTerm, WeightPreset};
use serde_json::Value;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/losses.json")).expect("valid fixture")
}

fn floats(value: &Value) -> Vec<f32> {
    value.as_array().expect("array").iter().map(|v| v.as_f64().expect("number") as f32).collect()
}

fn tensor4(values: Vec<f32>, shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn shape(fixture: &Value) -> [usize; 4] {
    let dims: Vec<usize> =
        fixture["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    dims.try_into().unwrap()
}

fn loss_of(case: &Value) -> Loss {
    let terms: Vec<LossTerm> = serde_json::from_value(case["terms"].clone()).expect("terms parse");
    Loss::new(&terms).expect("valid terms")
}

fn value(loss: Tensor<1>) -> f64 {
    loss.into_scalar::<f64>()
}

#[test]
fn values_and_gradients_match_torch() {
    let fixture = fixture();
    let shape = shape(&fixture);
    let device = Device::flex().autodiff();
    let (logits, targets) = (floats(&fixture["logits"]), floats(&fixture["targets"]));
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let loss = loss_of(case);
        let x = tensor4(logits.clone(), shape, &device).require_grad();
        let out = loss.forward(x.clone(), tensor4(targets.clone(), shape, &device));
        let grads = out.backward();
        let got = value(out);
        let expected = case["value"].as_f64().unwrap();
        let value_error = (got - expected).abs();
        let grad: Vec<f32> = x.grad(&grads).expect("a gradient").try_into_vec_as::<f32>().unwrap();
        let reference = floats(&case["grad"]);
        let scale = reference.iter().fold(0f32, |m, g| m.max(g.abs()));
        let grad_error = grad.iter().zip(&reference).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        println!(
            "{name}: value {got:.7} vs {expected:.7} (|diff| {value_error:.2e}); max |grad diff| {grad_error:.2e} of max |grad| {scale:.2e}"
        );
        assert!(value_error <= 2e-6 * expected.abs().max(1.0), "{name}: value {got} vs torch {expected}");
        assert!(
            grad_error <= 1e-4 * scale,
            "{name}: gradient differs from torch's by {grad_error} (max {scale})"
        );
    }
}

/// Central differences in float32 on every 5th logit: eps 1e-2 keeps the rounding error of a
/// loss near 1 (about 1e-7 / 1e-2) well under the gradients (about 1e-3 here).
///
/// The Lovász hinge is piecewise linear: its slope jumps where an error `1 - x (2t - 1)` crosses
/// 0 or another error (the sort order changes). A difference across such a kink measures a mix
/// of two slopes, so for Lovász the logits within `eps` of one are left out (about two thirds
/// of them here) and all the others are checked.
#[test]
fn gradients_match_finite_differences() {
    let fixture = fixture();
    let shape = shape(&fixture);
    let (logits, targets) = (floats(&fixture["logits"]), floats(&fixture["targets"]));
    let plain = Device::flex();
    let autodiff = plain.clone().autodiff();
    let eps = 1e-2f32;
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let loss = loss_of(case);
        let x = tensor4(logits.clone(), shape, &autodiff).require_grad();
        let out = loss.forward(x.clone(), tensor4(targets.clone(), shape, &autodiff));
        let analytic: Vec<f32> = x.grad(&out.backward()).unwrap().try_into_vec_as::<f32>().unwrap();
        let at = |values: Vec<f32>| {
            value(loss.forward(tensor4(values, shape, &plain), tensor4(targets.clone(), shape, &plain)))
        };
        let scale = analytic.iter().fold(0f32, |m, g| m.max(g.abs())) as f64;
        let errors: Vec<f32> = logits.iter().zip(&targets).map(|(x, t)| 1.0 - x * (2.0 * t - 1.0)).collect();
        let near_kink = |i: usize| {
            errors[i].abs() < eps
                || errors.iter().enumerate().any(|(j, e)| j != i && (e - errors[i]).abs() < 2.0 * eps)
        };
        let piecewise_linear = case["terms"][0]["kind"] == "lovasz";
        let mut worst = 0f64;
        // Lovász: every logit away from a kink, rather than every 5th.
        let checked: Vec<usize> = match piecewise_linear {
            true => (0..logits.len()).filter(|&i| !near_kink(i)).collect(),
            false => (0..logits.len()).step_by(5).collect(),
        };
        assert!(checked.len() >= 20, "{name}: only {} logits away from kinks", checked.len());
        for index in checked {
            let (mut up, mut down) = (logits.clone(), logits.clone());
            up[index] += eps;
            down[index] -= eps;
            let numeric = (at(up) - at(down)) / (2.0 * eps as f64);
            worst = worst.max((numeric - analytic[index] as f64).abs());
        }
        println!("{name}: max |finite difference - autodiff| {worst:.2e} of max |grad| {scale:.2e}");
        assert!(worst <= 5e-3 * scale, "{name}: finite differences differ by {worst} (max gradient {scale})");
    }
}

#[test]
fn config_forms_parse_and_mistakes_are_named() {
    #[derive(serde::Deserialize)]
    struct Config {
        loss: Vec<LossTerm>,
    }
    let config: Config = toml::from_str(
        r#"loss = [{ kind = "focal", weight = 0.5 }, { kind = "dice", weight = 0.5, per_image = true }]"#,
    )
    .unwrap();
    assert_eq!(config.loss.len(), 2);
    assert_eq!(config.loss[0].kind, LossKind::Focal);
    let loss = Loss::new(&config.loss).unwrap();
    assert_eq!(loss.labels(), ["focal", "dice"]);

    let unknown = toml::from_str::<Config>(r#"loss = [{ kind = "boundary", weight = 1.0 }]"#)
        .err()
        .unwrap()
        .to_string();
    for name in ["bce", "dice", "focal", "jaccard", "tversky", "lovasz"] {
        assert!(unknown.contains(name), "the error names `{name}`: {unknown}");
    }
    let misplaced = Loss::new(&[LossTerm { gamma: Some(2.0), ..LossTerm::new(LossKind::Dice, 1.0) }])
        .unwrap_err()
        .to_string();
    assert!(misplaced.contains("does not take gamma"), "{misplaced}");
    let weighted = LossTerm { pos_weight: Some(vec![1.0, 2.0]), ..LossTerm::new(LossKind::Bce, 1.0) };
    let error = Loss::new(&[weighted]).unwrap().check_classes(29).unwrap_err().to_string();
    assert!(error.contains("loss[0] (bce): pos_weight has 2 values for 29 classes"), "{error}");
    assert!(matches!(Loss::new(&[]), Err(boneseg_train::loss::LossError::Empty)));
    let typo = toml::from_str::<Config>(r#"loss = [{ kind = "dice", weight = 1.0, smoth = 1.0 }]"#)
        .err()
        .unwrap()
        .to_string();
    assert!(typo.contains("smoth"), "{typo}");
}

#[test]
fn parts_are_the_unweighted_terms_of_the_total() {
    let fixture = fixture();
    let shape = shape(&fixture);
    let device = Device::flex();
    let logits = tensor4(floats(&fixture["logits"]), shape, &device);
    let targets = tensor4(floats(&fixture["targets"]), shape, &device);
    let terms = [
        LossTerm::new(LossKind::Bce, 0.25),
        LossTerm::new(LossKind::Dice, 0.75),
        LossTerm::new(LossKind::Dice, 1.0),
    ];
    let loss = Loss::new(&terms).unwrap();
    let parts = loss.forward_parts(logits, targets);
    let labels: Vec<&str> = parts.terms.iter().map(|(label, _)| label.as_str()).collect();
    assert_eq!(labels, ["bce", "dice", "dice2"]);
    let values: Vec<f64> = parts.terms.into_iter().map(|(_, v)| value(v)).collect();
    let total = value(parts.total);
    assert!((total - (0.25 * values[0] + 1.75 * values[1])).abs() < 1e-6);
}

#[test]
fn class_weights_take_a_preset_or_one_value_per_class() {
    #[derive(serde::Deserialize)]
    struct Config {
        loss: Vec<LossTerm>,
    }
    let parse = |text: &str| toml::from_str::<Config>(text).map(|c| c.loss);
    let terms = parse(
        r#"loss = [{ kind = "focal", weight = 1.0, class_weights = "small_bones" },
                   { kind = "lovasz", weight = 1.0, per_class = true, class_weights = [1, 2, 3] }]"#,
    )
    .unwrap();
    assert_eq!(terms[0].class_weights, Some(ClassWeights::Preset(WeightPreset::SmallBones)));
    assert_eq!(terms[1].class_weights, Some(ClassWeights::Values(vec![1.0, 2.0, 3.0])));
    let loss = Loss::new(&terms).unwrap();
    let error = loss.check_classes(29).unwrap_err().to_string();
    assert!(error.contains("loss[1] (lovasz): class_weights has 3 values for 29 classes"), "{error}");
    let error = loss.check_classes(3).unwrap_err().to_string();
    assert!(
        error.contains("loss[0] (focal): class_weights = \"small_bones\" is made for the 29 bone classes"),
        "{error}"
    );

    let unknown = parse(r#"loss = [{ kind = "dice", weight = 1.0, class_weights = "tiny" }]"#).err().unwrap();
    assert!(
        unknown.to_string().contains("unknown class_weights preset `tiny`: use one of small_bones"),
        "{unknown}"
    );
    let pooled = LossTerm {
        class_weights: Some(ClassWeights::Values(vec![1.0; 29])),
        ..LossTerm::new(LossKind::Lovasz, 1.0)
    };
    let error = Loss::new(&[pooled]).unwrap_err().to_string();
    assert!(error.contains("loss[0] (lovasz): class_weights need per_class = true"), "{error}");
    let negative = LossTerm {
        class_weights: Some(ClassWeights::Values(vec![1.0, -2.0])),
        ..LossTerm::new(LossKind::Bce, 1.0)
    };
    let error = Loss::new(&[negative]).unwrap_err().to_string();
    assert!(error.contains("class_weights[1] (finger-2) = -2 must be a finite number >= 0"), "{error}");
    let misplaced = LossTerm { per_class: Some(true), ..LossTerm::new(LossKind::Dice, 1.0) };
    assert!(Loss::new(&[misplaced]).unwrap_err().to_string().contains("does not take per_class"));
}

/// Equal class weights change nothing, whatever their sum (SMP divides by it).
#[test]
fn equal_class_weights_are_no_weights() {
    let fixture = fixture();
    let shape = shape(&fixture);
    let device = Device::flex();
    let logits = tensor4(floats(&fixture["logits"]), shape, &device);
    let targets = tensor4(floats(&fixture["targets"]), shape, &device);
    for kind in [LossKind::Bce, LossKind::Focal, LossKind::Dice, LossKind::Lovasz] {
        let per_class = (kind == LossKind::Lovasz).then_some(true);
        let plain = LossTerm { per_class, ..LossTerm::new(kind, 1.0) };
        let equal = LossTerm { class_weights: Some(ClassWeights::Values(vec![7.0; 3])), ..plain.clone() };
        let a = value(Loss::new(&[plain]).unwrap().forward(logits.clone(), targets.clone()));
        let b = value(Loss::new(&[equal]).unwrap().forward(logits.clone(), targets.clone()));
        assert!((a - b).abs() < 1e-6, "{kind:?}: {a} vs {b}");
    }
}

/// A BCE-to-Dice schedule in three stages: the weights of each epoch, the log line where a
/// stage begins, and terms weighted 0 left out of the total.
#[test]
fn a_loss_schedule_switches_the_weights_by_epoch() {
    #[derive(serde::Deserialize)]
    struct Config {
        loss: Vec<LossTerm>,
        loss_schedule: Vec<LossStage>,
    }
    let config: Config = toml::from_str(
        r#"loss = [{ kind = "bce", weight = 1.0 }, { kind = "dice", weight = 0.0 }]
           loss_schedule = [{ from_epoch = 3, weights = [0.5, 0.5] }, { from_epoch = 5, weights = [0.0, 1.0] }]"#,
    )
    .unwrap();
    let loss = Loss::new(&config.loss).unwrap().with_stages(&config.loss_schedule).unwrap();
    let weights: Vec<Vec<f64>> = (0..6).map(|epoch| loss.weights_at(epoch)).collect();
    assert_eq!(weights, [[1.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.5, 0.5], [0.0, 1.0], [0.0, 1.0]]);
    assert_eq!(loss.stage_begins(2).as_deref(), Some("epoch 3: loss weights now bce 0.5, dice 0.5"));
    assert_eq!(loss.stage_begins(3), None);

    let fixture = fixture();
    let shape = shape(&fixture);
    let device = Device::flex();
    let logits = tensor4(floats(&fixture["logits"]), shape, &device);
    let targets = tensor4(floats(&fixture["targets"]), shape, &device);
    let parts = loss.forward_parts(logits.clone(), targets.clone());
    let values: Vec<f64> = parts.terms.into_iter().map(|(_, v)| value(v)).collect();
    for (epoch, weights) in weights.iter().enumerate() {
        let expected = weights[0] * values[0] + weights[1] * values[1];
        let got = value(loss.forward_at(epoch, logits.clone(), targets.clone()));
        assert!((got - expected).abs() < 1e-6, "epoch {epoch}: {got} vs {expected}");
    }
    let error = Loss::new(&config.loss)
        .unwrap()
        .with_stages(
            &config.loss_schedule[..1]
                .iter()
                .map(|s| LossStage { weights: vec![1.0], ..s.clone() })
                .collect::<Vec<_>>(),
        )
        .unwrap_err()
        .to_string();
    assert!(error.contains("loss_schedule[0]: weights has 1 values for 2 loss terms"), "{error}");
}

/// Saturated logits (|x| = 100) give finite values and gradients: the stable forms at work.
#[test]
fn saturated_logits_stay_finite() {
    let device = Device::flex().autodiff();
    let shape = [1, 2, 2, 2];
    let logits = vec![100.0, -100.0, 100.0, -100.0, 30.0, -30.0, 0.0, 90.0];
    let targets = vec![0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
    for kind in [
        LossKind::Bce,
        LossKind::Focal,
        LossKind::Dice,
        LossKind::Jaccard,
        LossKind::Tversky,
        LossKind::Lovasz,
    ] {
        let loss = Loss::new(&[LossTerm::new(kind, 1.0)]).unwrap();
        let x = tensor4(logits.clone(), shape, &device).require_grad();
        let out = loss.forward(x.clone(), tensor4(targets.clone(), shape, &device));
        let grad: Vec<f32> = x.grad(&out.backward()).unwrap().try_into_vec_as::<f32>().unwrap();
        let v = value(out);
        assert!(v.is_finite() && grad.iter().all(|g| g.is_finite()), "{kind:?}: {v} {grad:?}");
    }
    let bce = value(Loss::new(&[LossTerm::new(LossKind::Bce, 1.0)]).unwrap().forward(
        tensor4(vec![100.0; 8], shape, &Device::flex()),
        tensor4(vec![0.0; 8], shape, &Device::flex()),
    ));
    assert!((bce - 100.0).abs() < 1e-4, "BCE of logit 100 against 0 is 100, got {bce}");
}

/// A batch past the 4M values at which burn's CPU backend sums a tensor on several threads (in
/// an order that changes from call to call) gets the same loss bits every time, so two runs
/// with one seed do not part at the first step.
#[test]
fn the_loss_of_a_large_batch_is_the_same_bits_every_time() {
    let device = Device::flex();
    let shape = [4, 29, 192, 192];
    let count: usize = shape.iter().product();
    assert!(count >= 4 << 20, "past flex's parallel threshold");
    let logits: Vec<f32> = (0..count).map(|i| ((i * 7919) % 2003) as f32 / 200.0 - 5.0).collect();
    let targets: Vec<f32> = (0..count).map(|i| ((i / 97) % 3 == 0) as u8 as f32).collect();
    let bce = Loss::new(&[LossTerm::new(LossKind::Bce, 1.0)]).unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
    let loss = || {
        let (x, t) = (tensor4(logits.clone(), shape, &device), tensor4(targets.clone(), shape, &device));
        pool.install(|| bce.forward(x, t).into_scalar::<f32>().to_bits())
    };
    let first = loss();
    for _ in 0..10 {
        assert_eq!(loss(), first, "the loss's sum changed order");
    }
}
