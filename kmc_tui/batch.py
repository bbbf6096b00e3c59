"""Many images at once: walk the inputs, plan the outputs, run one function per file.

The same picklable function, :func:`compress_file`, runs in this process
(:func:`run_in_process`), in local worker processes that take files one at a time
(:func:`run_pool`), or on a Dask cluster in chunks of files (:func:`run_dask`). Threads of
numeric libraries are capped (threadpoolctl) so that workers × threads stays within the cores
(:func:`threads_per_file`); the bytes written do not depend on it (the k-means plugin's output
is the same for any thread count).

Nothing here prints; the runners yield an :class:`Outcome` per file as it finishes.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import signal
import stat
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .animation import ANIMATED_FORMATS
from .encode import DEFAULT_OPTIMIZE
from .errors import Cancelled, KmcError, ParameterError, PluginTimeout, TargetUnreachable
from .formats import FORMAT_EXTENSIONS, IMAGE_EXTENSIONS, PALETTE_FORMATS

#: The input and output name of the standard streams.
STDIO = "-"

DONE, SKIPPED, FAILED, CANCELLED = "done", "skipped", "failed", "cancelled"
#: No k up to the most allowed meets the target: nothing written, not an error (exit 3).
UNREACHABLE = "not reachable"
#: The reason a file is skipped with --skip-existing.
ALREADY_THERE = "already there"
#: The reason a file is skipped with --skip-if-larger.
NOT_SMALLER = "not smaller"


# -- names ---------------------------------------------------------------------------------------


def threads_per_file(cores: int, jobs: int, *, files: int, on_dask: bool = False) -> int | None:
    """Threads of numeric libraries for each file being computed: the cores shared among `jobs`
    workers; one on Dask (a worker runs a task per thread it has); None (as they are) for a
    lone file, which has the machine to itself."""
    if on_dask:
        return 1
    if files <= 1:
        return None
    return max(1, cores // max(1, jobs))


def default_jobs() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# -- walking -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """An input file: its path, and the folder argument it was found under (None: named)."""

    path: str
    root: str | None = None


@dataclass(frozen=True)
class Problem:
    """Something met on the way that is reported and never stops the run: a path that cannot
    be read (``failed``) or a link that is not followed (``skipped``)."""

    path: str
    message: str
    status: str = FAILED


def _link_problem(path: str, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return f"{path}: symbolic link loop"
    if exc.errno == errno.ENOENT:
        return f"{path}: broken symbolic link"
    return f"{path}: cannot access: {exc.strerror or exc}"


def walk_inputs(
    inputs: Iterable[str],
    *,
    recursive: bool = False,
    skip_folders: Iterable[str] = (),
) -> Iterator[Source | Problem]:
    """The image files named by `inputs`, in a stable order, and what was wrong on the way.

    A folder gives its image files (by extension, sorted by name); with `recursive`, its whole
    tree, following symbolic links to folders but never into a folder already seen (a loop is
    reported). Folders in `skip_folders` (the output folder) are left out. Unreadable folders,
    broken links and missing inputs come out as :class:`Problem`; the walk goes on.
    """
    skip_ids = set()
    for folder in skip_folders:
        with contextlib.suppress(OSError):
            st = os.stat(folder)
            skip_ids.add((st.st_dev, st.st_ino))
    for item in inputs:
        if item == STDIO:
            yield Source(STDIO)
            continue
        try:
            st = os.stat(item)
        except OSError as exc:
            if os.path.islink(item):
                yield Problem(item, _link_problem(item, exc))
            elif exc.errno == errno.ENOENT:
                yield Problem(item, f"{item}: no such file or folder")
            else:
                yield Problem(item, f"{item}: cannot access: {exc.strerror or exc}")
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk_folder(item, st, recursive=recursive, skip_ids=skip_ids)
        else:
            yield Source(item)  # read_image says what is wrong with a non-image


def _walk_folder(root: str, root_st, *, recursive: bool, skip_ids: set) -> Iterator:
    seen = {(root_st.st_dev, root_st.st_ino)}
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield Problem(folder, f"{folder}: cannot read folder: {exc.strerror or exc}")
            continue
        subfolders = []
        for entry in entries:
            is_image = os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS
            try:
                st = os.stat(entry.path)  # through links
            except OSError as exc:
                if is_image or (recursive and entry.is_symlink()):
                    yield Problem(entry.path, _link_problem(entry.path, exc))
                continue
            if stat.S_ISDIR(st.st_mode):
                if not recursive:
                    continue
                key = (st.st_dev, st.st_ino)
                if key in skip_ids:
                    continue
                if key in seen:
                    if entry.is_symlink():
                        yield Problem(
                            entry.path,
                            f"{entry.path}: symbolic link loop (a folder already walked); "
                            "not followed",
                            SKIPPED,
                        )
                    continue
                seen.add(key)
                subfolders.append(entry.path)
            elif is_image:
                yield Source(entry.path, root)
        stack.extend(reversed(subfolders))  # depth first, in name order


# -- planning ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One file to compress: where from and where to (``-``: the standard streams)."""

    input: str
    output: str


