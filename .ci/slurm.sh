#!/usr/bin/env bash
# A real Slurm on this machine: Debian's slurm-wlm and munge (installed when missing), one node
# on localhost (slurmctld + slurmd, a config generated for this host, cgroups off). On it:
#  1. a sweep of two identical points as an array job; task 1 is requeued mid-run (SIGTERM,
#     checkpoint, back in the queue) and must end with the same weights as task 0, which ran
#     straight through;
#  2. the README's three lines: a 2-fold sweep (phantom 64², 2 steps a fold) emitted, submitted
#     with its dependent ensemble job, waited for; the submission must be valid and `runs list`
#     must show both folds;
#  3. deploy/slurm/infer.sh: inference sharded over a 2-task array, merged by its dependent job,
#     byte for byte the unsharded submission and probability store.
# The cluster is stopped at the end, whatever happened. Runs target/release/boneseg (built here),
# or the binary BONESEG names.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
if [ -z "${BONESEG:-}" ]; then
  cargo build --release --locked -p boneseg
fi
B=${BONESEG:-$ROOT/target/release/boneseg}

W=$ROOT/target/ci-slurm
rm -rf "$W"
mkdir -p "$W/state/ctld" "$W/state/spool" "$W/logs"
export SLURM_CONF=$W/state/slurm.conf
export BONESEG_LEDGER=$W/ledger.jsonl
started_munge=""
stop_cluster() {
  # Jobs first (their steps outlive slurmd), then the daemons this script started.
  squeue --noheader --format=%A 2>/dev/null | xargs -r scancel 2>/dev/null || true
  for _ in $(seq 30); do
    [ -z "$(squeue --noheader 2>/dev/null)" ] && break
    sleep 1
  done
  for pid_file in "$W/state/slurmd.pid" "$W/state/slurmctld.pid"; do
    if [ -f "$pid_file" ]; then kill "$(cat "$pid_file")" 2>/dev/null || true; fi
  done
  if [ -n "$started_munge" ] && [ -f /run/munge/munged.pid ]; then
    kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
  fi
}
trap stop_cluster EXIT
trap "exit 1" INT TERM

# munge authenticates Slurm's messages; its key comes with the package.
if ! pgrep -x munged >/dev/null 2>&1; then
  mkdir -p /run/munge && chown munge:munge /run/munge
  runuser -u munge -- /usr/sbin/munged
  started_munge=yes
fi

host=$(hostname -s)
cat > "$SLURM_CONF" <<CONF
ClusterName=boneseg-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$W/state/ctld
SlurmdSpoolDir=$W/state/spool
SlurmctldPidFile=$W/state/slurmctld.pid
SlurmdPidFile=$W/state/slurmd.pid
SlurmctldLogFile=$W/logs/slurmctld.log
SlurmdLogFile=$W/logs/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
KillWait=30
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
/usr/sbin/slurmctld -f "$SLURM_CONF"
/usr/sbin/slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
  sinfo --noheader --states=idle 2>/dev/null | grep -q . && break
  sleep 1
done
sinfo

# Waits (bounded) until none of the given jobs is queued or running.
wait_jobs() {
  local limit=$1; shift
  for _ in $(seq "$limit"); do
    [ -z "$(squeue --noheader --array --jobs "$1" 2>/dev/null)" ] && return 0
    sleep 1
  done
  echo "jobs $* still queued after ${limit}s"; squeue; return 1
}

"$B" synth --out "$W/data" --people 4 --test-people 2 --size 64 --seed 3

cat > "$W/tiny.toml" <<TOML
loss = [{ kind = "bce", weight = 0.5 }, { kind = "dice", weight = 0.5 }]

[model]
arch = "unet"
encoder = "resnet18"

[data]
root = "$W/data"
size = 64
folds = 2
workers = 1

[train]
epochs = 1
batch_size = 2
seed = 5
log_every = 1

[optim]
kind = "adamw"
lr = 1e-3

