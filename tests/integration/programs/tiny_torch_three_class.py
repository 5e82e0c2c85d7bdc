"""A second small PyTorch program, with another model than ``tiny_torch.py``: two hidden layers, 12 inputs, 3 classes.

Trains in the training contract named by TRAINING_CONTRACT (the product's ``trainingContract``; default the
product's default contract), so two swarms can train at the same time on one network. Reads SCRATCH_DIR,
MAX_EPOCHS, MIN_PEERS, BATCHES_PER_EPOCH and SYNC_FREQUENCY like ``tiny_torch.py``.
"""

import json
import os

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from swarmlearning.pyt import SwarmCallback

scratch = os.getenv("SCRATCH_DIR", "/platform/scratch")
max_epochs = int(os.getenv("MAX_EPOCHS", "2"))
min_peers = int(os.getenv("MIN_PEERS", "2"))
batches = int(os.getenv("BATCHES_PER_EPOCH", "8"))
sync_frequency = int(os.getenv("SYNC_FREQUENCY", "4"))
contract = os.getenv("TRAINING_CONTRACT", "defaultbb.cqdb.sml.hpe")

torch.manual_seed(abs(hash(scratch)) % 1000)
centres = torch.tensor([[1.0] * 6 + [0.0] * 6, [0.0] * 6 + [1.0] * 6, [-1.0] * 12])
y = torch.randint(0, 3, (batches * 16,))
x = centres[y] + 0.5 * torch.randn(batches * 16, 12)
train = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
val = DataLoader(TensorDataset(x[:48], y[:48]), batch_size=24)

model = nn.Sequential(nn.Linear(12, 24), nn.Tanh(), nn.Linear(24, 12), nn.Tanh(), nn.Linear(12, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
loss_fn = nn.CrossEntropyLoss()

cb = SwarmCallback(
    syncFrequency=sync_frequency,
    minPeers=min_peers,
    trainingContract=contract,
    useAdaptiveSync=False,
    adsValData=val,
    adsValBatchSize=24,
    model=model,
    totalEpochs=max_epochs,
    lossFunction="CrossEntropyLoss",
    lossFunctionArgs={"reduction": "sum"},
    metricFunction="Accuracy",
    metricFunctionArgs={"task": "multiclass", "num_classes": 3},
)
cb.on_train_begin()
for epoch in range(max_epochs):
    for xb, yb in train:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
        cb.on_batch_end()
    cb.on_epoch_end(epoch)
cb.on_train_end()

with torch.no_grad():
    acc = float((model(x).argmax(1) == y).float().mean())
os.makedirs(scratch, exist_ok=True)
with open(os.path.join(scratch, "result.json"), "w") as f:
    json.dump({"test_accuracy": acc, "training_contract": contract}, f)
print(f"final accuracy {acc:.3f} in training {contract}")
