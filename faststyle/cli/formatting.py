"""How the command line prints its help and its errors: defaults shown, one line per error."""

from __future__ import annotations

import argparse


class _HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default after its help, where it has a meaningful one."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (not action.option_strings or "%(default)" in text or "default" in text
                or action.default is None or action.default is False or action.default == []
                or action.default == argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


class _RawEpilogFormatter(_HelpFormatter):
    """Keeps the epilog's own line breaks (command examples)."""

    def _fill_text(self, text, width, indent):
        return "".join(indent + line for line in text.splitlines(keepends=True))


class _Parser(argparse.ArgumentParser):
    """Usage mistakes get one line and a pointer to --help, not the whole usage block."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
