"""Command line: ``kmc-tui [PATH]`` opens the TUI; ``compress`` and ``plugins`` work headless.

Kept free of heavy imports at module level so ``kmc-tui --help`` and the TUI start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

from .errors import KmcError, TargetUnreachable, shown
from .formats import FORMAT_EXTENSIONS, IMAGE_EXTENSIONS, human_bytes


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value


def _k(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"k must be a whole number, got {text!r}") from None


def _seconds(text: str) -> float | None:
    """A positive number of seconds; ``inf`` is no limit (None)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:  # NaN included
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return None if math.isinf(value) else value


def _seed(text: str) -> int:
    from .quantize import check_seed

    try:
        value: int | str = int(text)
    except ValueError:
        value = text
    try:
        return check_seed(value)
    except KmcError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _folder(text: str) -> str:
    if not os.path.isdir(text):
        what = "not a folder" if os.path.exists(text) else "no such folder"
        raise argparse.ArgumentTypeError(f"{text}: {what}")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse whose refusals look like every other: one line, ``kmc-tui: error:``, exit 2."""

    def error(self, message: str):
        self.exit(2, f"kmc-tui: error: {message} (see {self.prog} --help)\n")


def _target(kind: str):
    """An argparse type that builds a Target (its own checks are the only ones)."""

    def parse(text: str):
        from .targets import Target

        try:
            return Target(**{kind: text})
        except KmcError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _exit_now(code: int, *streams) -> int:
    """Exit at once, without waiting for threads of plugins that timed out.

    They cannot be stopped, and a normal exit could wait forever on a thread one of them
    started, or trip over one still running during interpreter shutdown. `streams` (the
    command's own output) are flushed first, then stdout and stderr.
    """
    for stream in (*streams, sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="kmc-tui",
        description="Reduce images to k colors. With no command (or a PATH), open the "
        "terminal UI on PATH (a folder or an image; default: the current folder).",
    )
    parser.add_argument("--version", action="version", version=f"kmc-tui {__version__}")
    plugin_dirs = argparse.ArgumentParser(add_help=False)
    plugin_dirs.add_argument(
        "--plugin-dir",
        action="append",
        type=_folder,
        default=[],
        metavar="DIR",
        help="folder of single-file plugins (repeatable; also KMC_TUI_PLUGIN_PATH)",
    )
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug", action="store_true", help="after a plugin's one-line error, print its traceback"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser(
        "compress",
        parents=[plugin_dirs, debug],
        help="quantize images to k colors and write them",
        description="Quantize one image (-i IN -o OUT) or many (several -i, or a "
        "folder, with -o a folder).",
    )
    c.add_argument(
        "-i",
        "--input",
        action="append",
        required=True,
        metavar="IN",
        help="input image or folder (repeatable)",
    )
    c.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output file, or folder when there are several inputs",
    )
    c.add_argument(
        "-k",
        "--colors",
        dest="k",
        type=_k,
        default=None,
        help="number of colors (default 64, as the original script); with --max-delta-e or "
        "--max-bytes, the most colors (default 256)",
    )
    goal = c.add_mutually_exclusive_group()
    goal.add_argument(
        "--max-delta-e",
        dest="target",
        type=_target("max_delta_e"),
        metavar="D",
        help="choose k: the fewest colors whose mean ΔE2000 is at most D (exit 3 if none)",
    )
    goal.add_argument(
        "--max-bytes",
        dest="target",
        type=_target("max_bytes"),
        metavar="N",
        help="choose k: the most colors whose file is at most N bytes (150K, 1.5M; exit 3 if none)",
    )
    c.add_argument(
        "--skip-if-larger",
        action="store_true",
        help="write nothing for a file whose result is not smaller than it (not an error)",
    )
    c.add_argument("--plugin", default="kmeans", help="quantizer plugin (default kmeans)")
    c.add_argument(
        "--param",
        action="append",
        type=_param,
        default=[],
        metavar="NAME=VALUE",
        help="plugin parameter (repeatable); see `kmc-tui plugins`",
    )
    c.add_argument("--seed", type=_seed, default=0, help="random seed, 0..4294967295 (default 0)")
    c.add_argument("--dither", action="store_true", help="Floyd-Steinberg dithering")
    c.add_argument(
        "--format",
        choices=(*FORMAT_EXTENSIONS, "jpg"),
        help="output format (default: from the output's extension; png for folders)",
    )
    c.add_argument("--force", action="store_true", help="overwrite existing files")
    c.add_argument("--json", action="store_true", help="print one JSON object per file")
    c.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up on a file when the plugin takes longer (the next file still "
        "runs); also bounds loading the plugin; inf: no limit",
    )

    p = sub.add_parser(
        "plugins",
        parents=[plugin_dirs, debug],
        help="list quantizer plugins, their parameters and errors",
        description="List every quantizer plugin found: origin, parameters, and why it "
        "cannot be used if it cannot.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="give up on a plugin whose import takes longer (default 10)",
    )

    t = sub.add_parser("tui", parents=[plugin_dirs], help="open the terminal UI (the default)")
    t.add_argument("path", nargs="?", default=".")
    t.add_argument(
        "--graphics",
        choices=("auto", "kitty", "sixel", "iterm", "halfblock"),
        default=None,
        help="how previews draw pictures (default auto: ask the terminal; "
        "or the KMC_TUI_GRAPHICS variable)",
    )
    return parser


def _collect_inputs(inputs: list[str]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.iterdir()
                    if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                )
            )
        else:
            files.append(path)
    return files


class _Progress:
    """A one-line progress bar on stderr, drawn only on a terminal."""

    def __init__(self, total: int):
        self.total = total
        self.enabled = total > 1 and sys.stderr.isatty()
        self.start = time.perf_counter()

    def update(self, done: int, name: str) -> None:
        if not self.enabled:
            return
        width = 24
        filled = int(width * done / self.total)
        elapsed = time.perf_counter() - self.start
        eta = f" eta {elapsed / done * (self.total - done):.0f}s" if done else ""
        line = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total}{eta} {name}"
        sys.stderr.write(line[:100].ljust(100))
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.flush()


def _fmt_float(x: float, digits: int = 2) -> str:
    return "inf" if math.isinf(x) else f"{x:.{digits}f}"


def _record(result) -> dict:
    """The JSON record of one file: the stats' own, with what a target or a skip adds."""
    record = result.stats.as_dict()
    if result.output is None:
        record.update(output=None, status="skipped")
    if result.search is not None:
        record.update(result.search.as_dict())
    return record


def _search_line(search) -> str:
    """How a target chose k, for the line under a result."""
    real = {t.k: t for t in search.trials if not t.estimate}
    estimates = len(search.trials) - len(real)
    runs = f"{len(real)} run{'s' if len(real) != 1 else ''}"
    if estimates:
        runs += f" and {estimates} estimate{'s' if estimates != 1 else ''}"
    runs += f" in {sum(t.seconds for t in search.trials):.1f} s"
    if search.at_bound:
        return f"target {search.target}: k={search.k}, the end of the range ({runs})"
    kind = search.target.kind
    other = real[search.k - 1 if kind == "delta_e" else search.k + 1]
    figure = f"ΔE2000 {other.delta_e:.3f}" if kind == "delta_e" else f"{other.bytes} B"
    return f"target {search.target}: k={search.k} (k={other.k} gives {figure}; {runs})"


def _line(result) -> str:
    s = result.stats
    ratio = "-" if s.ratio is None else f"{s.ratio:.3f} ({s.saved_percent:.0f}% saved)"
    exact = "" if s.exact else " (lossy format: not exactly k colors)"
    return (
        f"{shown(result.image.path)} -> {shown(result.output)}: {s.colors} colors{exact}, "
        f"{human_bytes(s.input_bytes)} -> {human_bytes(s.output_bytes)}, ratio {ratio}, "
        f"{s.bits_per_pixel:.2f} bpp, PSNR {_fmt_float(s.psnr)} dB, "
        f"ΔE2000 {s.delta_e:.2f}, {s.total_seconds:.2f} s"
    )


def _skipped_line(result) -> str:
    s = result.stats
    return (
        f"{shown(result.image.path)}: skipped: {human_bytes(s.output_bytes)} would not be smaller "
        f"than the input's {human_bytes(s.input_bytes)}"
    )


def _summary(rows: list[tuple[Path, object]]) -> str:
    head = (
        f"{'file':<32} {'in':>9} {'out':>9} {'ratio':>6} {'colors':>6} "
        f"{'PSNR':>6} {'ΔE':>5} {'s':>6}"
    )
    lines = [head, "-" * len(head)]
    total_in = total_out = 0
    for path, res in rows:
        name = shown(path.name)
        name = name if len(name) <= 32 else "…" + name[-31:]
        if isinstance(res, TargetUnreachable):
            lines.append(f"{name:<32} not reachable: {shown(str(res))}")
            continue
        if isinstance(res, Exception):
            lines.append(f"{name:<32} failed: {shown(str(res))}")
            continue
        s = res.stats
        if res.output is None:
            lines.append(
                f"{name:<32} {human_bytes(s.input_bytes):>9} {human_bytes(s.output_bytes):>9} "
                f"{(s.ratio or 0):>6.3f} skipped: not smaller"
            )
            continue
        total_in += s.input_bytes or 0
        total_out += s.output_bytes
        lines.append(
            f"{name:<32} {human_bytes(s.input_bytes):>9} {human_bytes(s.output_bytes):>9} "
            f"{(s.ratio or 0):>6.3f} {s.colors:>6} {_fmt_float(s.psnr, 1):>6} "
            f"{s.delta_e:>5.2f} {s.total_seconds:>6.2f}"
        )
    done = sum(not isinstance(r, Exception) and r.output is not None for _, r in rows)
    skipped = sum(not isinstance(r, Exception) and r.output is None for _, r in rows)
    unreachable = sum(isinstance(r, TargetUnreachable) for _, r in rows)
    failed = len(rows) - done - skipped - unreachable
    ratio = f"{total_out / total_in:.3f}" if total_in else "-"
    lines.append("-" * len(head))
    lines.append(
        f"{done} of {len(rows)} done, {human_bytes(total_in)} -> {human_bytes(total_out)}"
        f" (ratio {ratio}), {skipped} skipped, {unreachable} not reachable, {failed} failed"
    )
    return "\n".join(lines)


@contextlib.contextmanager
def _decoder_chatter(lines: list[str]):
    """Collect what decoders say while reading, so a bad file gives one clean line.

    Python warnings (Pillow's "Corrupt EXIF data" …) are recorded, and C libraries that write
    straight to file descriptor 2 (libtiff's "Fax4Decode: Bad code word …") are redirected to a
    temporary file; both end up in `lines`, for the caller to show as notes or drop.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            fd = sys.stderr.fileno()
            sys.stderr.flush()
            saved = os.dup(fd)
        except (AttributeError, OSError, ValueError):  # no real stderr (embedded, tests)
            saved = None
        with tempfile.TemporaryFile() as sink:
            if saved is not None:
                os.dup2(sink.fileno(), fd)
            try:
                yield
            finally:
                if saved is not None:
                    sys.stderr.flush()
                    os.dup2(saved, fd)
                    os.close(saved)
                    sink.seek(0)
                    lines.extend(
                        f"decoder said: {ln.strip()}"
                        for ln in sink.read(4096).decode(errors="replace").splitlines()
                        if ln.strip()
                    )
    for w in caught:
        text = (str(w.message).strip().splitlines() or [""])[0]
        if text:
            from_decoder = any(part in Path(w.filename).parts for part in ("PIL", "imageio"))
            lines.append(f"{'decoder said' if from_decoder else 'warning'}: {text}")


def _report(exc: KmcError, *, debug: bool, where: Path | None = None) -> None:
    """One line on stderr; with --debug, the plugin's traceback after it."""
    message = str(exc)
    if where is not None and str(where) not in message:
        message = f"{where}: {message}"
    print(f"kmc-tui: error: {shown(message)}", file=sys.stderr)
    traceback = getattr(exc, "traceback", None)
    if debug and traceback:
        sys.stderr.write(traceback if traceback.endswith("\n") else traceback + "\n")


def cmd_compress(args, out) -> int:
    """``kmc-tui compress``; results go to `out`, errors to stderr."""
    from .api import compress
    from .errors import PluginTimeout
    from .formats import PALETTE_FORMATS, format_for
    from .quantize import call_with_timeout, check_k
    from .registry import Registry, warm_up_in_background

    err = sys.stderr
    try:
        registry = Registry(args.plugin_dir)
        batch = len(args.input) > 1 or Path(args.input[0]).is_dir()
        fmt = (
            format_for("", args.format or "png") if batch else format_for(args.output, args.format)
        )
        if args.k is None:
            args.k = 64 if args.target is None else 256
        check_k(args.k, palette_format=fmt in PALETTE_FORMATS)
        record = registry.get(args.plugin)
        if args.timeout is None:
            record.coerce_params(dict(args.param))
        else:  # importing the plugin may hang too
            call_with_timeout(
                lambda: record.coerce_params(dict(args.param)),
                args.timeout,
                what=f"loading plugin {args.plugin!r}",
            )
    except KmcError as exc:
        _report(exc, debug=args.debug)
        # A plugin that hangs while loading failed at run time, as one that hangs on a file.
        return _exit_now(1, out) if isinstance(exc, PluginTimeout) else 2
    params = dict(args.param)
    warm_up_in_background(record)  # e.g. import scikit-learn while the image is decoded
    if batch:
        out_dir = Path(args.output)
        if out_dir.exists() and not out_dir.is_dir():
            print(
                f"kmc-tui: error: {shown(out_dir)}: several inputs need an output folder", file=err
            )
            return 2
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(
                f"kmc-tui: error: {shown(out_dir)}: cannot create folder: {exc.strerror}", file=err
            )
            return 2
        ext = FORMAT_EXTENSIONS[fmt][0]
        inputs = _collect_inputs(args.input)
        if not inputs:
            print(f"kmc-tui: error: no image files in {shown(', '.join(args.input))}", file=err)
            return 1
        stems = [p.stem for p in inputs]
        # Two inputs with one stem (a.jpg, a.png) keep their whole names: a.jpg.png, a.png.png.
        jobs = [
            (p, out_dir / ((p.name if stems.count(p.stem) > 1 else p.stem) + ext)) for p in inputs
        ]
    else:
        jobs = [(Path(args.input[0]), Path(args.output))]

    progress = _Progress(len(jobs))
    rows: list[tuple[Path, object]] = []
    failed = unreachable = 0
    abandoned = False  # a plugin timed out: its thread still runs
    for n, (src, dst) in enumerate(jobs):
        progress.update(n, src.name)
        chatter: list[str] = []
        try:
            with _decoder_chatter(chatter):
                result = compress(
                    src,
                    dst,
                    args.k,
                    plugin=args.plugin,
                    params=params,
                    seed=args.seed,
                    dither=args.dither,
                    format=args.format,
                    force=args.force,
                    registry=registry,
                    timeout=args.timeout,
                    target=args.target,
                    skip_if_larger=args.skip_if_larger,
                )
        except TargetUnreachable as exc:
            unreachable += 1
            rows.append((src, exc))
            progress.close()
            print(f"{src}: {exc}", file=err)
            if args.json:
                record = {"input": str(src), "output": None, "status": "not reachable"}
                record.update(message=str(exc), best=exc.best, target=args.target.as_dict())
                record["tried"] = [t.as_dict() for t in exc.trials]
                print(json.dumps(record), file=out, flush=True)
            continue
        except KmcError as exc:
            abandoned = abandoned or isinstance(exc, PluginTimeout)
            failed += 1
            rows.append((src, exc))
            progress.close()
            _report(exc, debug=args.debug, where=src if batch else None)
            continue
        rows.append((src, result))
        progress.close()
        said = list(dict.fromkeys(chatter))[:3]  # what the decoders said, gathered here
        if args.json:
            record = _record(result)
            record["notes"] += said
            print(json.dumps(record), file=out, flush=True)
        elif result.output is None:
            print(_skipped_line(result), file=out, flush=True)
        else:
            print(_line(result), file=out, flush=True)
            if result.search is not None:
                print(f"  {_search_line(result.search)}", file=out)
            for note in [*result.notes, *said]:
                print(f"  note: {shown(note)}", file=out)
    progress.close()
    if batch and not args.json:
        print(_summary(rows), file=out)
    if abandoned:
        return _exit_now(1, out)
    return 1 if failed else 3 if unreachable else 0


def _plugin_info(record, *, rejected: bool, timeout: float) -> tuple[dict, tuple, bool]:
    """What `kmc-tui plugins` says of one record: (its JSON object, its ParamSpecs, whether
    its import was abandoned); the plugin is imported, under `timeout`."""
    from .errors import PluginError, PluginTimeout
    from .quantize import call_with_timeout

    info = {
        "name": record.name,
        "origin": record.origin,
        "target": record.target,
        "description": None,
        "supports_alpha": None,
        "params": [],
        "error": record.error,
        "traceback": record.last_traceback,
    }
    if rejected or record.error is not None:
        return info, (), False
    try:
        cls = call_with_timeout(record.load, timeout, what=f"importing plugin {record.name!r}")
    except PluginTimeout as exc:
        info["error"] = str(exc)
        return info, (), True
    except PluginError:
        info["error"], info["traceback"] = record.error, record.last_traceback
        return info, (), False
    info["description"] = cls.description
    info["supports_alpha"] = cls.supports_alpha
    info["params"] = [
        {
            "name": p.name,
            "type": p.type.__name__,
            "default": p.default,
            "choices": list(p.choices) if p.choices else None,
            "min": p.min,
            "max": p.max,
            "preview": p.preview,
            "help": p.help,
        }
        for p in cls.params
    ]
    return info, cls.params, False


def cmd_plugins(args, out) -> int:
    """``kmc-tui plugins``: every plugin found, one block each (or one JSON array) on `out`."""
    from .registry import Registry

    registry = Registry(args.plugin_dir)
    listed = [
        _plugin_info(record, rejected=record in registry.rejected, timeout=args.timeout)
        for record in [*registry, *registry.rejected]
    ]
    if args.json:
        print(json.dumps([info for info, _, _ in listed], indent=2), file=out)
    else:
        for info, specs, _ in listed:
            status = "" if info["error"] is None else "  [BROKEN]"
            print(f"{info['name']}{status}  ({info['origin']})", file=out)
            if info["description"]:
                print(f"    {info['description']}", file=out)
            for spec in specs:
                print(f"    --param {spec.describe()}", file=out)
            if info["error"]:
                print(f"    error: {info['error']}", file=out)
                if args.debug and info["traceback"]:
                    for line in info["traceback"].rstrip("\n").splitlines():
                        print(f"      {line}", file=out)
    if any(abandoned for _, _, abandoned in listed):  # an import still runs in its thread
        return _exit_now(0, out)
    return 0


def cmd_tui(path: str, plugin_dirs: list[str], graphics: str | None = None) -> int:
    target = Path(path)
    if not target.exists():
        print(f"kmc-tui: error: {shown(target)}: no such file or folder", file=sys.stderr)
        return 2
    if not (_isatty(sys.stdin) and _isatty(sys.stdout)):
        # Textual would draw into the pipe and spin on a stdin it cannot read.
        print(
            "kmc-tui: error: the terminal UI needs a terminal on stdin and stdout; "
            "without one use `kmc-tui compress -i IN -o OUT` (see kmc-tui compress --help)",
            file=sys.stderr,
        )
        return 2
    from .tui.app import KmcApp
    from .tui.graphics import detect

    try:
        found = detect(graphics)  # asks the terminal: before the app reads the keyboard
    except ValueError as exc:
        print(f"kmc-tui: error: {exc}", file=sys.stderr)
        return 2
    KmcApp(target, plugin_dirs=plugin_dirs, graphics=found).run()
    return 0


def _isatty(stream) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced
        return False


class _Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: unwind (writes are atomic), then exit 128 + its number."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum


def _stop(signum, frame):
    raise _Stopped(signum)


@contextlib.contextmanager
def _own_stdout(*, restore: bool = True):
    """Yield a stream on the real stdout for the command's own output; meanwhile ``sys.stdout``
    is stderr and file descriptor 1 (where C code writes) points at stderr too.

    Plugins run in this process, some in threads that outlive a timeout: whatever they print,
    in Python or from C, lands on stderr and never ahead of or inside a ``--json`` record.
    With `restore` False it stays so (the process is about to exit, and an abandoned plugin
    thread may still print).
    """
    python_stdout = sys.stdout
    try:
        python_stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
    except (AttributeError, OSError, ValueError):  # no file descriptors (embedded)
        saved = None
    encoding = getattr(python_stdout, "encoding", None) or "utf-8"
    out, sys.stdout = python_stdout, sys.stderr
    if saved is not None:
        out = io.TextIOWrapper(
            io.FileIO(saved, "w"),
            encoding=encoding,
            errors=getattr(python_stdout, "errors", None) or "strict",
            line_buffering=True,
        )
        # On fd 1, which keeps the stderr it was given while reading borrows fd 2 for a moment.
        sys.stdout = io.TextIOWrapper(
            io.FileIO(1, "w", closefd=False),
            encoding=encoding,
            errors="backslashreplace",
            line_buffering=True,
        )
    try:
        yield out
    finally:
        for stream in (out, sys.stdout):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        if restore:
            sys.stdout = python_stdout
            if saved is not None:
                os.dup2(saved, 1)
                with contextlib.suppress(OSError):
                    out.close()


#: Subcommands, and options every one of them takes that may come before it.
_COMMANDS = ("compress", "plugins", "tui")
_SHARED_OPTIONS = ("--plugin-dir",)
#: First arguments that mean the original script's form, `kmc-tui -i in.jpg -o out.png -k 16`.
_SCRIPT_FORM = ("-i", "--input", "-o", "--output", "-k", "--colors")


def _with_command_first(argv: list[str]) -> list[str]:
    """`argv` with its subcommand in front, where argparse wants it.

    Options shared by the subcommands may come before one (``kmc-tui --plugin-dir D plugins``
    is the plugins command, never a folder named "plugins"); the script's options mean
    ``compress``; anything else, or nothing, is the TUI on a PATH.
    """
    shared: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in _SHARED_OPTIONS and i + 1 < len(argv):
            shared += argv[i : i + 2]
            i += 2
        elif argv[i].partition("=")[0] in _SHARED_OPTIONS and "=" in argv[i]:
            shared.append(argv[i])
            i += 1
        else:
            break
    rest = argv[i:]
    if rest and rest[0] in _COMMANDS:
        return [rest[0], *shared, *rest[1:]]
    if rest and rest[0] in _SCRIPT_FORM:
        return ["compress", *shared, *rest]
    if not shared and rest and rest[0] in ("-h", "--help", "--version"):
        return rest
    return ["tui", *shared, *rest]  # `kmc-tui`, `kmc-tui PATH`, `kmc-tui --plugin-dir D PATH`


def main(argv: list[str] | None = None, *, _restore_stdout: bool = True) -> int:
    argv = _with_command_first(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    # Pillow logs some decoding problems (an error is raised as well): keep them off the terminal.
    logging.getLogger("PIL").addHandler(logging.NullHandler())
    if args.command == "tui":
        try:
            return cmd_tui(args.path, args.plugin_dir, args.graphics)
        except KeyboardInterrupt:
            print("kmc-tui: interrupted", file=sys.stderr)
            return 130
    previous = {}
    if args.command == "compress" and threading.current_thread() is threading.main_thread():
        # SIGTERM unwinds like Ctrl+C, so a write in progress leaves nothing behind.
        previous = {
            signum: signal.signal(signum, _stop) for signum in (signal.SIGINT, signal.SIGTERM)
        }
    command = cmd_compress if args.command == "compress" else cmd_plugins
    try:
        with _own_stdout(restore=_restore_stdout) as out:
            try:
                return command(args, out)
            except _Stopped as exc:
                print(f"kmc-tui: stopped by {exc} (nothing partial was written)", file=sys.stderr)
                return exc.exit_code
            except KeyboardInterrupt:
                print("kmc-tui: interrupted", file=sys.stderr)
                return 130
            except BrokenPipeError:
                # `kmc-tui plugins | head`: the reader left; exit quietly as Unix tools do.
                os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
                return 141
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def console_main() -> None:
    """The ``kmc-tui`` command (and ``python -m kmc_tui``): :func:`main`, then a quick exit.

    Once scikit-learn is imported, the interpreter's own shutdown (tearing down thousands of
    modules) takes 0.2-0.3 s; by the time `main` returns every file is written and closed, so
    the process flushes its output and exits without it.
    """
    _exit_now(main(_restore_stdout=False))


if __name__ == "__main__":  # pragma: no cover
    console_main()
