"""Regenerate the README's generated sections from their single sources.

- ``cli``: the CLI reference, from the click commands behind ``misgen --help`` (names, arguments, options, help).
- ``schema PATH``: a file schema, from the docstring of the module that defines it (each schema is written once,
  in its module; the README shows a copy).

A generated section sits between ``<!-- generated: NAME -->`` and ``<!-- /generated -->``.

    python scripts/readme.py          # rewrite README.md
    python scripts/readme.py --check  # exit 1 if README.md differs from what would be generated
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import typer

ROOT = Path(__file__).resolve().parent.parent
SECTION = re.compile(r"(<!-- generated: (?P<name>[^>]+?) -->\n)(?P<body>.*?)(<!-- /generated -->)", re.S)


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|")


def _param_row(param) -> str:
    if param.param_type_name == "argument":
        return f"| `{param.name.upper()}` | | {_cell(param.help)} |"
    names = " / ".join(f"`{n}`" for n in [*param.opts, *param.secondary_opts])
    default = "" if param.default in (None, [], ()) or param.is_flag and not param.secondary_opts else param.default
    if param.is_flag and param.secondary_opts and param.default is not None:  # --x/--no-x: name the default side
        default = param.opts[0] if param.default else param.secondary_opts[0]
    return f"| {names} | {f'`{default}`' if default != '' else ''} | {_cell(param.help)} |"


def _command_section(path: str, command) -> list[str]:
    lines = [f"### `{path}`", "", (command.help or "").strip().splitlines()[0], ""]
    params = [p for p in command.params if p.name != "help"]
    if params:
        lines += ["| argument / option | default | meaning |", "|---|---|---|", *map(_param_row, params), ""]
    return lines


def cli_reference() -> str:
    """One section per command, in the order ``misgen --help`` lists them (typer vendors its own click, so
    commands and parameters are read by attribute, not by class)."""
    sys.path.insert(0, str(ROOT))
    from cli import app

    lines: list[str] = []

    def walk(path: str, command) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is None or command.invoke_without_command:
            lines.extend(_command_section(path, command))
        for name, sub in (subcommands or {}).items():
            walk(f"{path} {name}", sub)

    for name, command in typer.main.get_command(app).commands.items():
        walk(f"misgen {name}", command)
    return "\n".join(lines)


def schema(module_path: str) -> str:
    """The module docstring, minus its first line, verbatim."""
    doc = ast.get_docstring(ast.parse((ROOT / module_path).read_text()))
    body = doc.split("\n", 1)[1].strip()
    return f"From `{module_path}`:\n\n```text\n{body}\n```\n"


def generate(text: str) -> str:
    def fill(match: re.Match) -> str:
        name = match["name"]
        body = cli_reference() if name == "cli" else schema(name.removeprefix("schema ").strip())
        return f"{match.group(1)}{body.rstrip()}\n{match.group(4)}"

    return SECTION.sub(fill, text)


def main() -> int:
    readme = ROOT / "README.md"
    current = readme.read_text()
    wanted = generate(current)
    if "--check" in sys.argv:
        if wanted != current:
            print("README.md is out of date: run python scripts/readme.py", file=sys.stderr)
            return 1
        return 0
    readme.write_text(wanted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
