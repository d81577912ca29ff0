"""JobMetrics and heartbeats: ``log``, ``heartbeat``, ``flush``.

How ``log`` batches
-------------------
``log`` checks its arguments, prints the metric (the job log keeps it), appends it to an
in-memory buffer and returns at once: per-step logging must not wait for the network. A
background (daemon) thread sends the buffer with ``POST …/job_metrics/{job}``:

* it waits ``LINGER_S`` after the first metric arrives, so a burst of calls shares one POST,
  and takes at most ``MAX_BATCH`` (1,000, the API's bound) metrics per POST — a JSON array,
  or a single object when only one metric waits (which every version of the API accepts);
* on a fault (network, 503) the batch goes back to the head of the buffer and is retried with
  backoff (0.25 s doubling to 5 s); after ``_client.OUTAGE_S`` (120 s) of failures what waits
  is dropped, said on stderr. The buffer holds at most ``BUFFER_LIMIT`` metrics; beyond, the
  oldest is dropped (said on stderr);
* a refusal (403 {msg}) is kept and raised as ``Refused`` by the next ``log``, ``heartbeat``
  or ``flush`` call.

``flush()`` sends the buffer at once and waits until it is sent (or dropped). It runs before
every heartbeat — so metrics arrive before the progress they lead to, and before a
``finished`` heartbeat after which the platform ends the job's processes — and at exit
(``atexit``): a script that ends normally loses no metric. If the exit flush finds a refusal,
it is printed on stderr and the process exits with status 1, so the job ends ``error`` rather
than ``finished`` with metrics missing.

Outside the platform (no MLP_API, MLP_USER, MLP_JOB, MLP_TOKEN) metrics are only printed and
heartbeats skipped, so the same script runs on a laptop.
"""

from __future__ import annotations

import atexit
import collections
import math
import numbers
import os
import sys
import threading
import time
from typing import Optional

from . import _client
from ._client import JobEnv, PlatformError, Refused, call_platform, heartbeat_path, job_env, metrics_path, say

__all__ = ["log", "heartbeat", "flush", "MAX_BATCH", "BUFFER_LIMIT", "LINGER_S", "MAX_EPOCHS"]

#: At most this many JobMetrics per POST (the API's bound for the batch form).
MAX_BATCH = 1000
#: At most this many metrics wait while the platform cannot be reached (as @mlp/runtime).
BUFFER_LIMIT = 10_000
#: How long the sender waits after a first metric for others to join its POST.
LINGER_S = 0.5
#: Epochs 0 … MAX_EPOCHS − 1 (the platform's bound, shared/metrics/limits.ts). Checked here
#: because one bad metric would make the platform refuse the whole batch it travels in.
MAX_EPOCHS = 10_000

_STATES = ("running", "finished", "error")


def _integer(value, what: str) -> int:
    # bool is an int in Python, but True is no epoch; numpy integers are fine.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    return int(value)


def _finite(value, what: str) -> float:
    # numpy/TF scalars (float32 from Keras logs) are numbers.Real or at least convert to float.
    if isinstance(value, bool) or value is None:
        raise TypeError(f"{what} must be a finite number, got {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a finite number, got {value!r}") from None
    if not math.isfinite(f):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return f


def _round(x: float) -> int:
    # Half up, as Math.round in @mlp/runtime (Python's round() rounds half to even).
    return int(math.floor(x + 0.5))


def progress_of(epoch: int, epochs: int) -> int:
    """Progress after ``epoch`` of ``epochs`` epochs counted from 1: round(100·epoch/epochs), at most 100."""
    return max(0, min(100, _round(100 * epoch / epochs)))


