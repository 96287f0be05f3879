"""User-facing errors of the toolchain and the one-line CLI contract.

Every stage reads files written by another stage or by a user (checkpoints, .nir, .net, event
files, reports). When such a file is missing, corrupt, or of the wrong shape, code raises
:class:`InputError` naming the file and the problem; the console scripts turn it into one line on
stderr and exit status 2 (see :func:`cli_entry`), and nothing half-written is left behind (see
:mod:`ckd_toolchain.atomic_io`).
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
from typing import Callable, NoReturn

EXIT_BAD_INPUT = 2


class InputError(Exception):
    """A bad input file or argument: ``<path>: <problem>``."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = " ".join(str(problem).split())  # always one line
        super().__init__(str(self))

    def __str__(self) -> str:
        return self.problem if self.path is None else f"{self.path}: {self.problem}"


class _ProbeError(Exception):
    """Raised instead of exiting while :class:`OneLineArgumentParser` looks for unknown options."""


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse parser whose usage errors are one line on stderr and exit status 2.

    An unknown option is reported as such even when required arguments are missing too
    (plain argparse would only complain about the missing ones).
    """

    _probing = False

    def error(self, message: str) -> NoReturn:  # noqa: D401 - argparse API
        if OneLineArgumentParser._probing:
            raise _ProbeError(message)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {' '.join(message.split())}\n")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        args = sys.argv[1:] if args is None else list(args)
        unknown = self._unknown_options(args)
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}")
        return super().parse_args(args, namespace)

    def _unknown_options(self, args: list[str]) -> list[str]:
        """Options argparse does not know, found by parsing with nothing required."""
        if any(a in ("-h", "--help") for a in args):
            return []
        actions = list(_walk_actions(self))
        saved = [(a, a.required) for a in actions]
        OneLineArgumentParser._probing = True
        try:
            for a in actions:
                a.required = False
            _, extras = super().parse_known_args(args, None)
        except (_ProbeError, SystemExit):
            return []  # some other usage error: the real parse reports it
        finally:
            OneLineArgumentParser._probing = False
            for a, req in saved:
                a.required = req
        return [e for e in extras if e.startswith("-") and e != "-"]


def _walk_actions(parser: argparse.ArgumentParser):
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _walk_actions(sub)


def fail(prog: str, message: str) -> NoReturn:
    """Print ``prog: error: message`` as one line and exit 2."""
    sys.stderr.write(f"{prog}: error: {' '.join(str(message).split())}\n")
    raise SystemExit(EXIT_BAD_INPUT)


def cli_entry(prog: str) -> Callable[[Callable[[list[str] | None], int | None]], Callable[..., int]]:
    """Decorate a console-script ``main(argv)`` so InputError becomes one line + exit 2."""

    def wrap(main: Callable[[list[str] | None], int | None]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            try:
                rc = main(argv)
            except InputError as exc:
                fail(prog, str(exc))
            except KeyboardInterrupt:
                fail(prog, "interrupted")
            return int(rc or 0)

        return run

    return wrap
