"""Command line: ``kmc-tui [PATH]`` opens the TUI; ``compress`` and ``plugins`` work headless.

Kept free of heavy imports at module level so ``kmc-tui --help`` and the TUI start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import logging
import math
import os
import signal
import sys
import threading
from pathlib import Path

from .errors import KmcError, shown
from .formats import FORMAT_EXTENSIONS


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


def _unit_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def _max_pixels(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of pixels, got {text!r}")
    return value


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
        if message.endswith("expected one argument"):
            option = message.split(":")[0].split("/")[-1].removeprefix("argument ")
            message += f" (for a name that starts with '-', write ./NAME or {option}=NAME)"
        self.exit(2, f"kmc-tui: error: {shown(message)} (see {self.prog} --help)\n")


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


COMPRESS_DESCRIPTION = (
    "Quantize images to k colors. One input and -o FILE writes that file; several inputs, a "
    "folder or --recursive with -o FOLDER mirror the inputs there; without -o each result is "
    "written beside its input as <stem>-k<k>.<ext>. '-' is stdin (input) or stdout (-o -). "
    "Names that start with '-' go after '--'."
)


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of processes >= 1, got {text!r}")
    return value


def _add_plugin_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plugin-dir",
        action="append",
        type=_folder,
        default=[],
        metavar="DIR",
        help="folder of single-file plugins (repeatable; also KMC_TUI_PLUGIN_PATH)",
    )


def _add_debug(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug", action="store_true", help="after a plugin's one-line error, print its traceback"
    )


def add_compress_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "inputs",
        nargs="*",
        metavar="IN",
        help="input images or folders ('-': standard input)",
    )
    c.add_argument(
        "-i",
        "--input",
        action="append",
        default=[],
        metavar="IN",
        help="input image or folder (repeatable; the same as a positional IN)",
    )
    c.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file, or folder for several inputs ('-': standard output); default: "
        "beside each input as <stem>-k<k>.<ext>",
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
    for field, metavar, chosen in (
        ("max_delta_e", "D", "the fewest colors whose mean ΔE2000 is at most D"),
        ("max_bytes", "N", "the most colors whose file is at most N bytes, as 150K or 1.5M"),
    ):
        goal.add_argument(
            "--" + field.replace("_", "-"),
            dest="target",
            type=_target(field),
            metavar=metavar,
            help=f"choose k: {chosen} (exit 3 if none)",
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
        "--dither-strength",
        type=_unit_interval,
        metavar="S",
        help="dither with this share of the error diffused, 0..1 (--dither is 1; "
        "0.5 is pngquant's --floyd=0.5)",
    )
    c.add_argument(
        "--format",
        choices=(*FORMAT_EXTENSIONS, "jpg"),
        help="output format (default: from the output's extension; png otherwise)",
    )
    c.add_argument(
        "-r",
        "--recursive",
        action="store_true",
        help="walk folders' whole trees (mirrored under an output folder)",
    )
    c.add_argument("--force", action="store_true", help="overwrite existing files")
    c.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave outputs that are already there (resumes a stopped run)",
    )
    c.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        metavar="N",
        help="worker processes (default: the cores this process may use)",
    )
    c.add_argument(
        "--dask",
        metavar="ADDRESS",
        default=os.environ.get("DASK_SCHEDULER_ADDRESS") or None,
        help="run on the Dask cluster whose scheduler is at ADDRESS (default: "
        "$DASK_SCHEDULER_ADDRESS); needs pip install 'kmc-tui[dask]'",
    )
    c.add_argument("--json", action="store_true", help="print one JSON object per file")
    _add_plugin_dir(c)
    _add_debug(c)
    c.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up on a file when the plugin takes longer (the next file still "
        "runs); also bounds loading the plugin; inf: no limit",
    )
    c.add_argument(
        "--optimize",
        type=int,
        choices=(0, 1, 2),
        default=None,  # encode.DEFAULT_OPTIMIZE, looked up once the arguments are valid
        help="PNG size effort: 0 fastest, 1 balanced (default), 2 smallest, several times "
        "slower; the pixels are the same at every level",
    )
    c.add_argument(
        "--per-frame-palette",
        action="store_true",
        help="animations: a palette per frame (GIF, WebP) instead of one shared palette",
    )
    c.add_argument(
        "--keep-metadata",
        action="store_true",
        help="keep EXIF (orientation reset), XMP and text where the output format holds them",
    )
    c.add_argument(
        "--palette-out",
        metavar="FILE",
        help="also write the palette: .gpl .act .hex .json (with pixel shares) or .png (a strip)",
    )
    c.add_argument(
        "--max-pixels",
        type=_max_pixels,
        metavar="N",
        help="largest input (width x height) to decode; default Pillow's "
        "decompression-bomb limit (89,478,485)",
    )


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="kmc-tui",
        description="Reduce images to k colors. With no command (or a PATH), open the "
        "terminal UI on PATH (a folder or an image; default: the last folder, else the current "
        "one).",
    )
    parser.add_argument("--version", action="version", version=f"kmc-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser(
        "compress",
        help="quantize images to k colors and write them",
        description=COMPRESS_DESCRIPTION,
    )
    add_compress_arguments(c)

    p = sub.add_parser(
        "plugins",
        help="list quantizer plugins, their parameters and errors",
        description="List every quantizer plugin found: origin, parameters, and why it "
        "cannot be used if it cannot.",
    )
    _add_plugin_dir(p)
    _add_debug(p)
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="give up on a plugin whose import takes longer (default 10)",
    )

    t = sub.add_parser("tui", help="open the terminal UI (the default)")
    _add_plugin_dir(t)
    t.add_argument(
        "path", nargs="?", default=None, help="folder or image (default: the last folder, or .)"
    )
    t.add_argument(
        "--no-config",
        action="store_true",
        help="neither read nor write the remembered folder and settings",
    )
    t.add_argument(
        "--graphics",
        choices=("auto", "kitty", "sixel", "iterm", "halfblock"),
        default=None,
        help="how previews draw pictures (default auto: ask the terminal; "
        "or the KMC_TUI_GRAPHICS variable)",
    )
    return parser


def _usage_error(message: str) -> int:
    print(f"kmc-tui: error: {message}", file=sys.stderr)
    return 2


def _report(exc: KmcError, *, debug: bool) -> None:
    """One line on stderr; with --debug, the plugin's traceback after it."""
    print(f"kmc-tui: error: {shown(str(exc))}", file=sys.stderr)
    traceback = getattr(exc, "traceback", None)
    if debug and traceback:
        sys.stderr.write(traceback if traceback.endswith("\n") else traceback + "\n")


