"""Load test of `deepfit serve` on 127.0.0.1: throughput and latency, with and without micro-batching.

    python bench/serve.py [--run RUN_DIR] [--requests 400] [--concurrency 1 8 32] [--rows 1] [--threads N]

Without --run it first trains a small run itself (builtin:digits, 64 numeric features, 10 classes, the default
architecture, a few epochs). For each server set-up it starts `deepfit serve` in a subprocess on a free port of
127.0.0.1, waits for /ready, and at each concurrency level opens that many connections with httpx's async
client, sends a warm-up round on them (not counted), then a fixed number of POST /predict requests (each of
--rows rows); it prints requests per second, p50 and p99 latency, and the mean rows per model call the server
reports (/stats). The set-ups: the run on PyTorch with micro-batching (the default: --max-batch 256
--max-wait-ms 2) and without (--no-batching); and, when `deepfit.runtime` is importable, the same run exported
to ONNX and served on onnxruntime, both ways. The client runs on the same machine and takes CPU from the
server: compare set-ups with each other, not with figures from another machine. Everything is bounded: a fixed
number of requests, a 30 s timeout each, and the server is stopped after its set-up.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's deepfit, as the server subprocesses get it
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}


def deepfit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deepfit", *args], env=ENV, text=True, capture_output=True, check=True)


def make_run(folder: Path) -> Path:
    config = folder / "digits.yaml"
    config.write_text(
        "data: {source: 'builtin:digits'}\ntrain: {epochs: 5}\neval: {baselines: false}\noutput: {report: false}\n"
    )
    deepfit("train", str(config), "--run-dir", str(folder / "run"), "--quiet")
    return folder / "run"


def sample_records(run: Path, n: int) -> list[dict[str, Any]]:
    """Raw rows of the run's own data source (digits): the features the run was trained on."""
    from deepfit.data.builtin import load_builtin

    frame = load_builtin("digits").drop(columns=["target"]).head(n)
    return json.loads(frame.to_json(orient="records"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`deepfit serve MODEL ARGS...` in a subprocess on 127.0.0.1, until the block ends."""

    def __init__(self, model: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "deepfit", "serve", str(model), "--port", str(self.port), *args]
        command += ["--log-level", "warning"]  # no line per request
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (the server's stderr, closed in __exit__)
        self.process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=self.log, text=True)

    def errors(self) -> str:
        self.log.seek(0)
        return self.log.read()[-2000:]

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server stopped:\n{self.errors()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise SystemExit("the server did not start within 120 s")

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is not None:
            print(f"the server had stopped (exit {self.process.returncode}):\n{self.errors()}", file=sys.stderr)
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


async def load(client: httpx.AsyncClient, bodies: list[dict[str, Any]], concurrency: int) -> list[float]:
    """Send every body once, ``concurrency`` at a time; the latency of each (seconds)."""
    latencies: list[float] = []
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            start = time.perf_counter()
            answer = await client.post("/predict", json=body)
            latencies.append(time.perf_counter() - start)
            if answer.status_code != 200:
                raise SystemExit(f"{answer.status_code}: {answer.text[:300]}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def timed(url: str, bodies: list[dict[str, Any]], concurrency: int) -> tuple[list[float], float, dict, dict]:
    """A warm-up round (``concurrency`` connections opened, threads started), then the timed round on them."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        await load(client, bodies[: max(20, concurrency)], concurrency)
        before = (await client.get("/stats")).json()
        start = time.perf_counter()
        latencies = await load(client, bodies, concurrency)
        seconds = time.perf_counter() - start
        after = (await client.get("/stats")).json()
    return latencies, seconds, before, after


def measure(server: Server, bodies: list[dict[str, Any]], concurrency: int) -> dict[str, float]:
    latencies, seconds, before, after = asyncio.run(timed(server.url, bodies, concurrency))
    ms = sorted(x * 1000 for x in latencies)
    batches = max(after["batches"] - before["batches"], 1)
    return {
        "req/s": len(latencies) / seconds,
        "p50 ms": statistics.median(ms),
        "p99 ms": ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))],
        "rows/call": (after["rows"] - before["rows"]) / batches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="a run directory to serve (default: train a small one)")
    parser.add_argument("--requests", type=int, default=400, help="requests per measurement (400)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--rows", type=int, default=1, help="rows per request (1)")
    parser.add_argument("--threads", type=int, help="the server's PyTorch threads (default: the server's default)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run = args.run or make_run(folder)
        records = sample_records(run, 200)
        bodies = [
            {"records": [records[(i * args.rows + j) % len(records)] for j in range(args.rows)]}
            for i in range(args.requests)
        ]
        setups: list[tuple[str, Path, list[str]]] = [
            ("pytorch, micro-batching", run, []),
            ("pytorch, no batching", run, ["--no-batching"]),
        ]
        if importlib.util.find_spec("deepfit.runtime") is None:
            print("deepfit.runtime is not importable: the onnxruntime set-ups are left out", file=sys.stderr)
        else:
            try:
                deepfit("export", str(run), "-o", str(folder / "export"))
                setups += [
                    ("onnxruntime, micro-batching", folder / "export", []),
                    ("onnxruntime, no batching", folder / "export", ["--no-batching"]),
                ]
            except subprocess.CalledProcessError as exc:
                print(f"deepfit export failed, onnxruntime left out: {exc.stderr.strip()[-300:]}", file=sys.stderr)

        print(f"{args.requests} requests of {args.rows} row(s) per measurement, on {os.cpu_count()} CPU cores")
        print("| server | concurrency | req/s | p50 ms | p99 ms | rows per model call |")
        print("|---|---|---|---|---|---|")
        for name, model, flags in setups:
            threads = ["--threads", str(args.threads)] if args.threads else []
            with Server(model, *flags, *threads) as server:
                for concurrency in args.concurrency:
                    r = measure(server, bodies, concurrency)
                    print(
                        f"| {name} | {concurrency} | {r['req/s']:.0f} | {r['p50 ms']:.1f} | {r['p99 ms']:.1f} | "
                        f"{r['rows/call']:.1f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
