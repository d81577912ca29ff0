"""Checks mlp.save_model for real, in a runtime's environment (test/runtime/save-model.test.ts
runs it in both):

    PYTHONPATH=templates/runtime-py python test/runtime/check_save_model.py tf     # Keras, scikit-learn
    PYTHONPATH=templates/runtime-py python test/runtime/check_save_model.py torch  # PyTorch

MLP_WORKSPACE is set to a fresh temporary folder (removed at the end) unless it is set
already. For each model: save_model must succeed, ckpt/ must hold model.onnx and the
framework's file, ONNX Runtime must load model.onnx on its own and agree with the framework
on held-out rows; and a model changed behind the export's back must be caught (ModelMismatch).
Prints one line per check; exits 1 when any failed.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import traceback

RUNTIME = sys.argv[1] if len(sys.argv) > 1 else "tf"
if RUNTIME not in ("tf", "torch"):
    sys.exit(f"usage: check_save_model.py tf|torch (got {RUNTIME})")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter hides the results

own_workspace = "MLP_WORKSPACE" not in os.environ
if own_workspace:
    os.environ["MLP_WORKSPACE"] = tempfile.mkdtemp(prefix="mlp-check-save-model-")
for k in ("MLP_API", "MLP_TOKEN"):  # never publish to a real platform from a check
    os.environ.pop(k, None)

import numpy as np  # noqa: E402

import mlp  # noqa: E402
from mlp import _export  # noqa: E402

WS = os.environ["MLP_WORKSPACE"]
CKPT = os.path.join(WS, "ckpt")
failures = 0


def iris_like(n: int, seed: int):
    """4 features, 3 classes, separable enough to learn (like iris), as float64."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
    x = centers[y] + rng.normal(0, 0.35, (n, 4))
    return x, y


def fresh_ckpt():
    shutil.rmtree(CKPT, ignore_errors=True)


def onnx_agrees(framework_predict, x, output: str):
    """Loads ckpt/model.onnx afresh and returns max |ONNX − framework| on x."""
    import onnxruntime as ort

    s = ort.InferenceSession(os.path.join(CKPT, "model.onnx"), providers=["CPUExecutionProvider"])
    inp = s.get_inputs()[0]
    names = [o.name for o in s.get_outputs()]
    got = dict(zip(names, s.run(None, {inp.name: x.astype(np.float32)})))
    value = got[output] if output in got else got[names[0]]
    want = np.asarray(framework_predict(x))
    return float(np.max(np.abs(value.reshape(want.shape).astype(np.float64) - want))), inp, names


def check(name: str, fn) -> None:
    global failures
    t0 = time.monotonic()
    try:
        detail = fn()
        print(f"ok   {name} ({time.monotonic() - t0:.1f} s): {detail}", flush=True)
    except Exception:
        failures += 1
        print(f"FAIL {name} ({time.monotonic() - t0:.1f} s):", flush=True)
        traceback.print_exc()


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def files() -> list:
    return sorted(os.listdir(CKPT))


