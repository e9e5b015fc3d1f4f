//! `boneseg`: the command line. Each subcommand lives in its own file under `commands/` and is a
//! thin layer over the library crates: it turns flags into arguments, calls one function and
//! reports. Exit status: 0 success, 1 problems found (checks), 2 error, 3 training stopped by
//! `SIGTERM` after a checkpoint (run it again to resume).

mod allocator;
mod commands;
mod headless;
mod progress;

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "boneseg",
    version,
    about = "Hand-bone X-ray segmentation, end to end: data, phantom, metric, submission"
)]
struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    allocator::keep_freed_memory();
    headless::quiet_vulkan_layers();
    tracing_subscriber::fmt().with_writer(std::io::stderr).without_time().with_target(false).init();
    let cli = Cli::parse();
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
