"""What the terminal UI shows and computes, kept apart from Textual.

The main screen asks the :class:`Session` what to do and tells it what happened; the session
owns the one copy of the settings, the open image, the result cache, the ids that tell a
current answer from a stale one, each plugin's state (parameters, last error) and the
:class:`JobRunner` that computes at most one result at a time. Nothing here draws or imports
Textual, so all of it is tested without a terminal.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
import time
import traceback as traceback_module
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ..errors import Cancelled, KmcError, PluginError, without_locals
from ..formats import FORMATS, K_MAX, K_MIN
from ..quantize import check_dither
from .frames import FrameView

T = TypeVar("T")

#: Full results kept per image, so going back to a k shows it at once.
RESULT_CACHE = 6
#: Pixels of the copy the quick preview's palette is computed from (docs/performance.md, graphics).
PREVIEW_PIXELS = 8_000
#: Pixels of the area-averaged copy the original pane is drawn from when zoomed out.
DISPLAY_PIXELS = 160_000
#: The dithering strengths the dither key goes through: off, half (pngquant's --floyd=0.5),
#: full.
DITHER_STEPS = (0.0, 0.5, 1.0)


@dataclass(frozen=True)
class Settings:
    """Everything a result depends on besides the image (hashable: the cache's key)."""

    k: int = 16
    plugin: str = "kmeans"
    params: tuple[tuple[str, Any], ...] = ()  # sorted (name, value) pairs
    dither: float = 0.0  # the share of the error diffused, 0..1
    format: str = "png"

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)


def clamp_k(k: int) -> int:
    """`k` brought into the range every format accepts."""
    return max(K_MIN, min(K_MAX, int(k)))


class ResultCache:
    """The last few full results of one image, by settings; the least recently used goes first."""

    def __init__(self, size: int = RESULT_CACHE):
        self.size = size
        self._results: OrderedDict[Settings, Any] = OrderedDict()

    def get(self, settings: Settings) -> Any | None:
        result = self._results.get(settings)
        if result is not None:
            self._results.move_to_end(settings)
        return result

    def put(self, settings: Settings, result: Any) -> None:
        self._results[settings] = result
        self._results.move_to_end(settings)
        while len(self._results) > self.size:
            self._results.popitem(last=False)

    def clear(self) -> None:
        self._results.clear()

    def __len__(self) -> int:
        return len(self._results)

    def __contains__(self, settings: object) -> bool:
        return settings in self._results


@dataclass
class PluginState:
    """What the session knows of one plugin.

    Attributes
    ----------
    specs : tuple of ParamSpec or None
        Its declared parameters; None until it has been imported.
    error : str or None
        The last error it gave (failing to import, raising, timing out), in one line.
    traceback : str or None
        The traceback behind `error`, when there is one.
    chosen : dict
        Parameter values chosen for it, kept when switching to another plugin and back.
    """

    specs: tuple | None = None
    error: str | None = None
    traceback: str | None = None
    chosen: dict[str, Any] = field(default_factory=dict)


class Job:
    """One request for a result: the settings it is for and the flag that stops it.

    `should_stop` is what the core polls (the k-means plugin at every pass), so a stopped job
    ends at its next pass; a job whose computation does not poll can only be left behind
    (`abandon`).
    """

    def __init__(
        self,
        id: int,
        settings: Settings,
        image: Any,
        result: Any = None,
        *,
        background: bool = False,
    ):
        self.id = id
        #: A background job gives the runner up whenever a foreground job asks for it.
        self.background = background
        self.settings = settings
        self.image = image
        #: Set at once when the result came from the cache.
        self.result = result
        self.started = time.perf_counter()
        self._stopped = threading.Event()
        self.abandoned = False
        #: Set by the UI once the quick preview is on screen: the full result waits for it
        #: (a while at most), so the two do not compete for the interpreter.
        self.preview_drawn = threading.Event()
        #: The computation is past its quick preview (computing the full result).
        self.past_preview = False

    def should_stop(self) -> bool:
        return self._stopped.is_set()

    def stop(self) -> None:
        self._stopped.set()

    def abandon(self) -> None:
        """Stop it, and let later jobs start without waiting for its computation to end."""
        self.abandoned = True
        self._stopped.set()

    def __repr__(self) -> str:
        state = "abandoned" if self.abandoned else "stopped" if self.should_stop() else "live"
        return f"<Job {self.id} k={self.settings.k} {self.settings.plugin} {state}>"


def _find_malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


_malloc_trim = _find_malloc_trim()


