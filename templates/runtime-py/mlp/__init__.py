"""``mlp``: the platform's helper for Python training scripts (the same calls exist
in ``@mlp/runtime`` for JavaScript).

    import mlp
    x = numpy.load(mlp.dataset_path("iris", "x.npy"))
    lr = mlp.params().get("lr", 0.01)
    model.fit(x, y, epochs=20, callbacks=[mlp.keras_callback()])
    mlp.save_model(model, x[:5])

Only the standard library is imported here; Keras, scikit-learn, PyTorch, numpy and
onnxruntime are imported by ``keras_callback`` and ``save_model`` when called. Outside the
platform (no MLP_* variables) metrics are printed and heartbeats skipped, so a script runs
on a laptop too.

Errors: ``Refused`` (403 {msg}: the platform said no; ``.msg`` is its message),
``PlatformError`` (faults such as 503 {msg} retried for 120 s in vain; ``.msg`` too),
``ExportError`` / ``ModelMismatch`` (save_model).
"""

import os as _os

# ONNX Runtime (save_model's check) otherwise reports telemetry over HTTPS and leaves a device id
# (.ses) and mat-debug-<pid>.log in TMPDIR; it reads this when it loads (shared/runtimes/catalog.ts).
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from ._client import PlatformError, Refused
from ._env import dataset_path, home_path, params, resume_path
from ._export import ExportError, ModelMismatch, SavedModel, save_model
from ._keras import keras_callback
from ._metrics import flush, heartbeat, log

__all__ = [
    "dataset_path", "home_path", "params", "resume_path",
    "log", "heartbeat", "flush", "keras_callback", "save_model",
    "Refused", "PlatformError", "ExportError", "ModelMismatch", "SavedModel",
]
