"""The job's environment: where its files are, its parameters, its checkpoint.

Read at each call rather than once at import, so a script (or a test) that sets a variable
after ``import mlp`` is still obeyed.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any, Optional

__all__ = ["dataset_path", "home_path", "params", "resume_path", "workspace_dir", "ckpt_dir", "TMP_PREFIX"]

#: Files being written by save_model carry this prefix until they are complete (then they are
#: renamed), so resume_path and a reader of ckpt/ never take a half-written file.
TMP_PREFIX = ".mlp-tmp-"


def workspace_dir() -> str:
    """The job's workspace ($MLP_WORKSPACE); outside the platform the current folder."""
    return os.environ.get("MLP_WORKSPACE") or os.getcwd()


def ckpt_dir() -> str:
    """``$MLP_WORKSPACE/ckpt``: what a model is created from."""
    return os.path.join(workspace_dir(), "ckpt")


def _checked_parts(what: str, parts: tuple) -> list[str]:
    # The roots are read-only folders of the user; a part climbing out of them ("..") or
    # replacing them (an absolute path) would name a file the script was not meant to reach,
    # and inside a job would fail later with a less clear error. Refuse it here.
    out = []
    for part in parts:
        if isinstance(part, os.PathLike):
            part = os.fspath(part)
        if not isinstance(part, str):
            raise TypeError(f"{what}: path parts must be strings, got {part!r}")
        if "\0" in part:
            raise ValueError(f"{what}: a path part may not contain NUL: {part!r}")
        if os.path.isabs(part):
            raise ValueError(f"{what}: {part!r} is absolute; give a path relative to the folder")
        if ".." in part.replace(os.sep, "/").split("/"):
            raise ValueError(f"{what}: {part!r} has a '..' segment; paths stay inside the folder")
        out.append(part)
    return out


def _root(variable: str, fn: str) -> str:
    root = os.environ.get(variable)
    if not root:
        raise RuntimeError(f"{variable} is not set: {fn} works inside a job of the platform")
    return root


def dataset_path(name: str, *parts: str) -> str:
    """The path of a file in one of the user's datasets: ``$MLP_DATASETS/{name}/{parts...}``.

    Datasets are read-only inside a job. ``name`` is the dataset's name (one segment);
    ``parts`` may be single segments or relative paths (``"train/x.csv"``). An absolute part,
    a ``..`` segment or a name with ``/`` raises ValueError; RuntimeError outside a job.
    """
    (name,) = _checked_parts("dataset_path", (name,))
    if name in ("", ".") or "/" in name or os.sep in name:
        raise ValueError(f"dataset_path: {name!r} is not a dataset name")
    return os.path.join(_root("MLP_DATASETS", "dataset_path"), name, *_checked_parts("dataset_path", parts))


def home_path(*parts: str) -> str:
    """The path of a file in the user's home (``$MLP_HOME/{parts...}``; read-only in a job).

    With no parts, the home itself. An absolute part or a ``..`` segment raises ValueError;
    RuntimeError outside a job.
    """
    return os.path.join(_root("MLP_HOME", "home_path"), *_checked_parts("home_path", parts))


def params() -> dict[str, Any]:
    """The job's parameters: ``MLP_PARAMS`` parsed, ``{}`` when unset or empty.

    A sweep's trial gets its point here, numbers as JSON numbers. A fresh dict each call, so
    changing it changes nothing else. ValueError when the variable is not a JSON object.
    """
    raw = os.environ.get("MLP_PARAMS", "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise ValueError(f"MLP_PARAMS is not JSON ({err}): {raw[:200]!r}") from None
    if not isinstance(value, dict):
        raise ValueError(f"MLP_PARAMS must be a JSON object, got {type(value).__name__}: {raw[:200]!r}")
    return value


def resume_path() -> Optional[str]:
    """The newest file under ``$MLP_WORKSPACE/ckpt`` (searched recursively), or None.

    A job launched again after a failure (``retries``) keeps its workspace, so a
    script resumes with ``p = mlp.resume_path()`` and loads ``p`` when it is not None.
    "Newest" is the latest modification time (ties: the last path in sorted order, so the
    answer is stable). Links are not followed and save_model's unfinished temporary files
    are skipped.
    """
    root = ckpt_dir()
    best: Optional[tuple[float, str]] = None
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(TMP_PREFIX)]
        for f in files:
            if f.startswith(TMP_PREFIX):
                continue
            path = os.path.join(folder, f)
            try:
                st = os.lstat(path)
            except OSError:
                continue  # removed meanwhile
            if not stat.S_ISREG(st.st_mode):
                continue
            key = (st.st_mtime, path)
            if best is None or key > best:
                best = key
    return best[1] if best else None
