"""Trains an iris classifier with PyTorch under MLP's runtime torch and saves it as ONNX.

Reads $MLP_DATASETS/iris/iris.csv (header sepal_length,sepal_width,petal_length,petal_width,
species). The module keeps the training rows' mean and deviation as buffers and standardises
its input itself, so the saved model takes raw measurements in centimetres; it answers 3
probabilities per flower (setosa, versicolor, virginica). Accuracy and loss are published after
every epoch with mlp.log; mlp.save_model writes ckpt/model.onnx (and state_dict.pt beside it).
Outside the platform: `python train.py path/to/iris.csv` prints the metrics instead.
"""
import csv
import os
import sys

import numpy as np
import torch
from torch import nn

import mlp

SPECIES = ["setosa", "versicolor", "virginica"]
EPOCHS = int(os.environ.get("IRIS_EPOCHS", mlp.params().get("epochs", 60)))


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    x = np.array([[float(r[k]) for k in ("sepal_length", "sepal_width", "petal_length", "petal_width")] for r in rows], dtype=np.float32)
    y = np.array([SPECIES.index(r["species"].strip()) for r in rows], dtype=np.int64)
    return x, y


class Iris(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))
        self.net = nn.Sequential(nn.Linear(4, 10), nn.ReLU(), nn.Linear(10, len(SPECIES)))

    def logits(self, x):
        return self.net((x - self.mean) / self.std)

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


x, y = load(sys.argv[1] if len(sys.argv) > 1 else mlp.dataset_path("iris", "iris.csv"))
order = np.random.default_rng(42).permutation(len(x))
x, y = x[order], y[order]
cut = int(len(x) * 0.8)

torch.manual_seed(1)
model = Iris(x[:cut].mean(axis=0), x[:cut].std(axis=0))
optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
loss_of = nn.CrossEntropyLoss()
train_x, train_y = torch.from_numpy(x[:cut]), torch.from_numpy(y[:cut])
test_x, test_y = torch.from_numpy(x[cut:]), torch.from_numpy(y[cut:])
mlp.heartbeat(0)
for epoch in range(1, EPOCHS + 1):
    model.train()
    for i in range(0, len(train_x), 16):
        optimiser.zero_grad()
        loss = loss_of(model.logits(train_x[i:i + 16]), train_y[i:i + 16])
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        logits = model.logits(test_x)
        mlp.log(epoch, accuracy=float((logits.argmax(1) == test_y).float().mean()), loss=float(loss_of(logits, test_y)), epochs=EPOCHS)

with torch.no_grad():
    print(f"accuracy on all rows {float((model(torch.from_numpy(x)).argmax(1) == torch.from_numpy(y)).float().mean()):.3f}")
saved = mlp.save_model(model, x[:5])
print("saved", ", ".join(saved.files))
