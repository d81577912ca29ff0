"""The background sender of ``log``'s metrics (``Publisher``), one per process.

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
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Optional

from . import _client
from ._client import JobEnv, Refused, call_platform, metrics_path, say

#: At most this many JobMetrics per POST (the API's bound for the batch form).
MAX_BATCH = 1000
#: At most this many metrics wait while the platform cannot be reached (as @mlp/runtime).
BUFFER_LIMIT = 10_000
#: How long the sender waits after a first metric for others to join its POST.
LINGER_S = 0.5


class Publisher:
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
