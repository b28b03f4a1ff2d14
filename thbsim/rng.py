"""Random streams: one SeedSequence per run, one named child stream per component.

A component draws only from its own stream, so a lever that changes what one
component does leaves every other component's draws aligned (common random
numbers), and nothing before the lever's start changes at all. Streams are
derived from the root seed and the component's name, not from the order in
which components ask for them.
"""

from __future__ import annotations

import hashlib

import numpy as np

STREAMS = ("pools", "recruitment", "groups", "demand", "victim_rows", "justice", "finance", "retrafficking",
           "registration", "levers")


def _name_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


class Streams:
    """Named, independent ``numpy.random.Generator`` streams for one run."""

    def __init__(self, seed: int | np.random.SeedSequence) -> None:
        self.root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self._generators: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        gen = self._generators.get(name)
        if gen is None:
            if name not in STREAMS:
                raise KeyError(f"unknown random stream {name!r}; streams are {', '.join(STREAMS)}")
            child = np.random.SeedSequence(self.root.entropy, spawn_key=(*self.root.spawn_key, _name_key(name)))
            gen = self._generators[name] = np.random.Generator(np.random.PCG64(child))
        return gen


def replicate_seeds(root_seed: int, n: int) -> list[int]:
    """Seeds for replicates 0..n-1, spawned from one root seed by replicate id."""
    ss = np.random.SeedSequence(root_seed)
    return [int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in ss.spawn(n)]
