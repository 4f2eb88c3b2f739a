# PYTHON_ARGCOMPLETE_OK  (tab completion: `faststyle completion bash|zsh|fish`)
"""The `faststyle` command: a thin shell over the Python API, one module per group of commands.

    paint.py     stylize, demo, video, sheet (and the options every painting command shares)
    manage.py    styles (list, add, remove, rename), completion, gui
    training.py  train, train-base, export, optimize, evaluate (TensorFlow is imported by these only)
    serving.py   serve (FastAPI and uvicorn are imported by it only)

This module builds the parser from them and runs a command with one-line errors.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import signal
import sys
import tempfile
import threading

from faststyle import __version__
from faststyle.cli.formatting import _Parser
from faststyle.cli.manage import (STYLE_ACTIONS, _add_completion, _add_gui, _add_style_actions, _add_styles,
                                  _style_names, run_completion, run_gui, run_style_action, run_styles)
from faststyle.cli.paint import (DEVICE_CHOICES, _add_demo, _add_sheet, _add_stylize, _add_video, run_demo,
                                 run_sheet, run_stylize, run_video)
from faststyle.cli.serving import _add_serve, run_serve
from faststyle.cli.training import (_add_evaluate, _add_export, _add_optimize, _add_train, _add_train_base,
                                    run_evaluate, run_export, run_optimize, run_train, run_train_base)
from faststyle.errors import FaststyleError

__all__ = ["DEVICE_CHOICES", "build_parser", "import_quietly", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="faststyle", description="Fast neural style transfer.")
    parser.add_argument("--version", action="version", version=f"faststyle {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    _add_stylize(sub)
    _add_demo(sub)
    _add_styles(sub)
    _add_style_actions(sub)
    _add_train(sub)
    _add_train_base(sub)
    _add_export(sub)
    _add_optimize(sub)
    _add_evaluate(sub)
    _add_video(sub)
    _add_sheet(sub)
    _add_gui(sub)
    _add_serve(sub)
    _add_completion(sub)
    for command in sub.choices.values():  # -s completes to the installed styles
        for action in command._actions:
            if action.dest == "style":
                action.completer = _style_names
    return parser


COMMANDS = {"stylize": run_stylize, "demo": run_demo, "styles": run_styles, "train": run_train,
            "train-base": run_train_base, "export": run_export, "optimize": run_optimize, "evaluate": run_evaluate,
            "gui": run_gui, "video": run_video, "sheet": run_sheet, "serve": run_serve, "styles-add": run_style_action,
            "styles-remove": run_style_action, "styles-rename": run_style_action, "completion": run_completion}


# Packages of the optional extras -> the extra that installs them.


TRAINING_MODULES = {"tensorflow": "train", "keras": "train", "onnx": "train", "scipy": "train",
                    "PySide6": "gui", "imageio_ffmpeg": "video", "fastapi": "serve", "uvicorn": "serve",
                    "starlette": "serve", "multipart": "serve", "python_multipart": "serve", "ray": "cluster"}


# Commands that run Keras (and TensorFlow behind it by default).


KERAS_COMMANDS = ("train", "train-base", "export", "optimize", "evaluate")
# What TensorFlow's C++ libraries print while they load: since TensorFlow 2.19 they log before their
# logging is set up, which TF_CPP_MIN_LOG_LEVEL cannot stop (on CPUs with AVX-512: "oneDNN custom
# operations are on", twice, each after absl's warning). INFO and WARNING lines only.


_LOAD_CHATTER = re.compile(r"WARNING: All log messages before absl::InitializeLog\(\)|[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] ")


def import_quietly(module: str) -> None:
    """Imports `module` with what its native libraries print to stderr while loading filtered through
    _LOAD_CHATTER: other lines (errors) are passed on, and an import error is raised as usual."""
    if module in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            importlib.import_module(module)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines()
                    if not _LOAD_CHATTER.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that temporary files are cleaned up as on Ctrl-C."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions: answer and exit
        import argcomplete

        argcomplete.autocomplete(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 2 and argv[0] == "styles" and argv[1] in STYLE_ACTIONS:
        argv[:2] = [f"styles-{argv[1]}"]
    args = parser.parse_args(argv)
    if args.command is None:  # plain `faststyle`: show what it can do
        parser.print_help(sys.stderr)
        return 2
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the way
    try:
        if args.command in KERAS_COMMANDS:
            import_quietly("keras")
        return COMMANDS[args.command](args)
    except ModuleNotFoundError as exc:
        extra = TRAINING_MODULES.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        jax = " (or, with JAX installed, set KERAS_BACKEND=jax)" if (
            args.command == "train" and exc.name == "tensorflow") else ""
        print(f"faststyle: error: '{args.command}' needs {exc.name}, which is not installed: "
              f'pip install "faststyle[{extra}]"{jax}', file=sys.stderr)
        return 2
    except FaststyleError as exc:
        print(f"faststyle: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("faststyle: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("faststyle: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:  # the reader went away (`faststyle styles --json | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # a full disk, a read-only folder, a closed stream: what and where, one line
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"faststyle: error: {where}{exc.strerror or exc}; nothing was left half-written", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
