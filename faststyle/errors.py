"""Errors meant for people: one line that says what went wrong and what to do."""


class FaststyleError(Exception):
    """A problem with the user's input or set-up, reported as one line without a traceback."""
