#!/usr/bin/env python3
"""Layering test: arch/ includes nothing from mm/ or sim/; mm/ nothing from sim/.

Arrows point down only (shared/design/ARCHITECTURE.md). Prints every offending line and
exits 1 if there is one.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
forbidden = {"arch": ("mm/", "sim/", "workloads/", "tools/"), "mm": ("sim/", "workloads/", "tools/")}
include = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
bad = 0
checked = 0
for layer, banned in forbidden.items():
    for path in sorted((root / layer).rglob("*")):
        if path.suffix not in (".hpp", ".cpp", ".def"):
            continue
        checked += 1
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = include.match(line)
            if m and m.group(1).startswith(banned):
                print(f"{path.relative_to(root)}:{n}: {layer}/ must not include {m.group(1)}")
                bad += 1
print(f"layering: {checked} files checked, {bad} violations")
sys.exit(1 if bad or checked == 0 else 0)
