"""Seeded train / test splits shared by the data-set loaders."""

from __future__ import annotations

import numpy as np

from tic.errors import TicError


def seeded_split(n: int, n_train: int | None, n_test: int, seed: int) -> list[str | None]:
    """Split labels for ``n`` items: ``n_test`` "test", ``n_train`` "train", the rest ``None``.

    ``n_train=None`` puts every item not in the test part into "train". The choice depends only on
    ``(n, seed)`` and the sizes. ``None`` marks items left out (a subset of the paper's size).
    """
    if n_test < 0 or (n_train is not None and n_train < 0):
        raise TicError(f"split sizes must not be negative (train {n_train}, test {n_test})")
    want = n_test + (n - n_test if n_train is None else n_train)
    if want > n:
        raise TicError(f"cannot split {n} items into {n_train} train + {n_test} test")
    order = np.random.default_rng(seed).permutation(n)
    labels: list[str | None] = [None] * n
    for rank, i in enumerate(order):
        if rank < n_test:
            labels[i] = "test"
        elif rank < want:
            labels[i] = "train"
    return labels
