#!/usr/bin/env bash
# tools/slurm/sweep.sbatch without Slurm: each array task is run with the variables Slurm would
# set, then the merge step; the result must equal one unsharded run byte for byte.
source "$(dirname "$0")/common.sh"
"$MMSIM" sweep spec.json --out whole --jobs 2
export SPEC=spec.json OUT=results MMSIM
for id in 0 1 2 3; do
  SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=0 SLURM_CPUS_PER_TASK=2 \
    bash "$ROOT/tools/slurm/sweep.sbatch"
done
# A requeued task resumes: nothing runs again and nothing changes.
before=$(cat results.shard-2-of-4.csv)
SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=4 bash "$ROOT/tools/slurm/sweep.sbatch"
[ "$before" = "$(cat results.shard-2-of-4.csv)" ]
SHARDS=4 bash "$ROOT/tools/slurm/sweep.sbatch"
cmp whole.csv results.csv
cmp whole.jsonl results.jsonl
echo "sweep.sbatch: 4 array tasks + merge == unsharded run"
# An array with an offset would number shards wrongly: refused.
if SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=1 bash "$ROOT/tools/slurm/sweep.sbatch" 2>err; then
  echo "an offset array was accepted"; exit 1
fi
grep -q -- "--array=0-3" err
