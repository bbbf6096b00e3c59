"""The TUI's session without a terminal: settings, cache, request ids, plugin errors, jobs."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from traceback import format_exception

import numpy as np
import pytest

from kmc_tui import Cancelled, ParameterError, ParamSpec, PluginError
from kmc_tui.quantize import call_with_timeout
from kmc_tui.tui.session import Job, JobRunner, Preempted, ResultCache, Session, Settings

KMEANS_SPECS = (
    ParamSpec("max_iter", int, 20, "passes", min=1, max=500, preview=6),
    ParamSpec("color_space", str, "lab", "space", choices=("lab", "rgb")),
)
OTHER_SPECS = (ParamSpec("levels", int, 4, "levels", min=1, max=9),)


class FakeImage:
    """Sessions treat images as opaque values."""


def ready_session(**kwargs) -> Session:
    session = Session(["kmeans", "other"], **kwargs)
    session.plugin_loaded("kmeans", KMEANS_SPECS)
    session.opened(session.begin_open(), FakeImage())
    return session


# -- settings ---------------------------------------------------------------------------------


def test_k_is_clamped_and_changes_are_reported():
    session = Session(["kmeans"], k=999)
    assert session.settings.k == 256
    assert not session.step_k(1)  # already at the top: nothing changed
    assert session.scale_k(0.5) and session.settings.k == 128
    assert session.set_k(0) and session.settings.k == 1
    assert not session.scale_k(0.5)  # 1 // 2 is still 1
    assert session.scale_k(2) and session.settings.k == 2


def test_an_unknown_plugin_becomes_the_first_one():
    assert Session(["mediancut", "kmeans"], plugin="nope").settings.plugin == "mediancut"


def test_format_and_dither():
    session = Session(["kmeans"])
    assert session.next_format() and session.settings.format == "gif"
    assert not session.set_format("gif")
    with pytest.raises(ValueError, match="unknown format"):
        session.set_format("bmp")
    assert session.set_dither(True) and not session.set_dither(True)


def test_parameters_come_from_the_specs_and_each_plugin_keeps_its_own():
    session = Session(["kmeans", "other"])
    assert session.settings.params == ()  # not loaded yet
    assert session.plugin_loaded("kmeans", KMEANS_SPECS)
    assert session.settings.param_dict == {"max_iter": 20, "color_space": "lab"}
    assert session.set_param("color_space", "rgb")
    assert not session.set_param("color_space", "rgb")
    assert not session.set_param("levels", 3)  # not a parameter of this plugin
    assert session.choose_plugin("other")
    assert session.settings.params == ()
    assert session.plugin_loaded("other", OTHER_SPECS)
    assert session.settings.param_dict == {"levels": 4}
    assert session.next_plugin() and session.settings.plugin == "kmeans"
    assert session.settings.param_dict == {"max_iter": 20, "color_space": "rgb"}
    # A plugin loaded in the background does not touch the current settings.
    before = session.settings
    assert not session.plugin_loaded("other", OTHER_SPECS)
    assert session.settings == before


def test_choosing_the_current_or_an_unknown_plugin_changes_nothing():
    session = Session(["kmeans"])
    assert not session.choose_plugin("kmeans")
    assert not session.choose_plugin("missing")


def test_preview_parameters_take_the_cheaper_preview_value():
    settings = Settings(params=(("color_space", "lab"), ("max_iter", 20)))
    assert Session.preview_params(settings, KMEANS_SPECS) == {"max_iter": 6, "color_space": "lab"}
    settings = Settings(params=(("color_space", "lab"), ("max_iter", 3)))
    assert Session.preview_params(settings, KMEANS_SPECS)["max_iter"] == 3


# -- cache and requests -----------------------------------------------------------------------


def test_result_cache_drops_the_least_recently_used():
    cache = ResultCache(2)
    a, b, c = Settings(k=1), Settings(k=2), Settings(k=3)
    cache.put(a, "A")
    cache.put(b, "B")
    assert cache.get(a) == "A"  # a is now the most recent
    cache.put(c, "C")
    assert b not in cache and a in cache and c in cache and len(cache) == 2
    cache.clear()
    assert len(cache) == 0


def test_only_the_latest_open_request_counts():
    session = Session(["kmeans"])
    first = session.begin_open()
    second = session.begin_open()
    assert session.opening
    assert not session.opened(first, FakeImage())
    assert session.image is None and session.opening
    image = FakeImage()
    assert session.opened(second, image)
    assert session.image is image and not session.opening
    third = session.begin_open()
    assert session.open_failed(third)
    assert session.image is None


def test_notes_are_told_once_per_image():
    session = ready_session()
    assert session.notes_to_tell(["a", "b"]) == ["a", "b"]
    assert session.notes_to_tell(["b", "c"]) == ["c"]
    session.opened(session.begin_open(), FakeImage())
    assert session.notes_to_tell(["a"]) == ["a"]


# -- jobs ------------------------------------------------------------------------------------


def test_no_job_without_an_image_or_the_plugins_specs():
    session = Session(["kmeans"])
    session.plugin_loaded("kmeans", KMEANS_SPECS)
    assert session.start_job() is None
    other = Session(["kmeans"])
    other.opened(other.begin_open(), FakeImage())
    assert other.start_job() is None


def test_a_new_job_stops_the_previous_one_and_only_the_latest_result_is_shown():
    session = ready_session(k=8)
    first = session.start_job()
    assert session.computing and not first.should_stop()
    session.step_k(1)
    second = session.start_job()
    assert first.should_stop() and not second.should_stop()
    assert not session.finished(first, "result for k=8")
    assert session.result is None
    assert session.finished(second, "result for k=9")
    assert session.result == "result for k=9" and session.result_settings.k == 9
    assert not session.computing
    assert session.result_to_save() == "result for k=9"
    assert "result" in session.latency


def test_a_cached_result_comes_back_at_once():
    session = ready_session(k=8)
    job = session.start_job()
    session.finished(job, "k8")
    session.step_k(1)
    session.finished(session.start_job(), "k9")
    session.step_k(-1)
    again = session.start_job()
    assert again.result == "k8" and session.result == "k8"
    assert session.result_to_save() == "k8"
    session.step_k(5)
    assert session.result_to_save() is None  # the settings moved on: a save waits


def test_a_plugin_failure_is_kept_with_its_traceback_and_leaves_nothing_computing():
    session = ready_session()
    session.pending_save = True
    job = session.start_job()
    error = PluginError("plugin 'kmeans' failed: ValueError: broken")
    error.traceback = 'Traceback (most recent call last):\n  File "x.py"\nValueError: broken'
    assert session.failed(job, error) == "plugin 'kmeans' failed: ValueError: broken"
    state = session.plugins["kmeans"]
    assert state.error == "plugin 'kmeans' failed: ValueError: broken"
    assert state.traceback.endswith("ValueError: broken")
    assert not session.computing and not session.pending_save
    assert session.result is None


def test_a_bug_outside_the_core_errors_keeps_its_traceback():
    session = ready_session()
    job = session.start_job()

    def deep():
        raise ZeroDivisionError("division by zero")

    try:
        deep()
    except ZeroDivisionError as exc:
        text = session.failed(job, exc)
    assert text == "ZeroDivisionError: division by zero"
    assert "in deep" in session.plugins["kmeans"].traceback


def test_a_user_error_is_not_the_plugins_and_a_stale_failure_is_not_shown():
    session = ready_session()
    job = session.start_job()
    assert session.failed(job, ParameterError("parameter x: bad")) == "parameter x: bad"
    assert session.plugins["kmeans"].error is None
    old = session.start_job()
    session.start_job()
    assert session.failed(old, PluginError("plugin 'kmeans' failed: late")) is None
    assert session.plugins["kmeans"].error == "plugin 'kmeans' failed: late"  # still kept
    assert session.computing


def test_a_plugin_that_cannot_be_imported_still_gets_jobs_that_report_it():
    session = Session(["kmeans", "broken"])
    session.opened(session.begin_open(), FakeImage())
    session.choose_plugin("broken")
    assert session.start_job() is None  # waiting for its specs
    session.plugin_failed("broken", PluginError("plugin 'broken': ImportError: xyz"))
    assert session.plugins["broken"].specs == ()
    assert session.start_job() is not None


def test_cancel_stops_and_abandons_the_running_job():
    session = ready_session()
    assert not session.cancel()  # nothing running
    job = session.start_job()
    session.pending_save = True
    assert session.cancel()
    assert job.should_stop() and job.abandoned
    assert not session.computing and not session.pending_save


def test_stopping_a_job_for_the_next_keeps_a_waiting_save_and_stop_forgets_it():
    session = ready_session()
    first = session.start_job()
    session.pending_save = True
    session.stop_job()  # quick keys: this job ends, the next one's result is saved
    assert first.should_stop() and not first.abandoned and session.pending_save
    second = session.start_job()
    session.stop()  # the app is leaving: nothing is saved
    assert second.should_stop() and not session.pending_save


def test_opening_another_image_stops_the_job_without_abandoning_it():
    session = ready_session()
    job = session.start_job()
    session.begin_open()
    assert job.should_stop() and not job.abandoned


# -- the job runner -----------------------------------------------------------------------------


def passes(log: list, name: str, *, count: int = 200, delay: float = 0.005):
    """A computation that polls `should_stop` before each of its passes, like k-means."""

    def compute(should_stop):
        log.append(("start", name))
        for _ in range(count):
            if should_stop():
                log.append(("stopped", name))
                raise Cancelled("cancelled")
            time.sleep(delay)
        log.append(("done", name))
        return name

    return compute


def run_in_thread(runner, job, fn, outcome: dict, **kwargs) -> threading.Thread:
    def target():
        try:
            outcome[job.id] = runner.run(job, fn, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - inspected by the test
            outcome[job.id] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_runner_computes_one_job_at_a_time_and_a_newer_job_stops_the_older():
    session = ready_session()
    runner, log, outcome = session.runner, [], {}
    first = session.start_job()
    t1 = run_in_thread(runner, first, passes(log, "first"), outcome)
    deadline = time.monotonic() + 5
    while runner.computing is not first and time.monotonic() < deadline:
        time.sleep(0.001)
    assert runner.computing is first
    session.step_k(1)
    second = session.start_job()  # stops `first`
    t2 = run_in_thread(runner, second, passes(log, "second", count=5), outcome)
    t1.join(5)
    t2.join(5)
    assert isinstance(outcome[first.id], Cancelled)
    assert outcome[second.id] == "second"
    # The second computation started only after the first one stopped at its next pass.
    assert log == [
        ("start", "first"),
        ("stopped", "first"),
        ("start", "second"),
        ("done", "second"),
    ]
    # The answer is handed over before the computation's thread returns memory and lets go.
    deadline = time.monotonic() + 5
    while runner.computing is not None and time.monotonic() < deadline:
        time.sleep(0.001)
    assert runner.computing is None


def test_a_job_stopped_while_waiting_never_starts():
    session = ready_session()
    runner, log, outcome = session.runner, [], {}
    release = threading.Event()
    blocker = session.start_job()
    t1 = run_in_thread(runner, blocker, lambda should_stop: release.wait(5), outcome)
    waiting = session.start_job()  # stops `blocker`, which does not poll: it holds the runner
    assert blocker.should_stop()
    t2 = run_in_thread(runner, waiting, passes(log, "waiting"), outcome)
    time.sleep(0.05)
    waiting.stop()
    t2.join(5)
    assert isinstance(outcome[waiting.id], Cancelled) and log == []
    release.set()
    t1.join(5)


def test_a_hung_computation_holds_the_runner_until_it_is_abandoned():
    session = ready_session()
    runner, log, outcome, seen = session.runner, [], {}, []
    release = threading.Event()
    hung = session.start_job()
    run_in_thread(runner, hung, lambda should_stop: release.wait(10), outcome)
    session.step_k(1)
    nxt = session.start_job()
    t2 = run_in_thread(
        runner, nxt, passes(log, "next", count=2), outcome, waiting=seen.append, notice_after=0.05
    )
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.005)
    assert seen == [hung] and log == []  # told whom it waits for; not started
    assert runner.abandon() is hung and hung.abandoned
    t2.join(5)
    assert outcome[nxt.id] == "next"
    release.set()


def test_a_stopped_computation_lets_go_of_its_arrays_as_it_ends():
    """What a stopped computation held goes when it ends, not at the collector's next full
    pass: with keys held down on a big photo, every stopped job's arrays would pile up."""
    session = ready_session()
    runner, outcome, held = session.runner, {}, []

    def compute(should_stop):
        pixels = np.zeros(1 << 16, np.uint32)
        held.append(weakref.ref(pixels))
        while not should_stop():
            time.sleep(0.001)
        raise Cancelled("cancelled")

    job = session.start_job()
    gc.disable()  # only reference counting frees anything here
    try:
        thread = run_in_thread(runner, job, compute, outcome)
        deadline = time.monotonic() + 5
        while not held and time.monotonic() < deadline:
            time.sleep(0.001)
        job.stop()
        thread.join(5)
        while runner.computing is not None and time.monotonic() < deadline:
            time.sleep(0.001)
        assert isinstance(outcome[job.id], Cancelled)  # the error itself is still at hand
        assert held[0]() is None
    finally:
        gc.enable()


