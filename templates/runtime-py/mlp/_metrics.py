"""JobMetrics and heartbeats: ``log``, ``heartbeat``, ``flush``.

How ``log`` batches: see ``_publisher``.

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
import math
import numbers
import os
import sys
import threading
from typing import Optional

from ._client import PlatformError, Refused, call_platform, heartbeat_path, job_env, say
from ._publisher import BUFFER_LIMIT, LINGER_S, MAX_BATCH, Publisher

__all__ = ["log", "heartbeat", "flush", "MAX_BATCH", "BUFFER_LIMIT", "LINGER_S", "MAX_EPOCHS"]

#: Epochs 0 … MAX_EPOCHS − 1 (the platform's bound, shared/metrics/bounds.ts). Checked here
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


_lock = threading.Lock()
_publisher: Optional[Publisher] = None
_last_progress = 0
_epochs: Optional[int] = None  # the epochs of the training, once known (log(epochs=…), keras_callback)


def _get_publisher() -> Optional[Publisher]:
    global _publisher
    env = job_env()
    if env is None:
        return None
    with _lock:
        if _publisher is None or _publisher.pid != os.getpid() or _publisher.env != env:
            if _publisher is not None and _publisher.pid == os.getpid():
                _publisher.flush()  # the environment changed (tests): finish with the old one
            _publisher = Publisher(env)
        return _publisher


def _after_fork_in_child() -> None:
    # The sender thread does not survive fork, and the parent still sends what was buffered:
    # the child starts empty.
    global _publisher, _lock
    _publisher = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _raise_refusal(pub: Optional[Publisher]) -> None:
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
