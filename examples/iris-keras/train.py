"""Trains an iris classifier with Keras (TensorFlow) under MLP's runtime tf and saves it as ONNX.

Reads $MLP_DATASETS/iris/iris.csv (header sepal_length,sepal_width,petal_length,petal_width,
species). The network starts with a Normalization layer adapted to the training rows, so the
saved model takes raw measurements in centimetres; it answers 3 probabilities per flower
(setosa, versicolor, virginica). Accuracy and loss are published after every epoch by
mlp.keras_callback(); mlp.save_model writes ckpt/model.onnx (and model.keras beside it).
Outside the platform: `python train.py path/to/iris.csv` prints the metrics instead.
"""
import csv
import os
import sys

import numpy as np
import keras

import mlp

SPECIES = ["setosa", "versicolor", "virginica"]
EPOCHS = int(os.environ.get("IRIS_EPOCHS", mlp.params().get("epochs", 40)))


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    x = np.array([[float(r[k]) for k in ("sepal_length", "sepal_width", "petal_length", "petal_width")] for r in rows], dtype=np.float32)
    y = np.array([SPECIES.index(r["species"].strip()) for r in rows], dtype=np.int64)
    return x, y


x, y = load(sys.argv[1] if len(sys.argv) > 1 else mlp.dataset_path("iris", "iris.csv"))
order = np.random.default_rng(42).permutation(len(x))
x, y = x[order], y[order]
cut = int(len(x) * 0.8)

keras.utils.set_random_seed(1)
normalise = keras.layers.Normalization()
normalise.adapt(x[:cut])
model = keras.Sequential([
    keras.Input(shape=(4,), name="measurements"),
    normalise,
    keras.layers.Dense(10, activation="relu"),
    keras.layers.Dense(len(SPECIES), activation="softmax", name="species"),
])
model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
mlp.heartbeat(0)
model.fit(x[:cut], y[:cut], validation_data=(x[cut:], y[cut:]), epochs=EPOCHS, batch_size=16, verbose=0, callbacks=[mlp.keras_callback()])

accuracy = float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))
print(f"accuracy on all rows {accuracy:.3f}")
saved = mlp.save_model(model, x[:5])
print("saved", ", ".join(saved.files))
