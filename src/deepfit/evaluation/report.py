"""``report.html``: one self-contained page per run, made only from the files in the run directory.

The page opens offline and can be mailed around: figures are embedded PNGs (base64 data URIs), the CSS
is inline and there is no script. Every value that comes from the run is passed through ``html.escape``.
Optional inputs (test predictions, gradient norms, diagnostics) add their section only when present.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepfit.errors import RunError
from deepfit.evaluation.plots import metric_label
from deepfit.evaluation.predictions import read_predictions, regression_arrays
from deepfit.evaluation.report_page import SEVERITIES, card, kv_table, page, severity_badge
from deepfit.models.registry import describe
from deepfit.run_summary import RunSummary, read_optional, summarize_run
from deepfit.runs import CONFIG, write_text
from deepfit.transfer import TRANSFER

REPORT = "report.html"
# The names deepfit.training.diagnostics writes; repeated, not imported, since that module loads torch.
DIAGNOSTICS = "diagnostics.json"
GRAD_NORMS = "grad_norms.jsonl"
CARD_METRICS = {
    "classification": ("accuracy", "f1_macro", "roc_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2", "mape"),
}

Section = tuple[str, str, str]  # (anchor id, title, inner HTML)


def build_report(run_dir: str | Path) -> Path:
    """Write ``<run_dir>/report.html`` (atomically) from the run's files and return its path."""
    path = Path(run_dir)
    if not (path / CONFIG).is_file():
        raise RunError(
            f"{path} is not a deepfit run directory (no {CONFIG})", hint="pass a folder made by `deepfit train`"
        )
    run = summarize_run(path)
    builders: list[Callable[[RunSummary], Section | None]]
    if run.task == "generation":  # a GAN run: its curves, scores and samples (gan_report.py)
        from deepfit.evaluation import gan_report

        sections = gan_report.sections(run)
        builders = []
    else:
        sections = []
        builders = [_learning_section, _forecast_section, _baselines_section, _confusion_section, _regression_section]
        builders.append(_per_class_section)
    builders += [_data_section, _transfer_section, _gradient_section, _diagnostics_section, _config_section]
    sections += [s for s in (build(run) for build in builders) if s is not None]
    out = path / REPORT
    write_text(out, page(f"{run.name} · deepfit report", _header(run), sections))
    return out


def _header(run: RunSummary) -> str:
    e = html.escape
    model = run.config.get("model") or {}
    facts = [
        ("task", run.task),
        ("dataset", run.dataset),
        ("model", describe(model, (run.config.get("data") or {}).get("kind"))),
        ("finished", run.time.strftime("%Y-%m-%d %H:%M")),
        ("epochs", str(run.epochs)),
    ]
    if run.task != "generation":  # a GAN keeps its last epoch: no best one to name
        facts.append(("best epoch", "—" if run.best_epoch is None else f"{run.best_epoch} (by {run.monitor})"))
    chips = "".join(f'<span class="chip"><b>{e(k)}</b> {e(v)}</span>' for k, v in facts)
    cards = []
    if run.task == "generation":
        from deepfit.evaluation import gan_report

        cards = gan_report.cards(run)
    for name in CARD_METRICS.get(run.task, ()):
        test, val = run.metric("test", name), run.metric("validation", name)
        if test is None and val is None:
            continue
        big, split = (test, "test") if test is not None else (val, "validation")
        small = f"validation {_fmt(name, val)}" if split == "test" and val is not None else split
        cards.append(card(metric_label(name), _fmt(name, big), small))
    return (
        f'<header><p class="eyebrow">deepfit run report</p><h1>{e(run.name)}</h1>'
        f'<p class="path">{e(str(run.path.resolve()))}</p><div class="chips">{chips}</div>'
        f'<div class="cards">{"".join(cards)}</div></header>'
    )


