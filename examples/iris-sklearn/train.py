"""Trains an iris classifier with scikit-learn under MLP's runtime tf and saves it as ONNX.

Reads $MLP_DATASETS/iris/iris.csv (header sepal_length,sepal_width,petal_length,petal_width,
species), standardises the 4 measurements, trains a small neural network (MLPClassifier) one
epoch at a time so accuracy and loss are published after each, and saves the pipeline
(standardisation + network) to ckpt/: model.onnx takes raw measurements in centimetres and
answers `label` (0 setosa, 1 versicolor, 2 virginica) and `probabilities` (3 per flower).
Outside the platform: `python train.py path/to/iris.csv` prints the metrics instead.
"""
import csv
import os
import sys

import numpy as np
from sklearn.metrics import log_loss
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import mlp

SPECIES = ["setosa", "versicolor", "virginica"]
EPOCHS = int(os.environ.get("IRIS_EPOCHS", mlp.params().get("epochs", 60)))


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    x = np.array([[float(r[k]) for k in ("sepal_length", "sepal_width", "petal_length", "petal_width")] for r in rows], dtype=np.float32)
    y = np.array([SPECIES.index(r["species"].strip()) for r in rows], dtype=np.int64)
    return x, y


x, y = load(sys.argv[1] if len(sys.argv) > 1 else mlp.dataset_path("iris", "iris.csv"))
# A fixed shuffle, then 80 % to train and 20 % held out, so runs are repeatable.
order = np.random.default_rng(42).permutation(len(x))
x, y = x[order], y[order]
cut = int(len(x) * 0.8)

scaler = StandardScaler().fit(x[:cut])
net = MLPClassifier(hidden_layer_sizes=(10,), learning_rate_init=0.02, random_state=1)
mlp.heartbeat(0)
for epoch in range(1, EPOCHS + 1):
    net.partial_fit(scaler.transform(x[:cut]), y[:cut], classes=[0, 1, 2])
    held_out = scaler.transform(x[cut:])
    mlp.log(epoch, accuracy=net.score(held_out, y[cut:]), loss=log_loss(y[cut:], net.predict_proba(held_out), labels=[0, 1, 2]), epochs=EPOCHS)

model = Pipeline([("standardise", scaler), ("network", net)])
print(f"held-out accuracy {model.score(x[cut:], y[cut:]):.3f}, all rows {model.score(x, y):.3f}")
saved = mlp.save_model(model, x[:5])
print("saved", ", ".join(saved.files))
