"""The one exception type the command line turns into a one-line message and exit code 2."""


class MisgenError(Exception):
    """A problem with the user's input (a path, a file, an option): reported in one line, exit code 2."""
