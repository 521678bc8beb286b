"""The parts of report.html particular to a GAN run: its curves, its scores and findings, its samples.

Read from the run's files (metrics.jsonl, eval.json, samples.png or samples.csv) without torch. Also the
console table of eval.json's scores (``print_results``: the end of ``deepfit train`` and ``deepfit evaluate``).
"""

from __future__ import annotations

import base64
import html
import math
from typing import Any

from deepfit.evaluation.report_page import card, kv_table
from deepfit.run_summary import RunSummary

Section = tuple[str, str, str]  # (anchor id, title, inner HTML), as report.py
SAMPLE_ROWS = 12
ALPHA = 0.05  # one-sided significance level of the two-sample test
TWO_SAMPLE = "a classifier telling real from generated"  # how the two-sample finding starts


# ---------------------------------------------------------------- the two-sample test, in numbers and words
# Here and not in gan_eval.py (torch) so that the report judges any eval.json, old ones included, the same way.
def two_sample_significance(accuracy: float, n: int) -> dict[str, float]:
    """Is a held-out accuracy of telling real from generated above chance? A one-sided exact binomial test.

    Under "the classifier cannot tell them apart" each of the ``n`` held-out samples (half real, half
    generated) is classified right with probability 0.5. Returns the standard error of an accuracy near
    0.5 (0.5 / sqrt(n)), ``z`` (standard errors above 0.5) and ``p_value``: the chance of scoring at
    least ``accuracy`` by guessing.

    >>> test = two_sample_significance(0.6, 100)
    >>> round(test["standard_error"], 3), round(test["z"], 1), round(test["p_value"], 4)
    (0.05, 2.0, 0.0284)
    """
    if not (n > 0 and math.isfinite(accuracy)):
        return {"standard_error": math.nan, "z": math.nan, "p_value": math.nan}
    se = 0.5 / math.sqrt(n)
    k = round(accuracy * n)  # samples classified right
    log_total = math.lgamma(n + 1) - n * math.log(2)
    tail = math.fsum(math.exp(log_total - math.lgamma(i + 1) - math.lgamma(n - i + 1)) for i in range(k, n + 1))
    return {"standard_error": se, "z": (accuracy - 0.5) / se, "p_value": min(1.0, tail)}


def two_sample_line(test: dict[str, Any]) -> str:
    """The two-sample finding: the accuracy, what it was measured on, its significance, and the verdict.

    The verdict rests on the test, not on the accuracy alone: 0.60 on thousands of samples is a real
    difference, 0.60 on 20 samples is not evidence of one.
    """
    acc, n = float(test["accuracy"]), int(test["n"])
    found = two_sample_significance(acc, n)
    se, z, p = found["standard_error"], found["z"], found["p_value"]
    side = "above" if z >= 0 else "below"
    figures = (
        f"scores {acc:.3f} on {n:,} held-out samples (0.5 is ideal; standard error {se:.3f}, "
        f"{abs(z):.1f} standard errors {side} 0.5, one-sided {format_p(p)})"
    )
    if not p < ALPHA:
        verdict = f"no evidence that it can tell them apart (ideal): not significantly above 0.5 at the {ALPHA:g} level"
        verdict += f" (only {n} samples: a weak test)" if n < 100 else ""
    elif acc < 0.65:
        verdict = "it can tell them apart, if only a little better than chance (a small but real difference)"
    elif acc < 0.9:
        verdict = "it tells them apart often"
    else:
        verdict = "it tells them apart almost always"
    return f"{TWO_SAMPLE} {figures}: {verdict}"


def _p_value(test: dict[str, Any]) -> float:
    """The stored p-value, or one computed from the accuracy and n (eval.json of an older deepfit)."""
    p = test.get("p_value")
    return float(p) if p is not None else two_sample_significance(test["accuracy"], test["n"])["p_value"]


def format_p(p: float) -> str:
    """``p < 0.001`` or ``p = 0.034``."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def score_rows(report: dict[str, Any]) -> list[tuple[str, float, str]]:
    """(score, value, ideal) for the headline scores of a GAN's eval.json split (the CLI table, the report)."""
    test = report["two_sample"]
    rows = [
        ("two-sample accuracy", test["accuracy"], "0.5"),
        (f"two-sample p-value (above 0.5? n={test['n']:,})", _p_value(test), f"≥ {ALPHA:g}"),
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
    test = report["two_sample"]
    p = _p_value(test)
    significance = {"two-sample accuracy": f" · {format_p(p)}, n={test['n']:,}" if math.isfinite(p) else ""}
    rows = [row for row in score_rows(report) if "p-value" not in row[0]][:3]
    return [
        card(label, f"{value:.3f}", f"{split} · ideal {ideal}{significance.get(label, '')}")
        for label, value, ideal in rows
    ]


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
    # the two-sample line is written again from the numbers, so a run saved by an older deepfit reads the same
    lines = [
        two_sample_line(report["two_sample"]) if line.startswith(TWO_SAMPLE) else line
        for line in report.get("findings", [])
    ]
    parts += [f"<div class='finding'><p>{e(line)}</p></div>" for line in lines]
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


# ---------------------------------------------------------------- the console
def print_results(console: Any, report: dict[str, Any], split: str) -> None:
    """The headline scores of eval.json as a table, then the findings (also ``deepfit evaluate RUN``)."""
    from rich.table import Table

    table = Table(title=f"GAN evaluation ({split} split)", title_justify="left")
    table.caption = f"{report['n_real']} real and {report['n_generated']} generated samples"
    table.add_column("score")
    table.add_column("value", justify="right")
    table.add_column("ideal", justify="right")
    for label, value, ideal in score_rows(report):
        table.add_row(label, f"{value:.3f}", ideal)
    console.print(table)
    for line in report["findings"]:
        console.print(f"  • {line}")