[slurm]
partition = "ci"
time = "00:20:00"
cpus_per_task = 1
TOML

echo "== 1. a task requeued mid-run ends with the uninterrupted task's weights"
# Two points with the same overrides: p000 runs straight through, p001 is interrupted.
printf '[train]\nepochs = [12, 12]\nval_every = [12]\n' > "$W/twins.toml"
"$B" sweep --config "$W/tiny.toml" --grid "$W/twins.toml" --out "$W/twins" --test-images "$W/data/test/DCM" --emit slurm
job=$(sbatch --parsable "$W/twins/train.sbatch")
step_of() { sed -n 's/.*"step": \([0-9]*\).*/\1/p' "$W/twins/p001/checkpoints/last/state.json" 2>/dev/null | head -n 1; }
steps_logged() { [ -f "$W/twins/p001/steps.csv" ] && tail -n +2 "$W/twins/p001/steps.csv" | wc -l || echo 0; }
for _ in $(seq 600); do
  [ "$(steps_logged)" -ge 3 ] && break
  sleep 0.2
done
[ "$(steps_logged)" -ge 3 ] || { echo "task 1 never reached step 3"; cat "$W/twins/logs/"*; exit 1; }
scontrol requeue "${job}_1"
# A requeued job waits two minutes before it may start again; the test need not.
for _ in $(seq 120); do
  state=$(squeue --noheader --array --jobs "${job}_1" --format=%T 2>/dev/null || true)
  [ "$state" = "PENDING" ] && break
  sleep 0.5
done
interrupted_at=$(step_of)
echo "task 1 checkpointed at step ${interrupted_at:-?} and is back in the queue ($state)"
scontrol update JobId="${job}_1" StartTime=now
wait_jobs 600 "$job"
grep -q "stopped by request at step" "$W/twins/logs/train-${job}_1.out" ||
  { echo "task 1 was not stopped through SIGTERM"; cat "$W/twins/logs/train-${job}_1.out"; exit 1; }
grep -q "resuming at" "$W/twins/logs/train-${job}_1.out" ||
  { echo "task 1 did not resume"; cat "$W/twins/logs/train-${job}_1.out"; exit 1; }
test -f "$W/twins/p000/sweep_point.json" && test -f "$W/twins/p001/sweep_point.json"
"$B" weights compare "$W/twins/p000/checkpoints/last" "$W/twins/p001/checkpoints/last"

echo "== 2. the README's three lines: emit, sbatch, wait"
printf '[data]\nfold = [0, 1]\n' > "$W/kfold.toml"
"$B" sweep --config "$W/tiny.toml" --grid "$W/kfold.toml" --out "$W/kfold" --test-images "$W/data/test/DCM" --emit slurm
"$W/kfold/submit.sh"
"$B" sweep wait "$W/kfold" --poll 2 --timeout 15
"$B" submission check "$W/kfold/submission.csv" --images "$W/data/test/DCM"
runs=$("$B" runs list)
echo "$runs"
echo "$runs" | grep -q "$W/kfold/p000" || { echo "runs list does not show fold 0"; exit 1; }
echo "$runs" | grep -q "$W/kfold/p001" || { echo "runs list does not show fold 1"; exit 1; }

echo "== 3. sharded inference as an array job equals the unsharded inference"
"$B" infer --run "$W/kfold/p000" --images "$W/data/test/DCM" --out "$W/whole.csv" --probs "$W/whole"
RUN=$W/kfold/p000 IMAGES=$W/data/test/DCM OUT=$W/sharded SHARDS=2 BONESEG=$B PARTITION=ci \
  deploy/slurm/infer.sh | tee "$W/sharded.txt"
merge_job=$(sed -n 's/.*merge job \([0-9]*\).*/\1/p' "$W/sharded.txt")
wait_jobs 300 "$merge_job"
cmp "$W/whole.csv" "$W/sharded/submission.csv"
cmp "$W/whole/probs.parquet" "$W/sharded/probs/probs.parquet"
echo "Slurm checks passed"