def test_an_error_handed_over_by_call_with_timeout_keeps_no_arrays_but_its_lines():
    held = []

    def plugin():
        palette = np.zeros(1 << 16, np.uint8)
        held.append(weakref.ref(palette))
        raise RuntimeError("broken")

    gc.disable()
    try:
        with pytest.raises(RuntimeError, match="broken") as raised:
            call_with_timeout(plugin, 5.0)
        assert held[0]() is None
        # Its traceback still shows where it was raised.
        assert 'raise RuntimeError("broken")' in "".join(format_exception(raised.value))
    finally:
        gc.enable()


def test_runner_hands_back_what_the_computation_raised():
    runner = JobRunner()
    job = ready_session().start_job()

    def broken(should_stop):
        raise KeyError("nope")

    with pytest.raises(KeyError, match="nope"):
        runner.run(job, broken)


def test_a_background_job_gives_the_runner_up_to_a_foreground_one_and_waits_for_it():
    session = ready_session()
    runner, log, outcome = session.runner, [], {}
    background = Job(100, session.settings, session.image, background=True)
    t1 = run_in_thread(runner, background, passes(log, "background"), outcome)
    deadline = time.monotonic() + 5
    while runner.computing is not background and time.monotonic() < deadline:
        time.sleep(0.001)
    assert runner.computing is background
    foreground = session.start_job()
    t2 = run_in_thread(runner, foreground, passes(log, "foreground", count=5), outcome)
    t1.join(5)
    # Preempted, not cancelled: the background job itself was not stopped, it can go on.
    assert isinstance(outcome[background.id], Preempted) and not background.should_stop()
    # Asking again while the foreground job computes: it waits for it, then runs to the end.
    t3 = run_in_thread(runner, background, passes(log, "again", count=3), outcome)
    t2.join(5)
    t3.join(5)
    assert outcome[foreground.id] == "foreground" and outcome[background.id] == "again"
    assert log == [
        ("start", "background"),
        ("stopped", "background"),
        ("start", "foreground"),
        ("done", "foreground"),
        ("start", "again"),
        ("done", "again"),
    ]


def test_a_background_job_waits_while_a_foreground_job_waits():
    session = ready_session()
    runner, log, outcome = session.runner, [], {}
    release = threading.Event()
    blocker = session.start_job()
    t0 = run_in_thread(runner, blocker, lambda should_stop: release.wait(5), outcome)
    while runner.computing is not blocker:
        time.sleep(0.001)
    session.step_k(1)
    foreground = session.start_job()  # stops `blocker`, which does not poll: it holds on
    t1 = run_in_thread(runner, foreground, passes(log, "foreground", count=2), outcome)
    time.sleep(0.05)
    background = Job(100, session.settings, session.image, background=True)
    t2 = run_in_thread(runner, background, passes(log, "background", count=2), outcome)
    time.sleep(0.05)
    release.set()
    for thread in (t0, t1, t2):
        thread.join(5)
    assert log[0] == ("start", "foreground") and log[-1] == ("done", "background")
