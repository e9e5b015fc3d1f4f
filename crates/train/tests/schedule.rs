//! The schedules against torch's schedulers (`tools/reference/train_reference.py`), their config form,
//! and the plateau state surviving a checkpoint.

use boneseg_train::schedule::{Schedule, ScheduleConfig};
use serde_json::Value;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/schedules.json")).expect("valid fixture")
}

#[test]
fn learning_rates_match_torch() {
    let fixture = fixture();
    let base_lr = fixture["base_lr"].as_f64().unwrap();
    for case in fixture["cases"].as_array().unwrap() {
        let config: ScheduleConfig = serde_json::from_value(case["config"].clone()).expect("config parses");
        let total = case["total_steps"].as_u64().unwrap() as usize;
        let mut schedule = Schedule::new(Some(config.clone()), base_lr, total);
        let expected: Vec<f64> =
            case["lrs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let got: Vec<f64> = match case.get("metrics") {
            Some(metrics) => metrics
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    schedule.observe(m.as_f64().unwrap());
                    schedule.lr(0)
                })
                .collect(),
            None => (0..expected.len()).map(|step| schedule.lr(step)).collect(),
        };
        let worst =
            got.iter().zip(&expected).fold(0f64, |m, (a, b)| m.max((a - b).abs() / b.abs().max(1e-12)));
        println!(
            "{:?}: max relative difference {worst:.1e} over {} steps",
            case["config"]["kind"],
            expected.len()
        );
        assert!(worst < 1e-9, "{config:?}: {got:?} vs torch {expected:?}");
    }
}

#[test]
fn the_config_form_parses_and_names_the_kinds() {
    #[derive(serde::Deserialize)]
    struct Config {
        schedule: ScheduleConfig,
    }
    let config: Config =
        toml::from_str("[schedule]\nkind = \"warmup_cosine\"\nwarmup_steps = 500\n").unwrap();
    assert_eq!(
        config.schedule,
        ScheduleConfig::WarmupCosine {
            warmup_steps: 500,
            total_steps: None,
            start_factor: 1e-3,
            min_lr: 0.0
        }
    );
    let unknown = toml::from_str::<Config>("[schedule]\nkind = \"onecycle\"\n").err().unwrap().to_string();
    for kind in ["warmup_cosine", "poly", "step", "cosine_restarts", "plateau"] {
        assert!(unknown.contains(kind), "the error names `{kind}`: {unknown}");
    }
    let typo = toml::from_str::<Config>("[schedule]\nkind = \"step\"\nstep_size = 3\ngama = 0.5\n")
        .err()
        .unwrap()
        .to_string();
    assert!(typo.contains("gama"), "{typo}");
}

#[test]
fn without_a_schedule_the_rate_is_constant() {
    let schedule = Schedule::new(None, 3e-4, 100);
    assert_eq!(schedule.lr(0), 3e-4);
    assert_eq!(schedule.lr(1000), 3e-4);
}

/// A plateau schedule written to JSON mid-run and read back goes on exactly as the original.
#[test]
fn plateau_state_survives_a_checkpoint() {
    let config: ScheduleConfig =
        toml::from_str("kind = \"plateau\"\nfactor = 0.3\npatience = 1\ncooldown = 1\n").unwrap();
    let mut original = Schedule::new(Some(config), 0.1, 0);
    let metrics = [0.5, 0.5, 0.5, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6];
    for &m in &metrics[..5] {
        original.observe(m);
    }
    let mut restored: Schedule = serde_json::from_str(&serde_json::to_string(&original).unwrap()).unwrap();
    assert_eq!(restored, original);
    for &m in &metrics[5..] {
        original.observe(m);
        restored.observe(m);
        assert_eq!(original.lr(0).to_bits(), restored.lr(0).to_bits());
    }
    assert!(original.plateau_state().reductions >= 2, "{:?}", original.plateau_state());
}
