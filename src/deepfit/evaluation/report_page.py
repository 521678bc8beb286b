"""The HTML shell of ``report.html``: inline CSS, the page frame and small escaped building blocks.

Plain string templates, no template engine: the page is small, and a dependency for it is not worth it.
Callers pass already-escaped HTML for bodies; every plain value given here is escaped here.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

SEVERITIES = ("info", "warning", "error", "critical")
CSS = """
:root { --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; --card:#fff; --accent:#2563eb;
        --good:#16a34a; --meh:#d97706; --bad:#dc2626; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); line-height:1.5;
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width:1160px; margin:0 auto; padding:32px 28px 64px; }
header { background:var(--card); border:1px solid var(--line); border-radius:14px; padding:26px 28px 24px; }
.eyebrow { margin:0; color:var(--accent); font-size:12px; font-weight:600; letter-spacing:.08em;
           text-transform:uppercase; }
h1 { margin:4px 0 2px; font-size:28px; letter-spacing:-.01em; word-break:break-all; }
.path { margin:0 0 14px; color:var(--muted); font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
        word-break:break-all; }
.chips { display:flex; flex-wrap:wrap; gap:8px; }
.chip { background:var(--bg); border:1px solid var(--line); border-radius:999px; padding:3px 11px; font-size:13px; }
.chip b { color:var(--muted); font-weight:500; margin-right:4px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(190px, 1fr)); gap:14px; margin-top:20px; }
.card { border:1px solid var(--line); border-radius:12px; padding:14px 16px;
        background:linear-gradient(180deg,#fff,#f8fafc); }
.card .label { color:var(--muted); font-size:12px; font-weight:600; letter-spacing:.05em; text-transform:uppercase; }
.card .value { font-size:34px; font-weight:700; letter-spacing:-.02em; font-variant-numeric:tabular-nums; }
.card .sub { color:var(--muted); font-size:13px; }
nav { position:sticky; top:0; z-index:2; background:rgba(248,250,252,.94); border-bottom:1px solid var(--line);
      margin:0 -28px; padding:10px 28px; display:flex; flex-wrap:wrap; gap:4px 18px; font-size:14px; }
nav a { color:var(--muted); text-decoration:none; } nav a:hover { color:var(--accent); }
section { background:var(--card); border:1px solid var(--line); border-radius:14px; padding:22px 26px;
          margin-top:22px; }
h2 { margin:0 0 14px; font-size:19px; } h3 { margin:20px 0 8px; font-size:15px; }
figure { margin:0; } figure img { display:block; max-width:100%; height:auto; margin:0 auto; }
figcaption, .muted { color:var(--muted); font-size:13px; margin-top:8px; }
table { border-collapse:collapse; font-size:14px; font-variant-numeric:tabular-nums; }
table.grid { width:100%; max-width:720px; }
th, td { text-align:left; padding:6px 12px 6px 0; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.num { text-align:right; }
table.kv th { text-transform:none; letter-spacing:0; font-size:14px; width:210px; }
td.score { position:relative; }
td.score .bar { position:absolute; right:0; bottom:3px; height:3px; border-radius:2px; opacity:.55; }
td.good .bar { background:var(--good); } td.meh .bar { background:var(--meh); } td.bad .bar { background:var(--bad); }
td.bad { color:var(--bad); font-weight:600; }
.hbars { display:grid; grid-template-columns:repeat(auto-fill, minmax(300px, 1fr)); gap:4px 28px; }
.hbar { display:grid; grid-template-columns:110px 1fr 54px; align-items:center; gap:10px; font-size:13px; }
.hbar .label { overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.hbar .track { background:var(--bg); border-radius:4px; height:12px; overflow:hidden; }
.hbar .track span { display:block; height:100%; background:var(--accent); opacity:.75; border-radius:4px; }
.hbar .n { text-align:right; color:var(--muted); font-variant-numeric:tabular-nums; }
.finding { border:1px solid var(--line); border-left-width:4px; border-radius:10px; padding:12px 16px; margin:10px 0; }
.finding.info { border-left-color:var(--accent); } .finding.warning { border-left-color:var(--meh); }
.finding.error, .finding.critical { border-left-color:var(--bad); }
.finding p { margin:6px 0 0; } .fix { color:#166534; }
.badge { display:inline-block; border-radius:6px; padding:1px 8px; margin-right:8px; font-size:11px; font-weight:700;
         text-transform:uppercase; letter-spacing:.05em; color:#fff; background:var(--muted); }
.badge.error, .badge.critical { background:var(--bad); } .badge.warning { background:var(--meh); }
.badge.info { background:var(--accent); }
.ok { color:var(--good); font-weight:600; }
details summary { cursor:pointer; color:var(--accent); font-weight:600; }
pre { background:#0f172a; color:#e2e8f0; border-radius:10px; padding:16px 18px; overflow:auto;
      font-size:12.5px; line-height:1.45; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
footer { color:var(--muted); font-size:12px; text-align:center; margin-top:28px; }
"""


def page(title: str, header: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """The whole document: head with inline CSS, the header, a section nav, the sections."""
    e = html.escape
    nav = "".join(f'<a href="#{e(anchor)}">{e(name)}</a>' for anchor, name, _ in sections)
    body = "".join(section(anchor, name, inner) for anchor, name, inner in sections)
    from deepfit import __version__

    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{header}<nav>{nav}</nav>{body}"
        f"<footer>Made by deepfit {e(__version__)} from the files in this run directory.</footer>"
        "</main></body></html>\n"
    )


def section(anchor: str, title: str, inner: str) -> str:
    return f'<section id="{html.escape(anchor)}"><h2>{html.escape(title)}</h2>{inner}</section>'


def card(label: str, value: str, sub: str) -> str:
    e = html.escape
    parts = f'<div class="label">{e(label)}</div><div class="value">{e(value)}</div><div class="sub">{e(sub)}</div>'
    return f'<div class="card">{parts}</div>'


def kv_table(rows: Sequence[tuple[str, Any]]) -> str:
    e = html.escape
    body = "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def severity_badge(severity: str) -> str:
    level = severity.lower()
    safe = level if level in SEVERITIES else "other"
    return f'<span class="badge {safe}">{html.escape(severity)}</span>'
