#!/usr/bin/env bash
# tools/plot draws line, bar and heatmap charts from a sweep's CSV, as PNG and SVG.
source "$(dirname "$0")/common.sh"
if ! /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  echo "WARN: python3-matplotlib is not installed for /usr/bin/python3 (tools/setup installs it): skipped"
  exit 77
fi
"$MMSIM" sweep spec.json --out thp
plot=$ROOT/tools/plot
"$plot" --help | grep -q -- "--kind {line,bar,heatmap}"
"$plot" thp.csv -x ops[5].len -y vmstat.pgfault -y processes.1.Rss --by kernel.transparent_hugepage/enabled -o line
"$plot" thp.csv --kind bar -x kernel.transparent_hugepage/enabled -y cycles.all.total --where ops[5].len=2M -o bar.png
"$plot" thp.csv --kind heatmap -x ops[5].len -y kernel.transparent_hugepage/enabled -z cycles.all.total -o heat
for f in line.png line.svg bar.png heat.png heat.svg; do
  [ -s "$f" ] || { echo "$f was not written"; exit 1; }
done
[ ! -e bar.svg ] || { echo "-o bar.png wrote an SVG too"; exit 1; }
head -c 8 line.png | od -An -c | grep -q "P   N   G" || { echo "line.png is not a PNG"; exit 1; }
grep -q "<svg" line.svg
# Axes are labelled with units; the seed the plot averaged over is named.
grep -q "ops\[5\].len (bytes)" line.svg
grep -q "vmstat.pgfault (events)" line.svg
grep -q "processes.1.Rss (MiB)" line.svg
grep -q "mean over seed" line.svg
# Same CSV, same SVG.
"$plot" thp.csv -x ops[5].len -y vmstat.pgfault -y processes.1.Rss --by kernel.transparent_hugepage/enabled -o again
cmp line.svg again.svg
# Bad input is a message and a non-zero exit, not a traceback.
if "$plot" thp.csv -x ops[5].lem -y vmstat.pgfault 2>err; then exit 1; fi
grep -q "no such column" err
echo "tools/plot: line, bar and heatmap written as PNG and SVG"
