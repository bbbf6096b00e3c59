"""Errors the core raises. Each carries a one-line message meant for the user."""

from __future__ import annotations

import os
import traceback


class KmcError(Exception):
    """Base class: anything the user can fix or should be told about, in one line."""


class InputError(KmcError):
    """The input could not be read as an image (missing, unreadable, corrupt, too large)."""


class OutputError(KmcError):
    """The output could not be written (exists, unwritable, same as input, bad format)."""


class OutputExists(OutputError):
    """The output (or the input it would replace) exists and overwriting was not asked for."""


class ParameterError(KmcError, ValueError):
    """A value given by the user is out of range or of the wrong kind (k, a plugin parameter)."""


class PluginError(KmcError):
    """A quantizer plugin failed to load, raised, timed out, or returned an invalid result.

    Attributes
    ----------
    traceback : str or None
        The plugin's own traceback when it raised (shown by ``--debug`` and the TUI's plugins
        screen); None when there is nothing beyond the message.
    """

    def __init__(self, message: str = "", *, traceback: str | None = None):
        super().__init__(message)
        self.traceback = traceback


class ContractError(PluginError):
    """A plugin's declaration or output breaks the plugin contract (:mod:`kmc_tui.plugin_api`)."""


class PluginTimeout(PluginError):
    """A quantizer plugin did not finish in time; its thread is abandoned, still running."""


class Cancelled(KmcError):
    """The caller asked the work to stop (a newer request superseded it)."""


class TargetUnreachable(KmcError):
    """No k in the allowed range meets a ΔE2000 or size target.

    Attributes
    ----------
    best : float
        The closest any run came (lowest ΔE2000, or fewest bytes).
    trials : tuple
        What the search tried (:class:`kmc_tui.targets.Trial`).
    """

    def __init__(self, message: str, *, best: float, trials: tuple = ()):
        super().__init__(message)
        self.best = best
        self.trials = trials


def describe(exc: BaseException) -> str:
    """``"TypeName: first line of the message"`` (or just the type): an error in one line."""
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def without_locals(exc: BaseException) -> BaseException:
    """`exc`, the variables of the ended frames in its traceback (and its causes') cleared.

    An exception kept after it was raised (handed to another thread, stored as a job's outcome)
    otherwise keeps every array those frames held, often through a reference cycle that only
    the garbage collector breaks. Its traceback prints the same lines.
    """
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        pending += [current.__cause__, current.__context__]
    return exc


def shown(text: str | os.PathLike) -> str:
    """`text` (a path, or a message naming one) as one printable line.

    Bytes that are not UTF-8 (kept by Python as surrogate escapes) become ``\\xNN``, and control
    characters (a newline in a file name) their escapes, so a name cannot break a line or a
    terminal.
    """
    decoded = os.fsencode(text).decode("utf-8", "backslashreplace")
    if decoded.isprintable():
        return decoded
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in decoded
    )