@dataclass(frozen=True)
class Outcome:
    """What became of one input.

    Attributes
    ----------
    input, output : str
    status : str
        ``done``, ``skipped`` (the output was there already, or the result was not smaller),
        ``not reachable`` (no k meets the target), ``failed`` or ``cancelled``.
    message : str
        The one-line error (failed, not reachable) or the reason (skipped).
    record : dict or None
        The ``--json`` record of a file that was computed: done, not smaller, not reachable.
    notes : tuple of str
        Things to know about a done file.
    abandoned : bool
        A plugin timed out and its thread is still running in the process that ran it.
    traceback : str or None
        The traceback of a plugin's failure (shown with ``--debug``).
    """

    input: str
    output: str
    status: str
    message: str = ""
    record: dict | None = None
    notes: tuple[str, ...] = ()
    abandoned: bool = False
    traceback: str | None = None
    search: object = None  # how a target chose k (kmc_tui.targets.TargetSearch)


@dataclass
class Plan:
    """Tasks to run, and inputs already settled (skipped or failed) before any work."""

    tasks: list[Task] = field(default_factory=list)
    settled: list[Outcome] = field(default_factory=list)


def beside_name(path: str, k: int, fmt: str, *, whole: bool = False, target=None) -> str:
    """The result's path beside its input: ``<stem>-k<k>.<ext>`` (``<name>-k<k>.<ext>`` when
    `whole`, for inputs of one folder that share a stem). Under a `target` k is not known
    beforehand, so the name says the target: ``<stem>-de<D>.<ext>`` or ``<stem>-<N>B.<ext>``."""
    folder, name = os.path.split(path)
    base = name if whole else os.path.splitext(name)[0]
    if target is None:
        tag = f"k{k}"
    elif target.kind == "delta_e":
        tag = f"de{target.max_delta_e:g}"
    else:
        tag = f"{target.max_bytes}B"
    return os.path.join(folder, f"{base}-{tag}{FORMAT_EXTENSIONS[fmt][0]}")


def plan(
    found: Iterable[Source | Problem],
    *,
    output: str | None,
    into_folder: bool,
    k: int,
    format: str,
    skip_existing: bool = False,
    force: bool = False,
    target=None,
) -> Plan:
    """Where each input goes, and which inputs are settled before any work.

    Parameters
    ----------
    found : iterable of Source or Problem
        From :func:`walk_inputs`.
    output : str or None
        None: each result beside its input (:func:`beside_name`); ``-``: standard output; a
        file; or, with `into_folder`, a folder where a folder input's tree is mirrored (same
        relative paths, the extension of `format`).
    k : int
    format : str
        The output format (its first extension names the results).
    skip_existing, force : bool
        An output already there is skipped, replaced, or (neither) an error for that input.
    target : kmc_tui.targets.Target or None
        Names results beside their inputs by the target rather than by k.

    Inputs in one folder that share a stem keep their whole names (``a.jpg`` and ``a.png`` give
    ``a.jpg.png`` and ``a.png.png``). An input listed twice runs once; a second input that would
    write the same output fails. Beside its input, a file that is another input's result under
    these settings is left alone, so a run over a folder never takes its own results as inputs.
    """
    ext = FORMAT_EXTENSIONS[format][0]
    sources: list[Source] = []
    result = Plan()
    seen_inputs: set[str] = set()
    for item in found:
        if isinstance(item, Problem):
            result.settled.append(Outcome(item.path, "", item.status, item.message))
            continue
        key = item.path if item.path == STDIO else os.path.realpath(item.path)
        if key not in seen_inputs:
            seen_inputs.add(key)
            sources.append(item)

    def folder_and_name(src: Source) -> tuple[str, str]:
        if output is None:
            return os.path.split(src.path)
        rel = (
            os.path.basename(src.path) if src.root is None else os.path.relpath(src.path, src.root)
        )
        sub, name = os.path.split(rel)
        return os.path.join(output, sub), name

    placed = [folder_and_name(src) for src in sources]
    stems: dict[tuple[str, str], int] = {}
    for folder, name in placed:
        key = (folder, os.path.splitext(name)[0])
        stems[key] = stems.get(key, 0) + 1

    targets: list[str] = []
    for src, (folder, name) in zip(sources, placed, strict=True):
        whole = stems[(folder, os.path.splitext(name)[0])] > 1
        if src.path == STDIO and into_folder:
            targets.append(os.path.join(output, "stdin" + ext))
        elif src.path == STDIO or output == STDIO:
            targets.append(STDIO if output in (None, STDIO) else output)
        elif output is None:
            targets.append(
                beside_name(os.path.join(folder, name), k, format, whole=whole, target=target)
            )
        elif into_folder:
            targets.append(
                os.path.join(folder, (name if whole else os.path.splitext(name)[0]) + ext)
            )
        else:
            targets.append(output)

    results_beside = (
        {os.path.realpath(t) for t in targets if t != STDIO} if output is None else set()
    )
    claimed: dict[str, str] = {}
    for src, target in zip(sources, targets, strict=True):
        if src.path != STDIO and os.path.realpath(src.path) in results_beside:
            continue  # another input's result: not an input of this run
        if target != STDIO:
            key = os.path.realpath(target)
            if key in claimed:
                result.settled.append(
                    Outcome(
                        src.path,
                        target,
                        FAILED,
                        f"{src.path}: would write {target}, the output of {claimed[key]}",
                    )
                )
                continue
            claimed[key] = src.path
            if os.path.lexists(target):
                if os.path.isdir(target):
                    result.settled.append(
                        Outcome(src.path, target, FAILED, f"{target}: is a folder")
                    )
                    continue
                if skip_existing:
                    result.settled.append(Outcome(src.path, target, SKIPPED, ALREADY_THERE))
                    continue
                if not force:
                    result.settled.append(
                        Outcome(
                            src.path,
                            target,
                            FAILED,
                            f"{target}: already exists (use --force to overwrite, "
                            "--skip-existing to keep it)",
                        )
                    )
                    continue
        result.tasks.append(Task(src.path, target))
    return result


