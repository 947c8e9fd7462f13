#!/usr/bin/python3
"""Re-runs every experiment's sweep and checks the conclusions its README states.

Usage: check_book.py MMSIM SOURCE_ROOT. Exits 1 with the broken conclusion if one fails.
"""
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

mmsim, root = sys.argv[1], Path(sys.argv[2])
failures = []


def sweep(spec):
    out = Path(tempfile.mkdtemp()) / "rows"
    subprocess.run([mmsim, "sweep", str(spec), "--out", str(out), "--jobs", "2"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(f"{out}.csv", newline="") as f:
        return list(csv.DictReader(f))


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


# Seed 003: only the first-page heuristic (large) and the never_shared injection collapse, and
# the collapse costs at least the 256 pages the child still maps (+1 MiB).
rows = {r["kernel.mm/mapcount"]: r for r in sweep(root / "experiments/003-khugepaged-shared/spec.json")}
check(all(r["status"] == "ok" for r in rows.values()), "003: every point ran")
collapsed = sorted(s for s, r in rows.items() if int(r["vmstat.thp_collapse_alloc"]) > 0)
check(collapsed == ["large", "never_shared"], f"003: exactly large and never_shared collapse (got {collapsed})")
extra = int(rows["large"]["vmstat.nr_anon_pages"]) - int(rows["mm_id"]["vmstat.nr_anon_pages"])
check(extra >= 256, f"003: the collapse under large costs >= 256 more pages than mm_id (got {extra})")
check(int(rows["large"]["processes.1.Rss"]) > int(rows["legacy"]["processes.1.Rss"]),
      "003: the parent's Rss grows only where the range collapsed")
check(all(int(rows[s]["vmstat.thp_scan_exceed_share_pte"]) > 0 for s in ("exact", "legacy", "mm_id")),
      "003: exact, legacy and mm_id stop the scan on max_ptes_shared")

sys.exit(1 if failures else 0)
