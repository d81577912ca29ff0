"""``save_model``: a servable model in ``ckpt/`` from Keras, scikit-learn or PyTorch.

The model servers run ONNX, so every framework's model is exported to ``ckpt/model.onnx``,
with the framework's own file beside it (for the user's own later use), and the ONNX file is
checked against the framework before it is kept: an export that silently changes the model
(Keras' Normalization through model.export(format="onnx") is one) must fail the
job, not the predictions of an app months later.

Frameworks, numpy and onnxruntime are imported only here, when save_model is called.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, NamedTuple

from ._env import TMP_PREFIX, ckpt_dir, workspace_dir

__all__ = ["save_model", "SavedModel", "ExportError", "ModelMismatch", "TOLERANCE", "ONNX_OPSET"]

#: Largest difference allowed between the framework's predictions and ONNX Runtime's: absolute
#: for values up to 1, relative beyond (float32 keeps ~7 digits whatever the magnitude).
TOLERANCE = 1e-4
#: The ONNX opset of the exports (ONNX Runtime, Python and Node, run it).
ONNX_OPSET = 17

MODEL_ONNX = "model.onnx"


class ExportError(RuntimeError):
    """The model could not be exported to ONNX (or the file does not run)."""


class ModelMismatch(ExportError):
    """The ONNX model's predictions on the sample differ from the framework's own."""


class SavedModel(NamedTuple):
    dir: str
    files: list


def _framework(model: Any) -> str:
    # By the module of the class and its bases, so no framework is imported to find out, and
    # user subclasses (class Net(torch.nn.Module), a custom keras.Model) are recognised.
    roots = {(getattr(c, "__module__", "") or "").split(".")[0] for c in type(model).__mro__}
    if "keras" in roots:  # Keras 3, which tf.keras is in TensorFlow 2.16 and later
        return "keras"
    if "sklearn" in roots or "imblearn" in roots:
        return "sklearn"
    if "torch" in roots:
        return "torch"
    raise TypeError(
        f"save_model takes a Keras model, a scikit-learn estimator or a torch.nn.Module, "
        f"not {type(model).__module__}.{type(model).__qualname__}"
    )


def save_model(model: Any, sample: Any) -> SavedModel:
    """Writes ``model`` to ``$MLP_WORKSPACE/ckpt/`` as ``model.onnx`` plus the framework's own file.

    ``sample`` is a few input rows (array-like; the model's single input). What is written:

    * **Keras** (keras 3 / tf.keras): ``model.keras``; ONNX by exporting a SavedModel and
      converting it with tf2onnx at opset 17 (``model.export(format="onnx")`` mis-exports
      Normalization layers).
    * **scikit-learn** estimator or pipeline: ``model.joblib``; ONNX by skl2onnx with a
      float32 input (``sample`` is cast) and, for classifiers, ``zipmap`` off, giving the
      outputs ``label`` and ``probabilities`` (ONNX Runtime for Node cannot read ZipMap's map).
    * **PyTorch** ``nn.Module``: ``state_dict.pt``; ONNX by ``torch.onnx.export`` (the
      TorchScript exporter, ``dynamo=False``) with the batch axis dynamic.

    Then ``model.onnx`` is run with ONNX Runtime on ``sample`` and compared with the
    framework's own predictions (``TOLERANCE``; for a classifier ``predict_proba`` against
    ``probabilities`` and ``predict`` against ``label`` exactly). A difference raises
    ModelMismatch naming both values, and no model.onnx is left; an export that fails raises
    ExportError. Files are written under temporary names and renamed, model.onnx last, so
    ckpt/ never holds a half-written file. Returns ``SavedModel(dir, files)``.
    """
    kind = _framework(model)
    out = ckpt_dir()
    os.makedirs(out, exist_ok=True)
    # Scratch space (the Keras SavedModel, the unchecked ONNX file) in the workspace, which a
    # job can always write, and apart from ckpt/ so it never ends up in a model.
    scratch = tempfile.mkdtemp(prefix=TMP_PREFIX + "export-", dir=workspace_dir())
    try:
        onnx_tmp = os.path.join(scratch, MODEL_ONNX)
        own, checks = {"keras": _keras, "sklearn": _sklearn, "torch": _torch}[kind](model, sample, out, scratch, onnx_tmp)
        _check(onnx_tmp, checks, kind)
        final = os.path.join(out, MODEL_ONNX)
        tmp_in_ckpt = os.path.join(out, TMP_PREFIX + MODEL_ONNX)
        shutil.copyfile(onnx_tmp, tmp_in_ckpt)  # scratch may be another filesystem: copy, then rename
        os.replace(tmp_in_ckpt, final)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return SavedModel(out, [own, MODEL_ONNX])


def _write_then_rename(out: str, name: str, write) -> str:
    tmp = os.path.join(out, TMP_PREFIX + name)
    try:
        write(tmp)
        os.replace(tmp, os.path.join(out, name))
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return name


# --- Keras -----------------------------------------------------------------------------------

def _keras(model, sample, out, scratch, onnx_tmp):
    import numpy as np

    x = np.asarray(sample)
    # predict() first: it builds a model never called (export needs one), and gives the
    # framework's answer to compare with.
    expected = model.predict(x, verbose=0)
    own = _write_then_rename(out, "model.keras", lambda p: model.save(p))
    saved = os.path.join(scratch, "saved_model")
    model.export(saved, format="tf_saved_model", verbose=False)
    # tf2onnx's command line on the SavedModel, which exports it correctly; in a child
    # process, so its graph rewriting cannot disturb the script's TensorFlow session.
    cmd = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", saved, "--output", onnx_tmp, "--opset", str(ONNX_OPSET)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0 or not os.path.exists(onnx_tmp):
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise ExportError(f"tf2onnx could not convert the Keras model (exit {proc.returncode}):\n{tail}")
    outputs = expected if isinstance(expected, (list, tuple)) else [expected]
    if isinstance(expected, dict):
        outputs = list(expected.values())
    return own, {"x": x, "outputs": [(None, np.asarray(o), False) for o in outputs]}


# --- scikit-learn ----------------------------------------------------------------------------

def _sklearn(model, sample, out, scratch, onnx_tmp):
    import joblib
    import numpy as np
    from sklearn.base import is_classifier
    from skl2onnx import to_onnx

    x = np.asarray(sample)
    # A float32 input, what ONNX models are fed (and what the model servers send); the
    # framework predicts on the same float32 values so only the export is compared.
    if x.dtype.kind in "biuf":
        x = x.astype(np.float32)
    own = _write_then_rename(out, "model.joblib", lambda p: joblib.dump(model, p))
    classifier = is_classifier(model)
    options = {id(model): {"zipmap": False}} if classifier else None
    try:
        onx = to_onnx(model, x[:1], options=options, target_opset=ONNX_OPSET)
    except Exception as err:
        raise ExportError(f"skl2onnx could not convert {type(model).__name__}: {err}") from err
    with open(onnx_tmp, "wb") as f:
        f.write(onx.SerializeToString())
    xf = x.astype(np.float64) if x.dtype == np.float32 else x
    if classifier:
        # Probabilities first: a difference there says more than a flipped label.
        outputs = [("probabilities", np.asarray(model.predict_proba(xf)), False)] if hasattr(model, "predict_proba") else []
        outputs.append(("label", np.asarray(model.predict(xf)), True))
    else:
        predict = model.predict if hasattr(model, "predict") else model.transform
        outputs = [(None, np.asarray(predict(xf)), False)]
    return own, {"x": x, "outputs": outputs}


# --- PyTorch ---

def _torch(model, sample, out, scratch, onnx_tmp):
    import numpy as np
    import torch

    if isinstance(sample, torch.Tensor):
        x = sample.detach()
    else:
        a = np.asarray(sample)
        # float64 rows (numpy's default) would not match float32 weights; integer rows (token
        # ids for an embedding) stay integers.
        x = torch.as_tensor(a.astype(np.float32) if a.dtype.kind == "f" else a)
    # The sample goes where the model is (a model trained on a GPU stays there).
    param = next(iter(model.parameters()), None)
    if param is not None:
        x = x.to(param.device)
    own = _write_then_rename(out, "state_dict.pt", lambda p: torch.save(model.state_dict(), p))
    was_training = model.training
    model.eval()  # dropout and batch norm as served
    try:
        with torch.no_grad():
            expected = model(x)
        many = isinstance(expected, (list, tuple))
        outs = list(expected) if many else [expected]
        names = [f"output_{i}" for i in range(len(outs))] if many else ["output"]
        dynamic = {"input": {0: "batch"}, **{n: {0: "batch"} for n in names}}
        try:
            torch.onnx.export(
                model, (x,), onnx_tmp, dynamo=False, input_names=["input"], output_names=names,
                dynamic_axes=dynamic, opset_version=ONNX_OPSET,
            )
        except Exception as err:
            raise ExportError(f"torch.onnx.export could not export {type(model).__name__}: {err}") from err
    finally:
        model.train(was_training)
    return own, {"x": x.cpu().numpy(), "outputs": [(n, o.detach().cpu().numpy(), False) for n, o in zip(names, outs)]}


# --- the check -------------------------------------------------------------------------------

_ONNX_TYPES = {
    "tensor(float)": "float32", "tensor(double)": "float64", "tensor(int64)": "int64",
    "tensor(int32)": "int32", "tensor(float16)": "float16", "tensor(bool)": "bool", "tensor(string)": "object",
}


def _check(path: str, checks: dict, framework: str) -> None:
    import numpy as np
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as err:
        raise ExportError(f"ONNX Runtime cannot load the exported model: {err}") from err
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ExportError(f"save_model handles models with one input; the ONNX model has {len(inputs)}: {[i.name for i in inputs]}")
    x = np.asarray(checks["x"])
    dtype = _ONNX_TYPES.get(inputs[0].type)
    if dtype:
        x = x.astype(dtype)
    names = [o.name for o in session.get_outputs()]
    try:
        got = dict(zip(names, session.run(None, {inputs[0].name: x})))
    except Exception as err:
        raise ExportError(f"ONNX Runtime cannot run the exported model on the sample: {err}") from err
    for i, (name, expected, exact) in enumerate(checks["outputs"]):
        onnx_name = name if name in got else names[i] if i < len(names) else None
        if onnx_name is None:
            raise ExportError(f"the ONNX model has no output {name or i} (it has {names})")
        _compare(onnx_name, np.asarray(got[onnx_name]), expected, exact, framework)


def _plain(v):
    # numpy 2 scalars print as np.int64(2); the message is for people.
    return v.item() if hasattr(v, "item") else v


def _compare(name: str, onnx_value, expected, exact: bool, framework: str) -> None:
    import numpy as np

    if onnx_value.size != expected.size:
        raise ModelMismatch(f"ONNX output {name} has shape {onnx_value.shape}, {framework} gives {expected.shape}")
    # Same values in another shape ((N,) against (N, 1)) are the same predictions.
    a = onnx_value.reshape(expected.shape)
    if exact or a.dtype.kind not in "fc" or expected.dtype.kind not in "fc":
        equal = a == expected
        if not np.all(equal):
            at = tuple(int(i) for i in np.argwhere(~equal)[0])
            raise ModelMismatch(f"ONNX output {name}{list(at)} is {_plain(a[at])!r} but {framework} gives {_plain(expected[at])!r} (row {at[0] if at else 0} of the sample)")
        return
    b = expected.astype(np.float64)
    diff = np.abs(a.astype(np.float64) - b)
    allowed = TOLERANCE * np.maximum(1.0, np.abs(b))
    bad = ~(diff <= allowed)  # NaN on one side only is a mismatch too
    bad &= ~(np.isnan(a) & np.isnan(b))
    if np.any(bad):
        at = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.where(bad, diff, -1))), b.shape))
        raise ModelMismatch(
            f"ONNX output {name}{list(at)} is {float(a[at])!r} but {framework} gives {float(b[at])!r} "
            f"(difference {float(diff[at]):.3g}, tolerance {TOLERANCE:g})"
        )