def release_free_memory() -> None:
    """Hand memory freed by a computation back to the system (glibc keeps it otherwise).

    numpy's temporaries of a big image (hundreds of MB) are freed into glibc's heap, which
    keeps them: without this the app's resident size grows by most of a computation's peak.
    """
    if _malloc_trim is not None:
        _malloc_trim(0)


def freeze_long_lived() -> bool:
    """Take the objects alive now (modules, the widgets, scikit-learn …) out of the garbage
    collector's reach: a full collection then looks only at what was made since.

    Called once the app is up and idle. Without it a full collection walks every object of
    the app, holding the interpreter for tens of milliseconds, whenever enough new objects have
    survived; one that lands on a key delays its preview by as much. Cycles already unreachable
    are collected first (the young generations: cheap), so nothing kept here is garbage made
    since the last of those.

    Where objects are frozen already, whatever runs the app (a program embedding it, a test
    runner) manages the collector: nothing is done, and False is returned.
    """
    if gc.get_freeze_count():
        return False
    gc.collect(1)
    gc.freeze()
    return True


def thaw_long_lived() -> None:
    """Give the collector back what :func:`freeze_long_lived` took (the app is ending: in a
    process that goes on, its objects must be collectable). Only after it returned True."""
    gc.unfreeze()


class Preempted(Cancelled):
    """A background job's computation stopped because a foreground job wanted the runner."""