# -- the per-file function -----------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Everything :func:`compress_file` needs besides the file: small and picklable.

    `plugin_dirs` is the complete list (no environment variable is read where this runs);
    `threads` caps the threads of numeric libraries while a file is computed (None: as they
    are); `make_folders` creates missing output folders (mirrored trees). With a `target`
    (:class:`kmc_tui.targets.Target`) each file's k is searched for, `k` the most allowed;
    with `skip_if_larger` a result not smaller than its input is not written. `optimize`,
    `keep_metadata`, `per_frame_palette` and `max_pixels` are :func:`kmc_tui.api.compress`'s;
    `palette_out` is a file the palette is also written to (one input only).
    """

    k: int
    plugin: str = "kmeans"
    params: tuple[tuple[str, object], ...] = ()
    seed: int = 0
    dither: bool | float = False
    format: str = "png"
    force: bool = False
    plugin_dirs: tuple[str, ...] = ()
    timeout: float | None = None
    threads: int | None = 1
    make_folders: bool = False
    target: object = None
    skip_if_larger: bool = False
    optimize: int = DEFAULT_OPTIMIZE
    keep_metadata: bool = False
    per_frame_palette: bool = False
    max_pixels: int | None = None
    palette_out: str | None = None


_REGISTRIES: dict = {}
_THREAD_LIMITS: dict = {}
_THREAD_CAP = {"lock": threading.Lock(), "users": 0, "handle": None}
#: Decoders' chatter is caught by pointing the process's fd 2 elsewhere: one file at a time.
_CHATTER_LOCK = threading.Lock()


def registry_for(plugin_dirs: Sequence[str]):
    """The registry for these plugin folders, made once per process."""
    from .registry import Registry

    key = tuple(plugin_dirs)
    if key not in _REGISTRIES:
        _REGISTRIES[key] = Registry(key, use_env=False)
    return _REGISTRIES[key]


def plugin_dirs_with_env(plugin_dirs: Sequence[str]) -> tuple[str, ...]:
    """`plugin_dirs` and those of ``KMC_TUI_PLUGIN_PATH``, as absolute paths (for workers
    elsewhere)."""
    from .registry import PLUGIN_PATH_ENV

    env = [d for d in os.environ.get(PLUGIN_PATH_ENV, "").split(os.pathsep) if d]
    return tuple(os.path.abspath(d) for d in [*plugin_dirs, *env])


_WARM: set = set()


def warm_up(settings: Settings) -> None:
    """Load and warm up the plugin once per process, before threads are capped (workers).

    A cap reaches only the libraries loaded when it is set (scikit-learn's OpenMP runtime
    arrives with its import), so they are loaded first. In the command's own process the
    environment variables of :func:`threads_for_new_libraries` cover them instead, and a file
    that cannot be read fails before any of that is imported.
    """
    key = (settings.plugin_dirs, settings.plugin)
    if key in _WARM:
        return
    cls = registry_for(settings.plugin_dirs).get(settings.plugin).load()
    getattr(cls, "warm_up", lambda: None)()
    _WARM.add(key)


def limit_threads(threads: int | None) -> None:
    """Cap the numeric libraries of this process at `threads` threads from now on (a worker)."""
    if threads is None or _THREAD_LIMITS.get("limit") == threads:
        return
    from threadpoolctl import threadpool_limits

    _THREAD_LIMITS["limit"] = threads
    _THREAD_LIMITS["handle"] = threadpool_limits(limits=threads)


#: Read by OpenMP and BLAS runtimes when they load.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def threads_for_new_libraries(threads: int | None):
    """Numeric libraries loaded meanwhile start with `threads` threads (environment variables).

    :func:`capped_threads` reaches only libraries already loaded; a plugin that loads its own
    OpenMP runtime in the middle of its first file is covered by these.
    """
    if threads is None:
        yield
        return
    saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(_THREAD_VARIABLES, str(threads)))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def capped_threads(threads: int | None):
    """Numeric libraries capped at `threads` threads while any file of this process is inside.

    The limits are process-wide: the first file in sets them and the last one out restores
    them, so files computed at once in threads of one process (a Dask worker) all keep the cap.
    """
    if threads is None or _THREAD_LIMITS.get("limit") == threads:  # a worker: capped for good
        yield
        return
    from threadpoolctl import threadpool_limits

    cap = _THREAD_CAP
    with cap["lock"]:
        if cap["users"] == 0:
            cap["handle"] = threadpool_limits(limits=threads)
        cap["users"] += 1
    try:
        yield
    finally:
        with cap["lock"]:
            cap["users"] -= 1
            if cap["users"] == 0:
                cap["handle"].restore_original_limits()
                cap["handle"] = None


@contextlib.contextmanager
def decoder_chatter(lines: list[str]):
    """Collect what decoders say while reading, so a bad file gives one clean line.

    Python warnings (Pillow's "Corrupt EXIF data" …) are recorded, and C libraries that write
    straight to file descriptor 2 (libtiff's "Fax4Decode: Bad code word …") are redirected to a
    temporary file; both end up in `lines`, for the caller to show as notes or drop.
    """
    with _CHATTER_LOCK, warnings.catch_warnings(record=True) as caught:
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


def file_record(result, task: Task, notes: Sequence[str], *, written: bool = True) -> dict:
    """The ``--json`` record of a computed file: :meth:`Stats.as_dict` under the paths as
    planned (``-`` for the standard streams) with `notes`, then what a target adds; a result
    not `written` has no output and the status ``skipped``."""
    record = {
        **result.stats.as_dict(),
        "input": task.input,
        "output": task.output if written else None,
        "notes": list(notes),
    }
    if not written:
        record["status"] = SKIPPED
    if result.search is not None:
        record.update(result.search.as_dict())
    return record


def unreachable_record(exc: TargetUnreachable, task: Task, target) -> dict:
    """The ``--json`` record of a file whose target no k meets."""
    return {
        "input": task.input,
        "output": None,
        "status": UNREACHABLE,
        "message": str(exc),
        "best": exc.best,
        "target": target.as_dict(),
        "tried": [t.as_dict() for t in exc.trials],
    }


def _with_seconds(result, **seconds: float):
    """`result` with these stage times added to its (immutable) Stats."""
    stats = replace(result.stats, seconds={**result.stats.seconds, **seconds})
    return replace(result, stats=stats)


def _read_stdin():
    """The standard input read as an image; errors name it ``stdin``."""
    from .errors import InputError
    from .read import read_image

    with tempfile.TemporaryDirectory(prefix="kmc-tui-") as folder:
        spooled = Path(folder) / "stdin"
        with open(spooled, "wb") as fh:
            while chunk := sys.stdin.buffer.read(1 << 20):
                fh.write(chunk)
        try:
            return read_image(spooled)
        except InputError as exc:
            raise InputError(str(exc).replace(str(spooled), "stdin")) from None


def _write_all(stream, data: bytes) -> None:
    """All of `data` to a binary stream (a raw one may take part of it at a time)."""
    view = memoryview(data)
    while view:
        written = stream.write(view)
        view = view[written if written is not None else len(view) :]
    stream.flush()


def _write_result(result, task: Task, settings: Settings, stdout) -> tuple[object, str | None]:
    """Write a result where `task` says: (the result with its write time, a note when the file
    already held these bytes).

    The bytes depend only on the input and the settings, so finding them already there means a
    retry of this very file (a Dask worker lost after writing it): it is not written twice.
    """
    from .api import save
    from .errors import OutputExists

    if task.output == STDIO:
        t = time.perf_counter()
        _write_all(stdout if stdout is not None else sys.stdout.buffer, result.data)
        return _with_seconds(result, write=time.perf_counter() - t), None
    out = Path(task.output)
    if settings.make_folders:
        out.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        if out.is_file() and not out.is_symlink() and out.stat().st_size == len(result.data):
            if out.read_bytes() == result.data:
                return (
                    _with_seconds(result, write=0.0),
                    "the output already held these very bytes: not written again",
                )
        try:
            return save(result, out, force=settings.force), None
        except OutputExists:
            if not out.exists():
                raise  # the input itself, refused
    raise OutputExists(f"{out}: already exists (use --force to overwrite)")


def compress_file(
    task: Task,
    settings: Settings,
    *,
    should_stop: Callable[[], bool] | None = None,
    stdout=None,
) -> Outcome:
    """Read, quantize, encode and write one file; every failure becomes a failed Outcome.

    The one function every runner calls. Only interruptions (KeyboardInterrupt and the like)
    escape; a write is whole or absent (:func:`kmc_tui.fsio.write_atomic`). `stdout` is the
    binary stream an output of ``-`` goes to (default: ``sys.stdout.buffer``).
    """
    with capped_threads(settings.threads):
        return _compress_file(task, settings, should_stop, stdout)


def _compress_file(task: Task, settings: Settings, should_stop, stdout) -> Outcome:
    from .api import process
    from .read import read_image

    registry = registry_for(settings.plugin_dirs)
    chatter: list[str] = []
    try:
        t = time.perf_counter()
        if task.input == STDIO:
            image = _read_stdin()
        else:
            with decoder_chatter(chatter):
                image = read_image(
                    task.input, max_pixels=settings.max_pixels, metadata=settings.keep_metadata
                )
        read_seconds = time.perf_counter() - t
        if should_stop is not None and should_stop():
            raise Cancelled("cancelled")
        run = dict(
            plugin=settings.plugin,
            params=dict(settings.params),
            seed=settings.seed,
            dither=settings.dither,
            format=settings.format,
            registry=registry,
            should_stop=should_stop,
            timeout=settings.timeout,
            optimize=settings.optimize,
        )
        animated = image.frames > 1 and settings.format in ANIMATED_FORMATS
        if animated and task.input != STDIO:
            if settings.target is not None:
                raise ParameterError(
                    f"{task.input}: a target chooses k for one still image, not for an animation"
                )
            from .animation import process_animation, read_animation

            t = time.perf_counter()
            animation = read_animation(task.input, max_pixels=settings.max_pixels)
            read_seconds += time.perf_counter() - t
            result = process_animation(
                animation,
                settings.k,
                per_frame_palette=settings.per_frame_palette,
                palette_format=settings.format in PALETTE_FORMATS,
                metadata=image.metadata if settings.keep_metadata else None,
                **run,
            )
        elif settings.target is None:
            result = process(image, settings.k, keep_metadata=settings.keep_metadata, **run)
        else:
            from .api import as_format_holds
            from .targets import search_k

            held = as_format_holds(image, settings.format)  # what process() does first
            result = search_k(
                held,
                settings.target,
                k_max=settings.k,
                keep_metadata=settings.keep_metadata,
                **run,
            )
        result = _with_seconds(result, read=read_seconds)
        if (
            settings.skip_if_larger
            and image.file_bytes is not None
            and result.stats.output_bytes >= image.file_bytes
        ):
            notes = [*result.notes, *list(dict.fromkeys(chatter))[:3]]
            return Outcome(
                task.input,
                task.output,
                SKIPPED,
                NOT_SMALLER,
                record=file_record(result, task, notes, written=False),
                notes=tuple(notes),
                search=result.search,
            )
        result, note = _write_result(result, task, settings, stdout)
        if settings.palette_out is not None:
            from .palettes import Palette, write_palette

            stem = Path(task.input).stem if task.input != STDIO else "stdin"
            write_palette(
                settings.palette_out, Palette.of(result.quantized, stem), force=settings.force
            )
    except Cancelled:
        return Outcome(task.input, task.output, CANCELLED)
    except TargetUnreachable as exc:
        return Outcome(
            task.input,
            task.output,
            UNREACHABLE,
            str(exc),
            record=unreachable_record(exc, task, settings.target),
        )
    except KmcError as exc:
        return Outcome(
            task.input,
            task.output,
            FAILED,
            str(exc),
            abandoned=isinstance(exc, PluginTimeout),
            traceback=getattr(exc, "traceback", None),
        )
    except MemoryError:
        return Outcome(task.input, task.output, FAILED, f"{task.input}: out of memory")
    except Exception as exc:  # noqa: BLE001 - one file must never end the run
        first = (str(exc).strip().splitlines() or [""])[0]
        return Outcome(
            task.input,
            task.output,
            FAILED,
            f"{task.input}: unexpected {type(exc).__name__}" + (f": {first}" if first else ""),
        )
    notes = [*result.notes, *dict.fromkeys(chatter)][: len(result.notes) + 3]
    if note:
        notes.append(note)
    record = file_record(result, task, notes)
    return Outcome(
        task.input, task.output, DONE, record=record, notes=tuple(notes), search=result.search
    )


def compress_chunk(tasks: Sequence[Task], settings: Settings) -> list[Outcome]:
    """:func:`compress_file` over a few files: one Dask task."""
    with contextlib.suppress(Exception):  # a plugin that fails is reported file by file
        warm_up(settings)  # before the cap, which reaches only libraries already loaded
    with capped_threads(settings.threads):
        return [compress_file(task, settings) for task in tasks]


# -- stopping ------------------------------------------------------------------------------------


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: unwind, keep what is finished, say what was done."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@dataclass
class StopRequest:
    """Which signal asked the run to stop (None: none yet); see :func:`stop_on_signals`."""

    signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or 0)


#: Worker processes alive, killed at once if a second signal asks to stop now.
_LIVE_WORKERS: set = set()


@contextlib.contextmanager
def stop_on_signals(*, immediate: bool = True) -> Iterator[StopRequest]:
    """Catch SIGINT and SIGTERM for a run; a second one exits at once.

    With `immediate`, the first raises :class:`Interrupted` where the main thread is (a run in
    this process: unwinding is safe anywhere, since writes are atomic); otherwise it only sets
    the yielded :class:`StopRequest`, which the worker and Dask runners watch. A second signal
    kills worker processes and leaves with 128 + its number, for a clean-up that hangs.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum, frame):
        if request:
            for process in list(_LIVE_WORKERS):
                with contextlib.suppress(Exception):
                    process.kill()
            os._exit(128 + signum)
        request.signum = signum
        if immediate:
            raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# -- runners -------------------------------------------------------------------------------------


def run_in_process(tasks: Iterable[Task], settings: Settings, *, stdout=None) -> Iterator[Outcome]:
    """One file after another in this process (`stdout`: see :func:`compress_file`)."""
    with threads_for_new_libraries(settings.threads), capped_threads(settings.threads):
        for task in tasks:
            yield compress_file(task, settings, stdout=stdout)


class _Worker:
    """A worker process and the pipe it takes files from and gives outcomes back on."""

    def __init__(self, context, settings: Settings, stop_event):
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main,
            args=(child, settings, stop_event),
            name="kmc-tui worker",
            daemon=True,
        )
        # Started with SIGINT blocked, so a Ctrl-C during its start-up cannot print a traceback;
        # it ignores SIGINT once running (the parent decides what a Ctrl-C means).
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        child.close()
        _LIVE_WORKERS.add(self.process)
        self.ready = False
        self.task: Task | None = None

    def stop(self, *, wait: float) -> None:
        """Close its pipe (an idle worker exits), then SIGTERM: a file in progress unwinds,
        unwritten; SIGKILL after `wait` seconds."""
        with contextlib.suppress(OSError):
            self.conn.close()
        self.process.join(min(wait, 1.0) if self.task is None else 0)
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self.process.terminate()
            self.process.join(wait)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
        _LIVE_WORKERS.discard(self.process)


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM when the parent dies (a `kill -9` of the command)."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _worker_main(conn, settings: Settings, stop_event) -> None:
    """A worker: import and warm up once, then compress the files it is sent, one at a time."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which decides
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def stop(signum, frame):
        raise Interrupted(signum)

    signal.signal(signal.SIGTERM, stop)
    _die_with_parent()
    with contextlib.suppress(OSError):
        os.dup2(2, 1)  # whatever a plugin prints stays off the command's output
    if settings.threads is not None:  # for the worker's whole life
        os.environ.update(dict.fromkeys(_THREAD_VARIABLES, str(settings.threads)))
    try:
        with contextlib.suppress(Exception):  # a plugin that fails is reported file by file
            warm_up(settings)
        limit_threads(settings.threads)
        conn.send(("ready", None))
        while True:
            try:
                task = conn.recv()
            except (EOFError, OSError):
                return
            if task is None:
                return
            outcome = compress_file(task, settings, should_stop=stop_event.is_set)
            conn.send(("outcome", outcome))
            if outcome.abandoned:
                os._exit(0)  # a plugin's thread still runs: a fresh worker takes over
    except Interrupted:
        return
    except (BrokenPipeError, EOFError):
        return


def _exit_description(process) -> str:
    code = process.exitcode
    if code is None:
        return "stopped answering"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with status {code}"


#: The plugin the server of worker processes warms up: ``[name, [plugin folder, ...]]``.
PRELOAD_ENV = "KMC_TUI_WORKER_PRELOAD"


def worker_context(settings: Settings):
    """The multiprocessing context of worker processes.

    ``forkserver`` where there is one: its server imports kmc-tui and warms up the plugin once
    (:mod:`kmc_tui._forkserver`), and every worker is a fork of it that starts ready, instead of
    a fresh interpreter paying the imports again. It forks from a single-threaded process that
    has run no OpenMP parallel region. ``spawn`` elsewhere.
    """
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["kmc_tui._forkserver"])
    return context


@contextlib.contextmanager
def _preload_named(settings: Settings):
    import json

    saved = os.environ.get(PRELOAD_ENV)
    os.environ[PRELOAD_ENV] = json.dumps([settings.plugin, list(settings.plugin_dirs)])
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(PRELOAD_ENV, None)
        else:
            os.environ[PRELOAD_ENV] = saved


def preload_from_environment() -> None:
    """Warm up the plugin :data:`PRELOAD_ENV` names (the server of worker processes)."""
    import json

    try:
        plugin, plugin_dirs = json.loads(os.environ.get(PRELOAD_ENV, ""))
        warm_up(Settings(k=1, plugin=plugin, plugin_dirs=tuple(plugin_dirs)))
    except Exception:  # noqa: BLE001 - each worker warms up again and reports file by file
        pass


def run_pool(
    tasks: Iterable[Task],
    settings: Settings,
    *,
    jobs: int,
    stop: StopRequest | None = None,
    grace: float = 3.0,
) -> Iterator[Outcome]:
    """Files in `jobs` worker processes, each sent its next file when it finishes one.

    Workers are forked from a server process that imported and warmed up the plugin once
    (:func:`worker_context`), and ignore Ctrl-C. A worker that dies fails only the file it had;
    a new one takes its place.

    When `stop` is set (a signal), no file is started any more; files in progress stop at
    their next stage (``should_stop``) and are reported, finished or cancelled; after `grace`
    seconds the workers still busy get SIGTERM (their file unwinds, unwritten). Then the
    iteration ends.
    """
    from multiprocessing.connection import wait

    context = worker_context(settings)
    stop_event = context.Event()
    pending = iter(tasks)
    workers: list[_Worker] = []
    failed_starts = 0
    exhausted = False
    deadline = None

    def next_task() -> Task | None:
        nonlocal exhausted
        if exhausted:
            return None
        task = next(pending, None)
        exhausted = task is None
        return task

    def replace_worker(worker: _Worker) -> None:
        worker.stop(wait=0)
        workers.remove(worker)
        if not exhausted:
            workers.append(_Worker(context, settings, stop_event))

    try:
        with _preload_named(settings):  # read by the server, which starts with the first
            workers = [_Worker(context, settings, stop_event) for _ in range(jobs)]
        while workers:
            if stop and deadline is None:
                stop_event.set()
                exhausted = True
                deadline = time.monotonic() + grace
                for worker in [w for w in workers if w.task is None]:
                    worker.stop(wait=5)
                    workers.remove(worker)
                continue
            if deadline is not None and time.monotonic() > deadline:
                break
            ready = wait(
                [w.conn for w in workers] + [w.process.sentinel for w in workers],
                timeout=None if stop is None else 0.1,
            )
            for worker in list(workers):
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                try:
                    kind, payload = worker.conn.recv()
                except (EOFError, OSError):  # the worker is gone
                    worker.process.join(5)
                    task = worker.task
                    if task is not None:
                        yield Outcome(
                            task.input,
                            task.output,
                            FAILED,
                            f"{task.input}: the worker process "
                            f"{_exit_description(worker.process)} while on this file",
                        )
                    elif not worker.ready:
                        failed_starts += 1
                        if failed_starts >= 3:
                            raise KmcError(
                                "worker processes fail to start (the last one "
                                f"{_exit_description(worker.process)})"
                            ) from None
                    worker.task = None
                    replace_worker(worker)
                    continue
                if kind == "ready":
                    worker.ready = True
                else:
                    worker.task = None
                    yield payload
                    if payload.abandoned:  # it exits: a plugin's thread still runs there
                        replace_worker(worker)
                        continue
                task = next_task()
                if task is None:
                    worker.stop(wait=5)
                    workers.remove(worker)
                else:
                    worker.task = task
                    worker.conn.send(task)
    finally:
        for worker in workers:
            worker.stop(wait=5)


def chunk_size(files: int, threads: int) -> int:
    """Files per Dask task: about four tasks per worker thread, at most 64 files each.

    One task per file would make the scheduler the limit on a large run (each task costs it
    about a millisecond of bookkeeping); a few per thread still balance the load.
    """
    return max(1, min(64, math.ceil(files / (4 * max(1, threads)))))


def connect_dask(address: str | None):
    """A Dask distributed client for `address` (or ``DASK_SCHEDULER_ADDRESS``)."""
    try:
        from distributed import Client
    except ImportError:
        raise KmcError(
            "--dask needs Dask's distributed scheduler: pip install 'kmc-tui[dask]'"
        ) from None
    address = address or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if not address:
        raise KmcError("--dask needs a scheduler address (or DASK_SCHEDULER_ADDRESS)")
    try:
        return Client(address, timeout="20s", set_as_default=False)
    except OSError as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise KmcError(f"cannot reach the Dask scheduler at {address}: {first}") from None


def _as_planned(outcome: Outcome, task: Task) -> Outcome:
    """`outcome` under the paths as planned (a worker saw them made absolute)."""
    record = outcome.record
    if record is not None:
        output = task.output if record.get("output") is not None else None
        record = {**record, "input": task.input, "output": output}
    return replace(outcome, input=task.input, output=task.output, record=record)


def run_dask(
    tasks: Sequence[Task],
    settings: Settings,
    client,
    *,
    files_per_task: int | None = None,
    stop: StopRequest | None = None,
) -> Iterator[Outcome]:
    """Files on a Dask cluster, in chunks (:func:`chunk_size`), as the chunks complete.

    Paths are made absolute: workers must see the same files (a shared filesystem). A worker
    lost mid-chunk has its chunk rerun by Dask; files it had written already hold the same bytes
    and are not written again. A chunk that keeps killing workers (Dask's KilledWorker) is
    retried file by file, so only the culprit fails. When `stop` is set, chunks not started are
    cancelled and the iteration ends; chunks running on workers finish their files.
    """
    from distributed.client import FutureCancelledError

    try:
        from distributed import KilledWorker
    except ImportError:  # older distributed
        from distributed.scheduler import KilledWorker

    settings = replace(
        settings,
        plugin_dirs=tuple(os.path.abspath(d) for d in settings.plugin_dirs),
        make_folders=True,
    )
    threads = sum(client.nthreads().values()) or 1
    size = files_per_task or chunk_size(len(tasks), threads)
    chunks = ((start, tasks[start : start + size]) for start in range(0, len(tasks), size))
    window = 2 * threads
    futures: dict = {}  # in submission order

    def submit(start: int, chunk: Sequence[Task]) -> None:
        absolute = [
            Task(
                os.path.abspath(t.input),
                t.output if t.output == STDIO else os.path.abspath(t.output),
            )
            for t in chunk
        ]
        future = client.submit(compress_chunk, absolute, settings, pure=False)
        futures[future] = (start, chunk)

    try:
        for start, chunk in chunks:
            submit(start, chunk)
            if len(futures) >= window:
                break
        while futures and not stop:
            finished = [f for f in futures if f.done()]
            if not finished:
                time.sleep(0.05)
                continue
            for future in finished:
                start, chunk = futures.pop(future)
                try:
                    outcomes = future.result()
                except KilledWorker:
                    if len(chunk) > 1:
                        for i, task in enumerate(chunk):
                            submit(start + i, [task])
                        continue
                    outcomes = [
                        Outcome(
                            chunk[0].input,
                            chunk[0].output,
                            FAILED,
                            f"{chunk[0].input}: Dask workers died on this file",
                        )
                    ]
                except FutureCancelledError:
                    continue
                except Exception as exc:  # noqa: BLE001 - e.g. kmc-tui missing on a worker
                    first = (str(exc).strip().splitlines() or [""])[0]
                    outcomes = [
                        Outcome(
                            t.input,
                            t.output,
                            FAILED,
                            f"{t.input}: Dask task failed: {type(exc).__name__}: {first}",
                        )
                        for t in chunk
                    ]
                for task, outcome in zip(chunk, outcomes, strict=True):
                    yield _as_planned(outcome, task)
                nxt = next(chunks, None)
                if nxt is not None:
                    submit(*nxt)
    finally:
        if futures:
            client.cancel(list(futures))