def keras_case():
    import keras

    x, y = iris_like(300, 1)
    xt, _ = iris_like(40, 2)
    keras.utils.set_random_seed(0)
    norm = keras.layers.Normalization(mean=x.mean(0), variance=x.var(0))  # the layer model.export(format="onnx") gets wrong
    model = keras.Sequential([keras.Input((4,)), norm, keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=10, batch_size=32, verbose=0, callbacks=[mlp.keras_callback()])
    acc = float(np.mean(model.predict(xt, verbose=0).argmax(1) == iris_like(40, 2)[1]))
    fresh_ckpt()
    saved = mlp.save_model(model, x[:5])
    expect(files() == ["model.keras", "model.onnx"], f"ckpt holds {files()}")
    expect(saved.files == ["model.keras", "model.onnx"], f"save_model returned {saved}")
    diff, inp, outs = onnx_agrees(lambda v: model.predict(v, verbose=0), xt, "output_0")
    expect(diff <= 1e-4, f"ONNX and Keras differ by {diff} on held-out rows")
    reloaded = keras.models.load_model(os.path.join(CKPT, "model.keras"))
    expect(np.allclose(reloaded.predict(xt, verbose=0), model.predict(xt, verbose=0), atol=1e-6), "model.keras does not reload to the same model")
    return f"accuracy {acc:.2f}; ONNX input {inp.name} {inp.shape}, outputs {outs}; max diff on 40 held-out rows {diff:.2g}; model.keras reloads"


def sklearn_case(make, name):
    def run():
        import joblib

        x, y = iris_like(300, 3)
        xt, yt = iris_like(40, 4)
        clf = make().fit(x, y)
        fresh_ckpt()
        mlp.save_model(clf, x[:5])
        expect(files() == ["model.joblib", "model.onnx"], f"ckpt holds {files()}")
        # Held-out rows, cast to float32 as the model servers send them.
        x32 = xt.astype(np.float32).astype(np.float64)
        diff, inp, outs = onnx_agrees(clf.predict_proba, x32, "probabilities")
        expect(outs == ["label", "probabilities"], f"outputs {outs} (zipmap must be off)")
        expect(diff <= 1e-4, f"ONNX and {name} probabilities differ by {diff}")
        import onnxruntime as ort

        s = ort.InferenceSession(os.path.join(CKPT, "model.onnx"), providers=["CPUExecutionProvider"])
        labels = s.run(["label"], {inp.name: xt.astype(np.float32)})[0]
        expect(np.array_equal(labels, clf.predict(x32)), f"ONNX labels differ from {name}.predict")
        expect(np.array_equal(joblib.load(os.path.join(CKPT, "model.joblib")).predict(x32), clf.predict(x32)), "model.joblib does not reload")
        return f"accuracy {np.mean(clf.predict(xt) == yt):.2f}; ONNX input {inp.name} {inp.type}; outputs {outs}; max proba diff on 40 held-out rows {diff:.2g}; labels equal"
    return run


def sklearn_regressor_case():
    import joblib
    from sklearn.ensemble import GradientBoostingRegressor

    x, y = iris_like(300, 6)
    target = x @ np.array([0.5, -1.0, 2.0, 0.25]) + y
    reg = GradientBoostingRegressor(n_estimators=40, random_state=0).fit(x, target)
    fresh_ckpt()
    saved = mlp.save_model(reg, x[:5])
    expect(files() == ["model.joblib", "model.onnx"], f"ckpt holds {files()}")
    xt = iris_like(40, 7)[0].astype(np.float32).astype(np.float64)
    import onnxruntime as ort

    s = ort.InferenceSession(os.path.join(CKPT, "model.onnx"), providers=["CPUExecutionProvider"])
    got = s.run(None, {s.get_inputs()[0].name: xt.astype(np.float32)})[0].reshape(-1)
    diff = float(np.max(np.abs(got - reg.predict(xt))))
    expect(diff <= 1e-4 * max(1.0, float(np.max(np.abs(got)))), f"ONNX and the regressor differ by {diff}")
    expect(np.allclose(joblib.load(os.path.join(CKPT, "model.joblib")).predict(xt), reg.predict(xt)), "model.joblib does not reload")
    return f"one output {[o.name for o in s.get_outputs()]}; max diff on 40 held-out rows {diff:.2g}; files {saved.files}"


def torch_case():
    import torch
    from torch import nn

    class Scaled(nn.Module):
        """Standardises its input with buffers (not parameters), as a trained pipeline does."""

        def __init__(self, mean, std):
            super().__init__()
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
            self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))

        def forward(self, x):
            return torch.softmax(self.net((x - self.mean) / self.std), dim=1)

    x, y = iris_like(300, 8)
    torch.manual_seed(0)
    model = Scaled(x.mean(0), x.std(0))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    tx, ty = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    for epoch in range(1, 31):
        opt.zero_grad()
        loss = nn.functional.nll_loss(torch.log(model(tx) + 1e-9), ty)
        loss.backward()
        opt.step()
    model.train()  # save_model must serve it as evaluated (dropout off) and leave it as it was
    fresh_ckpt()
    saved = mlp.save_model(model, x[:5])
    expect(model.training, "save_model changed the module's training mode")
    expect(files() == ["model.onnx", "state_dict.pt"], f"ckpt holds {files()}")
    expect(sorted(saved.files) == ["model.onnx", "state_dict.pt"], f"save_model returned {saved}")
    xt = iris_like(40, 9)[0]
    model.eval()
    with torch.no_grad():
        want = model(torch.tensor(xt, dtype=torch.float32)).numpy()
    diff, inp, outs = onnx_agrees(lambda v: want, xt, "output")
    expect(diff <= 1e-4, f"ONNX and PyTorch differ by {diff} on 40 held-out rows (batch 40, exported with 5)")
    state = torch.load(os.path.join(CKPT, "state_dict.pt"))
    expect(sorted(k for k in state if not k.startswith("net.")) == ["mean", "std"], f"the buffers are in state_dict.pt: {sorted(state)}")
    return f"ONNX input {inp.name} {inp.shape}, outputs {outs}; max diff {diff:.2g}; buffers kept; dropout off when exported"


