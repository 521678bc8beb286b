"""Write a small table for the tabular GAN example: a ring of eight 2-D Gaussians, a classic test of mode collapse.

    python examples/make_gan_data.py                  # examples/data/gan_ring.csv, 3,000 rows
    python examples/make_gan_data.py --rows 10000 --out ring.csv

Columns: ``x`` and ``y`` (the point; eight clusters of standard deviation 0.25 on a circle of radius 3),
``cluster`` (its compass direction, n, ne, e, ...: categorical) and ``visits`` (a whole number whose typical
size depends on the cluster: 1 to 8 on average). A generator that collapses makes a few clusters only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

DIRECTIONS = ["e", "ne", "n", "nw", "w", "sw", "s", "se"]


def make_ring(rows: int = 3000, seed: int = 0, radius: float = 3.0, spread: float = 0.25) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    component = rng.integers(0, len(DIRECTIONS), size=rows)
    angle = component * (2 * np.pi / len(DIRECTIONS))
    return pd.DataFrame(
        {
            "x": (radius * np.cos(angle) + rng.normal(0, spread, rows)).round(4),
            "y": (radius * np.sin(angle) + rng.normal(0, spread, rows)).round(4),
            "cluster": np.asarray(DIRECTIONS)[component],
            "visits": rng.poisson(1 + component),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "gan_ring.csv")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    make_ring(args.rows, args.seed).to_csv(args.out, index=False)
    print(f"wrote {args.rows} rows to {args.out}")


if __name__ == "__main__":
    main()
