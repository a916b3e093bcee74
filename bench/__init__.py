"""Benchmarks: `python -m bench.NAME` (each module's docstring says what it measures)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The real 2025 export lives beside the checkout, never in it: benchmarks read it when present.
REAL_WORKBOOK = REPO_ROOT.parent / "shared" / "data" / "progmetal_releases_2025.xlsx"
