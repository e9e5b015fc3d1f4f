//! `boneseg bench engine`: the plain U-Net's training step and forward on boneseg and on PyTorch
//! (tools/bench/bench_engine.py) in one session, with the ratios.

use std::path::PathBuf;
use std::process::ExitCode;

use boneseg_models::device::Backend;
use boneseg_train::bench::engine::{EngineShape, Times, time_boneseg, time_pytorch};
use boneseg_train::bench::profile::{profile, totals};

#[derive(clap::Args)]
pub struct EngineBenchArgs {
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    #[arg(long, default_value_t = 2)]
    pub batch: usize,
    #[arg(long, default_value_t = 29)]
    pub classes: usize,
    /// Timed repetitions after one warm-up; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub iters: usize,
    /// The Python with PyTorch that runs the peer script; `none` times boneseg alone.
    #[arg(long, default_value = "/work/venv/torch/bin/python")]
    pub python: String,
    #[arg(long, default_value = "tools/bench/bench_engine.py")]
    pub script: PathBuf,
    /// Whose convolution, batch-norm and max-pool kernels boneseg runs: boneseg, burn, or both
    /// one after the other.
    #[arg(long, default_value = "both")]
    pub kernels: String,
    /// Also time each kind of operation of the training step on its own.
    #[arg(long)]
    pub profile: bool,
}

pub fn run(args: EngineBenchArgs) -> anyhow::Result<ExitCode> {
    let kernels: &[(&str, bool)] = match args.kernels.as_str() {
        "boneseg" => &[("boneseg", false)],
        "burn" => &[("burn", true)],
        "both" => &[("boneseg", false), ("burn", true)],
        other => anyhow::bail!("--kernels is boneseg, burn or both, not `{other}`"),
    };
    let device = Backend::Cpu.device().map_err(anyhow::Error::msg)?;
    println!(
        "plain U-Net (channels 32..512), batch {}, {}x{}, {} classes, BCE-with-logits, Adam; rayon threads: {}",
        args.batch,
        args.size,
        args.size,
        args.classes,
        rayon::current_num_threads()
    );
    let shape = EngineShape { batch: args.batch, size: args.size, classes: args.classes, iters: args.iters };
    let threads = rayon::current_num_threads();
    let peer = (args.python != "none")
        .then(|| time_pytorch(&args.python, &args.script, shape, threads))
        .transpose()?;
    if let Some(peer) = &peer {
        println!(
            "PyTorch counts {:.0} GFLOP per training step and {:.1} per forward, {} parameters",
            peer.train_gflop, peer.forward_gflop, peer.parameters
        );
    }
    let mut rows = vec![];
    if let Some(peer) = &peer {
        rows.push((format!("PyTorch, threads: {}", peer.threads), peer.times));
    }
    for &(name, burn) in kernels {
        boneseg_kernels::use_burn_kernels(burn);
        rows.push((format!("boneseg on flex, {name}'s kernels"), time_boneseg(shape, &device)));
    }
    boneseg_kernels::use_burn_kernels(false);
    println!("| engine | train step | forward |\n|---|---|---|");
    for (name, times) in &rows {
        print_row(name, times, peer.as_ref().map(|p| &p.times));
    }
    if args.profile {
        print_profile(&args, &device);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_row(name: &str, times: &Times, peer: Option<&Times>) {
    match peer {
        Some(peer) => {
            let ratio = |ms: f64, peer: f64| format!("{ms:.0} ms ({:.2}x)", ms / peer);
            println!(
                "| {name} | {} | {} |",
                ratio(times.train, peer.train),
                ratio(times.forward, peer.forward)
            )
        }
        None => println!("| {name} | {:.0} ms | {:.0} ms |", times.train, times.forward),
    }
}

fn print_profile(args: &EngineBenchArgs, device: &boneseg_models::burn::tensor::Device) {
    let rows = profile(args.batch, args.size, args.classes, args.iters, device);
    println!(
        "\nper-op profile of one training step (ms, summed over calls; flex, {} threads)",
        rayon::current_num_threads()
    );
    println!("| operation | calls | burn's kernels | boneseg's kernels |\n|---|---|---|---|");
    for row in &rows {
        println!("| {} | {} | {:.0} | {:.0} |", row.operation, row.calls, row.burn_ms, row.boneseg_ms);
    }
    let [burn, ours] = totals(&rows);
    println!("| sum | | {burn:.0} | {ours:.0} |");
}