def _learning_section(run: RunSummary) -> Section | None:
    if not run.history:
        return None
    from deepfit.evaluation import plots

    headline = "accuracy" if run.task == "classification" else "rmse"
    has = {key for row in run.history for key in row}
    metric = next((m for m in (run.monitor, headline) if m != "loss" and f"val_{m}" in has), None)
    png = plots.learning_curves(run.history, metric, run.best_epoch)
    caption = (
        "Validation loss rising while training loss keeps falling is overfitting. The green dashed line marks the "
        f"best epoch by validation {run.monitor}, whose weights were kept when early stopping restores them."
    )
    return "learning", "Learning curves", _figure(png, "Learning curves", caption)


def _confusion_section(run: RunSummary) -> Section | None:
    test = run.evaluation.get("test") or run.evaluation.get("validation") or {}
    matrix, names = test.get("confusion_matrix"), test.get("class_names")
    if run.task != "classification" or not matrix or not names:
        return None
    from deepfit.evaluation import plots

    split = "test" if run.evaluation.get("test") else "validation"
    caption = f"On the {split} split. Rows are the true classes; off-diagonal cells are the mistakes."
    return "confusion", "Confusion matrix", _figure(plots.confusion_matrix(matrix, names), "Confusion matrix", caption)


def _regression_section(run: RunSummary) -> Section | None:
    if run.task != "regression":
        return None
    columns = read_predictions(run.path)
    arrays = regression_arrays(columns) if columns else None
    if arrays is None:
        note = (
            "This run has no <code>predictions_test.csv</code> (it predates saved test predictions), "
            "so there is nothing to plot."
        )
        return "predictions", "Predicted vs actual", f'<p class="muted">{note}</p>'
    from deepfit.evaluation import plots

    caption = (
        "Points on the dashed line are exact. Residuals should scatter evenly around zero; "
        "a funnel or a curve means the model misses a pattern."
    )
    return (
        "predictions",
        "Predicted vs actual",
        _figure(plots.predicted_vs_actual(*arrays), "Predicted vs actual", caption),
    )


def _forecast_section(run: RunSummary) -> Section | None:
    """A forecast beside the naive, seasonal-naive and AR forecasts it must beat (evaluation/forecast.py)."""
    test = run.evaluation.get("test") or {}
    baselines = test.get("baselines")
    if not baselines:
        return None
    e = html.escape
    from deepfit.evaluation.forecast import baseline_label

    season = {"season": test.get("season")}
    rows = [("model", test), *((baseline_label(k, {**season, **v}), v) for k, v in baselines.items())]
    metrics = ("mae", "rmse", "mape", "smape")
    best = {m: min(r.get(m, math.inf) for _, r in rows) for m in metrics}
    head = "<tr><th>forecast</th>" + "".join(f"<th>{e(metric_label(m))}</th>" for m in metrics) + "</tr>"
    body = "".join(
        f"<tr><td>{e(name)}</td>"
        + "".join(f"<td class='num'>{'<b>' if r.get(m) == best[m] else ''}{_fmt(m, r.get(m))}</td>" for m in metrics)
        + "</tr>"
        for name, r in rows
    )
    notes = "".join(f"<div class='finding'><p>{e(line)}</p></div>" for line in test.get("notes", []))
    table = f"<table class='grid'><thead>{head}</thead><tbody>{body}</tbody></table>"
    caption = f"<p>Test split, {test.get('horizon', '?')} step(s) ahead, original units; the best of each is bold.</p>"
    return "forecast", "Against naive forecasts", caption + table + notes


