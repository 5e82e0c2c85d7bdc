"""Swarm-enabled Keras classifier for scikit-learn's 8x8 handwritten digits.

A plain ``model.fit`` with the SwarmCallback added to its callbacks, exactly as a user of Swarm Learning writes it.
Environment (all optional):

    DATA_DIR        folder holding train.npz and test.npz (x: float32 (n, 64), y: int64)   default: data
    SCRATCH_DIR     where result.json and the trained model are written                    default: scratch
    MODEL_DIR       the shared model folder (only reported here)                           default: model
    MAX_EPOCHS      local training epochs                                                  default: 30
    MIN_PEERS       peers needed for a sync round                                          default: 2
    SYNC_FREQUENCY  batches between two sync rounds                                        default: 16
    BATCH_SIZE      training batch size                                                    default: 32
    LEARNING_RATE   Adam learning rate                                                     default: 0.01
    SWARM_LOOPBACK  True = train alone, without any Swarm Learning node (read by the callback)

The defaults are the ones chosen for the PyTorch twin ``digits_pyt.py`` with ``simulate_fedavg.py`` (see there);
the same swarm/local/central comparison was repeated with this Keras model before adopting them.
"""

import json
import logging
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the log

import numpy as np
import tensorflow as tf

from swarmlearning.tf import SwarmCallback

SEED = 42
NUM_CLASSES = 10

log = logging.getLogger("digits_keras")


def load_split(path):
    with np.load(path) as data:
        return np.asarray(data["x"], dtype=np.float32), np.asarray(data["y"], dtype=np.int64)


def build_model(learningRate):
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(64,)),
            tf.keras.layers.Dense(64, activation="relu"),
            tf.keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=learningRate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s : %(name)s : %(levelname)s : %(message)s")
    dataDir = os.getenv("DATA_DIR", "data")
    scratchDir = os.getenv("SCRATCH_DIR", "scratch")
    modelDir = os.getenv("MODEL_DIR", "model")
    maxEpochs = int(os.getenv("MAX_EPOCHS", "30"))
    minPeers = int(os.getenv("MIN_PEERS", "2"))
    syncFrequency = int(os.getenv("SYNC_FREQUENCY", "16"))
    batchSize = int(os.getenv("BATCH_SIZE", "32"))
    learningRate = float(os.getenv("LEARNING_RATE", "0.01"))
    os.makedirs(scratchDir, exist_ok=True)
    log.info("data %s, scratch %s, model dir %s", dataDir, scratchDir, modelDir)

    # Deterministic and single-threaded: a 64-64-10 network gains nothing from threads.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()

    xTrain, yTrain = load_split(os.path.join(dataDir, "train.npz"))
    xTest, yTest = load_split(os.path.join(dataDir, "test.npz"))
    model = build_model(learningRate)

    swarmCallback = SwarmCallback(
        syncFrequency=syncFrequency,
        minPeers=minPeers,
        useAdaptiveSync=False,
        adsValData=(xTest, yTest),
        adsValBatchSize=batchSize,
        totalEpochs=maxEpochs,
    )

    started = time.time()
    model.fit(
        xTrain,
        yTrain,
        batch_size=batchSize,
        epochs=maxEpochs,
        shuffle=True,
        validation_data=(xTest, yTest),
        verbose=2,
        callbacks=[swarmCallback],
    )

    testLoss, testAccuracy = model.evaluate(xTest, yTest, batch_size=batchSize, verbose=0)
    print(f"Final model: test loss {testLoss:.4f}, test accuracy {testAccuracy:.4f}", flush=True)
    model.save(os.path.join(scratchDir, "digits_keras.keras"))
    result = {
        "test_accuracy": float(testAccuracy),
        "test_loss": float(testLoss),
        "framework": "keras",
        "epochs": maxEpochs,
        "n_train": len(yTrain),
        "batch_size": batchSize,
        "sync_frequency": syncFrequency,
        "learning_rate": learningRate,
        "loopback": os.getenv("SWARM_LOOPBACK", "False").lower() == "true",
        "train_seconds": round(time.time() - started, 2),
    }
    with open(os.path.join(scratchDir, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    log.info("wrote %s", os.path.join(scratchDir, "result.json"))


if __name__ == "__main__":
    main()
