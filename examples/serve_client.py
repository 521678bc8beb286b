"""A client of `deepfit serve`: what the model expects, then predictions for rows of a CSV file.

    deepfit train examples/iris.yaml --run-dir runs/iris          # once
    deepfit serve runs/iris                                       # in another terminal
    python examples/serve_client.py flowers.csv [--url http://127.0.0.1:8000]

Without a CSV it sends two iris flowers as JSON records. Needs only httpx (the serve extra installs it).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

import httpx

FLOWERS = [
    {"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "petal length (cm)": 1.4, "petal width (cm)": 0.2},
    {"sepal length (cm)": 6.7, "sepal width (cm)": 3.0, "petal length (cm)": 5.2, "petal width (cm)": 2.3},
]


def predict_records(url: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST /predict with JSON records; a 422 names the fields that are missing or of the wrong type."""
    answer = httpx.post(f"{url}/predict", json={"records": records}, timeout=30)
    if answer.status_code == 422:
        raise SystemExit(f"refused: {answer.json()['detail']}")
    answer.raise_for_status()
    return answer.json()["predictions"]


def predict_csv(url: str, path: Path) -> list[dict[str, Any]]:
    """POST /predict with the CSV file as the body: the server reads it as `deepfit predict` reads the file."""
    answer = httpx.post(f"{url}/predict", content=path.read_bytes(), headers={"content-type": "text/csv"}, timeout=30)
    answer.raise_for_status()
    return answer.json()["predictions"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", nargs="?", type=Path, help="rows to predict (default: two iris flowers)")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="where deepfit serve listens")
    args = parser.parse_args()

    metadata = httpx.get(f"{args.url}/metadata", timeout=10).json()
    fields = [field["name"] for field in metadata["input"]["fields"]]
    print(f"{metadata['name']}: {metadata['task']} of '{metadata['target']}' from {', '.join(fields)}", file=sys.stderr)
    predictions = predict_csv(args.url, args.csv) if args.csv else predict_records(args.url, FLOWERS)
    writer = csv.DictWriter(sys.stdout, fieldnames=list(predictions[0]))
    writer.writeheader()
    writer.writerows(predictions)


if __name__ == "__main__":
    main()