def _baselines_section(run: RunSummary) -> Section | None:
    """The network beside the scikit-learn baselines fitted on its training split (evaluation/baselines.py)."""
    from deepfit.evaluation.registry import metric_info

    baselines = run.evaluation.get("baselines")
    if not isinstance(baselines, dict) or not baselines or run.task not in CARD_METRICS:
        return None
    e = html.escape
    splits = [s for s in ("validation", "test") if run.evaluation.get(s)]
    metrics = CARD_METRICS[run.task]
    scored = [(r.get("model", name), r) for name, r in baselines.items() if isinstance(r, dict) and "skipped" not in r]
    rows = [("network", run.evaluation), *scored]
    best = {}
    for m in metrics:
        for split in splits:
            values = [v for _, r in rows if isinstance(v := (r.get(split) or {}).get(m), int | float)]
            pick = max if metric_info(m).greater_is_better else min
            best[m, split] = pick(values) if values else None
    head = "<tr><th>model</th>" + "".join(
        f"<th class='num'>{e(metric_label(m))} · {s}</th>" for m in metrics for s in splits
    )
    body = ""
    for name, r in rows:
        cells = ""
        for m in metrics:
            for split in splits:
                value = (r.get(split) or {}).get(m)
                bold = value is not None and value == best[m, split]
                cells += f"<td class='num'>{'<b>' if bold else ''}{_fmt(m, value)}{'</b>' if bold else ''}</td>"
        seconds = (
            f" <span class='muted'>({r['seconds']:.1f} s)</span>" if isinstance(r.get("seconds"), int | float) else ""
        )
        body += f"<tr><td>{e(str(name))}{seconds}</td>{cells}</tr>"
    notes = [
        f"{r.get('model', n)} skipped: {r['skipped']}"
        for n, r in baselines.items()
        if isinstance(r, dict) and "skipped" in r
    ]
    notes += [
        f"{r.get('model', n)} beats the network on validation by a clear margin: see Diagnostics"
        for n, r in baselines.items()
        if isinstance(r, dict) and r.get("beats_network")
    ]
    caption = (
        "<p>scikit-learn models fitted on the network's training rows and scored by the same metric functions; "
        "the test split is scored once, like the network's. The best of each column is bold.</p>"
    )
    table = f"<table class='grid'><thead>{head}</tr></thead><tbody>{body}</tbody></table>"
    extra = "".join(f"<div class='finding'><p>{e(line)}</p></div>" for line in notes)
    return "baselines", "Against baselines", caption + table + extra


def _per_class_section(run: RunSummary) -> Section | None:
    per_class = (run.evaluation.get("test") or {}).get("per_class")
    if run.task != "classification" or not per_class:
        return None
    e = html.escape
    rows = []
    for name, scores in per_class.items():
        cells = "".join(_score_cell(scores.get(k)) for k in ("precision", "recall", "f1"))
        rows.append(f"<tr><td>{e(str(name))}</td>{cells}<td class='num'>{e(str(scores.get('support', '')))}</td></tr>")
    head = "<tr><th>class</th>" + "".join(f"<th class='num'>{c}</th>" for c in ("precision", "recall", "f1", "support"))
    head += "</tr>"
    return (
        "per-class",
        "Per class (test)",
        f"<table class='grid'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>",
    )


def _score_cell(value: Any) -> str:
    if not isinstance(value, int | float):
        return "<td class='num'>—</td>"
    tone = "bad" if value < 0.6 else "meh" if value < 0.85 else "good"
    width = max(0.0, min(1.0, value)) * 100
    return f"<td class='num score {tone}'><span class='bar' style='width:{width:.1f}%'></span>{value:.3f}</td>"