def torch_mismatch_case():
    """An export that differs from the module (here: a module whose output changes between calls) is refused."""
    import torch
    from torch import nn

    class Drifting(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 3)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            return self.lin(x) + (0.0 if self.calls == 1 else 1.0)

    fresh_ckpt()
    x, _ = iris_like(10, 10)
    try:
        mlp.save_model(Drifting(), x[:5])
    except mlp.ModelMismatch as err:
        expect("model.onnx" not in files(), f"a mismatching model.onnx was kept: {files()}")
        return f"ModelMismatch: {str(err)[:160]}"
    raise AssertionError("a module whose export differs was accepted")


def mismatch_case():
    """A converter that exports something else than the model must be caught."""
    from sklearn.linear_model import LogisticRegression

    x, y = iris_like(200, 5)
    clf = LogisticRegression(max_iter=500).fit(x, y)
    other = LogisticRegression(max_iter=500).fit(x, (y + 1) % 3)
    real = _export._sklearn

    def swapped(model, sample, out, scratch, onnx_tmp):
        own, checks = real(other, sample, out, scratch, onnx_tmp)  # ONNX of another model...
        return own, real(model, sample, out, scratch, os.path.join(scratch, "unused.onnx"))[1]  # ...checked against this one

    fresh_ckpt()
    _export._sklearn = swapped
    try:
        mlp.save_model(clf, x[:5])
    except mlp.ModelMismatch as err:
        expect("model.onnx" not in files(), f"a mismatching model.onnx was kept: {files()}")
        return f"ModelMismatch: {err}"
    finally:
        _export._sklearn = real
    raise AssertionError("a model whose ONNX export differs was accepted")


def refusals_case():
    errors = []
    for bad in (object(), [1, 2, 3]):
        try:
            mlp.save_model(bad, [[1.0]])
        except TypeError as err:
            errors.append(str(err))
    expect(len(errors) == 2, f"non-models were accepted: {errors}")
    return errors[0]


try:
    if RUNTIME == "tf":
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression

        check("keras Sequential (Normalization, Dense) -> model.keras + model.onnx", keras_case)
        check("sklearn LogisticRegression -> model.joblib + model.onnx", sklearn_case(lambda: LogisticRegression(max_iter=500), "LogisticRegression"))
        check("sklearn RandomForestClassifier -> model.joblib + model.onnx", sklearn_case(lambda: RandomForestClassifier(n_estimators=30, random_state=0), "RandomForestClassifier"))
        check("sklearn GradientBoostingRegressor -> model.joblib + model.onnx", sklearn_regressor_case)
        check("a mismatching export raises ModelMismatch and keeps no model.onnx", mismatch_case)
    else:
        check("torch Module with buffers and dropout -> state_dict.pt + model.onnx, batch axis dynamic", torch_case)
        check("a torch export that differs raises ModelMismatch and keeps no model.onnx", torch_mismatch_case)
    check("a non-model raises TypeError", refusals_case)
    leftovers = [f for f in os.listdir(WS) if f.startswith(".mlp-tmp-")]
    check("no scratch left in the workspace", lambda: (expect(not leftovers, f"left: {leftovers}"), "none")[1])
finally:
    if own_workspace:
        shutil.rmtree(WS, ignore_errors=True)

print(f"{'all checks passed' if failures == 0 else f'{failures} check(s) failed'}", flush=True)
sys.exit(1 if failures else 0)
