"""Scaling: training throughput with more processes, and (from bench/scale_data.py) data larger than memory.

    python bench/scale.py --part processes [--epochs 4] [--rows 20000]
    python bench/scale.py --part all

processes: samples per second of the same model, data and global batch trained by deepfit's loop in 1 and 2
processes on the CPU (gloo; the cores split between them), and on GPUs where there are any (NCCL, one process
per GPU), printed as a table with the ratio to one process. The first epoch is a warm-up and is not counted.
streaming: rows per second of one epoch, streamed against in memory, and the share of it spent waiting on the
prefetch thread; memory: peak memory of both paths at 1x, 4x and 16x the rows (both from bench/scale_data.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "src"))
sys.path.insert(0, str(HERE))  # bench/scale_data.py


# ---------------------------------------------------------------- processes
def worker(rows: int, epochs: int, batch: int, device: str, out: str) -> None:
    """One rank (or the only process): train an MLP on synthetic rows; rank 0 writes samples per second."""
    import torch
    from torch import nn

    from deepfit.data.batches import TensorData
    from deepfit.training.distributed import close, current
    from deepfit.training.trainer import Trainer

    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, 64, generator=g)
    y = (x[:, :10].argmax(1) + (x[:, 10] > 0).long()) % 10
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    times: list[float] = []

    class Clock:
        def on_epoch_begin(self, state: object) -> None:
            times.append(time.perf_counter())

        def on_fit_end(self, state: object) -> None:
            times.append(time.perf_counter())

    config = {
        "epochs": epochs,
        "batch_size": batch,
        "lr": 1e-3,
        "device": device,
        "schedule": {"name": "constant"},
        "early_stopping": {"enabled": False},
    }
    Trainer(config, callbacks=[Clock()]).fit(model, TensorData((x,), y), task="classification")
    group = current()
    if group is None or group.main:
        seconds = times[-1] - times[1]  # epochs 2.. (the first warms up)
        Path(out).write_text(json.dumps({"samples_per_s": rows * (epochs - 1) / seconds}))
    close()


def run_processes(n: int, device: str, args: argparse.Namespace, threads: int | None = None) -> float:
    """Start ``n`` processes (torchrun's environment) running :func:`worker`; rank 0's samples per second."""
    from deepfit.launch import free_port

    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"deepfit-scale-{os.getpid()}-{n}-{device}.json"
    code = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import scale; "
        f"scale.worker({args.rows}, {args.epochs}, {args.batch}, {device!r}, {str(out)!r})"
    )
    cores = os.cpu_count() or 1
    env = {**os.environ, "OMP_NUM_THREADS": str(threads or max(1, cores // n))}
    if n > 1:
        env.update(WORLD_SIZE=str(n), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env={**env, "RANK": str(r), "LOCAL_RANK": str(r)})
        for r in range(n)
    ]
    if any(p.wait(timeout=1800) for p in procs):
        raise SystemExit(f"a benchmark process failed ({n} processes on {device})")
    result = json.loads(out.read_text())["samples_per_s"]
    out.unlink()
    return float(result)


def part_processes(args: argparse.Namespace) -> None:
    import torch

    cores = os.cpu_count() or 1
    # (device, processes, threads each): the CPU's cores split between the processes; one process on one
    # thread too, which tells processes from threads apart on a busy machine
    settings = [("cpu", 1, cores), ("cpu", 2, max(1, cores // 2)), ("cpu", 1, 1)]
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    settings += [("cuda", 1, cores)] if gpus else []
    settings += [("cuda", min(gpus, 8), max(1, cores // min(gpus, 8)))] if gpus > 1 else []
    print(f"processes: {args.rows} rows x 64 features, MLP 64-512-512-10, global batch {args.batch}, ", end="")
    print(f"{args.epochs - 1} timed epochs, {os.cpu_count()} CPU cores")
    print(f"best of {args.repeats} runs each, alternating (a shared machine's load varies)")
    rates: dict[tuple[str, int, int], float] = {}
    for _ in range(args.repeats):
        for setting in settings:
            rates[setting] = max(rates.get(setting, 0.0), run_processes(setting[1], setting[0], args, setting[2]))
    print(f"| {'device':6} | {'processes':>9} | {'threads each':>12} | {'samples/s':>10} | {'ratio':>5} |")
    print(f"|{'-' * 8}|{'-' * 10}:|{'-' * 13}:|{'-' * 11}:|{'-' * 6}:|")
    for device, n, threads in settings:
        ratio = rates[device, n, threads] / rates[settings[0] if device == "cpu" else (device, 1, cores)]
        each = threads if device == "cpu" else "-"
        print(f"| {device:6} | {n:>9} | {each:>12} | {rates[device, n, threads]:>10,.0f} | {ratio:>5.2f} |")


# ---------------------------------------------------------------- data larger than memory (bench/scale_data.py)
def _data_args(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(rows=args.rows, columns=args.columns, epochs=args.data_epochs)


def part_streaming(args: argparse.Namespace) -> None:
    from scale_data import streaming_table

    print(streaming_table(_data_args(args)), flush=True)


def part_memory(args: argparse.Namespace) -> None:
    from scale_data import memory_table

    print(memory_table(_data_args(args)), flush=True)


PARTS = {"processes": part_processes, "streaming": part_streaming, "memory": part_memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--rows", type=int, default=20000, help="rows (processes: training; streaming, memory: at 1x)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs, the first not timed (processes)")
    parser.add_argument("--batch", type=int, default=256, help="global batch (processes)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each setting, the best kept (processes)")
    parser.add_argument("--columns", type=int, default=20, help="numeric columns (streaming, memory)")
    parser.add_argument("--data-epochs", type=int, default=2, help="epochs, the last timed (streaming)")
    args = parser.parse_args()
    for name, part in PARTS.items():
        if args.part in (name, "all"):
            part(args)


if __name__ == "__main__":
    main()
