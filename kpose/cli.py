"""What the five CLIs (``python -m kpose.fit|evaluate|infer|convert|export``) share: their
argument parser and how a ``KposeError`` ends them (one ``error: ...`` line on stderr, exit
code 2, no traceback)."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable

from kpose.errors import KposeError


def argument_parser(verb: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of ``python -m kpose.<verb>``, its module docstring as the description."""
    return argparse.ArgumentParser(
        prog=f"python -m kpose.{verb}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def reports_errors(main: Callable[..., int]) -> Callable[..., int]:
    """Wrap a CLI's ``main``: a ``KposeError`` ends as one ``error: ...`` line on stderr and
    exit code 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except KposeError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 2

    return wrapper
