//! A sweep as Slurm jobs: an array job whose task `$SLURM_ARRAY_TASK_ID` trains exactly one
//! point, and a job that starts when every task has succeeded (`--dependency=afterok`) and runs
//! [`super::finish`]: inference of every point, `ensemble tune`, one `submission.csv` and the
//! leaderboard.
//!
//! ```text
//! SWEEP/train.sbatch    the array (one task per point), requeueable
//! SWEEP/finish.sbatch   the ensemble job
//! SWEEP/submit.sh       sbatch of both, the second depending on the first; ids to jobs.txt
//! SWEEP/logs/           each task's and the ensemble job's output
//! ```
//!
//! Preemption, `scontrol requeue` and the time limit all reach a task as `SIGTERM` (the time
//! limit `grace` seconds early, through `--signal=B:TERM@grace` to the batch shell, which
//! passes it on). The trainer then finishes its step, writes its `last` checkpoint and exits
//! with status 3; the script puts the task back in the queue, and when it runs again the point
//! resumes from that checkpoint, bit for bit (see [`crate::stop`]).
//!
//! Points write only their own folders and read the plan, so the tasks need nothing but a file
//! system shared by the nodes; no lock is taken (see [`super`] and `boneseg-ledger`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use boneseg_contract::atomic::write_atomic;
use serde::{Deserialize, Serialize};

use super::{Result, Sweep, SweepError, io};

/// The exit status of a point stopped by `SIGTERM` after its checkpoint.
pub const RESUMABLE_STATUS: u8 = 3;
/// What `submit.sh` writes: one line per submission, the array's id then the ensemble job's.
pub const JOBS_FILE: &str = "jobs.txt";

/// What the jobs ask Slurm for: the experiment config's `[slurm]` table, each key overridable
/// by the flag of the same name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmConfig {
    /// `--partition` of both jobs.
    #[serde(default)]
    pub partition: Option<String>,
    /// `--account` of both jobs.
    #[serde(default)]
    pub account: Option<String>,
    /// `--time` of each training task, e.g. `"04:00:00"`.
    #[serde(default)]
    pub time: Option<String>,
    /// `--time` of the ensemble job.
    #[serde(default)]
    pub finish_time: Option<String>,
    /// `--gpus-per-task` of both jobs, e.g. `"1"` or `"a100:1"`.
    #[serde(default)]
    pub gpus_per_task: Option<String>,
    #[serde(default)]
    pub cpus_per_task: Option<usize>,
    /// `--mem`, e.g. `"32G"`.
    #[serde(default)]
    pub mem: Option<String>,
    /// At most this many tasks at once (`--array=0-N%M`).
    #[serde(default)]
    pub max_parallel: Option<usize>,
    /// Seconds before the time limit at which a task is told to checkpoint (default 120).
    #[serde(default)]
    pub grace: Option<u32>,
    /// More `#SBATCH` options, verbatim (`"--qos=long"`, `"--constraint=a100"`).
    #[serde(default)]
    pub extra: Vec<String>,
}

impl SlurmConfig {
    /// `self` with every key `flags` sets replacing this one's.
    pub fn overridden_by(&self, flags: &SlurmConfig) -> SlurmConfig {
        fn pick<T: Clone>(flag: &Option<T>, config: &Option<T>) -> Option<T> {
            flag.clone().or_else(|| config.clone())
        }
        SlurmConfig {
            partition: pick(&flags.partition, &self.partition),
            account: pick(&flags.account, &self.account),
            time: pick(&flags.time, &self.time),
            finish_time: pick(&flags.finish_time, &self.finish_time),
            gpus_per_task: pick(&flags.gpus_per_task, &self.gpus_per_task),
            cpus_per_task: pick(&flags.cpus_per_task, &self.cpus_per_task),
            mem: pick(&flags.mem, &self.mem),
            max_parallel: pick(&flags.max_parallel, &self.max_parallel),
            grace: pick(&flags.grace, &self.grace),
            extra: if flags.extra.is_empty() { self.extra.clone() } else { flags.extra.clone() },
        }
    }

    fn grace(&self) -> u32 {
        self.grace.unwrap_or(120)
    }

    /// The `#SBATCH` lines both jobs share.
    fn shared_lines(&self, out: &mut String) {
        let mut line = |option: &str, value: &Option<String>| {
            if let Some(value) = value {
                let _ = writeln!(out, "#SBATCH --{option}={value}");
            }
        };
        line("partition", &self.partition);
        line("account", &self.account);
        line("gpus-per-task", &self.gpus_per_task);
        line("cpus-per-task", &self.cpus_per_task.map(|c| c.to_string()));
        line("mem", &self.mem);
        for extra in &self.extra {
            let _ = writeln!(out, "#SBATCH {extra}");
        }
    }
}

