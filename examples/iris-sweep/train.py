"""One trial of the iris sweep: examples/iris-keras/train.py with its learning rate and hidden units
taken from the trial's parameters (mlp.params(), the point the sweep gave it as MLP_PARAMS).

Reads $MLP_DATASETS/iris/iris.csv; a Normalization layer adapted to the training rows, dense 4 →
`units` (relu) → 3 (softmax), Adam at `lr`. mlp.keras_callback() publishes accuracy and loss
after every epoch (the sweep's metric, and what its median rule compares); mlp.save_model writes
ckpt/model.onnx, so the best trial can be made into a model. Outside the platform:
`python train.py path/to/iris.csv '{"lr": 0.01, "units": 8}'`.
"""
import csv
import json
import sys

import numpy as np
import keras

import mlp

SPECIES = ["setosa", "versicolor", "virginica"]
params = json.loads(sys.argv[2]) if len(sys.argv) > 2 else mlp.params()
LR = float(params.get("lr", 0.02))
UNITS = int(params.get("units", 10))
EPOCHS = int(params.get("epochs", 20))


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
    keras.layers.Dense(UNITS, activation="relu"),
    keras.layers.Dense(len(SPECIES), activation="softmax", name="species"),
])
model.compile(optimizer=keras.optimizers.Adam(LR), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
print(f"lr {LR} units {UNITS} epochs {EPOCHS}")
mlp.heartbeat(0)
# keras_callback publishes the training accuracy and loss of each epoch: what the sweep ranks trials by.
model.fit(x[:cut], y[:cut], validation_data=(x[cut:], y[cut:]), epochs=EPOCHS, batch_size=16, verbose=0, callbacks=[mlp.keras_callback()])

accuracy = float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))
print(f"accuracy on all rows {accuracy:.3f}")
saved = mlp.save_model(model, x[:5])
print("saved", ", ".join(saved.files))
