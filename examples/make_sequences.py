"""Write a small synthetic sequence-classification set: noisy sine, square and sawtooth waves.

    python examples/make_sequences.py                  # examples/data/waves.npz, 1,500 sequences
    python examples/make_sequences.py --n 5000 --out big.npz

``X`` is (sequences, 100 steps, 2 features): the wave and a slowly drifting second channel that carries
no signal. Each wave has its own frequency, phase, amplitude and offset, Gaussian noise on top, and a
length of 40 to 100 steps: shorter ones are padded with zeros at the end, and ``lengths`` says where each
ends. ``y`` is the wave's shape. A few cells are NaN, as sensor data has gaps (carried forward on reading).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SHAPES = ("sine", "square", "sawtooth")
STEPS = 100


def wave(rng: np.random.Generator, shape: str, t: np.ndarray) -> np.ndarray:
    phase = 2 * np.pi * rng.uniform(0.03, 0.12) * t + rng.uniform(0, 2 * np.pi)
    if shape == "sine":
        base = np.sin(phase)
    elif shape == "square":
        base = np.sign(np.sin(phase))
    else:  # sawtooth: a ramp from -1 to 1 each period
        base = 2 * ((phase / (2 * np.pi)) % 1.0) - 1
    return rng.uniform(0.7, 2.0) * base + rng.normal(0, 0.5) + rng.normal(0, 0.4, len(t))


def make(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(STEPS)
    labels = rng.choice(SHAPES, size=n)
    lengths = rng.integers(40, STEPS + 1, size=n)
    x = np.zeros((n, STEPS, 2))
    for i, shape in enumerate(labels):
        x[i, :, 0] = wave(rng, shape, t)
        x[i, :, 1] = np.cumsum(rng.normal(0, 0.1, STEPS))  # a drifting channel with no signal
        x[i, lengths[i] :] = 0.0
    gaps = rng.random(x.shape) < 0.005
    x[gaps & (t[None, :, None] < lengths[:, None, None])] = np.nan
    return {"X": x.astype(np.float32), "y": labels.astype(str), "lengths": lengths}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1500, help="how many sequences (default 1500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "waves.npz")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **make(args.n, args.seed))
    print(f"wrote {args.n} sequences to {args.out}")


if __name__ == "__main__":
    main()