def _data_section(run: RunSummary) -> Section | None:
    report = run.data_report
    if not report:
        return None
    e = html.escape
    conflicts = report.get("conflicts") or {}
    splits = report.get("splits") or {}
    kinds = list((report.get("columns") or {}).values())
    facts = [
        ("rows in → used", f"{report.get('rows_in', '?')} → {report.get('rows_out', '?')}"),
        ("splits", ", ".join(f"{k} {v}" for k, v in splits.items()) or "—"),
    ]
    if kinds:
        facts.append(("features", ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))))
    facts += [
        ("rows without a target", report.get("missing_target_rows", 0)),
        ("duplicate rows removed", report.get("duplicate_rows", 0)),
    ]
    if conflicts:  # each kind reports the checks that apply to it; a forecast has no labels to conflict
        facts.append(
            (
                "conflicting labels",
                f"{conflicts.get('groups', 0)} groups, {conflicts.get('rows', 0)} rows; policy "
                f"'{conflicts.get('policy', '?')}' removed {conflicts.get('rows_removed', 0)}",
            )
        )
    if "columns" in report:  # tables: per-column checks
        facts += [
            (
                "missing values",
                ", ".join(f"{c} ({n})" for c, n in (report.get("missing_values") or {}).items()) or "none",
            ),
            (
                "unparseable cells",
                ", ".join(f"{c} ({i.get('count', '?')})" for c, i in (report.get("unparseable_cells") or {}).items())
                or "none",
            ),
        ]
    dropped = report.get("dropped_columns") or {}
    facts.append(("dropped columns", "; ".join(f"{c}: {r}" for c, r in dropped.items()) or "none"))
    body = kv_table(facts)
    if report.get("notes"):  # images, text, sequences, series: what reading and preparing them did
        body += "<ul class='notes'>" + "".join(f"<li>{e(str(n))}</li>" for n in report["notes"]) + "</ul>"
    summary = report.get("target_summary") or {}
    classes = summary.get("classes")
    if classes:
        top = max(classes.values()) or 1
        bars = "".join(
            f"<div class='hbar'><span class='label'>{e(str(c))}</span><span class='track'>"
            f"<span style='width:{100 * n / top:.1f}%'></span></span><span class='n'>{e(str(n))}</span></div>"
            for c, n in list(classes.items())[:50]
        )
        ratio = summary.get("imbalance_ratio")
        note = f" · largest / smallest = {ratio:.2f}" if isinstance(ratio, int | float) else ""
        body += f"<h3>Class balance{e(note)}</h3><div class='hbars'>{bars}</div>"
    elif summary:
        body += "<h3>Target</h3>" + kv_table(
            [(k, _fmt(k, v) if isinstance(v, float) else v) for k, v in summary.items()]
        )
    return "data", "Data", body


def _transfer_section(run: RunSummary) -> Section | None:
    """model.init_from: the source run, and what was loaded, skipped and new (transfer.json)."""
    found = read_optional(run.path / TRANSFER)
    if not isinstance(found, dict):
        return None
    skipped = [
        f"{s.get('name')} ({s.get('reason')}: {s.get('source')} → {s.get('model')})" for s in found.get("skipped", [])
    ]
    rows = [
        ("source run", found.get("source", "?")),
        ("architecture", found.get("architecture", "?")),
        ("loaded", f"{len(found.get('loaded', []))} tensors"),
        ("skipped (newly initialised)", ", ".join(skipped) or "—"),
        ("new", ", ".join(found.get("new", [])) or "—"),
        ("preprocessing", (found.get("preprocessing") or {}).get("line", "fitted on this data")),
    ]
    return "transfer", "Initialised from another run", kv_table(rows)


def _gradient_section(run: RunSummary) -> Section | None:
    from deepfit.evaluation import plots

    rows = read_optional(run.path / GRAD_NORMS)
    rows = (
        [r for r in rows if isinstance(r, dict) and plots.layer_values(r, "grad_norm")]
        if isinstance(rows, list)
        else []
    )
    if not rows:
        return None
    caption = (
        "Norms far smaller in the first layers than in the last mean vanishing gradients; sudden spikes mean "
        "exploding ones. Updates far below the 1e-3 line mean a layer has stopped learning."
    )
    body = _figure(plots.gradient_norms(rows), "Gradient norms per layer", caption)
    return "gradients", "Gradients", body + "<h3>Per layer (last sample)</h3>" + _layer_table(rows)


def _layer_table(rows: list[dict[str, Any]]) -> str:
    from deepfit.evaluation.plots import layer_values

    last, columns = rows[-1], ("grad_norm", "update_ratio", "dead_fraction")
    names = list(layer_values(last, "grad_norm"))
    peak = {
        n: max((v for r in rows if isinstance(v := layer_values(r, "grad_norm").get(n), int | float)), default=None)
        for n in names
    }
    shown = [c for c in columns if layer_values(last, c)]
    heads = {"grad_norm": "gradient norm", "update_ratio": "update / weight", "dead_fraction": "dead units"}
    head = "<tr><th>layer</th><th class='num'>peak gradient norm</th>" + "".join(
        f"<th class='num'>{heads[c]}</th>" for c in shown
    )
    body = ""
    for name in names:
        cells = [_num(peak[name])] + [
            _num(layer_values(last, c).get(name), percent=c == "dead_fraction") for c in shown
        ]
        body += f"<tr><td><code>{html.escape(name)}</code></td>{''.join(cells)}</tr>"
    return f"<table class='grid'><thead>{head}</tr></thead><tbody>{body}</tbody></table>"