/// The scripts written for a sweep.
#[derive(Clone, Debug)]
pub struct Emitted {
    pub train: PathBuf,
    pub finish: PathBuf,
    pub submit: PathBuf,
}

/// Text in single quotes for the shell.
fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// A job name: the sweep folder's name, in characters every shell and Slurm take.
fn job_name(sweep: &Sweep) -> String {
    let name = sweep.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    format!("boneseg-{name}")
}

/// Writes the array job, the ensemble job and `submit.sh` into the sweep folder. `boneseg` is
/// the binary the nodes run (an absolute path on the shared file system).
pub fn emit(sweep: &Sweep, slurm: &SlurmConfig, boneseg: &Path) -> Result<Emitted> {
    if sweep.plan.finish.is_none() {
        return Err(SweepError::Finish(
            "the ensemble job needs the test images: give --test-images (e.g. data/test/DCM)".into(),
        ));
    }
    let dir = std::path::absolute(&sweep.dir).map_err(io(&sweep.dir))?;
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(io(&logs))?;
    let name = job_name(sweep);
    let (sweep_dir, binary) =
        (shell_quoted(&dir.display().to_string()), shell_quoted(&boneseg.display().to_string()));
    let workdir = sweep.plan.workdir.display();

    let mut train = String::from("#!/bin/bash\n");
    let _ = writeln!(
        train,
        "# Written by `boneseg sweep --emit slurm`: task $SLURM_ARRAY_TASK_ID trains point pNNN of\n\
         # {} (points.csv). SIGTERM (preemption, scontrol requeue, or {}s before the time limit)\n\
         # makes the point checkpoint and the task go back in the queue; it resumes when run again.",
        dir.display(),
        slurm.grace()
    );
    let _ = writeln!(train, "#SBATCH --job-name={name}");
    let parallel = slurm.max_parallel.map(|m| format!("%{m}")).unwrap_or_default();
    let _ = writeln!(train, "#SBATCH --array=0-{}{parallel}", sweep.len() - 1);
    let _ = writeln!(train, "#SBATCH --ntasks=1");
    let _ = writeln!(train, "#SBATCH --requeue");
    let _ = writeln!(train, "#SBATCH --open-mode=append");
    let _ = writeln!(train, "#SBATCH --signal=B:TERM@{}", slurm.grace());
    let _ = writeln!(train, "#SBATCH --chdir={workdir}");
    let _ = writeln!(train, "#SBATCH --output={}/train-%A_%a.out", logs.display());
    if let Some(time) = &slurm.time {
        let _ = writeln!(train, "#SBATCH --time={time}");
    }
    slurm.shared_lines(&mut train);
    let _ = write!(
        train,
        r#"
BONESEG={binary}
SWEEP={sweep_dir}
"$BONESEG" sweep point --sweep "$SWEEP" --index "$SLURM_ARRAY_TASK_ID" &
pid=$!
# The time limit's early TERM reaches this shell only: pass it on.
trap 'stopping=1; kill -TERM "$pid" 2>/dev/null' TERM
wait "$pid"
status=$?
# A trapped signal ends `wait` early: wait again for the checkpoint and the real status.
if [ -n "${{stopping:-}}" ]; then
  wait "$pid"
  status=$?
fi
if [ "$status" -eq {RESUMABLE_STATUS} ]; then
  echo "point checkpointed after SIGTERM; requeueing ${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}"
  scontrol requeue "${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}" || true
fi
exit "$status"
"#
    );

    let mut finish = String::from("#!/bin/bash\n");
    let _ = writeln!(
        finish,
        "# Written by `boneseg sweep --emit slurm`: after every point of {} has finished\n\
         # (submit.sh gives --dependency=afterok on the array), infer each point's validation and test\n\
         # images, tune the ensemble, write submission.csv and the leaderboard. Rerun, it skips what is done.",
        dir.display()
    );
    let _ = writeln!(finish, "#SBATCH --job-name={name}-finish");
    let _ = writeln!(finish, "#SBATCH --ntasks=1");
    let _ = writeln!(finish, "#SBATCH --requeue");
    let _ = writeln!(finish, "#SBATCH --open-mode=append");
    let _ = writeln!(finish, "#SBATCH --chdir={workdir}");
    let _ = writeln!(finish, "#SBATCH --output={}/finish-%j.out", logs.display());
    if let Some(time) = &slurm.finish_time {
        let _ = writeln!(finish, "#SBATCH --time={time}");
    }
    slurm.shared_lines(&mut finish);
    let _ = write!(finish, "\nexec {binary} sweep finish --sweep {sweep_dir}\n");

    let submit = format!(
        r#"#!/bin/sh
# Submits the sweep in this folder: the training array, then the ensemble job, which starts
# only when every task has succeeded (and is dropped if one cannot). Then: boneseg sweep wait {dir}
set -eu
cd {sweep_dir}
train=$(sbatch --parsable train.sbatch)
train=${{train%%;*}}
finish=$(sbatch --parsable --dependency=afterok:"$train" --kill-on-invalid-dep=yes finish.sbatch)
finish=${{finish%%;*}}
echo "$train $finish" >> {JOBS_FILE}
echo "submitted the training array $train ({points} points) and the ensemble job $finish"
"#,
        dir = dir.display(),
        points = sweep.len(),
    );

    let emitted = Emitted {
        train: dir.join("train.sbatch"),
        finish: dir.join("finish.sbatch"),
        submit: dir.join("submit.sh"),
    };
    for (path, text) in [(&emitted.train, &train), (&emitted.finish, &finish), (&emitted.submit, &submit)] {
        write_atomic(path, text.as_bytes()).map_err(io(path))?;
        make_executable(path)?;
    }
    Ok(emitted)
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(io(path))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> Result<()> {
    Ok(())
}

/// Where a submitted sweep stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// Points whose `sweep_point.json` is written.
    pub finished: usize,
    pub points: usize,
    /// The sweep's jobs Slurm still lists (`squeue`), as `id state`.
    pub queued: Vec<String>,
    /// The ensemble job has written the submission.
    pub done: bool,
}

