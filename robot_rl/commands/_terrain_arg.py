"""`--terrain NAME[:key=value,...]|FILE`: the one terrain flag of train, eval and sim-robot (sim/terrain.py).

Why a module: three commands take the same flag and must refuse the same bad values the same way, at
the command line, before anything is built or written. (Not a command module: the leading underscore
keeps it out of `robot-rl`'s command list.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = ("the ground of a legged robot (sim/terrain.py, docs/terrain.md): flat (default), rough, slopes, stairs, "
        "boxes or mixed, parameters overridden as stairs:step_height=0.08,step_width=0.3, or a YAML file "
        "(kind: stairs, plus keys); curriculum=true moves training robots between rows of increasing difficulty")


def terrain_arg(text: str) -> str:
    """An argparse type: the terrain as the envs take it (a file's path made absolute, so a run's config.yaml
    finds it from any folder; `flat` stays `flat`, which the envs build as the plane, so eval can tell it from
    an absent flag). A bad name, key or value is refused here, naming it."""
    from sim.errors import ConfigError
    from sim.terrain import parse_terrain

    try:
        config = parse_terrain(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if config is None:
        return text
    return str(Path(text).resolve()) if Path(text).is_file() else text


def add_terrain_argument(parser, extra: str = "") -> None:
    parser.add_argument("--terrain", type=terrain_arg, default=None, metavar="NAME[:k=v,...]|FILE",
                        help=HELP + extra)