class _Computation:
    """A job's computation in a daemon thread of its own (a Python thread cannot be killed)."""

    def __init__(
        self,
        job: Job,
        fn: Callable[[Callable[[], bool]], Any],
        should_stop: Callable[[], bool],
    ):
        self.job = job
        self.should_stop = should_stop
        self.value: Any = None
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(fn,), name=f"kmc-tui job {job.id}", daemon=True
        )

    def _run(self, fn) -> None:
        try:
            self.value = fn(self.should_stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the thread waiting for it
            # Kept as the outcome without this frame (its `self` holds the error: a cycle) and
            # without the other frames' variables, which hold a stopped computation's arrays.
            self.error = without_locals(exc.with_traceback(exc.__traceback__.tb_next))
        finally:
            self.finished.set()
            release_free_memory()  # after the answer is handed over; the runner waits for it

    @property
    def holds_the_runner(self) -> bool:
        return self.thread.is_alive() and not self.job.abandoned


class JobRunner:
    """Runs jobs one at a time: a job starts only once the previous computation has ended.

    The session stops the previous job whenever it starts a new one, so with plugins that poll
    `should_stop` the wait is one pass. A computation that does not stop (a hung plugin) holds
    the runner until it is abandoned (:meth:`Session.cancel`, the escape key).

    Background jobs (``job.background``, the rate–distortion curve) start only while no
    foreground job waits, and their computation is told to stop as soon as one does: it ends
    at its next pass and :meth:`run` raises :class:`Preempted`, so the caller can try again
    later. A foreground job thus never waits for more than a pass of background work.

    Parameters
    ----------
    poll : float
        Seconds between looks at the stop flag while waiting.
    """

    def __init__(self, *, poll: float = 0.01):
        self.poll = poll
        self._lock = threading.Lock()
        self._current: _Computation | None = None
        self._foreground_waiting = 0

    @property
    def computing(self) -> Job | None:
        """The job whose computation holds the runner, if any."""
        current = self._current
        return current.job if current is not None and current.holds_the_runner else None

    def run(
        self,
        job: Job,
        fn: Callable[[Callable[[], bool]], T],
        *,
        waiting: Callable[[Job], None] | None = None,
        notice_after: float = 1.0,
    ) -> T:
        """``fn(job.should_stop)`` once the runner is free; its value, or what it raised.

        Called from a worker thread; blocks until then. Raises :class:`Cancelled` as soon as
        `job` is stopped, whether it was still waiting for the runner (it never starts) or
        computing (the computation goes on to its next pass and holds the runner until it
        ends). `waiting(blocker)` is called once when the wait for another job's computation
        has lasted `notice_after` seconds.
        """
        started = time.monotonic()
        told = False
        if job.background:

            def should_stop() -> bool:
                return job.should_stop() or self._foreground_waiting > 0
        else:
            should_stop = job.should_stop
        counted = not job.background  # in _foreground_waiting until it starts or gives up
        if counted:
            with self._lock:
                self._foreground_waiting += 1
        try:
            while True:
                with self._lock:
                    if job.should_stop():
                        raise Cancelled("cancelled")
                    current = self._current
                    free = current is None or not current.holds_the_runner
                    if counted and free:
                        self._foreground_waiting -= 1
                        counted = False
                    if free and not (job.background and self._foreground_waiting):
                        computation = _Computation(job, fn, should_stop)
                        self._current = computation
                        computation.thread.start()
                        break
                if free:
                    time.sleep(self.poll)  # a background job letting a foreground one go first
                    continue
                if waiting is not None and not told and time.monotonic() - started >= notice_after:
                    told = True
                    waiting(current.job)
                current.thread.join(self.poll)
        finally:
            if counted:
                with self._lock:
                    self._foreground_waiting -= 1
        while not computation.finished.wait(self.poll):
            if job.should_stop():
                raise Cancelled("cancelled")
        if computation.error is not None:
            if (
                job.background
                and isinstance(computation.error, Cancelled)
                and not job.should_stop()
            ):
                raise Preempted("a foreground job wanted the runner")
            raise computation.error
        return computation.value

    def abandon(self) -> Job | None:
        """Leave the running computation behind (it stops if it ever polls); its job, or None."""
        with self._lock:
            current = self._current
            if current is None or not current.holds_the_runner:
                return None
            current.job.abandon()
            return current.job


class Request:
    """Ids for requests of one kind (open an image, list plugins …): only the latest counts."""

    def __init__(self) -> None:
        self.latest = 0

    def new(self) -> int:
        self.latest += 1
        return self.latest

    def is_current(self, request: int) -> bool:
        return request == self.latest


def error_text(exc: BaseException) -> tuple[str, str | None]:
    """A failure as one line for the user, and its traceback when there is one to show.

    The core's errors are already one line (a plugin's carries its own traceback, when the
    core keeps one); anything else is a bug somewhere, so its traceback is kept.
    """
    if isinstance(exc, KmcError):
        return str(exc), getattr(exc, "traceback", None)
    first = (str(exc).strip().splitlines() or [""])[0]
    line = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return line, "".join(traceback_module.format_exception(exc)).rstrip()


class Session:
    """The state of one run of the terminal UI (everything but the drawing).

    Parameters
    ----------
    plugins : iterable of str
        Names of the usable plugins, in the order the `p` key goes through them.
    k, plugin, dither, format : initial settings (k is clamped; an unknown plugin becomes the
        first one; an unknown format is PNG).
    params : mapping of str to mapping, optional
        Parameter values chosen earlier, per plugin (applied once each plugin's specs are known;
        values it does not declare are dropped then).
    """

    def __init__(
        self,
        plugins: Iterable[str],
        *,
        k: int = 16,
        plugin: str = "kmeans",
        dither: bool | float = False,
        format: str = "png",
        params: Mapping[str, Mapping[str, Any]] | None = None,
    ):
        self.plugin_names = list(plugins)
        if plugin not in self.plugin_names and self.plugin_names:
            plugin = self.plugin_names[0]
        #: The one copy of the settings; changed only through the methods below.
        self.settings = Settings(
            k=clamp_k(k),
            plugin=plugin,
            dither=check_dither(dither),
            format=format if format in FORMATS else "png",
        )
        self.plugins: dict[str, PluginState] = {}
        for name, values in (params or {}).items():
            self.plugin(name).chosen.update(values)
        self.image: Any = None  # kmc_tui.read.Image (an animation's first frame)
        self.animation: Any = None  # kmc_tui.animation.Animation, when the image is one
        self.frames: FrameView | None = None  # the frame shown of `animation`
        self.opening = False  # an image is being read: a save waits for it
        self.loads = Request()
        self.cache = ResultCache()
        #: The last full result shown and the settings it is for (kept while the next one
        #: computes, so its numbers stay on screen).
        self.result: Any = None
        self.result_settings: Settings | None = None
        self.job: Job | None = None  # the latest job, finished or not
        self.jobs = 0
        self.runner = JobRunner()
        self.pending_save = False
        #: Seconds from the latest request to its quick preview and to its full result.
        self.latency: dict[str, float] = {}
        self._told: set[str] = set()
        #: The latest rate–distortion curve (kmc_tui.tui.curve.Curve), kept for the R–D view.
        self.curve: Any = None
        #: Files saved since the start, and the bytes of their inputs and of what was written.
        self.saved_files = 0
        self.saved_input_bytes = 0
        self.saved_output_bytes = 0

    # -- settings ---------------------------------------------------------------------------
    def plugin(self, name: str) -> PluginState:
        return self.plugins.setdefault(name, PluginState())

    def _change(self, **changes: Any) -> bool:
        settings = replace(self.settings, **changes)
        if settings == self.settings:
            return False
        self.settings = settings
        return True

    def set_k(self, k: int) -> bool:
        """Change k (clamped to 1..256); True when it changed."""
        return self._change(k=clamp_k(k))

    def step_k(self, delta: int) -> bool:
        return self.set_k(self.settings.k + delta)

    def scale_k(self, factor: float) -> bool:
        """Double (`factor` > 1) or halve k."""
        k = self.settings.k
        return self.set_k(k * 2 if factor > 1 else max(1, k // 2))

    def set_dither(self, strength: bool | float) -> bool:
        """Set the dithering strength (True is 1, False 0); ValueError outside 0..1."""
        try:
            return self._change(dither=check_dither(strength))
        except KmcError as exc:
            raise ValueError(str(exc)) from None

    def next_dither(self) -> bool:
        """Go to the next of :data:`DITHER_STEPS` (from a strength between them, the next up)."""
        later = [s for s in DITHER_STEPS if s > self.settings.dither]
        return self.set_dither(later[0] if later else DITHER_STEPS[0])

    def set_format(self, fmt: str) -> bool:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
        return self._change(format=fmt)

    def next_format(self) -> bool:
        i = FORMATS.index(self.settings.format)
        return self.set_format(FORMATS[(i + 1) % len(FORMATS)])

    def set_param(self, name: str, value: Any) -> bool:
        """Change one parameter of the current plugin (one it declares); True when it changed."""
        params = self.settings.param_dict
        if name not in params or params[name] == value:
            return False
        params[name] = value
        self.plugin(self.settings.plugin).chosen[name] = value
        return self._change(params=tuple(sorted(params.items())))

    def choose_plugin(self, name: str) -> bool:
        """Switch plugins; the parameters come back once its specs are known (`plugin_loaded`)."""
        if name == self.settings.plugin or name not in self.plugin_names:
            return False
        self.plugin(self.settings.plugin).chosen.update(self.settings.param_dict)
        self.settings = replace(self.settings, plugin=name, params=())
        specs = self.plugin(name).specs
        if specs is not None:
            self._apply_specs(name, specs)
        return True

    def next_plugin(self) -> bool:
        names = self.plugin_names
        if not names:
            return False
        i = names.index(self.settings.plugin) if self.settings.plugin in names else -1
        return self.choose_plugin(names[(i + 1) % len(names)])

    def _apply_specs(self, name: str, specs: tuple) -> None:
        values = {spec.name: spec.default for spec in specs}
        chosen = self.plugin(name).chosen
        values.update({key: v for key, v in chosen.items() if key in values})
        self.settings = replace(self.settings, params=tuple(sorted(values.items())))

    def chosen_params(self) -> dict[str, dict[str, Any]]:
        """Parameter values chosen per plugin (to remember them between runs)."""
        return {name: dict(state.chosen) for name, state in self.plugins.items() if state.chosen}

    def plugin_loaded(self, name: str, specs: tuple) -> bool:
        """A plugin was imported; True when it is the current one (its parameters now set)."""
        state = self.plugin(name)
        state.specs = tuple(specs)
        if name != self.settings.plugin:
            return False
        self._apply_specs(name, state.specs)
        return True

    def plugin_failed(self, name: str, exc: BaseException) -> str:
        """A plugin failed to import or to run: kept as its last error; the one-line text."""
        state = self.plugin(name)
        state.error, state.traceback = error_text(exc)
        if state.specs is None and not isinstance(exc, Cancelled):
            state.specs = ()  # it cannot be imported: jobs go on and report the error
        return state.error

    def ready(self) -> bool:
        """Whether a job can start: an image is open and the plugin's specs are known."""
        return self.image is not None and self.plugin(self.settings.plugin).specs is not None

    @staticmethod
    def preview_params(settings: Settings, specs: Iterable) -> dict[str, Any]:
        """The parameters for a quick preview: each spec's cheaper `preview` value, if smaller."""
        quick = settings.param_dict
        for spec in specs:
            if spec.preview is not None and spec.name in quick:
                quick[spec.name] = min(quick[spec.name], spec.preview)
        return quick

    # -- opening an image -------------------------------------------------------------------
    def begin_open(self) -> int:
        """A new image is being read: the latest job stops; the request's id."""
        self.stop()
        self.opening = True
        return self.loads.new()

    def opened(self, request: int, image: Any, animation: Any = None) -> bool:
        """The image of `request` was read (with its frames, when animated); False (and
        nothing changes) when it is stale."""
        if not self.loads.is_current(request):
            return False
        self.opening = False
        self.image, self.animation = image, animation
        self.frames = None
        if animation is not None:
            self.frames = FrameView(len(animation.frames), animation.frames[0].height)
        self.cache.clear()
        self.result = self.result_settings = None
        self._told = set()
        self.curve = None
        return True

    def open_failed(self, request: int) -> bool:
        if not self.loads.is_current(request):
            return False
        self.opening = False
        self.pending_save = False
        self.image = self.animation = self.frames = None
        self.cache.clear()
        self.result = self.result_settings = None
        return True

    # -- jobs -------------------------------------------------------------------------------
    @property
    def computing(self) -> bool:
        """Whether the latest request is still waiting for its result."""
        job = self.job
        return job is not None and job.result is None and not job.should_stop()

    def start_job(self) -> Job | None:
        """A job for the current settings, the previous one stopped; None when not `ready`.

        A result in the cache comes back as a job already done (`job.result` set).
        """
        if not self.ready():
            return None
        previous = self.job
        if previous is not None:
            previous.stop()
        self.jobs += 1
        settings = self.settings
        cached = self.cache.get(settings)
        job = Job(self.jobs, settings, self.image, result=cached)
        self.job = job
        if cached is not None:
            self.finished(job, cached)
        return job

    def start_search(self) -> Job | None:
        """A job for a target search with the current settings (the previous job stopped);
        None when not `ready`."""
        if not self.ready():
            return None
        if self.job is not None:
            self.job.stop()
        self.jobs += 1
        self.job = Job(self.jobs, self.settings, self.image)
        return self.job

    def found(self, job: Job, result: Any) -> bool:
        """A target search chose ``result.search.k``: k becomes it and the result (the same
        as a plain run at that k) goes into the cache; True when `job` is still the latest."""
        if not self.search_ended(job):
            return False
        self.set_k(result.search.k)
        self.cache.put(self.settings, result)
        return True

    def search_ended(self, job: Job) -> bool:
        """A target search ended; True (and the job is done) when it is the latest request's."""
        if self.job is not job or job.should_stop():
            return False
        job.stop()
        return True

    def previewed(self, job: Job) -> bool:
        """`job`'s quick preview came; True when it is still the latest request's."""
        if self.job is not job or job.should_stop() or job.result is not None:
            return False
        self.latency["preview"] = time.perf_counter() - job.started
        return True

    def finished(self, job: Job, result: Any) -> bool:
        """`job`'s full result came; True when it is the latest request's (now shown)."""
        if self.job is not job or (job.should_stop() and job.result is None):
            return False
        job.result = result
        self.cache.put(job.settings, result)
        self.result, self.result_settings = result, job.settings
        self.latency["result"] = time.perf_counter() - job.started
        return True

    def failed(self, job: Job, exc: BaseException) -> str | None:
        """`job` failed; the one-line text when it is the latest request (else None).

        A plugin's failure (or a bug anywhere, with its traceback) becomes the plugin's last
        error, shown on the plugins screen.
        """
        text, _ = error_text(exc)
        if isinstance(exc, PluginError) or not isinstance(exc, KmcError):
            text = self.plugin_failed(job.settings.plugin, exc)
        if self.job is not job or job.should_stop():
            return None
        job.stop()
        self.pending_save = False
        self.result = self.result_settings = None
        return text

    def stop(self) -> None:
        """Stop the latest job and forget a save that was waiting for its result."""
        self.pending_save = False
        self.stop_job()

    def stop_job(self) -> None:
        """Stop the latest job (it ends at its next pass; the next job waits for that); a save
        that was waiting still happens, with the result of the job that follows."""
        if self.job is not None:
            self.job.stop()

    def cancel(self) -> bool:
        """Stop the latest job and leave its computation behind; True if it was computing."""
        job = self.job
        was_computing = self.computing
        self.pending_save = False
        if job is not None:
            job.abandon()
        self.runner.abandon()
        return was_computing

    def step_frame(self, delta: int) -> bool:
        """Show the frame `delta` on (round the ends); False when the image is not animated."""
        if self.frames is None:
            return False
        self.frames = self.frames.stepped(delta)
        return True

    def notes_to_tell(self, notes: Iterable[str]) -> list[str]:
        """The notes not yet told for this image (told once, not at every k)."""
        new = [note for note in notes if note not in self._told]
        self._told.update(new)
        return new

    # -- saving -----------------------------------------------------------------------------
    def result_to_save(self) -> Any | None:
        """The full result for the current settings, or None (then a save waits for it)."""
        if self.result is not None and self.result_settings == self.settings:
            return self.result
        return None

    def record_save(self, input_bytes: int | None, output_bytes: int) -> None:
        """A file was written: counted in the totals (an input of unknown size counts as 0)."""
        self.saved_files += 1
        self.saved_input_bytes += input_bytes or 0
        self.saved_output_bytes += output_bytes
