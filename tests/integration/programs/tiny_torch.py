"""A small PyTorch program written the way a user of the documented product writes one.

Reads DATA_DIR-free synthetic data, SCRATCH_DIR, MAX_EPOCHS, MIN_PEERS; BATCHES_PER_EPOCH and SYNC_FREQUENCY tune
the run's length. CLASSES picks the problem and the model: 2 (default) a linear problem and one hidden layer of HIDDEN
units (HIDDEN changes the model's shape, to test a peer with mismatched weights); 3 three clusters and two hidden
layers, another model for a second training at the same time. TRAINING_CONTRACT names the training contract (the
product's ``trainingContract``).
"""

import hashlib
import json
import os

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from swarmlearning.pyt import SwarmCallback

scratch = os.getenv("SCRATCH_DIR", "/platform/scratch")
max_epochs = int(os.getenv("MAX_EPOCHS", "2"))
min_peers = int(os.getenv("MIN_PEERS", "2"))
hidden = int(os.getenv("HIDDEN", "16"))
if os.path.basename(os.path.normpath(scratch)) == os.getenv("BAD_SITE"):
    hidden *= 2  # this site trains a different architecture: its peers must exclude it
batches = int(os.getenv("BATCHES_PER_EPOCH", "8"))
sync_frequency = int(os.getenv("SYNC_FREQUENCY", "4"))
seed = int(os.getenv("SEED", str(abs(hash(scratch)) % 1000)))
classes = int(os.getenv("CLASSES", "2"))
contract = os.getenv("TRAINING_CONTRACT", "defaultbb.cqdb.sml.hpe")

torch.manual_seed(seed)
if classes == 2:
    true_w = torch.arange(1, 9, dtype=torch.float32) / 8
    x = torch.randn(batches * 16, 8)
    y = (x @ true_w > 0).long()
    model = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 2))
    lr = 0.1
else:
    centres = torch.tensor([[1.0] * 6 + [0.0] * 6, [0.0] * 6 + [1.0] * 6, [-1.0] * 12])
    y = torch.randint(0, 3, (batches * 16,))
    x = centres[y] + 0.5 * torch.randn(batches * 16, 12)
    model = nn.Sequential(nn.Linear(12, 24), nn.Tanh(), nn.Linear(24, 12), nn.Tanh(), nn.Linear(12, 3))
    lr = 0.05
train = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
val = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=32)
opt = torch.optim.SGD(model.parameters(), lr=lr)
loss_fn = nn.CrossEntropyLoss()

cb = SwarmCallback(
    syncFrequency=sync_frequency,
    minPeers=min_peers,
    trainingContract=contract,
    useAdaptiveSync=False,
    adsValData=val,
    adsValBatchSize=32,
    model=model,
    totalEpochs=max_epochs,
    lossFunction="CrossEntropyLoss",
    lossFunctionArgs={"reduction": "sum"},
    metricFunction="Accuracy",
    metricFunctionArgs={"task": "multiclass", "num_classes": classes},
    mergeMethod=os.getenv("MERGE_METHOD", "mean"),
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
digest = hashlib.sha256(b"".join(t.detach().numpy().tobytes() for t in model.state_dict().values())).hexdigest()
os.makedirs(scratch, exist_ok=True)
with open(os.path.join(scratch, "result.json"), "w") as f:
    json.dump({"test_accuracy": acc, "weights_sha256": digest, "training_contract": contract}, f)
print(f"final accuracy {acc:.3f} in training {contract}")
