"""`robot-rl` command line: one sub-command per module in `robot_rl/commands/`.

Each module there defines ``NAME`` (the sub-command), ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. Modules are imported only when needed for their own sub-command, so
`robot-rl robots` does not pay for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import NoReturn

import robot_rl.commands as commands_pkg

EPILOG = """\
The three jobs of the stack:
  train in simulation     robot-rl train --task CartpoleSwingup-v0 --algo ppo --out runs/swingup
  deploy to a robot       robot-rl deploy --policy policies/cartpole_swingup --robot cartpole
  identify the simulator  robot-rl sysid --robot cartpole --log run.bag --fit pole.mass,hinge.damping
Run `robot-rl demo` for the whole loop, or `robot-rl <command> --help` for one command.
"""


def _command_modules() -> dict[str, str]:
    """Map sub-command name -> module path, from the file names in robot_rl/commands/."""
    names = {}
    for info in pkgutil.iter_modules(commands_pkg.__path__):
        if info.name.startswith("_"):
            continue
        names[info.name.replace("_", "-")] = f"{commands_pkg.__name__}.{info.name}"
    return dict(sorted(names.items()))


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the flag (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def one_line(message: str) -> str:
    """An error message on one line: a supervisor's log or a `grep` sees the whole of it."""
    return "; ".join(part.strip() for part in str(message).splitlines() if part.strip())


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="robot-rl",
        description="Sim-to-real control stack: train, deploy, identify.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_path in _command_modules().items():
        if only is not None and name != only:
            # Cheap placeholder so `robot-rl --help` lists every command without importing them all.
            sub.add_parser(name, help=_help_line(module_path), add_help=False)
            continue
        module = importlib.import_module(module_path)
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=(module.__doc__ or module.HELP).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def _help_line(module_path: str) -> str:
    """Read a command's HELP line from its source without importing it (keeps --help fast)."""
    spec = importlib.util.find_spec(module_path)
    if spec is None or spec.origin is None:
        return ""
    with open(spec.origin, encoding="utf-8") as f:
        for line in f:
            if line.startswith("HELP ="):
                return line.split("=", 1)[1].strip().strip("\"'")
    return ""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=chosen if chosen in _command_modules() else "")
    args = parser.parse_args(argv)  # --help exits 0; a usage error exits 2 after one line (_Parser)
    if getattr(args, "_module", None) is None:
        parser.print_help()
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # user-facing: one clear line, no traceback, unless asked
        from robot_rl.errors import USER_ERRORS

        if isinstance(exc, USER_ERRORS) and not _debug():
            print(f"robot-rl {args.command}: error: {one_line(str(exc))}", file=sys.stderr)
            return 1
        if isinstance(exc, OSError) and exc.filename is not None and not _debug():
            # A path the user gave cannot be read or written (permissions, a full disk, a folder
            # where a file is expected): name it, no traceback.
            print(f"robot-rl {args.command}: error: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        raise


def _debug() -> bool:
    import os

    return os.environ.get("ROBOT_RL_DEBUG", "") not in ("", "0")


if __name__ == "__main__":
    sys.exit(main())