/// The job ids of the latest `submit.sh`.
fn submitted_jobs(sweep: &Sweep) -> Result<Vec<String>> {
    let path = sweep.dir.join(JOBS_FILE);
    let text =
        std::fs::read_to_string(&path).map_err(|source| SweepError::Io { path: path.clone(), source })?;
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    let ids: Vec<String> = last.split_whitespace().map(str::to_string).collect();
    if ids.is_empty() {
        return Err(SweepError::Invalid { path, message: "no job ids: run submit.sh first".into() });
    }
    Ok(ids)
}

/// Polls until the sweep's jobs have left the queue (or `timeout` passes), calling `report`
/// whenever the progress changes. Ok when the ensemble job wrote the submission.
pub fn wait(
    sweep: &Sweep,
    poll: Duration,
    timeout: Option<Duration>,
    report: &mut dyn FnMut(&Progress),
) -> Result<Progress> {
    let ids = submitted_jobs(sweep)?;
    let started = Instant::now();
    let mut last: Option<Progress> = None;
    loop {
        let output = Command::new("squeue")
            .args(["--noheader", "--array", "--format=%i %T", "--jobs", &ids.join(",")])
            .output()
            .map_err(|source| SweepError::Io { path: PathBuf::from("squeue"), source })?;
        // squeue fails for ids it no longer knows: the jobs have left the queue.
        let queued: Vec<String> = if output.status.success() {
            String::from_utf8_lossy(&output.stdout).lines().map(|l| l.trim().to_string()).collect()
        } else {
            Vec::new()
        };
        let mut finished = 0;
        for index in 0..sweep.len() {
            finished += usize::from(sweep.result(index)?.is_some());
        }
        let done = super::finish::is_finished(sweep);
        let progress = Progress { finished, points: sweep.len(), queued, done };
        if last.as_ref() != Some(&progress) {
            report(&progress);
        }
        if progress.queued.is_empty() {
            return if progress.done {
                Ok(progress)
            } else {
                Err(SweepError::Finish(format!(
                    "the jobs {} have left the queue but {} is not written ({} of {} points finished): see {}",
                    ids.join(", "),
                    sweep.dir.join(super::finish::SUBMISSION_FILE).display(),
                    progress.finished,
                    progress.points,
                    sweep.dir.join("logs").display()
                )))
            };
        }
        if timeout.is_some_and(|t| started.elapsed() >= t) {
            return Err(SweepError::Finish(format!(
                "still queued after {:.0} s: {}",
                started.elapsed().as_secs_f64(),
                progress.queued.join(", ")
            )));
        }
        last = Some(progress);
        std::thread::sleep(poll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_replace_the_config_key_by_key() {
        let config = SlurmConfig {
            partition: Some("gpu".into()),
            time: Some("04:00:00".into()),
            extra: vec!["--qos=long".into()],
            ..SlurmConfig::default()
        };
        let flags = SlurmConfig { time: Some("01:00:00".into()), ..SlurmConfig::default() };
        let merged = config.overridden_by(&flags);
        assert_eq!(merged.partition.as_deref(), Some("gpu"));
        assert_eq!(merged.time.as_deref(), Some("01:00:00"));
        assert_eq!(merged.extra, ["--qos=long"]);
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quoted("/a b/it's"), "'/a b/it'\\''s'");
    }
}
