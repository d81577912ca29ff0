"""Requests to the platform's API with the job token (MLP_TOKEN), as @mlp/runtime makes them."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Optional

__all__ = ["PlatformError", "Refused", "JobEnv", "job_env", "call_platform", "metrics_path", "heartbeat_path", "backoff_s", "say", "OUTAGE_S"]

#: How long faults (network errors, any status but 2xx and 403) are retried: a gateway or
#: platform restart takes seconds and must not end a job. Read at each call.
OUTAGE_S = 120.0
#: One request's own limit; a hung connection is a fault like any other.
REQUEST_TIMEOUT_S = 30.0
_FIRST_BACKOFF_S = 0.25
_MAX_BACKOFF_S = 5.0


class PlatformError(RuntimeError):
    """The platform could not be reached or kept failing (network, 503 {msg}) for OUTAGE_S.

    ``msg`` is the platform's own message (its ``{msg}`` body) or the network error;
    ``status`` the last HTTP status (0 when none came back).
    """

    def __init__(self, message: str, msg: str = "", status: int = 0):
        super().__init__(message)
        self.msg = msg
        self.status = status


class Refused(PlatformError):
    """The platform refused the request (403 {msg}): its final word, not retried."""


def say(line: str) -> None:
    """A line on stderr, which the platform keeps in log/job.log."""
    try:
        sys.stderr.write(f"mlp: {line}\n")
        sys.stderr.flush()
    except Exception:
        pass  # stderr closed: nothing better to do with the line


@dataclass(frozen=True)
class JobEnv:
    api: str
    user: str
    job: str
    token: str


def job_env() -> Optional[JobEnv]:
    """The job's identity from MLP_API, MLP_USER, MLP_JOB, MLP_TOKEN; None outside the platform."""
    e = os.environ
    api, user, job, token = (e.get(k, "") for k in ("MLP_API", "MLP_USER", "MLP_JOB", "MLP_TOKEN"))
    if not (api and user and job and token):
        return None
    return JobEnv(api.rstrip("/"), user, job, token)


def backoff_s(attempt: int) -> float:
    """The wait before retry ``attempt`` (1, 2, …): doubling from 0.25 s, at most 5 s."""
    return min(_MAX_BACKOFF_S, _FIRST_BACKOFF_S * 2 ** (attempt - 1))


def metrics_path(env: JobEnv) -> str:
    """``/api/v1/users/{user}/job_metrics/{job}``."""
    return f"/api/v1/users/{_q(env.user)}/job_metrics/{_q(env.job)}"


def heartbeat_path(env: JobEnv) -> str:
    """``/api/v1/users/{user}/jobs/{job}:heartbeat``."""
    return f"/api/v1/users/{_q(env.user)}/jobs/{_q(env.job)}:heartbeat"


def _q(name: str) -> str:
    # Names are plain letters on the platform; quoting only keeps an odd one from changing the path.
    return urllib.parse.quote(name, safe="")


# The platform is the only thing a job can reach, directly: a proxy named by
# http_proxy would not be reachable from the job's network, and Node's fetch in @mlp/runtime
# ignores those variables too.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _message_of(text: str) -> str:
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict) and isinstance(parsed.get("msg"), str):
            return parsed["msg"]
    except ValueError:
        pass  # not JSON: the text itself says what happened
    return text[:200]


def call_platform(env: JobEnv, method: str, path: str, body: Any, outage_s: Optional[float] = None) -> None:
    """One JSON request with ``Authorization: Bearer $MLP_TOKEN``.

    2xx returns. 403 raises Refused at once, carrying the platform's msg. Anything else
    (network error, 503 {msg}, …) is retried with backoff (0.25 s doubling to 5 s) for up to
    ``outage_s`` (default OUTAGE_S); then PlatformError carrying the last msg. ``outage_s=0``
    makes one attempt.
    """
    if outage_s is None:
        outage_s = OUTAGE_S
    data = json.dumps(body, allow_nan=False).encode()
    deadline = time.monotonic() + outage_s
    attempt = 0
    while True:
        attempt += 1
        status, text, fault = 0, "", ""
        req = urllib.request.Request(
            env.api + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {env.token}", "Content-Type": "application/json"},
        )
        try:
            with _opener.open(req, timeout=REQUEST_TIMEOUT_S) as res:
                status = res.status
                res.read()
        except urllib.error.HTTPError as err:
            status = err.code
            try:
                text = err.read().decode("utf-8", "replace")
            except Exception:
                text = ""
        except (OSError, ValueError) as err:  # URLError, timeouts, resets, a bad MLP_API
            fault = str(getattr(err, "reason", None) or err)
        if 200 <= status < 300:
            return
        msg = fault
        if status:
            msg = _message_of(text) or f"HTTP {status}"
            if status == 403:
                raise Refused(f"{method} {path} refused: {msg}", msg, status)
        wait = backoff_s(attempt)
        if time.monotonic() + wait > deadline:
            raise PlatformError(
                f"{method} {path} failed after {attempt} attempt{'s' if attempt > 1 else ''} in {outage_s:g} s: "
                + (f"{status} {msg}" if status else msg),
                msg,
                status,
            )
        time.sleep(wait)
