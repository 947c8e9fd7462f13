#!/usr/bin/env bash
# The README's GNU parallel recipe, run as written: 3 shards of a sweep through `parallel`, then
# sweep-merge; the merge must equal one unsharded run byte for byte.
source "$(dirname "$0")/common.sh"
if ! command -v parallel >/dev/null; then
  echo "WARN: GNU parallel is not installed (Debian package 'parallel'; tools/setup installs it): skipped"
  exit 77
fi
mmsim=$MMSIM
"$mmsim" sweep spec.json --out whole --jobs 2

# --- recipe (sim/sweep/README.md) ---
parallel --will-cite --halt now,fail=1 \
  "$mmsim" sweep spec.json --shard {}/3 --out results.shard-{}-of-3 --jobs 1 ::: 1 2 3
"$mmsim" sweep-merge results.shard-{1,2,3}-of-3 -o results
# --- end of recipe ---

for ext in csv jsonl; do
  cmp whole.$ext results.$ext
  echo "merge of 3 shards == unsharded run: results.$ext ($(wc -l < results.$ext) lines)"
done
rows=$(($(wc -l < results.csv) - 1))
[ "$rows" -eq 12 ] || { echo "expected 12 rows, got $rows"; exit 1; }