class _Publisher:
    def __init__(self, env: JobEnv):
        self.env = env
        self.pid = os.getpid()
        self.cond = threading.Condition()
        self.queue: collections.deque = collections.deque()
        self.in_flight = 0
        self.urgent = False  # a flush waits: send without lingering
        self.refused: Optional[Refused] = None
        self.thread: Optional[threading.Thread] = None

    def publish(self, m: dict) -> None:
        with self.cond:
            self.queue.append(m)
            if len(self.queue) > BUFFER_LIMIT:
                dropped = self.queue.popleft()
                say(f"metrics buffer full ({BUFFER_LIMIT}): dropped epoch {dropped['epoch']}")
            self._ensure_thread()
            self.cond.notify_all()

    def _ensure_thread(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._run, name="mlp-metrics", daemon=True)
            self.thread.start()

    def take_refusal(self) -> Optional[Refused]:
        with self.cond:
            err, self.refused = self.refused, None
            return err

    def flush(self) -> None:
        """Sends what waits now and returns when the buffer is empty (sent, refused or dropped)."""
        with self.cond:
            if self.queue:
                self._ensure_thread()
            self.urgent = True
            self.cond.notify_all()
            while self.queue or self.in_flight:
                self.cond.wait(1.0)
                if not self.thread.is_alive() and self.queue and not self.in_flight:
                    self._ensure_thread()  # should not happen; never wait forever on a dead sender
            self.urgent = False

    def _run(self) -> None:
        faults = 0
        since = 0.0
        while True:
            with self.cond:
                while not self.queue:
                    self.cond.wait()
                deadline = time.monotonic() + LINGER_S
                while not self.urgent and len(self.queue) < MAX_BATCH:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self.cond.wait(left)
                batch = [self.queue.popleft() for _ in range(min(MAX_BATCH, len(self.queue)))]
                self.in_flight = len(batch)
            wait = 0.0
            try:
                # One attempt: the retries are here, so new metrics can join the next try.
                call_platform(self.env, "POST", metrics_path(self.env), batch[0] if len(batch) == 1 else batch, outage_s=0)
                if faults:
                    say(f"the platform is reachable again: metrics are flowing ({len(self.queue)} still buffered)")
                faults = 0
            except Refused as err:
                say(f"{len(batch)} metric{'s' if len(batch) > 1 else ''} (epochs {batch[0]['epoch']}–{batch[-1]['epoch']}) refused: {err.msg}")
                with self.cond:
                    if self.refused is None:
                        self.refused = err
            except Exception as err:  # PlatformError, or anything unexpected: keep the metrics
                faults += 1
                if faults == 1:
                    since = time.monotonic()
                    say(f"publishing metrics failed ({err}); buffering up to {BUFFER_LIMIT} and retrying")
                with self.cond:
                    self.queue.extendleft(reversed(batch))
                    while len(self.queue) > BUFFER_LIMIT:
                        self.queue.popleft()
                    if time.monotonic() - since > _client.OUTAGE_S:
                        say(f"the platform was unreachable for {_client.OUTAGE_S:g} s: {len(self.queue)} metrics dropped")
                        self.queue.clear()
                        faults = 0
                    else:
                        wait = _client.backoff_s(faults)
            with self.cond:
                self.in_flight = 0
                self.cond.notify_all()
            if wait:
                time.sleep(wait)


_lock = threading.Lock()
_publisher: Optional[_Publisher] = None
_last_progress = 0
_epochs: Optional[int] = None  # the epochs of the training, once known (log(epochs=…), keras_callback)


def _get_publisher() -> Optional[_Publisher]:
    global _publisher
    env = job_env()
    if env is None:
        return None
    with _lock:
        if _publisher is None or _publisher.pid != os.getpid() or _publisher.env != env:
            if _publisher is not None and _publisher.pid == os.getpid():
                _publisher.flush()  # the environment changed (tests): finish with the old one
            _publisher = _Publisher(env)
        return _publisher


def _after_fork_in_child() -> None:
    # The sender thread does not survive fork, and the parent still sends what was buffered:
    # the child starts empty.
    global _publisher, _lock
    _publisher = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _raise_refusal(pub: Optional[_Publisher]) -> None:
    err = pub.take_refusal() if pub else None
    if err is not None:
        raise err


def set_epochs(epochs: Optional[int]) -> None:
    """Remembers the training's number of epochs, from which log() derives progress."""
    global _epochs
    if epochs is not None:
        epochs = _integer(epochs, "epochs")
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
    _epochs = epochs


