"""Our workbook parser against openpyxl's full load, side by side, in one run.

    python -m bench.workbook [FILE ...] [--runs 5]

Without FILE: the real 2025 tab (../shared/data/progmetal_releases_2025.xlsx, when present) and
the generated 18-tab, 17,500-row workbook (made once into the temp dir by bench.generate_workbook).

Every measurement runs in a fresh interpreter (`python -c`, nothing imported but what the load
needs), alternating ours / openpyxl, and reports medians:

* wall: `time.perf_counter()` around the load alone (ours: read the file + `parse_workbook`;
  openpyxl: `openpyxl.load_workbook(FILE)`), after the imports.
* peak: the child's peak resident set size, `VmHWM` from /proc/self/status. That is what
  `ru_maxrss` reports, minus one trap: `ru_maxrss` survives fork+exec, so a child can inherit
  the parent's high-water mark. It counts the whole process: interpreter, imports and data.
* above base: peak minus the resident size just before the load (after the imports): the memory
  the load itself needed.

Targets, which the project set for the 17,500-row workbook: wall <= 0.5x and peak <= 0.35x of
openpyxl's full load. The small real tab is reported beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import REAL_WORKBOOK, REPO_ROOT

WALL_TARGET = 0.5
PEAK_TARGET = 0.35

# Runs in the child interpreter. Prints: wall seconds, peak kB, kB before the load, row count.
_CHILD = r"""
import sys, time

def kilobytes(key):
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

mode, path = sys.argv[1], sys.argv[2]
if mode == "openpyxl":
    import openpyxl
    base = kilobytes("VmRSS:")
    started = time.perf_counter()
    workbook = openpyxl.load_workbook(path)
    wall = time.perf_counter() - started
    count = sum(sheet.max_row for sheet in workbook.worksheets)
else:
    from django.conf import settings
    from catalog.services.workbook import parse_workbook
    settings.WORKBOOK_MAX_UNPACKED_BYTES  # the caps' settings load before the clock starts
    base = kilobytes("VmRSS:")
    started = time.perf_counter()
    with open(path, "rb") as stream:
        parsed = parse_workbook(stream.read())
    wall = time.perf_counter() - started
    count = len(parsed.rows)
print(wall, kilobytes("VmHWM:"), base, count)
"""


@dataclass(frozen=True)
class Sample:
    wall: float
    peak_kb: int
    base_kb: int
    count: int


def measure(mode: str, path: Path) -> Sample:
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(path)],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            # The parser reads its caps from the settings (the defaults; no .env).
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_ENV_FILE": "",
            "DJANGO_DEBUG": "1",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{mode} on {path} failed:\n{completed.stderr}")
    wall, peak, base, count = completed.stdout.split()
    return Sample(float(wall), int(peak), int(base), int(count))


def generated_workbook() -> Path:
    """The 18-tab benchmark workbook, generated once (in a child process) into the temp dir."""
    from bench.generate_workbook import TOTAL_ROWS

    path = Path(tempfile.gettempdir()) / "progmetal-bench" / f"generated-{TOTAL_ROWS}.xlsx"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.xlsx")
        subprocess.run(
            [sys.executable, "-m", "bench.generate_workbook", str(partial)],
            cwd=REPO_ROOT,
            check=True,
        )
        partial.rename(path)
    return path


def _median(samples: list[Sample], attribute: str) -> float:
    return statistics.median(getattr(sample, attribute) for sample in samples)


def compare(path: Path, runs: int) -> bool:
    ours: list[Sample] = []
    theirs: list[Sample] = []
    for _ in range(runs):
        ours.append(measure("ours", path))
        theirs.append(measure("openpyxl", path))
    wall_ours, wall_theirs = _median(ours, "wall"), _median(theirs, "wall")
    peak_ours, peak_theirs = _median(ours, "peak_kb"), _median(theirs, "peak_kb")
    base_ours, base_theirs = _median(ours, "base_kb"), _median(theirs, "base_kb")
    load_ours = statistics.median(s.peak_kb - s.base_kb for s in ours)
    load_theirs = statistics.median(s.peak_kb - s.base_kb for s in theirs)
    wall_ratio, peak_ratio = wall_ours / wall_theirs, peak_ours / peak_theirs
    size = path.stat().st_size / 1e6
    print(f"\n{path} ({size:.2f} MB), median of {runs} runs, each in a fresh process")
    print(f"  our parser: {ours[0].count} release rows; openpyxl: {theirs[0].count} sheet rows")
    print(f"  {'':22}{'ours':>12}{'openpyxl':>12}{'ratio':>9}")
    print(f"  {'wall (s)':22}{wall_ours:12.3f}{wall_theirs:12.3f}{wall_ratio:9.2f}")
    print(
        f"  {'peak RSS (MB)':22}{peak_ours / 1024:12.1f}{peak_theirs / 1024:12.1f}{peak_ratio:9.2f}"
    )
    print(f"  {'  before the load (MB)':22}{base_ours / 1024:12.1f}{base_theirs / 1024:12.1f}")
    print(
        f"  {'  above it (MB)':22}{load_ours / 1024:12.1f}{load_theirs / 1024:12.1f}"
        f"{load_ours / load_theirs:9.2f}"
    )
    wall_ok, peak_ok = wall_ratio <= WALL_TARGET, peak_ratio <= PEAK_TARGET
    load_ok = load_ours / load_theirs <= PEAK_TARGET
    print(
        f"  targets: wall <= {WALL_TARGET}x {_verdict(wall_ok)}; "
        f"peak <= {PEAK_TARGET}x: whole process {_verdict(peak_ok)}, "
        f"above the pre-load size {_verdict(load_ok)}"
    )
    return wall_ok and peak_ok


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Our workbook parser against openpyxl.")
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    files: list[Path] = args.files
    if not files:
        files = [REAL_WORKBOOK] if REAL_WORKBOOK.exists() else []
        files.append(generated_workbook())
    results = [compare(path, args.runs) for path in files]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
