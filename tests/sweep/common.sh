# Sourced by the sweep shell tests: $1 is build/sim/mmsim, $2 the source root. Sets MMSIM,
# ROOT, a scratch $WORK (removed on exit) and a small spec $WORK/spec.json of 12 points.
set -euo pipefail
MMSIM=$(realpath "$1")
ROOT=$(realpath "$2")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/spec.json" <<SPEC
{
  "trace": "$ROOT/traces/thp/pmd-fault-zero-cow-split.json",
  "grid": {
    "kernel.transparent_hugepage/enabled": ["always", "never"],
    "ops[5].len": ["64K", "512K", "2M"]
  },
  "zip": {"ops[5].pattern": ["random"], "ops[5].count": [256]},
  "repeat": 2,
  "metrics": ["vmstat.pgfault", "vmstat.thp_fault_alloc", "cycles.all.total", "processes.1.Rss"]
}
SPEC
cd "$WORK"
