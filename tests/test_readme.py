"""The README is what a new user follows: its commands must be the real ones and its reference must be current."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def bash_commands() -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", README, re.S)]


def test_the_two_commands_are_the_readme_first_blocks_and_ci_runs_the_test_command():
    demo, tests = bash_commands()[:2]
    assert demo.endswith("misgen demo") and "\n" not in demo
    ci_command = (ROOT / ".ci/run").read_text().strip().splitlines()[-1]
    assert tests == ci_command


def test_generated_sections_match_the_cli_and_the_schema_modules():
    result = subprocess.run([sys.executable, str(ROOT / "scripts/readme.py"), "--check"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def test_every_command_and_option_of_the_cli_is_in_the_reference():
    import typer

    from cli import app

    def walk(command, path):
        yield path, command
        for name, sub in (getattr(command, "commands", None) or {}).items():
            yield from walk(sub, f"{path} {name}")

    for path, command in walk(typer.main.get_command(app), "misgen"):
        if path == "misgen":
            continue
        assert f"### `{path}`" in README
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--"):
                    assert f"`{opt}`" in README, f"{path} {opt} missing from the README"
