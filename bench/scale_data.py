"""Streamed data against in-memory data: throughput, time waiting on the prefetch thread, peak memory.

    python bench/scale_data.py [--rows 20000] [--columns 20] [--epochs 2]

Parts (2) and (3) of bench/scale.py (which imports ``streaming_table`` and ``memory_table``):

(2) ``streaming_table``: one table of ``--rows`` rows, read by both paths; the rows per second of a training
    epoch (a fixed MLP, forward + backward + Adam, batch 256, the second epoch timed), the share of that
    epoch the loop spent waiting for a batch (the streamed path's prefetch thread: ``StreamData.wait_seconds``),
    and the seconds to prepare the data (read, split, fit).
(3) ``memory_table``: a full ``deepfit train`` (prepare, one epoch, evaluation) of 1x, 4x and 16x ``--rows``,
    each in its own process; peak resident memory over the process's after a small warm-up run
    (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` reported by the child), and the ratios. The streamed
    path keeps samples of 5,000 rows (``data.stream.sample_rows``, ``eval_rows``; 50,000 by default), so
    that they are full at 1x.

Every measurement runs in a fresh subprocess; the data is generated here (seeded), as Parquet.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"
SIZES = (1, 4, 16)


def make_table(path: Path, rows: int, columns: int, seed: int = 0) -> Path:
    """A classification table of ``columns`` numbers and one 8-level category, written 50,000 rows at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    for first in range(0, rows, 50_000):
        n = min(50_000, rows - first)
        x = rng.normal(size=(n, columns))
        city = rng.integers(0, 8, size=n)
        y = (x[:, 0] - x[:, 1] + 0.5 * (city % 2) + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
        table = pa.table({**{f"x{j}": x[:, j] for j in range(columns)}, "city": [f"c{c}" for c in city], "y": y})
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=16_384)
    if writer is not None:
        writer.close()
    return path


def config(path: Path, streaming: bool, cache: Path) -> dict[str, Any]:
    # samples of 5,000 rows: the held splits and the fitting sample reach their size at 1x already, so what
    # grows beyond is what grows with the file
    stream = {"cache_dir": str(cache), "sample_rows": 5000, "eval_rows": 5000}
    return {
        "data": {"source": str(path), "target": "y", "streaming": streaming, "stream": stream},
        "model": {"name": "mlp", "hidden": [128, 64]},
        "train": {"epochs": 1, "batch_size": 256, "lr": 0.002, "diagnostics": {"enabled": False}},
        "eval": {"baselines": False},
        "output": {"report": False},
    }


# ---------------------------------------------------------------- the measurements (run in a subprocess)
def _throughput(path: Path, streaming: bool, epochs: int, cache: Path) -> dict[str, Any]:
    import torch
    from torch import nn

    from deepfit.config import load_config
    from deepfit.data.pipeline import prepare

    began = time.perf_counter()
    prepared = prepare(load_config(config(path, streaming, cache)))
    prepare_s = time.perf_counter() - began
    train = prepared.tensors["train"]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(prepared.spec.n_features, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                          nn.Linear(64, 2))  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    seconds = waits = 0.0
    for _ in range(epochs):  # the last epoch is timed; the first warms up
        wait_before = getattr(train, "wait_seconds", 0.0)
        began = time.perf_counter()
        for inputs, target in train.batches(256, shuffle=True, generator=generator):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(inputs[0]), target).backward()
            optimizer.step()
        seconds = time.perf_counter() - began
        waits = getattr(train, "wait_seconds", 0.0) - wait_before
    return {"rows": len(train), "epoch_s": seconds, "wait_s": waits, "prepare_s": prepare_s}


def _memory(path: Path, streaming: bool, warm: Path, cache: Path, out: Path) -> dict[str, Any]:
    import resource

    import deepfit

    deepfit.train(
        config(warm, streaming, cache), run_dir=out / "warm", quiet=True, overwrite=True
    )  # every module loaded
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    deepfit.train(config(path, streaming, cache), run_dir=out / "run", quiet=True, overwrite=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"base_mb": base / 1024, "peak_mb": peak / 1024, "extra_mb": (peak - base) / 1024}


