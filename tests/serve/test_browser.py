"""End to end in a real browser: dfcnn-serve (the console entry point) over a tiny index, driven through
Debian's Chromium by Playwright: upload a photo, wait for the grid, check the first result, draw a crop.

Skipped only when no ``chromium`` is on the PATH (``.ci/run`` installs it with apt-get).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.serve.conftest import draw, free_port

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "outputs" / "serve_e2e.png"


@pytest.fixture
def served(tiny_index, tmp_path):
    """``dfcnn-serve index_dir=... host=127.0.0.1 port=FREE`` as a real process; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "DFCNN_SERVE_API_KEY")}
    env.setdefault("OMP_NUM_THREADS", "1")
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "dfcnn.cli.serve", f"index_dir={tiny_index[0]}", "host=127.0.0.1",
                             f"port={port}", f"paths.outputs={tmp_path}"], cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"dfcnn-serve exited with {proc.returncode}:\n{(tmp_path / 'serve.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("dfcnn-serve did not come up in 180 s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


ALL_THUMBS_LOADED = "() => [...document.querySelectorAll('#results .card img')].every(i => i.complete && i.naturalWidth > 0)"


def wait_until(page, js_function: str, timeout_s: float = 30.0) -> None:
    """Poll a predicate with ``page.evaluate``: ``wait_for_function`` builds it with eval, which
    the page's Content-Security-Policy (script-src 'self') rightly forbids."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(js_function):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {js_function}")
        page.wait_for_timeout(100)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no `chromium` on the PATH (install it: apt-get install -y chromium)")
def test_search_page_in_chromium(served, retriever, tmp_path):
    from playwright.sync_api import sync_playwright

    query = tmp_path / "my tile photo.png"  # a new photo of the "tiles" class, not in the index
    draw(2, np.random.default_rng(123), size=(240, 192)).save(query)
    expected = retriever.search(str(query), 10)
    assert expected[0]["path"].split(os.sep)[-2] == "tiles"

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda err: problems.append(str(err)))
            page.goto(served + "/")
            wait_until(page, "() => document.getElementById('stats').textContent.includes('12 images')")
            page.set_input_files("#file", str(query))
            page.wait_for_selector("#results .card")
            cards = page.locator("#results .card")
            assert cards.count() == 10
            first = cards.first
            assert first.get_attribute("data-path") == expected[0]["path"]
            assert first.get_attribute("data-rank") == "1"
            assert [cards.nth(i).get_attribute("data-path") for i in range(10)] == [h["path"] for h in expected]
            assert page.locator("#results h2").all_inner_texts() == ["Matches for the whole photo"]
            assert "10 results in" in page.locator("#status").inner_text()
            # every thumbnail really loaded
            wait_until(page, ALL_THUMBS_LOADED)
            first_score = float(first.get_attribute("data-score"))
            assert page.locator("#results .card .score").first.inner_text() == f"{first_score:.3f}"

            # drag a crop box over the left half of the photo: a new search of that crop
            box = page.locator("#preview").bounding_box()
            page.mouse.move(box["x"] + 2, box["y"] + 2)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.6, steps=5)
            page.mouse.up()
            page.wait_for_selector("text=Matches for the crop")
            crop = page.locator("#results .card").first.get_attribute("data-path")
            assert crop.split(os.sep)[-2] == "tiles"
            wait_until(page, ALL_THUMBS_LOADED)
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)

            # a non-image gets a readable message on the page
            bad = tmp_path / "notes.jpg"
            bad.write_text("not a photo")
            page.set_input_files("#file", str(bad))
            page.wait_for_selector("#status.error")
            assert "not a JPEG, PNG" in page.locator("#status").inner_text()
        finally:
            browser.close()
    assert [p for p in problems if "415" not in p] == []  # the 415 above is the only console error
    assert SCREENSHOT.stat().st_size > 10_000
