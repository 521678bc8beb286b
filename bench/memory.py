"""Peak memory of `deepfit train` on a large CSV, as a multiple of the file's size (issue 11).

    python bench/memory.py                          # 2,000,000 rows (≈ 325 MB), 1 epoch
    python bench/memory.py --rows 500000 --epochs 2
    python bench/memory.py --rows 200000 --folder /tmp/deepfit_memory --keep
    python bench/memory.py --rows 200000 --set eval.baselines=false

The table is generated once per row count into ``--folder`` (default /tmp/deepfit_memory, outside the
repository): 16 numeric columns (random numbers written with 5 decimals), 3 categorical string columns
(cardinalities 5, 50 and 1000) and a 3-class label that depends on both, ~162 bytes a row, as in the issue
(2,000,000 x 20 = 325 MB). `deepfit train` then runs on it in a subprocess (`python -m deepfit train`, an MLP of
2 x 64, batch 4096, the run's defaults otherwise: baselines, report) and the subprocess's peak resident memory is
read after it ends (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``, the largest of the children waited for: the
only child here). Printed: rows, file size, peak RSS, peak / file, seconds; ``--json`` writes them to a file.
A bare ``import deepfit, torch`` process is measured too, so the part the data takes is shown beside the total.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NUMERIC, CARDINALITIES = 16, (5, 50, 1000)
SRC = Path(__file__).resolve().parents[1] / "src"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_table(path: Path, rows: int, seed: int = 0, chunk: int = 250_000) -> None:
    """``rows`` x 20 columns written in chunks (so that making the file takes little memory), atomically."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    weights = rng.normal(size=NUMERIC)
    effects = [rng.normal(size=n) for n in CARDINALITIES]
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            x = rng.normal(size=(n, NUMERIC))
            codes = [rng.integers(0, c, size=n) for c in CARDINALITIES]
            score = x @ weights / 4 + sum(e[c] for e, c in zip(effects, codes, strict=True)) + rng.normal(size=n) / 2
            label = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
            frame = pd.DataFrame(x, columns=[f"num{i}" for i in range(NUMERIC)])
            for i, c in enumerate(codes):
                frame[f"cat{i}"] = np.char.add(f"c{i}_", c.astype(str))
            frame["label"] = np.asarray(["low", "mid", "high"])[label]
            frame.to_csv(handle, index=False, header=start == 0, float_format="%.5f")
    tmp.replace(path)


def table(folder: Path, rows: int) -> Path:
    path = folder / f"table_{rows}.csv"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        write_table(path, rows)
        log(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB, {time.perf_counter() - started:.0f} s)")
    return path


def config_text(source: Path, epochs: int) -> str:
    return f"""data:
  source: {source}
  target: label
model:
  name: mlp
  hidden: [64, 64]
train:
  epochs: {epochs}
  batch_size: 4096
  lr: 0.003
"""


def child_peak(command: list[str], env: dict[str, str]) -> tuple[int, float, int]:
    """Runs ``command`` and returns (peak RSS of the child in bytes, seconds, exit code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:  # an earlier child was larger: ru_maxrss is the maximum over children
        log("warning: an earlier child process used more memory; this figure is a lower bound")
    if done.returncode:
        log(done.stderr[-4000:])
    return peak * 1024, seconds, done.returncode  # ru_maxrss is in KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "deepfit_memory")
    parser.add_argument("--set", action="append", default=[], help="extra --set KEY=VALUE for deepfit train")
    parser.add_argument("--json", type=Path, help="write the figures to this file too")
    args = parser.parse_args()

    path = table(args.folder, args.rows)
    size = path.stat().st_size
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    # the bare process first (ru_maxrss of children is a maximum: the smaller child must run first)
    bare, _, _ = child_peak([sys.executable, "-c", "import deepfit, torch"], env)
    with tempfile.TemporaryDirectory() as work:
        config = Path(work) / "memory.yaml"
        config.write_text(config_text(path, args.epochs), encoding="utf-8")
        overrides = [f"--set={item}" for item in args.set]
        command = [sys.executable, "-m", "deepfit", "train", str(config), "--run-dir", f"{work}/run", *overrides]
        peak, seconds, code = child_peak(command, env)
    figures = {
        "rows": args.rows,
        "file_mb": round(size / 1e6, 1),
        "peak_rss_mb": round(peak / 1e6, 1),
        "bare_rss_mb": round(bare / 1e6, 1),
        "peak_over_file": round(peak / size, 2),
        "data_over_file": round((peak - bare) / size, 2),
        "seconds": round(seconds, 1),
        "exit_code": code,
    }
    print(
        f"{args.rows:,} rows, {figures['file_mb']} MB CSV: peak RSS {figures['peak_rss_mb']} MB = "
        f"{figures['peak_over_file']}x the file ({figures['data_over_file']}x above a bare import deepfit, torch "
        f"of {figures['bare_rss_mb']} MB); {seconds:.0f} s"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
