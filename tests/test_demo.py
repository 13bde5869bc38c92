"""``misgen demo``, shrunk: every stage runs for real and the report's links resolve to files it wrote."""

from __future__ import annotations

import json
import re
import subprocess

from conftest import MISGEN


def test_demo_writes_a_report_whose_links_resolve(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run([MISGEN, "demo", "--out", str(out), "--timesteps", "4096", "--levels", "20",
                             "--episodes", "6", "--controls", "1", "--no-progress"], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert [line.split("]")[0] for line in result.stderr.splitlines() if line.startswith("misgen demo [")] == \
        [f"misgen demo [{i}/5" for i in range(1, 6)]
    report = (out / "report.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", report)
    assert len(links) >= 14
    for link in links:
        assert (out / link).exists(), link
    assert "4,096 env steps" in report and "24 optimizer steps" in report
    assert "share outside / inside the region" in report  # the run recorded its gradient split by region
    assert (out / "videos" / "original_vs_late_ablated.mp4").stat().st_size > 0
    assert "the small agent" in report and "the shipped agent" in report and "bulk band" in report
    ablation = json.loads((out / "shipped_late_ablation" / "ablation.json").read_text())
    assert ablation["run"].endswith("maze-topright-cpu.zip") and len(ablation["bulk_controls"]) == 1


def test_demo_refuses_an_existing_run_without_force(tmp_path):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "keep.txt").write_text("earlier work")
    result = subprocess.run([MISGEN, "demo", "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--force" in result.stderr
    assert (out / "keep.txt").read_text() == "earlier work"
