"""The exceptions the command line turns into a one-line message and exit code 2."""

from __future__ import annotations

import re


class MisgenError(Exception):
    """A problem with the user's input or machine (a path, a file, a full disk): one line, exit code 2."""


class RecordingWriteError(MisgenError):
    """HDF5 failed in the middle of a write. The library may not survive its own teardown afterwards (it can
    crash while closing the damaged file at exit), so the command line exits at once after reporting it;
    every block flushed before the failure stays readable."""


def one_line(error: BaseException) -> str:
    """A library error as one line: HDF5's own 'error message = ...' if it has one, else the first line."""
    text = str(error)
    found = re.search(r"error message = '([^']*)'", text)
    if found:
        errno = re.search(r"errno = (\d+)", text)
        return f"{found.group(1)}" + (f" (errno {errno.group(1)})" if errno else "")
    return text.strip().splitlines()[0] if text.strip() else error.__class__.__name__
