"""The parts of report.html particular to a GAN run: its curves, its scores and findings, its samples.

Read from the run's files (metrics.jsonl, eval.json, samples.png or samples.csv) without torch.
"""

from __future__ import annotations

import base64
import html
from typing import Any

from deepfit.evaluation.report_page import card, kv_table
from deepfit.runs_table import RunSummary

Section = tuple[str, str, str]  # (anchor id, title, inner HTML), as report.py
SAMPLE_ROWS = 12


def score_rows(report: dict[str, Any]) -> list[tuple[str, float, str]]:
    """(score, value, ideal) for the headline scores of a GAN's eval.json split (the CLI table, the report)."""
    rows = [
        ("two-sample accuracy", report["two_sample"]["accuracy"], "0.5"),
        ("diversity ratio", report["diversity_ratio"], "1.0"),
        ("coverage", report["coverage"], "~1.0"),
    ]
    rows += [(k.replace("_", " "), report[k], "0") for k in ("mean_wasserstein", "mean_ks", "mean_tvd") if k in report]
    if "class_coverage" in report:
        rows.append(("share of classes produced", report["class_coverage"]["share_of_classes"], "1.0"))
    return rows


def _scores(run: RunSummary) -> tuple[str, dict[str, Any]] | None:
    split = next((s for s in ("test", "validation") if run.evaluation.get(s)), None)
    return (split, run.evaluation[split]) if split else None


def cards(run: RunSummary) -> list[str]:
    found = _scores(run)
    if found is None:
        return []
    split, report = found
    return [card(label, f"{value:.3f}", f"{split} · ideal {ideal}") for label, value, ideal in score_rows(report)[:3]]


def sections(run: RunSummary) -> list[Section]:
    return [s for s in (_curves(run), _scores_section(run), _samples(run)) if s is not None]


def _curves(run: RunSummary) -> Section | None:
    if not run.history:
        return None
    from deepfit.evaluation.plots import gan_curves

    caption = (
        "The two losses pull against each other and need not fall. D(real) and D(generated) settling near each "
        "other is a balanced game; a diversity ratio falling towards 0 is mode collapse."
    )
    data = base64.b64encode(gan_curves(run.history)).decode("ascii")
    figure = f"<figure><img src='data:image/png;base64,{data}' alt='GAN curves'><figcaption>{caption}</figcaption>"
    return "gan-curves", "Training curves", figure + "</figure>"


def _scores_section(run: RunSummary) -> Section | None:
    found = _scores(run)
    if found is None:
        return None
    split, report = found
    e = html.escape
    rows = [(f"{label} (ideal {ideal})", f"{value:.3f}") for label, value, ideal in score_rows(report)]
    parts = [
        f"<p>{report.get('n_real', '?')} real ({split} split) and {report.get('n_generated', '?')} generated "
        "samples.</p>",
        kv_table(rows),
    ]
    parts += [f"<div class='finding'><p>{e(line)}</p></div>" for line in report.get("findings", [])]
    columns = report.get("columns") or {}
    if columns:
        head = "<tr><th>column</th><th>kind</th><th>Wasserstein</th><th>KS</th><th>TVD</th></tr>"
        body = "".join(
            f"<tr><td>{e(name)}</td><td>{e(info.get('kind', ''))}</td>"
            + "".join(f"<td class='num'>{_num(info.get(k))}</td>" for k in ("wasserstein", "ks", "tvd"))
            + "</tr>"
            for name, info in columns.items()
        )
        parts.append(f"<table class='grid'><thead>{head}</thead><tbody>{body}</tbody></table>")
    classes = (report.get("class_coverage") or {}).get("predicted") or {}
    if classes:
        parts.append(kv_table([(f"class {c}", f"{share:.1%} of samples") for c, share in classes.items()]))
    return "gan-scores", "Is the generated data like the real data?", "".join(parts)


def _samples(run: RunSummary) -> Section | None:
    png, csv = run.path / "samples.png", run.path / "samples.csv"
    if png.is_file():
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        style = "width:min(100%,420px);image-rendering:pixelated"  # small images, drawn large and sharp
        image = f"<img src='data:image/png;base64,{data}' alt='generated samples' style='{style}'>"
        return "samples", "Samples", f"<figure>{image}<figcaption>Generated images (samples.png).</figcaption></figure>"
    if csv.is_file():
        import pandas as pd

        frame = pd.read_csv(csv, nrows=SAMPLE_ROWS)
        table = frame.to_html(index=False, classes="grid", float_format=lambda v: f"{v:.3f}", border=0)
        return "samples", "Samples", f"<p>The first {len(frame)} rows of samples.csv.</p>{table}"
    return None


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "—"
