"""Write ``docs/results/<study>/README.md``: one page per study folder that links every file in it, so that each
file a document names can be found and no file lies there unexplained (tests/test_docs.py checks both).

    python scripts/results_index.py           # rewrite the index pages
    python scripts/results_index.py --check   # exit 1 if one would change
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
STUDIES = {  # folder: (title, the page that reads these files)
    "cpu-preset": ("The search for the `cpu` preset, 2026-12-02 to 2026-12-05: evaluations (`misgen evaluate "
                   "--json`), run configs and learning curves", "../../notebook/2026-12-02-cpu-preset.md"),
    "gpu-lease-2026-11-23": ("The first gradient-SVD run on one GPU lease, 2026-11-23: evaluations and the SVD's "
                             "plots", "../../notebook/2026-11-23-gpu-lease.md"),
    "cpu-seeds": ("The `cpu` preset's recorded seeds as one `misgen sweep` table (scripts/seed_table.py)",
                  "../../results.md"),
    "gradient-svd": ("The gradient-SVD experiment on the `cpu` preset's agents: evaluations, svd reports, "
                     "ablation reports, per seed", "../../results.md"),
}


def index_page(folder: Path) -> str:
    title, reader = STUDIES[folder.name]
    lines = [f"# {title}", "", f"Read in [{Path(reader).name}]({reader}). Every file here:", ""]
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "README.md"):
        relative = path.relative_to(folder).as_posix()
        lines.append(f"- [{relative}]({relative})")
    return "\n".join(lines) + "\n"


def main() -> None:
    check = "--check" in sys.argv[1:]
    stale = []
    for folder in sorted(p for p in RESULTS.iterdir() if p.is_dir()):
        if folder.name not in STUDIES:
            sys.exit(f"results_index.py: {folder} is no study of STUDIES; add it there")
        page, text = folder / "README.md", index_page(folder)
        if page.exists() and page.read_text() == text:
            continue
        stale.append(page)
        if not check:
            page.write_text(text)
    if check and stale:
        sys.exit(f"results_index.py: stale index pages: {', '.join(map(str, stale))} (run scripts/results_index.py)")
    print(f"{len(stale)} index page(s) {'stale' if check else 'written'}")


if __name__ == "__main__":
    main()
