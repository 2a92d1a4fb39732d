"""Files a scenario names (reference tables, a shared policy): only inside the scenario's directory tree.

A scenario must not read whatever the machine it is checked or run on holds (`/etc/passwd`, a credentials
file next door): the files it uses live beside it. Symbolic links are followed before the check, so a link
cannot lead out either. Files elsewhere are given by the user on the command line.
"""

from __future__ import annotations

from pathlib import Path

from jobs.lang import params as P


class ReferenceFileError(ValueError):
    """A `file:` that a scenario may not read: missing, absolute, or outside its directory."""

    def __init__(self, message: str, missing: bool = False):
        super().__init__(message)
        self.missing = missing  # inside the tree, just not there (a file given on the command line may stand in)


def file_in_tree(directory: Path, written: str, other: str) -> Path:
    """The existing file `written` (relative to `directory`) names, or ReferenceFileError; `other` says what
    the user can do instead."""
    if Path(written).is_absolute() or Path(written).drive:
        raise ReferenceFileError(f"'{written}' is an absolute path: write it relative to the scenario file "
                                 f"({other})")
    try:
        root = directory.resolve()
        target = (root / written).resolve()
        if not target.is_relative_to(root):
            raise ReferenceFileError(f"'{written}' is outside the scenario's directory {root}: a scenario "
                                     f"reads only files in its own directory tree ({other})")
        if not target.is_file():
            raise ReferenceFileError(f"no such file: '{written}' (looked for {target})", missing=True)
    except (OSError, ValueError) as exc:  # a NUL in the name, a name too long, a loop of links ...
        if isinstance(exc, ReferenceFileError):
            raise
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ReferenceFileError(f"cannot use {P.shown(written)} as a file name: {reason}") from None
    return target
