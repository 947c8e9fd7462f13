#!/usr/bin/env python3
"""Counts results from meson's testlog.json: a Catch2 binary contributes its test cases (from
its own summary line), any other test counts as one. Prints 'N passed, N failed'."""
import json
import re
import sys

passed = failed = skipped = 0
summary_all = re.compile(r"All tests passed \(\d+ assertions? in (\d+) test cases?\)")
summary_mixed = re.compile(r"test cases:\s+(\d+)\s+\|\s+(\d+) passed\s+\|\s+(\d+) failed")
try:
    lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
except OSError as e:
    print(f"no test log: {e}")
    print("0 passed, 1 failed")
    sys.exit(1)
for line in lines:
    t = json.loads(line)
    out = t.get("stdout", "") or ""
    ok = t.get("result") == "OK"
    for note in out.splitlines():  # the oracle's own summary: how much Linux checked
        if "checked against the real kernel" in note or "fields agree" in note:
            print(note.strip())
    m_all = summary_all.search(out)
    m_mixed = summary_mixed.search(out)
    if m_all and ok:
        passed += int(m_all.group(1))
    elif m_mixed:
        passed += int(m_mixed.group(2))
        failed += max(int(m_mixed.group(3)), 0 if ok else 1)
    elif ok:
        passed += 1
    elif t.get("result") == "SKIP":  # exit 77: a tool the test needs is missing; it said which
        skipped += 1
    else:
        failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed or passed == 0 else 0)
