//! `boneseg runs`: the experiment ledger as tables — list, show one record, compare two.

use std::process::ExitCode;

use boneseg_contract::CLASSES;
use boneseg_ledger::{Record, flatten, select};

#[derive(clap::Subcommand)]
pub enum Command {
    /// One line per recorded run: number, time, kind, mean dice, seed, revision, outputs.
    List,
    /// Everything recorded about one run (its number from `list`, or `last`), as JSON.
    Show { run: String },
    /// Two runs side by side: per-class dice with the difference, metrics, and the config keys
    /// that differ.
    Compare { a: String, b: String },
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let path = boneseg_ledger::default_path();
    let records = boneseg_ledger::read(&path)?;
    match command {
        Command::List => {
            if records.is_empty() {
                println!("no runs recorded in {} yet", boneseg_ledger::records_dir(&path).display());
            }
            println!(
                "{:>4}  {:<20}  {:<9}  {:>9}  {:>6}  {:<12}  outputs",
                "#", "time", "kind", "mean_dice", "seed", "revision"
            );
            for (i, r) in records.iter().enumerate() {
                println!(
                    "{:>4}  {:<20}  {:<9}  {:>9}  {:>6}  {:<12}  {}",
                    i + 1,
                    r.time,
                    r.kind,
                    r.mean_dice.map_or("-".into(), |d| format!("{d:.6}")),
                    r.seed.map_or("-".into(), |s| s.to_string()),
                    r.git_revision.as_deref().map_or("-", |g| &g[..g.len().min(12)]),
                    r.outputs.join(" ")
                );
            }
        }
        Command::Show { run } => {
            let (_, record) = select(&path, &records, &run)?;
            println!("{}", serde_json::to_string_pretty(record)?);
        }
        Command::Compare { a, b } => {
            let (na, ra) = select(&path, &records, &a)?;
            let (nb, rb) = select(&path, &records, &b)?;
            print!("{}", compare((na, ra), (nb, rb)));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn number(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v:.6}"))
}

fn delta(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:+.6}", b - a),
        _ => "-".into(),
    }
}

fn compare((na, a): (usize, &Record), (nb, b): (usize, &Record)) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let (ha, hb) = (format!("#{na} {}", a.kind), format!("#{nb} {}", b.kind));
    let _ = writeln!(out, "{:<14} {:>16} {:>16} {:>10}", "", ha, hb, "B - A");
    let _ = writeln!(
        out,
        "{:<14} {:>16} {:>16} {:>10}",
        "mean_dice",
        number(a.mean_dice),
        number(b.mean_dice),
        delta(a.mean_dice, b.mean_dice)
    );
    for (i, class) in CLASSES.iter().enumerate() {
        let (x, y) = (a.class_dice.as_ref().map(|d| d[i]), b.class_dice.as_ref().map(|d| d[i]));
        let _ = writeln!(out, "{class:<14} {:>16} {:>16} {:>10}", number(x), number(y), delta(x, y));
    }
    let keys: std::collections::BTreeSet<&String> = a.metrics.keys().chain(b.metrics.keys()).collect();
    for key in keys {
        let (x, y) = (a.metrics.get(key).copied(), b.metrics.get(key).copied());
        let _ = writeln!(out, "{key:<14} {:>16} {:>16} {:>10}", number(x), number(y), delta(x, y));
    }
    let _ = writeln!(
        out,
        "{:<14} {:>16} {:>16}",
        "seconds",
        format!("{:.1}", a.seconds),
        format!("{:.1}", b.seconds)
    );
    let (ca, cb) = (flatten(&a.config), flatten(&b.config));
    let keys: std::collections::BTreeSet<&String> = ca.keys().chain(cb.keys()).collect();
    let differing: Vec<&String> = keys.into_iter().filter(|k| ca.get(*k) != cb.get(*k)).collect();
    let _ = writeln!(out, "config: {} key(s) differ", differing.len());
    for key in differing {
        let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "(absent)".into());
        let _ = writeln!(out, "  {key}: {} -> {}", show(ca.get(key)), show(cb.get(key)));
    }
    for (name, x, y) in
        [("revision", &a.git_revision, &b.git_revision), ("data", &a.data_fingerprint, &b.data_fingerprint)]
    {
        if x != y {
            let _ =
                writeln!(out, "{name}: {} -> {}", x.as_deref().unwrap_or("-"), y.as_deref().unwrap_or("-"));
        }
    }
    out
}
