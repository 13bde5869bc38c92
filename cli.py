"""The ``misgen`` command line: a thin typer layer over envs/, agents/, analysis/ and misgen/.

Every command turns a user-facing problem (``MisgenError``, a malformed procgen state, a bad option) into one
line on stderr and exit code 2; nothing already written is overwritten unless the command says so.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Iterator, Optional

import typer
from rich.console import Console

from misgen.errors import MisgenError


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Study goal misgeneralization: train, record, decompose, ablate, evaluate, replay.")
envs_app = typer.Typer(add_completion=False, invoke_without_command=True,
                       help="List the variants; `misgen envs sample VARIANT` shows their levels.")
app.add_typer(envs_app, name="envs")
console = Console(stderr=True)


@contextmanager
def user_errors() -> Iterator[None]:
    """Report user-facing errors in one line with exit code 2, never a traceback."""
    from envs.state_codec import StateFormatError

    try:
        yield
    except (MisgenError, StateFormatError, ValueError) as error:
        typer.echo(f"misgen: error: {error}", err=True)
        raise typer.Exit(2)


@envs_app.callback()
def envs(ctx: typer.Context) -> None:
    """List the variants, one line each."""
    if ctx.invoked_subcommand is not None:
        return
    from envs.variants import VARIANTS

    for variant in VARIANTS.values():
        typer.echo(f"{variant.name:<18} {variant.game:<8} {variant.description}")


@envs_app.command("sample")
def envs_sample(
    variant: str = typer.Argument(..., help="variant name (see `misgen envs`)"),
    levels: int = typer.Option(10, "--levels", min=1, help="number of levels, seeds start-level, start-level+1, ..."),
    start_level: int = typer.Option(0, "--start-level", min=0, help="first level seed"),
    mode: str = typer.Option("easy", "--mode", help="distribution mode: easy | hard"),
    region: int = typer.Option(5, "--region", help="maze variants: side of the top-right region"),
    as_json: bool = typer.Option(False, "--json", help="print JSON lines"),
) -> None:
    """Per level: level seed, size (maze_dim or level width), agent start cell, goal cell."""
    with user_errors():
        from envs.levels import sample_levels
        from envs.variants import EnvConfig

        config = EnvConfig(variant=variant, distribution_mode=mode, region=region)
        summaries = sample_levels(config, list(range(start_level, start_level + levels)))
    if as_json:
        for summary in summaries:
            typer.echo(json.dumps(summary.as_dict()))
        return
    coords = "maze cells" if config.game == "maze" else "world cells"
    typer.echo(f"{'level_seed':>10}  {'size':>4}  {'agent':>8}  {'goal':>8}   ({coords}, x right, y up)")
    for s in summaries:
        typer.echo(f"{s.level_seed:>10}  {s.size:>4}  {str(s.agent):>8}  {str(s.goal):>8}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
