"""Which graphics protocol the terminal speaks, found by asking it before the UI starts.

The queries go out together and end with DA1 (Primary Device Attributes), which every
terminal answers, so the wait ends as soon as the terminal has answered what it knows:

- the Kitty graphics query (a 1×1 image with ``a=q``: a terminal that speaks it says OK),
- XTVERSION (the terminal's name: iTerm2 and WezTerm name themselves),
- XTSMGRAPHICS (how many Sixel color registers), CSI 16 t (the cell size in pixels),
- DA1, whose attribute 4 means Sixel.

Inside tmux the queries and the images pass through to the outer terminal only when tmux's
``allow-passthrough`` is on; otherwise previews use half-blocks and the UI says how to turn it
on. ``--graphics`` or ``KMC_TUI_GRAPHICS`` overrides all of this.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
from dataclasses import dataclass, replace

from .encoders import tmux_passthrough

PROTOCOLS = ("auto", "kitty", "sixel", "iterm", "halfblock")
ENVIRONMENT_VARIABLE = "KMC_TUI_GRAPHICS"
#: A VT340's cell, used when the terminal does not say.
DEFAULT_CELL = (10, 20)
#: Seconds to wait for the terminal's answers (DA1 normally ends the wait at once).
QUERY_TIMEOUT = 1.0

KITTY_QUERY = "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
XTVERSION_QUERY = "\x1b[>0q"
REGISTERS_QUERY = "\x1b[?1;1;0S"
CELL_QUERY = "\x1b[16t"
DA1_QUERY = "\x1b[c"

_KITTY_REPLY = re.compile(rb"\x1b_Gi=31;([^\x1b]*)\x1b\\")
_DA1_REPLY = re.compile(rb"\x1b\[\?([\d;]*)c")
_XTVERSION_REPLY = re.compile(rb"\x1bP>\|([^\x1b]*)\x1b\\")
_REGISTERS_REPLY = re.compile(rb"\x1b\[\?1;0;(\d+)S")
_CELL_REPLY = re.compile(rb"\x1b\[6;(\d+);(\d+)t")


@dataclass(frozen=True)
class Graphics:
    """How the panes draw pictures, and why.

    Attributes
    ----------
    protocol : {"kitty", "sixel", "iterm", "halfblock"}
    reason : str
        One line for the help screen: what was asked or chosen.
    cell_size : (width, height)
        A character cell in screen pixels.
    color_registers : int
        Sixel color registers (colors per image).
    tmux : bool
        Images are wrapped for tmux's passthrough.
    pane_offset : (x, y)
        Where tmux's pane starts on the outer terminal (passthrough positions are the outer
        terminal's).
    note : str
        Something to tell the user once (e.g. how to enable tmux passthrough), or "".
    """

    protocol: str = "halfblock"
    reason: str = "no terminal was asked (not started in a terminal)"
    cell_size: tuple[int, int] = DEFAULT_CELL
    color_registers: int = 256
    tmux: bool = False
    pane_offset: tuple[int, int] = (0, 0)
    note: str = ""

    @property
    def pixels(self) -> bool:
        """True when pictures are drawn with real pixels."""
        return self.protocol != "halfblock"

    def wrap(self, sequence: str) -> str:
        return tmux_passthrough(sequence) if self.tmux else sequence


@dataclass(frozen=True)
class Replies:
    """What the terminal answered (None: no answer)."""

    kitty: str | None = None
    da1: tuple[int, ...] | None = None
    version: str | None = None
    color_registers: int | None = None
    cell_size: tuple[int, int] | None = None


def parse_replies(data: bytes) -> Replies:
    """Pick the answers to the queries out of what the terminal sent."""
    kitty = _KITTY_REPLY.search(data)
    da1 = _DA1_REPLY.search(data)
    version = _XTVERSION_REPLY.search(data)
    registers = _REGISTERS_REPLY.search(data)
    cell = _CELL_REPLY.search(data)
    return Replies(
        kitty=kitty.group(1).decode("latin-1") if kitty else None,
        da1=tuple(int(p) for p in da1.group(1).split(b";") if p) if da1 else None,
        version=version.group(1).decode("latin-1") if version else None,
        color_registers=int(registers.group(1)) if registers else None,
        cell_size=(int(cell.group(2)), int(cell.group(1))) if cell else None,
    )


def protocol_from_replies(replies: Replies) -> tuple[str, str]:
    """The best protocol the answers show, and why."""
    if replies.kitty is not None and replies.kitty.startswith("OK"):
        return "kitty", "the terminal answered the Kitty graphics query"
    version = replies.version or ""
    if version.startswith(("iTerm2", "WezTerm")):
        return "iterm", f"the terminal says it is {version.split()[0]} (iTerm2 inline images)"
    if replies.da1 is not None and 4 in replies.da1[1:]:
        return "sixel", "the terminal's device attributes (DA1) include Sixel"
    if replies.da1 is None:
        return "halfblock", "the terminal did not answer (DA1): half-blocks"
    return "halfblock", "the terminal offers no graphics protocol: half-blocks"


def window_cell_size(fd: int) -> tuple[int, int] | None:
    """The cell size the kernel's window size holds (xterm, kitty, tmux 3.3+ fill it in)."""
    try:
        rows, cols, xpixels, ypixels = struct.unpack(
            "HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
        )
    except OSError:
        return None
    if not (rows and cols and xpixels and ypixels):
        return None
    return xpixels // cols, ypixels // rows