def log(epoch: int, accuracy: Optional[float] = None, loss: Optional[float] = None, *, progress: Optional[int] = None, epochs: Optional[int] = None) -> None:
    """Publishes one JobMetrics ``{epoch, accuracy, loss, progress}``; returns at once.

    ``epoch`` is an integer 0–9999; the platform keeps one metric per epoch (a repeat replaces
    it), so per-step calls with the same epoch are fine. ``accuracy`` and ``loss`` are required
    finite numbers (the platform's JobMetrics has both and nothing else; numpy scalars are
    accepted). ``progress`` (−1–100) defaults to the share of epochs done,
    round(100·epoch/epochs), when the number of epochs is known — given here as ``epochs=``
    (remembered for later calls) or by ``keras_callback`` — so count epochs from 1 for the
    last one to give 100; otherwise to the last progress sent by ``heartbeat`` (0 before).

    The metric is printed on stdout, then buffered and sent in the background (see the
    module's docstring). Raises TypeError/ValueError for bad arguments, and ``Refused`` when
    an earlier metric was refused by the platform (this one is still buffered).
    """
    epoch = _integer(epoch, "epoch")
    if not 0 <= epoch < MAX_EPOCHS:
        raise ValueError(f"epoch must be from 0 to {MAX_EPOCHS - 1}, got {epoch}")
    if accuracy is None or loss is None:
        raise TypeError("log needs accuracy= and loss= (a JobMetrics has both): mlp.log(epoch, accuracy=…, loss=…)")
    acc = _finite(accuracy, "accuracy")
    los = _finite(loss, "loss")
    if epochs is not None:
        set_epochs(epochs)
    if progress is None:
        progress = progress_of(epoch, _epochs) if _epochs else _last_progress
    progress = _integer(progress, "progress")
    if not -1 <= progress <= 100:
        raise ValueError(f"progress must be an integer from -1 to 100, got {progress}")
    m = {"epoch": epoch, "accuracy": acc, "loss": los, "progress": progress}
    print(f"epoch {epoch} accuracy {acc} loss {los} progress {progress}")
    pub = _get_publisher()
    if pub is None:
        return
    pub.publish(m)
    _raise_refusal(pub)


def flush() -> None:
    """Sends the buffered metrics now and waits until they are sent (or dropped after an outage).

    Raises ``Refused`` if the platform refused some. Called by ``heartbeat`` and at exit; call
    it yourself before doing something that needs the metrics to be in (nothing else does).
    """
    pub = _get_publisher()
    if pub is None:
        return
    pub.flush()
    _raise_refusal(pub)


def heartbeat(progress: int, state: str = "running") -> None:
    """Reports progress: ``PUT …/jobs/{job}:heartbeat`` with ``{state, progress}``.

    ``progress`` is an integer 0–100, ``state`` one of running, finished, error. Buffered
    metrics are flushed first. ``finished`` or ``error`` ends the job — the platform then stops
    the process — so send them last, if at all (exit 0 already means finished). Faults are
    retried for up to 120 s, then PlatformError; a 403 raises Refused with the platform's msg.
    Skipped outside the platform.
    """
    global _last_progress
    progress = _integer(progress, "progress")
    if not 0 <= progress <= 100:
        raise ValueError(f"progress must be an integer from 0 to 100, got {progress}")
    if state not in _STATES:
        raise ValueError(f"state must be one of {', '.join(_STATES)}, got {state!r}")
    _last_progress = progress
    env = job_env()
    if env is None:
        return
    flush()
    call_platform(env, "PUT", heartbeat_path(env), {"state": state, "progress": progress})


def _flush_at_exit() -> None:
    pub = _publisher
    if pub is None or pub.pid != os.getpid():
        return
    try:
        pub.flush()
    except Exception as err:  # not expected: flush keeps faults to itself
        say(f"sending the last metrics failed: {err}")
        return
    err = pub.take_refusal()
    if err is not None:
        say(f"metrics were refused by the platform: {err.msg}")
        # An exception in an atexit handler does not change the exit status; the job must not
        # end `finished` as if its metrics were in. Flush what Python would have flushed.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(1)


atexit.register(_flush_at_exit)
