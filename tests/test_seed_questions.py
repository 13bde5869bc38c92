"""scripts/seed_questions.py, shrunk to 100 training digits: every table it promises, from real recordings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_seed_questions_quick_writes_its_tables_and_plots(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "seed_questions.py"), "--quick", "--out",
                             str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("Baker's protocol (200 random steps of 200")
    results = json.loads((tmp_path / "seed_questions" / "results.json").read_text())
    assert results["steps"] == 200 and results["n_params"] == 64 * 64 + 64 + 64 * 10 + 10
    assert len(results["baker"]["above_10pct"]) == 10
    assert [r["noise"] for r in results["noise"]] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert set(results["reconstruction"]) == {"1", "5", "20", "50", "100", "theta_0"}
    # training learned something theta_0 lacks
    assert results["final"]["accuracy"] > results["reconstruction"]["theta_0"]["accuracy"] + 0.2
    assert len(results["function"]["turn_steps"]) == 3 and results["function"]["points"] == 50
    for name in ("spectrum.png", "noise.png", "function.png"):
        assert (tmp_path / "seed_questions" / name).stat().st_size > 10_000
    text = (tmp_path / "seed_questions.md").read_text()
    for heading in ("protocol matters", "rank-k approximation", "Interpolating the treatment",
                    "Where the function turns"):
        assert heading in text
    assert "without first 25 %, centred" in text
