"""``keras_callback``: logs and heartbeats after each epoch of ``model.fit``.

Keras is imported only when keras_callback is called: ``import mlp`` stays cheap (TensorFlow
takes seconds and half a gigabyte to import) and works where Keras is absent (runtime torch).
"""

from __future__ import annotations

from typing import Any, Optional

from . import _metrics

__all__ = ["keras_callback"]

_callback_class: Optional[type] = None


def _accuracy_key(logs: dict) -> Optional[str]:
    # Keras 3 names the metric after what compile() was given: "accuracy" for metrics=["accuracy"],
    # "acc" for ["acc"], "sparse_categorical_accuracy" and the like for explicit ones.
    for key in ("accuracy", "acc"):
        if key in logs:
            return key
    for key in logs:
        if key.endswith("accuracy") and not key.startswith("val_"):
            return key
    return None


def _make_class(keras: Any) -> type:
    class MlpCallback(keras.callbacks.Callback):
        """After each epoch: mlp.log(epoch + 1, accuracy, loss) and mlp.heartbeat(progress)."""

        def __init__(self, epochs: Optional[int] = None, heartbeat: bool = True):
            super().__init__()
            self.epochs = epochs
            self.send_heartbeat = heartbeat

        def _total_epochs(self) -> Optional[int]:
            # fit() tells its callbacks the epochs in self.params; an explicit value wins.
            if self.epochs is not None:
                return self.epochs
            params = getattr(self, "params", None) or {}
            epochs = params.get("epochs")
            return int(epochs) if epochs else None

        def on_train_begin(self, logs=None):
            _metrics.set_epochs(self._total_epochs())

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            key = _accuracy_key(logs)
            if key is None:
                raise ValueError(
                    f"the fit logs have no accuracy (they have {', '.join(logs) or 'nothing'}): "
                    'compile the model with metrics=["accuracy"]'
                )
            if "loss" not in logs:
                raise ValueError(f"the fit logs have no loss (they have {', '.join(logs) or 'nothing'})")
            total = self._total_epochs()
            # Epochs are published from 1, as @mlp/runtime does: epoch N of N gives progress 100.
            progress = _metrics.progress_of(epoch + 1, total) if total else None
            _metrics.log(epoch + 1, accuracy=logs[key], loss=logs["loss"], progress=progress)
            if self.send_heartbeat and progress is not None:
                _metrics.heartbeat(progress)

        def on_train_end(self, logs=None):
            _metrics.flush()

    return MlpCallback


def keras_callback(epochs: Optional[int] = None, heartbeat: bool = True) -> Any:
    """A ``keras.callbacks.Callback`` for ``model.fit(..., callbacks=[mlp.keras_callback()])``.

    After each epoch it publishes accuracy and loss (epochs numbered from 1) with the
    progress, and sends a running heartbeat with that progress. ``epochs`` defaults to the
    one fit() was given. The model must be compiled with ``metrics=["accuracy"]`` (or another
    ``*accuracy`` metric). The buffered metrics are flushed when training ends.
    """
    global _callback_class
    if epochs is not None:
        _metrics.set_epochs(epochs)  # also checks it
    if _callback_class is None:
        try:
            import keras
        except ImportError as err:
            raise ImportError(f"mlp.keras_callback needs Keras (runtime tf): {err}") from err
        _callback_class = _make_class(keras)
    return _callback_class(epochs=epochs, heartbeat=heartbeat)
