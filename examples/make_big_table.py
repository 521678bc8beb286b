"""Write a synthetic table of any size, a block of rows at a time (the file can exceed memory).

    python examples/make_big_table.py                          # examples/data/big.csv, 200,000 rows (~40 MB)
    python examples/make_big_table.py --rows 20000000 --out huge.csv   # ~4 GB

Columns: eight numbers (two with missing cells), a city (12 levels, two of them rare), a yes/no column and
the target ``churn`` (yes / no), which depends on three numbers, the city and the yes/no column through a
logistic model, so about 15 % of the labels cannot be predicted from the features.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

CITIES = ["Lyon", "Oslo", "Pune", "Lima", "Kobe", "Graz", "Perth", "Quito", "Accra", "Turin", "Nome", "Ushuaia"]
WEIGHTS = np.array([14, 13, 12, 11, 10, 10, 9, 8, 7, 5.9, 0.05, 0.05])


def block(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    x = rng.normal(size=(rows, 8))
    city = rng.choice(len(CITIES), p=WEIGHTS / WEIGHTS.sum(), size=rows)
    member = rng.random(rows) < 0.4
    logit = 1.6 * x[:, 0] - 1.1 * x[:, 1] + 0.8 * x[:, 2] * x[:, 3] + 0.9 * (city % 3 == 0) - 1.2 * member
    churn = rng.random(rows) < 1 / (1 + np.exp(-2.5 * logit))
    frame = pd.DataFrame(x.round(4), columns=[f"x{i}" for i in range(8)])
    frame["city"] = np.array(CITIES)[city]
    frame["member"] = np.where(member, "yes", "no")
    frame["churn"] = np.where(churn, "yes", "no")
    frame.loc[rng.random(rows) < 0.03, "x1"] = np.nan
    frame.loc[rng.random(rows) < 0.01, "x5"] = np.nan
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "big.csv")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    with args.out.open("w", newline="") as handle:
        for first in range(0, args.rows, 100_000):
            block(min(100_000, args.rows - first), rng).to_csv(handle, index=False, header=first == 0)
    print(f"wrote {args.rows:,} rows to {args.out}")


if __name__ == "__main__":
    main()
