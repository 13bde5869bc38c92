"""The documents hang together: every relative link resolves, and every file under docs/results/ is linked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "benchmarks").glob("*.md")),
         *sorted((ROOT / "scripts").glob("*.md"))]


def relative_links(page: Path) -> list[tuple[str, Path]]:
    links = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor in the page itself
        links.append((target, (page.parent / unquote(target.split("#")[0])).resolve()))
    return links


def test_every_relative_link_resolves():
    broken = [f"{page.relative_to(ROOT)}: {target}" for page in PAGES for target, path in relative_links(page)
              if not path.exists()]
    assert not broken, "\n".join(broken)


def test_every_file_under_docs_results_is_linked_and_the_index_pages_are_current():
    linked = {path for page in PAGES for _, path in relative_links(page)}
    files = [p.resolve() for p in (ROOT / "docs" / "results").rglob("*") if p.is_file()]
    unlinked = [str(p.relative_to(ROOT)) for p in files if p not in linked]
    assert not unlinked, "\n".join(unlinked)
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "results_index.py"), "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
