"""The ``misgen`` command line: a thin typer layer over envs/, agents/, analysis/ and misgen/.

Every command turns a user-facing problem (``MisgenError``, a malformed procgen state, a bad option) into one
line on stderr and exit code 2; nothing already written is overwritten unless the command says so.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console

from misgen.errors import MisgenError, RecordingWriteError


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
    except RecordingWriteError as error:  # HDF5 may crash tearing the damaged file down: leave at once
        typer.echo(f"misgen: error: {error}", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(2)
    except (MisgenError, StateFormatError, ValueError) as error:
        typer.echo(f"misgen: error: {error}", err=True)
        raise typer.Exit(2)
    except OSError as error:  # a full disk, a vanished file: the system's words, on one line
        where = f"{error.filename}: " if error.filename else ""
        typer.echo(f"misgen: error: {where}{error.strerror or error}", err=True)
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


def _parse_record(record: str) -> tuple[str, ...]:
    if record == "none":
        return ()
    return tuple(dict.fromkeys(s.strip() for s in record.split(",") if s.strip()))


@app.command()
def train(
    variant: str = typer.Argument(..., help="variant to train on (see `misgen envs`)"),
    out: Path = typer.Option(..., "--out", help="run directory, e.g. runs/NAME (must be new unless --resume)"),
    timesteps: int = typer.Option(1_000_000, "--timesteps", min=1, help="environment steps in total"),
    preset: str = typer.Option("procgen", "--preset", help="hyperparameter preset: procgen | quick"),
    n_envs: Optional[int] = typer.Option(None, "--n-envs", min=1, help="parallel environments (preset's if unset)"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    seed: int = typer.Option(0, "--seed", help="seed of the learner and of procgen's level draws"),
    record: str = typer.Option("grads,updates", "--record", help="grads,updates | grads | updates | none"),
    record_every: int = typer.Option(1, "--record-every", help="record every K-th optimizer step"),
    record_dtype: str = typer.Option("float16", "--record-dtype", help="float16 | bfloat16 | float32"),
    checkpoint_every: int = typer.Option(0, "--checkpoint-every", min=0, help="env steps between checkpoints (0: "
                                         "start and end only)"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out from its last checkpoint"),
    mode: str = typer.Option("easy", "--mode", help="distribution mode: easy | hard"),
    num_levels: int = typer.Option(0, "--num-levels", min=0, help="distinct training levels (0: unlimited)"),
    start_level: int = typer.Option(0, "--start-level", min=0, help="first level seed"),
    region: int = typer.Option(5, "--region", help="maze variants: side of the top-right region"),
    hp: list[str] = typer.Option([], "--hp", help="override a hyperparameter: NAME=VALUE (repeatable)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show the progress bar"),
) -> None:
    """Train a PPO agent and record its gradient time series into runs/NAME/."""
    with user_errors():
        from agents.presets import PRESETS
        from agents.train import RecordConfig
        from agents.train import train as run_training
        from envs.variants import EnvConfig

        if preset not in PRESETS:
            raise MisgenError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        overrides = dict(_split_assignment(item) for item in hp)
        if n_envs is not None:
            overrides["n_envs"] = str(n_envs)
        ppo_config = PRESETS[preset].with_overrides(overrides)
        env_config = EnvConfig(variant=variant, distribution_mode=mode, num_levels=num_levels,
                               start_level=start_level, region=region, seed=seed)
        record_config = RecordConfig(_parse_record(record), record_every, record_dtype)
        result = run_training(out, env_config, ppo_config, record_config, timesteps, device=device, seed=seed,
                              checkpoint_every=checkpoint_every, resume=resume, show_progress=progress)
    state = "finished" if result.complete else "stopped early; continue with --resume"
    typer.echo(f"{state}: {result.timesteps} env steps, {result.optimizer_steps} optimizer steps; last 100 "
               f"episodes: return {result.mean_return:.2f}, goal {result.goal_rate:.0%}, proxy "
               f"{result.proxy_rate:.0%}; wrote {result.run.path}")


def _split_assignment(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise MisgenError(f"--hp takes NAME=VALUE, not {item!r}")
    return name.strip(), value.strip()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
