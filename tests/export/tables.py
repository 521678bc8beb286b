"""A table with every column kind the runtime re-implements: numbers (with missing and text cells), yes/no,
categories one-hot and embedded (with missing and unseen levels), dates with times, and free text."""

from __future__ import annotations

import numpy as np
import pandas as pd

WORDS = ["good", "bad", "fast", "slow", "cheap", "dear", "red", "blue", "big", "small", "old", "new"]


def mixed_table(n: int = 160, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.exponential(size=n)
    city = rng.choice([f"city{i}" for i in range(20)], size=n)  # 20 levels: embedded (max_onehot 16)
    color = rng.choice(["red", "green", "blue"], size=n)
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400 * 24, size=n), unit="h")
    notes = [" ".join(rng.choice(WORDS, size=rng.integers(3, 8))) + f" item{i}" for i in range(n)]
    score = x1 + 0.5 * x2 + (color == "red") - (city == "city3")
    frame = pd.DataFrame(
        {
            "x1": x1.round(4),
            "x2": x2.round(4),
            "count": rng.integers(0, 5, size=n),
            "color": color,
            "city": city,
            "member": rng.choice(["yes", "no"], size=n),
            "signup_date": when.strftime("%Y-%m-%d %H:%M"),
            "last_visit": (when + pd.Timedelta(days=13)).strftime("%d/%m/%Y"),  # day first: a strptime format
            "notes": notes,
            "label": np.where(score > 0.7, "high", "low"),
        }
    )
    frame["x2"] = frame["x2"].astype(object)
    holes = {"x1": [3, 10, 50, 90], "color": [7, 44], "city": [8], "signup_date": [11], "notes": [12], "member": [13]}
    for column, rows in holes.items():
        frame.loc[[r % n for r in rows], column] = np.nan
    frame.loc[20 % n, "x2"] = "n/a?"
    return frame
