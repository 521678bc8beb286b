"""report.html in a real headless Chromium: the sections render, every image decodes, the page is not blank.

Skipped when Chromium is not installed (Debian: ``apt-get install chromium``). The report itself has no
script; the test renders an instrumented copy whose one script records what the browser decoded.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deepfit.api import train
from deepfit.evaluation.report import REPORT

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")

TINY = {"model": {"hidden": [8]}, "train": {"epochs": 3}}
SECTIONS = {
    "iris": ["learning", "confusion", "per-class", "data", "gradients", "diagnostics", "config"],
    "diabetes": ["learning", "predictions", "data", "gradients", "diagnostics", "config"],
}
# After the load event: each image's decoded size (0x0 when it failed), each section's rendered height
# and whether the page is wider than the window, written onto <body> for --dump-dom to carry out.
PROBE = """<script>addEventListener("load", () => {
  const images = [...document.images].map(i => i.complete ? [i.naturalWidth, i.naturalHeight] : [0, 0]);
  const sections = Object.fromEntries([...document.querySelectorAll("section")].map(s => [s.id, s.offsetHeight]));
  const wide = document.documentElement.scrollWidth > innerWidth;
  document.body.dataset.probe = JSON.stringify({images, sections, wide});
});</script>"""


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module", params=["iris", "diabetes"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = {"data": {"source": f"builtin:{request.param}"}, **TINY}
    return train(config, run_dir=tmp_path_factory.mktemp("browser") / request.param).run_dir


def test_rendered_dom_has_the_sections_and_decoded_images(run: Path, tmp_path: Path) -> None:
    page = (run / REPORT).read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    result = _chromium(tmp_path, "--window-size=1280,2400", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    dom = result.stdout
    assert result.returncode == 0 and "<section" in dom, result.stderr[-2000:]

    assert re.findall(r'<section id="([^"]+)"', dom) == SECTIONS[run.name]
    sources = re.findall(r'<img [^>]*src="([^"]{0,30})', dom)
    assert sources and all(src.startswith("data:image/png;base64,") for src in sources)

    found = json.loads(re.search(r'data-probe="([^"]+)"', dom).group(1).replace("&quot;", '"'))
    assert len(found["images"]) == len(sources)
    assert all(width > 300 and height > 200 for width, height in found["images"]), found["images"]
    assert all(height > 50 for height in found["sections"].values()), found["sections"]
    assert not found["wide"], "the page scrolls sideways at 1280 px"


def test_screenshot_is_not_blank(run: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    result = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", (run / REPORT).as_uri())
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG")
    try:
        from PIL import Image, ImageStat
    except ImportError:  # Pillow comes with matplotlib, but the size check alone still catches a blank page
        assert shot.stat().st_size > 50_000
        return
    with Image.open(shot) as image:
        assert image.size == (1280, 2400)
        grey = image.convert("L")
        assert ImageStat.Stat(grey).stddev[0] > 15  # a blank or single-colour page has (almost) none
        # The figures are below the header: the middle of the page must hold drawn content too.
        assert ImageStat.Stat(grey.crop((0, 600, 1280, 1800))).stddev[0] > 15