def _child(kind: str, *args: str) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter, so that one path's memory never counts for the other."""
    command = [sys.executable, __file__, "--child", kind, *args]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} {args} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the tables
def streaming_table(args: argparse.Namespace) -> str:
    """(2) Training throughput of the streamed path against the in-memory path on the same data."""
    with tempfile.TemporaryDirectory() as tmp:
        path = make_table(Path(tmp) / "data.parquet", args.rows, args.columns)
        results = {
            name: _child("throughput", str(path), str(flag), str(args.epochs), str(Path(tmp) / "cache"))
            for name, flag in (("in memory", 0), ("streamed", 1))
        }
    lines = [
        f"(2) one training epoch, {args.rows:,} rows x {args.columns + 1} columns (MLP 128-64, batch 256)",
        f"{'path':<10} {'rows/s':>10} {'epoch s':>8} {'waiting':>8} {'prepare s':>10}",
    ]
    for name, r in results.items():
        share = r["wait_s"] / r["epoch_s"] if r["epoch_s"] else 0.0
        rate = r["rows"] / r["epoch_s"]
        lines.append(f"{name:<10} {rate:>10,.0f} {r['epoch_s']:>8.2f} {share:>8.1%} {r['prepare_s']:>10.2f}")
    ratio = results["in memory"]["epoch_s"] / results["streamed"]["epoch_s"]
    lines.append(f"streamed throughput / in-memory throughput: {ratio:.2f}")
    return "\n".join(lines)


def memory_table(args: argparse.Namespace) -> str:
    """(3) Peak memory of both paths at 1x, 4x and 16x the rows, and the ratios."""
    rows: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        warm = make_table(Path(tmp) / "warm.parquet", 2000, args.columns, seed=1)
        for size in SIZES:
            path = make_table(Path(tmp) / f"x{size}.parquet", args.rows * size, args.columns)
            rows[size] = {
                name: _child("memory", str(path), str(flag), str(warm), str(Path(tmp) / "cache"), tmp)
                for name, flag in (("in memory", 0), ("streamed", 1))
            }
            path.unlink()
    lines = [
        f"(3) peak memory over a warmed-up process (MiB), a full run of {args.rows:,} x size rows",
        f"{'size':<6} {'in memory':>10} {'streamed':>10} {'streamed/in memory':>19}",
    ]
    for size, r in rows.items():
        mem, streamed = r["in memory"]["extra_mb"], r["streamed"]["extra_mb"]
        lines.append(f"{size:>4}x {mem:>10.0f} {streamed:>10.0f} {streamed / max(mem, 1e-9):>19.2f}")
    first, last = rows[SIZES[0]], rows[SIZES[-1]]
    for name in ("in memory", "streamed"):
        growth = last[name]["extra_mb"] / max(first[name]["extra_mb"], 1e-9)
        lines.append(f"{name}: {SIZES[-1]}x the data takes {growth:.1f}x the memory of 1x")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=20_000, help="rows at 1x (default 20,000)")
    p.add_argument("--columns", type=int, default=20, help="numeric columns (default 20)")
    p.add_argument("--epochs", type=int, default=2, help="epochs of the throughput run; the last is timed")
    p.add_argument("--only", choices=["streaming", "memory"], help="run one part")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    return p


def main() -> None:
    args = parser().parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "throughput":
            result = _throughput(Path(rest[0]), rest[1] == "1", int(rest[2]), Path(rest[3]))
        else:
            result = _memory(Path(rest[0]), rest[1] == "1", Path(rest[2]), Path(rest[3]), Path(rest[4]) / rest[1])
        print(json.dumps(result))
        return
    if args.only in (None, "streaming"):
        print(streaming_table(args), flush=True)
    if args.only in (None, "memory"):
        print(memory_table(args), flush=True)


if __name__ == "__main__":
    main()
