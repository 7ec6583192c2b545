"""Training on a dataset larger than what is held in memory: partial_fit over chunks read from disk.

The script first writes a classification dataset to a .npy file, chunk by chunk (it never holds the
whole array), then trains ``models.MLPClassifier(optimizer="adam")`` with a plain loop over chunks
read back through a memory map: at any moment one chunk of rows is in memory, however large the
file. Each ``partial_fit`` call makes one pass over its chunk in minibatches of ``batch_size`` rows,
continuing the same Adam state from the previous call.

    python examples/streaming_partial_fit.py            # 400000 rows x 20 (64 MB on disk)
"""

import os
import sys
import tempfile
import time

import numpy as np
from numpy.lib.format import open_memmap

from skautodiff import models

FEATURES, CLASSES = 20, 3
TEACHER = np.random.default_rng(0).standard_normal((FEATURES, CLASSES))


def write_dataset(path, rows, chunk_rows, seed=1):
    """rows x (FEATURES + 1) float64 on disk (the last column is the label), written a chunk at a time."""
    rng = np.random.default_rng(seed)
    table = open_memmap(path, mode="w+", dtype=np.float64, shape=(rows, FEATURES + 1))
    for start in range(0, rows, chunk_rows):
        X = rng.standard_normal((min(chunk_rows, rows - start), FEATURES))
        labels = np.argmax(np.tanh(X) @ TEACHER + 0.3 * rng.gumbel(size=(len(X), CLASSES)), axis=1)
        table[start : start + len(X)] = np.column_stack([X, labels])
    table.flush()
    del table  # closes the map


def chunks(path, chunk_rows):
    """(X, y) of each chunk, read through a memory map: one chunk in memory at a time."""
    table = np.load(path, mmap_mode="r")
    for start in range(0, table.shape[0], chunk_rows):
        block = np.array(table[start : start + chunk_rows])  # this chunk only, copied into memory
        yield block[:, :FEATURES], block[:, FEATURES].astype(int)


def main(rows=400_000, chunk_rows=20_000, passes=2, test_rows=20_000, verbose=True):
    with tempfile.TemporaryDirectory() as folder:
        train_path, test_path = os.path.join(folder, "train.npy"), os.path.join(folder, "test.npy")
        write_dataset(train_path, rows, chunk_rows, seed=1)
        write_dataset(test_path, test_rows, chunk_rows, seed=2)
        if verbose:
            print(
                f"wrote {rows} rows ({os.path.getsize(train_path) / 2**20:.0f} MB); training on chunks of "
                f"{chunk_rows} rows ({chunk_rows * (FEATURES + 1) * 8 / 2**20:.1f} MB in memory at a time)"
            )
        model = models.MLPClassifier(
            hidden_layer_sizes=(32,),
            optimizer="adam",
            learning_rate_init=3e-3,
            batch_size=256,
            random_state=0,
        )
        start = time.perf_counter()
        for epoch in range(passes):
            for X, y in chunks(train_path, chunk_rows):
                model.partial_fit(X, y, classes=np.arange(CLASSES))
            if verbose:
                print(
                    f"pass {epoch + 1}: last chunk's loss {model.loss_:.4f}, {model.t_} rows seen, "
                    f"{time.perf_counter() - start:.1f} s"
                )
        correct = sum(int(np.sum(model.predict(X) == y)) for X, y in chunks(test_path, chunk_rows))
        accuracy = correct / test_rows
    if verbose:
        print(f"held-out accuracy: {accuracy:.3f}")
    return model, accuracy


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))