def ask_terminal(fd_in: int, fd_out: int, queries: str, timeout: float = QUERY_TIMEOUT) -> bytes:
    """Send `queries` and read the answers until DA1's answer arrives or `timeout` passes."""
    saved = termios.tcgetattr(fd_in)
    raw = termios.tcgetattr(fd_in)
    raw[3] &= ~(termios.ECHO | termios.ICANON)  # lflag: no echo, byte by byte
    raw[6][termios.VMIN], raw[6][termios.VTIME] = 0, 0
    data = b""
    try:
        termios.tcsetattr(fd_in, termios.TCSANOW, raw)
        os.write(fd_out, queries.encode("ascii"))
        deadline = time.monotonic() + timeout
        while not _DA1_REPLY.search(data):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd_in], [], [], left)[0]:
                break
            chunk = os.read(fd_in, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        termios.tcsetattr(fd_in, termios.TCSADRAIN, saved)
    return data


def tmux_passthrough_state(environ) -> tuple[str, tuple[int, int]]:
    """tmux's ``allow-passthrough`` ("on", "all", "off" or "" if unknown) and the pane's offset."""
    try:
        shown = subprocess.run(
            ["tmux", "display-message", "-p", "#{pane_left} #{pane_top}"],
            capture_output=True,
            text=True,
            timeout=2,
        )
        option = subprocess.run(
            ["tmux", "show-options", "-Apv", "allow-passthrough"],
            capture_output=True,
            text=True,
            timeout=2,
        )
    except (OSError, subprocess.SubprocessError):
        return "", (0, 0)
    try:
        left, top = (int(v) for v in shown.stdout.split())
    except ValueError:
        left, top = 0, 0
    return option.stdout.strip().splitlines()[-1:][0] if option.stdout.strip() else "", (left, top)


TMUX_NOTE = (
    "tmux: allow-passthrough is off, so previews use half-blocks; "
    "`tmux set -g allow-passthrough on` (tmux 3.3+) lets real pixels through"
)


def requested_protocol(option: str | None, environ) -> tuple[str, str]:
    """The protocol asked for by ``--graphics`` or ``KMC_TUI_GRAPHICS`` ("auto" if neither)."""
    if option and option != "auto":
        return option, f"--graphics {option}"
    value = environ.get(ENVIRONMENT_VARIABLE, "").strip().lower()
    if value and value != "auto":
        if value not in PROTOCOLS:
            raise ValueError(
                f"{ENVIRONMENT_VARIABLE}={value!r}: expected one of {', '.join(PROTOCOLS)}"
            )
        return value, f"{ENVIRONMENT_VARIABLE}={value}"
    return "auto", ""


def detect(
    option: str | None = None,
    *,
    fd_in: int = 0,
    fd_out: int = 1,
    environ=None,
    timeout: float = QUERY_TIMEOUT,
) -> Graphics:
    """Decide how the panes draw pictures: an override, else the terminal's answers.

    Parameters
    ----------
    option : str, optional
        ``--graphics``' value: "auto" or a protocol.
    fd_in, fd_out : int
        The terminal (it must be one: with no terminal, half-blocks).
    environ : mapping, optional
        The environment (``os.environ`` by default).
    """
    environ = os.environ if environ is None else environ
    forced, why = requested_protocol(option, environ)
    if not (os.isatty(fd_in) and os.isatty(fd_out)):
        protocol = forced if forced != "auto" else "halfblock"
        return Graphics(protocol, why or "not a terminal: half-blocks")
    in_tmux = bool(environ.get("TMUX"))
    passthrough, offset = tmux_passthrough_state(environ) if in_tmux else ("", (0, 0))
    wrapped = in_tmux and passthrough in ("on", "all")
    base = Graphics(tmux=wrapped, pane_offset=offset if wrapped else (0, 0))
    if forced == "halfblock":
        return replace(base, protocol="halfblock", reason=why)
    if in_tmux and not wrapped and forced == "auto":
        return replace(base, reason="inside tmux with allow-passthrough off", note=TMUX_NOTE)
    queries = KITTY_QUERY + XTVERSION_QUERY + REGISTERS_QUERY + CELL_QUERY
    if wrapped:  # the outer terminal answers these; tmux answers DA1 itself
        queries = "".join(tmux_passthrough(q) for q in (KITTY_QUERY, XTVERSION_QUERY, CELL_QUERY))
    try:
        replies = parse_replies(ask_terminal(fd_in, fd_out, queries + DA1_QUERY, timeout))
    except (OSError, termios.error):
        replies = Replies()
    cell = window_cell_size(fd_out) or replies.cell_size
    registers = replies.color_registers or 256
    if forced != "auto":
        protocol, reason = forced, why
    else:
        protocol, reason = protocol_from_replies(replies)
        if wrapped and protocol == "sixel":
            protocol, reason = "halfblock", "inside tmux, Sixel through passthrough is unreliable"
        if wrapped:
            reason += " (through tmux passthrough)"
    if protocol != "halfblock" and cell is None:
        reason += f"; the cell size was not given, {DEFAULT_CELL[0]}×{DEFAULT_CELL[1]} assumed"
    return replace(
        base,
        protocol=protocol,
        reason=reason,
        cell_size=cell or DEFAULT_CELL,
        color_registers=max(2, min(registers, 256)),
    )
