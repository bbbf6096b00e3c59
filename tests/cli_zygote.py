"""`python -m kmc_tui …` in a child forked from an interpreter that has imported kmc-tui already.

Most of a test's `kmc-tui` process is start-up: numpy, Pillow, imageio, scikit-image and
scikit-learn imports. This module keeps one server process per test worker that has done those
imports; each `run` forks it and the child does what `python -m kmc_tui ARGS` does (the real
`kmc_tui.__main__` through `runpy`, its own argv, environment, working folder, stdin on
/dev/null, stdout and stderr on pipes read by the test), then exits through the interpreter's
normal shutdown. The test sees a real process: its own pid, exit code or signal, files, threads
and children (batch workers, forkservers).

What differs from a fresh interpreter is what happens at import time. So a call whose
environment changes import-time state (PYTHON*, thread-count and allocator variables, TMPDIR)
runs `python -m kmc_tui` afresh instead, as do the tests that are about start-up, signals,
`kill -9` and the installed command (they start their own processes). The server imports
kmc-tui as installed, so a child run from the repository's root uses that copy where a fresh
interpreter would take the source tree's (the install's source: only traceback paths differ).
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading

#: Environment variables read when a library is imported or loaded: a call that changes one
#: runs in a fresh interpreter.
IMPORT_TIME_PREFIXES = (
    "PYTHON",
    "OMP_",
    "OPENBLAS_",
    "GOTO",
    "MKL_",
    "KMP_",
    "LD_",
    "MALLOC",
    "NUMPY",
    "SCIPY",
    "SKLEARN",
    "JOBLIB",
    "TMPDIR",
    "LANG",
    "LC_",
)


# ----------------------------------------------------------------------------------------------
# The server (runs as `python cli_zygote.py SOCKET`)


def _preload() -> None:
    """Import what `kmc-tui compress` imports, nothing more (no thread, no OpenMP region)."""
    import imageio.v3  # noqa: F401
    import numpy  # noqa: F401
    import PIL.Image  # noqa: F401
    import skimage.color  # noqa: F401

    import kmc_tui.api  # noqa: F401
    import kmc_tui.batch  # noqa: F401
    import kmc_tui.cli  # noqa: F401
    import kmc_tui.quantize  # noqa: F401

    try:
        import kmc_kmeans

        kmc_kmeans._defer("scipy.stats")
        kmc_kmeans._defer("sklearn.cluster")
        import sklearn.cluster._k_means_lloyd  # noqa: F401
        import sklearn.utils._openmp_helpers  # noqa: F401
    except ImportError:
        pass


def _child(request: dict, fds: list[int], closing: list) -> None:
    """In the forked child: become `python -m kmc_tui ARGS` and exit the way it would."""
    import random
    import runpy

    signal.set_wakeup_fd(-1)
    for thing in closing:
        if isinstance(thing, int):
            os.close(thing)
        else:
            thing.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in (devnull, *fds):
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    random.seed()
    sys.argv = ["-m", *request["args"]]
    sys.path.insert(0, request["cwd"])
    # Unwinds to the top of this script, then the interpreter's normal shutdown (threads joined,
    # atexit handlers, streams flushed), as at the end of a fresh `python -m kmc_tui`.
    runpy.run_module("kmc_tui", run_name="__main__", alter_sys=True)
    sys.exit(0)


def serve(path: str) -> None:
    _preload()
    # What every child shares is never garbage: out of the collector's reach, its passes in a
    # child (and the one at exit) walk only what the child made, and leave the pages shared.
    gc.freeze()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    waiting: dict[int, socket.socket] = {}
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            if key.fileobj is listener:
                conn, _ = listener.accept()
                message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 2)
                request = json.loads(message)
                pid = os.fork()
                if pid == 0:
                    _child(request, fds, [selector, listener, conn, wake_read, wake_write])
                for fd in fds:
                    os.close(fd)
                conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                waiting[pid] = conn
            elif key.fileobj == wake_read:
                os.read(wake_read, 512)
                while waiting:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                    if pid == 0:
                        break
                    conn = waiting.pop(pid, None)
                    if conn is not None:
                        code = os.waitstatus_to_exitcode(status)
                        try:
                            conn.sendall(json.dumps({"returncode": code}).encode() + b"\n")
                        except OSError:
                            pass
                        conn.close()


# ----------------------------------------------------------------------------------------------
# The client (in the test worker)


class Zygote:
    """One server per test worker, started on first use; None-safe: `run` returns None when the
    call must (or can only) run in a fresh interpreter."""

    def __init__(self, env: dict[str, str]):
        import tempfile

        self.env = dict(env)
        self.folder = tempfile.mkdtemp(prefix="kmc-zygote-")
        self.path = os.path.join(self.folder, "socket")
        self.process = subprocess.Popen(
            [sys.executable, __file__, self.path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env=self.env,
        )
        self.ready = self.process.stdout.readline().strip() == b"ready"
        atexit.register(self.close)

    def suits(self, env: dict[str, str]) -> bool:
        if not self.ready or self.process.poll() is not None:
            return False
        changed = {k for k in env.keys() | self.env.keys() if env.get(k) != self.env.get(k)}
        return not any(k.startswith(IMPORT_TIME_PREFIXES) for k in changed)

    def run(self, args, *, env, cwd, timeout, text=True) -> subprocess.CompletedProcess:
        """Like ``subprocess.run([python, "-m", "kmc_tui", *args], capture_output=True, …)``;
        bytes in `args` reach the child's argv as Python decodes them (surrogate escapes)."""
        args = [os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in args]
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(self.path)
            request = {"args": list(args), "env": env, "cwd": str(cwd or os.getcwd())}
            socket.send_fds(conn, [json.dumps(request).encode()], [out_write, err_write])
        finally:
            os.close(out_write)
            os.close(err_write)
        pending = bytearray()

        def reply() -> dict:
            while b"\n" not in pending:
                chunk = conn.recv(4096)
                if not chunk:
                    raise RuntimeError("the kmc-tui zygote went away")
                pending.extend(chunk)
            line, _, rest = bytes(pending).partition(b"\n")
            pending[:] = rest
            return json.loads(line)

        pid = reply()["pid"]
        captured: dict[int, bytes] = {}

        def drain(fd: int) -> None:
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
            captured[fd] = b"".join(chunks)
            os.close(fd)

        readers = [threading.Thread(target=drain, args=(fd,)) for fd in (out_read, err_read)]
        for reader in readers:
            reader.start()
        conn.settimeout(timeout)
        try:
            returncode = reply()["returncode"]
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            conn.settimeout(None)
            reply()
            for reader in readers:
                reader.join()
            conn.close()
            raise subprocess.TimeoutExpired([sys.executable, "-m", *args], timeout) from None
        for reader in readers:
            reader.join()
        conn.close()
        out, err = captured[out_read], captured[err_read]
        if text:
            out, err = out.decode(), err.decode()
        return subprocess.CompletedProcess([sys.executable, "-m", *args], returncode, out, err)

    def close(self) -> None:
        if self.process.returncode is not None:
            return
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()
        for name in os.listdir(self.folder):
            os.unlink(os.path.join(self.folder, name))
        os.rmdir(self.folder)


if __name__ == "__main__":
    del sys.path[0]  # this script's folder: kmc-tui as installed, see the module's docstring
    serve(sys.argv[1])