def cmd_compress(args, out) -> int:
    """``kmc-tui compress``; results go to `out`, errors and notes to stderr."""
    from . import batch
    from .batch import STDIO
    from .encode import DEFAULT_OPTIMIZE
    from .errors import OutputExists, ParameterError, PluginTimeout
    from .formats import PALETTE_FORMATS, format_for
    from .quantize import call_with_timeout, check_k

    if args.optimize is None:
        args.optimize = DEFAULT_OPTIMIZE
    inputs = [*args.input, *args.inputs]
    if not inputs:
        return _usage_error("no input: name image files or folders (or - for standard input)")
    if args.force and args.skip_existing:
        return _usage_error("--force and --skip-existing contradict each other; choose one")
    folders = [i for i in inputs if i != STDIO and os.path.isdir(i)]
    if STDIO in inputs and len(inputs) > 1:
        return _usage_error("- (standard input) must be the only input")
    if STDIO in inputs and sys.stdin is not None and sys.stdin.isatty():
        return _usage_error("refusing to read image data from a terminal; pipe it in")
    to_stdout = args.output == STDIO or (inputs == [STDIO] and args.output is None)
    if to_stdout:
        if len(inputs) > 1 or folders:
            return _usage_error("-o - (standard output) takes exactly one input file")
        if args.json:
            return _usage_error("--json and -o - would both write to standard output")
        if out.isatty():
            return _usage_error("refusing to write image data to a terminal; redirect it")
    into_folder = (
        not to_stdout
        and args.output is not None
        and (len(inputs) > 1 or bool(folders) or args.recursive or os.path.isdir(args.output))
    )
    many = len(inputs) > 1 or bool(folders)
    plugin_dirs = batch.plugin_dirs_with_env(args.plugin_dir)
    try:
        registry = batch.registry_for(plugin_dirs)
        named_output = args.output is not None and not into_folder and not to_stdout
        fmt = (
            format_for(args.output, args.format)
            if named_output
            else format_for("", args.format or "png")
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
        client = batch.connect_dask(args.dask) if args.dask else None
    except KmcError as exc:
        _report(exc, debug=args.debug)
        # A plugin that hangs while loading failed at run time, as one that hangs on a file.
        return _exit_now(1, out) if isinstance(exc, PluginTimeout) else 2
    if args.palette_out is not None:
        from .palettes import palette_format

        try:
            if many or into_folder:
                raise ParameterError("--palette-out works with one input image")
            if args.per_frame_palette:
                raise ParameterError("--palette-out needs one palette: not --per-frame-palette")
            palette_format(args.palette_out)
            if Path(args.palette_out).exists() and not args.force:
                raise OutputExists(f"{args.palette_out}: already exists (use --force to overwrite)")
        except KmcError as exc:
            _report(exc, debug=args.debug)
            return 2
    if into_folder:
        out_dir = Path(args.output)
        if out_dir.exists() and not out_dir.is_dir():
            return _usage_error(f"{shown(out_dir)}: several inputs need an output folder")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return _usage_error(f"{shown(out_dir)}: cannot create folder: {exc.strerror}")

    with batch.stop_on_signals():
        try:
            return _run_compress(
                args, out, inputs, fmt, into_folder, many, plugin_dirs, record, client
            )
        except batch.Interrupted as exc:  # before the run started
            print(f"kmc-tui: stopped by {exc}", file=sys.stderr)
            return exc.exit_code
        finally:
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()


def _show(outcome, progress, *, json_lines: bool, many: bool, debug: bool) -> None:
    """What is said about one file as it finishes: errors and notes on stderr (a failed file's
    line names it when there are several; with `debug`, a plugin's traceback follows), then
    its JSON record or its line."""
    from . import batch
    from .batch import CANCELLED, DONE, FAILED, NOT_SMALLER, SKIPPED, STDIO, UNREACHABLE
    from .report import file_line, json_line, search_line, skipped_line

    if outcome.status == FAILED:
        message = outcome.message
        if many and outcome.input not in message:
            message = f"{outcome.input}: {message}"
        progress.print(f"kmc-tui: error: {shown(message)}", stderr=True)
        if debug and outcome.traceback:
            progress.print(outcome.traceback.rstrip("\n"), stderr=True)
    elif outcome.status == UNREACHABLE:  # not an error: exit 3 says it
        progress.print(f"{shown(outcome.input)}: {outcome.message}", stderr=True)
    elif outcome.status == SKIPPED and outcome.message not in (batch.ALREADY_THERE, NOT_SMALLER):
        progress.print(f"kmc-tui: note: {shown(outcome.message)}", stderr=True)
    if json_lines and outcome.status != CANCELLED:
        progress.print(json_line(outcome, traceback=debug))
    elif outcome.status == SKIPPED and outcome.message == NOT_SMALLER:
        progress.print(skipped_line(outcome), stderr=outcome.output == STDIO)
    elif outcome.status == DONE:
        # With the image on stdout (-o -), what is said about it goes to stderr.
        to_stderr = outcome.output == STDIO
        progress.print(file_line(outcome), stderr=to_stderr)
        if outcome.search is not None:
            progress.print(f"  {search_line(outcome.search)}", stderr=to_stderr)
        for note in outcome.notes:
            progress.print(f"  note: {shown(note)}", stderr=to_stderr)


def _run_compress(args, out, inputs, fmt, into_folder, many, plugin_dirs, record, client) -> int:
    from . import batch
    from .batch import STDIO
    from .registry import warm_up_in_background
    from .report import Progress, Tally

    found = batch.walk_inputs(
        inputs, recursive=args.recursive, skip_folders=[args.output] if into_folder else []
    )
    plan = batch.plan(
        found,
        output=STDIO if args.output == STDIO else args.output,
        into_folder=into_folder,
        k=args.k,
        format=fmt,
        skip_existing=args.skip_existing,
        force=args.force,
        target=args.target,
    )
    tasks = plan.tasks
    if not tasks and not plan.settled:
        print(
            f"kmc-tui: error: no image files in {', '.join(map(shown, inputs))}",
            file=sys.stderr,
        )
        return 1
    local_only = any(STDIO in (t.input, t.output) for t in tasks)
    on_dask = client is not None and not local_only
    cores = batch.default_jobs()
    jobs = min(args.jobs or cores, len(tasks))
    in_process = not on_dask and jobs <= 1
    settings = batch.Settings(
        k=args.k,
        plugin=args.plugin,
        params=tuple(args.param),
        seed=args.seed,
        dither=args.dither if args.dither_strength is None else args.dither_strength,
        format=fmt,
        force=args.force,
        plugin_dirs=plugin_dirs,
        timeout=args.timeout,
        threads=batch.threads_per_file(cores, jobs, files=len(tasks), on_dask=on_dask),
        make_folders=into_folder,
        target=args.target,
        skip_if_larger=args.skip_if_larger,
        optimize=args.optimize,
        keep_metadata=args.keep_metadata,
        per_frame_palette=args.per_frame_palette,
        max_pixels=args.max_pixels,
        palette_out=args.palette_out,
    )
    tally = Tally(total=len(tasks) + len(plan.settled))
    abandoned = False  # a plugin timed out: its thread still runs in this process
    broken = runner = None
    # Work in this process stops where a signal finds it; workers stop between stages.
    with (
        batch.stop_on_signals(immediate=in_process) as stop,
        Progress(tally, out=out, enabled=many and sys.stderr.isatty()) as progress,
    ):
        try:
            if on_dask:
                runner = batch.run_dask(tasks, settings, client, stop=stop)
            elif not in_process:
                runner = batch.run_pool(tasks, settings, jobs=jobs, stop=stop)
            else:
                if settings.threads is None:  # a lone file; a batch warms up before the cap
                    warm_up_in_background(record)  # import scikit-learn while decoding
                runner = batch.run_in_process(tasks, settings, stdout=getattr(out, "buffer", None))
            for outcome in itertools.chain(plan.settled, runner):
                tally.add(outcome)
                abandoned = abandoned or (outcome.abandoned and in_process)
                _show(outcome, progress, json_lines=args.json, many=many, debug=args.debug)
                progress.update()
        except batch.Interrupted:
            pass  # `stop` says which signal
        except Exception as exc:  # noqa: BLE001 - the runner broke (a cluster gone): say so
            first = (str(exc).strip().splitlines() or [""])[0]
            broken = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        finally:
            if runner is not None:
                runner.close()
    if many and not args.json:
        print(tally.table(), file=out)
    if stop and not many:
        print(f"kmc-tui: stopped by {stop.name} (nothing partial was written)", file=sys.stderr)
        return stop.exit_code
    if stop:
        left = tally.total - tally.finished
        print(
            f"kmc-tui: stopped by {stop.name}: {tally.done} done, {tally.skipped} skipped, "
            + (f"{tally.unreachable} not reachable, " if tally.unreachable else "")
            + f"{tally.failed} failed, {left} not finished (nothing partial was written)",
            file=sys.stderr,
        )
        return stop.exit_code
    if broken is not None:
        left = tally.total - tally.finished
        print(
            f"kmc-tui: error: the run broke off ({shown(broken)}): {tally.done} done, "
            f"{left} not finished (nothing partial was written)",
            file=sys.stderr,
        )
        return 1
    if abandoned:
        return _exit_now(1, out)
    return 1 if tally.failed else 3 if tally.unreachable else 0


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


def cmd_tui(
    path: str | None,
    plugin_dirs: list[str],
    *,
    use_config: bool = True,
    graphics: str | None = None,
) -> int:
    if path is not None and not Path(path).exists():
        print(f"kmc-tui: error: {shown(Path(path))}: no such file or folder", file=sys.stderr)
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
    from .tui.config import default_config_path
    from .tui.graphics import detect

    try:
        found = detect(graphics)  # asks the terminal: before the app reads the keyboard
    except ValueError as exc:
        print(f"kmc-tui: error: {exc}", file=sys.stderr)
        return 2
    if path is None and not use_config:
        path = "."
    app = KmcApp(
        path,
        plugin_dirs=plugin_dirs,
        config=default_config_path() if use_config else None,
        graphics=found,
    )
    app.run()
    if app.stopped_by is not None:  # the terminal is restored by now
        print(f"kmc-tui: stopped by {app.stopped_by}", file=sys.stderr)
    if app.config_error:
        print(f"kmc-tui: {app.config_error}", file=sys.stderr)
    return app.return_code or 0


def _isatty(stream) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced
        return False


def _interrupt(signum, frame):
    from .batch import Interrupted

    raise Interrupted(signum)


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
    if argv and argv[0] == "compress":
        # Options and inputs in any order: `compress a.png -k 8 b.png -o out/`.
        compress = _Parser(prog="kmc-tui compress", description=COMPRESS_DESCRIPTION)
        add_compress_arguments(compress)
        args = compress.parse_intermixed_args(argv[1:])
        args.command = "compress"
    else:
        args = build_parser().parse_args(argv)
    # Pillow logs some decoding problems (an error is raised as well): keep them off the terminal.
    logging.getLogger("PIL").addHandler(logging.NullHandler())
    if args.command == "tui":
        try:
            return cmd_tui(
                args.path, args.plugin_dir, use_config=not args.no_config, graphics=args.graphics
            )
        except KeyboardInterrupt:
            print("kmc-tui: interrupted", file=sys.stderr)
            return 130
    previous = {}
    if args.command == "compress" and threading.current_thread() is threading.main_thread():
        # SIGTERM unwinds like Ctrl+C, so a write in progress leaves nothing behind (a run
        # installs its own handlers, which also say what was done).
        previous = {
            signum: signal.signal(signum, _interrupt) for signum in (signal.SIGINT, signal.SIGTERM)
        }
    command = cmd_compress if args.command == "compress" else cmd_plugins
    try:
        with _own_stdout(restore=_restore_stdout) as out:
            try:
                return command(args, out)
            except KeyboardInterrupt as exc:
                if getattr(exc, "signum", None) is not None:  # before or after a run
                    print(
                        f"kmc-tui: stopped by {exc} (nothing partial was written)", file=sys.stderr
                    )
                    return exc.exit_code
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
