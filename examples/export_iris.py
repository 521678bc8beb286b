"""Train iris, export it to ONNX, and predict with the exported folder alone (numpy + onnxruntime).

    python examples/export_iris.py [WORK_DIR]

The export checks itself against PyTorch on the test rows (parity.json); the last step predicts two raw
rows with deepfit.runtime, which imports neither torch nor pandas.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import deepfit
from deepfit.api import export


def main(work: Path) -> None:
    config = Path(__file__).with_name("iris.yaml")
    result = deepfit.train(config, run_dir=work / "run", overwrite=True, verbose=False)
    exported = export(result.run_dir, work / "export", overwrite=True)
    print(f"exported to {exported.path}; largest difference from PyTorch: {exported.parity['max_abs_diff']:.2g}")

    from deepfit import runtime

    rt = runtime.load(exported.path)
    rows = [
        {"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "petal length (cm)": 1.4, "petal width (cm)": 0.2},
        {"sepal length (cm)": 6.7, "sepal width (cm)": None, "petal length (cm)": 5.6, "petal width (cm)": 2.2},
    ]
    print(json.dumps(rt.predict(rows), indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs/export_iris"))