def _num(value: Any, percent: bool = False) -> str:
    if not isinstance(value, int | float):
        return "<td class='num'>—</td>"
    return f"<td class='num'>{100 * value:.1f}%</td>" if percent else f"<td class='num'>{value:.2e}</td>"


def _diagnostics_section(run: RunSummary) -> Section | None:
    raw = read_optional(run.path / DIAGNOSTICS)
    if raw is None:
        return None
    # {"findings": [...], "summary": {...}} as deepfit writes it; a bare list of findings is accepted too.
    findings = raw if isinstance(raw, list) else raw.get("findings") or [] if isinstance(raw, dict) else []
    summary = raw.get("summary") if isinstance(raw, dict) else None
    e = html.escape
    rank = {"critical": 0, "error": 1, "warning": 2}  # the worst first; info and unknown levels after
    items = [f for f in findings if isinstance(f, dict)]
    items.sort(key=lambda f: rank.get(str(f.get("severity")).lower(), 3))
    parts = [] if items else ["<p class='ok'>No problems found during training.</p>"]
    for item in items:
        meta = [f"epoch {e(str(item['epoch']))}"] if item.get("epoch") is not None else []
        layers = item.get("layers")
        if layers:
            meta.append("layers " + e(", ".join(map(str, layers)) if isinstance(layers, list) else str(layers)))
        fix = f"<p class='fix'><b>Fix</b> {e(str(item['fix']))}</p>" if item.get("fix") else ""
        severity = str(item.get("severity") or "info")
        tone = severity.lower() if severity.lower() in SEVERITIES else ""
        kind = str(item.get("kind") or "finding").replace("_", " ").capitalize()
        parts.append(
            f"<div class='finding {tone}'>{severity_badge(severity)}<b>{e(kind)}</b> "
            f"<span class='muted'>{' · '.join(meta)}</span><p>{e(str(item.get('message', '')))}</p>{fix}</div>"
        )
    if isinstance(summary, dict):  # the scalar facts; per-layer details are in the gradients section
        facts = [
            (k.replace("_", " "), f"{v:.4g}" if isinstance(v, float) else v)
            for k, v in summary.items()
            if isinstance(v, int | float | str) and not isinstance(v, bool)
        ]
        parts.append(kv_table(facts) if facts else "")
    elif summary:
        parts.append(f"<p>{e(str(summary))}</p>")
    return "diagnostics", "Diagnostics", "".join(parts)


def _config_section(run: RunSummary) -> Section:
    try:
        text = (run.path / CONFIG).read_text(encoding="utf-8")
    except OSError:
        text = "(config.yaml could not be read)"
    summary = "<summary>Show the resolved config (every default included)</summary>"
    body = f"<details>{summary}<pre>{html.escape(text)}</pre></details>"
    return "config", "Config", body


def write_report(run: Path, console: Any) -> None:
    """report.html at the end of a run; a failure here must not cost the trained run, so it only warns."""
    try:
        console.print(f"Report: {build_report(run)}")
    except Exception as exc:  # the run is saved; the report can be rebuilt with `deepfit report`
        import warnings

        warnings.warn(f"report.html was not written ({exc}); rebuild it with `deepfit report {run}`", stacklevel=3)


def _figure(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    image = f"<img src='data:image/png;base64,{data}' alt='{html.escape(alt)}'>"
    return f"<figure>{image}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "—"
    if name in ("mape", "smape"):
        return f"{100 * value:.1f}%"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:,.2f}"


__all__ = ["DIAGNOSTICS", "GRAD_NORMS", "REPORT", "build_report"]
