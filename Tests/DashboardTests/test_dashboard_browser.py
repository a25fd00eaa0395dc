"""The dashboard end to end in a real headless Chromium (over the DevTools protocol) against a real coordinator and two
workers on loopback: submit through the page (a broken storyboard shows its issues by field and line), watch the
job's grid fill in through Server-Sent Events without a reload, play the film, see the workers and the timeline,
cancel from the jobs table. Screenshots go to $REELFARM_SCREENSHOTS (default out/dashboard-screenshots).

Needs the reelfarm binary ($REELFARM, else .build/debug/reelfarm) and Chromium (`chromium`, Scripts/bootstrap
installs it); without them it is skipped, or fails under CI=true."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cdp import Browser
from needs import need

ROOT = Path(__file__).resolve().parents[2]
STORYBOARD = """title: three shots
output: {width: 320, height: 192, fps: "24", sample_rate: 48000, channels: 2}
model: {engine: testcard, window: 33, overlap: 9, steps: 2, seed: 11, schedule: chain}
shots:
  - {id: wide, duration: 3.3, prompt: "a wide shot", sound: hum}
  - {id: push, duration: 2.1, prompt: "the camera pushes in", transition: continue}
  - {id: cut, frames: 7, prompt: "a short cut"}
"""


def wait_line(path: Path, pattern: str, process: subprocess.Popen, timeout: float = 60) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        if m := re.search(pattern, text):
            return m
        if process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}): {text[-2000:]}")
        time.sleep(0.1)
    raise AssertionError(f"no line matching {pattern!r} within {timeout} s in {path}")


@pytest.fixture
def farm(tmp_path: Path):
    reelfarm = need(os.environ.get("REELFARM") or str(ROOT / ".build/debug/reelfarm"), "the reelfarm binary")
    data = tmp_path / "data"
    data.mkdir()
    processes: list[subprocess.Popen] = []
    logs: list[Path] = []

    def start(name: str, args: list[str]) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"{name}.log"
        with open(log, "wb") as out:
            p = subprocess.Popen([reelfarm, *args], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(p)
        logs.append(log)
        return p, log

    try:
        coordinator, log = start("coordinator", ["coordinator", "--data", str(data), "--bind", "tcp://127.0.0.1:*",
                                                 "--http", "127.0.0.1:0"])
        # The ZeroMQ socket and the HTTP server come up concurrently: wait for both lines, in either order. The
        # "listening on" line comes after the endpoint file is written.
        url = wait_line(log, r"dashboard on (http://127\.0\.0\.1:\d+/)", coordinator).group(1)
        endpoint = wait_line(log, r"listening on (tcp://127\.0\.0\.1:\d+)", coordinator).group(1)
        assert (data / "endpoint").read_text().strip() == endpoint
        for name in ("alpha", "beta"):
            start(name, ["worker", "--coordinator", endpoint, "--name", name, "--slots", "2", "--step-delay-ms", "300"])
        yield url
    finally:
        for p in reversed(processes):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(processes):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)


@pytest.fixture
def browser(tmp_path: Path):
    chromium = need(shutil.which("chromium") or shutil.which("chromium-browser"), "Chromium")
    b = Browser.launch(chromium, str(tmp_path / "profile"))
    try:
        yield b
    finally:
        b.close()


def test_dashboard_in_a_browser(farm: str, browser: Browser) -> None:
    shots = Path(os.environ.get("REELFARM_SCREENSHOTS", ROOT / "out/dashboard-screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    js = __import__("json").dumps

    # Submit a broken storyboard: the page names the field and line, as `reelfarm submit` prints them.
    browser.navigate(farm + "#/submit")
    browser.wait_for("document.querySelector('#submit-form') !== null", what="the submit form")
    browser.evaluate("window.__page = 'same'")  # gone if anything reloads the page
    broken = STORYBOARD.replace("duration: 3.3", "duration: -1")
    browser.evaluate(f"document.querySelector('#storyboard').value = {js(broken)};"
                     "document.querySelector('#submit-form button[type=submit]').click()")
    issues = browser.wait_for("document.querySelector('.issues') && document.querySelector('.issues').textContent",
                              what="the storyboard's issues")
    assert "duration" in issues and "line" in issues, issues
    assert "storyboard" in browser.evaluate("document.querySelector('#submit-error').textContent")
    browser.screenshot(str(shots / "submit-errors.png"))

    # Submit it whole.
    browser.evaluate(f"document.querySelector('#storyboard').value = {js(STORYBOARD)};"
                     "document.querySelector('#submit-form button[type=submit]').click()")
    job = browser.wait_for("document.querySelector('#submitted') && document.querySelector('#submitted').textContent",
                           what="the submitted job's id")
    browser.screenshot(str(shots / "submitted.png"))

    # The job page fills in by itself (events, no reload) until every segment is done; then the film plays.
    browser.evaluate(f"location.hash = '#/job/{job}'")
    browser.wait_for("document.querySelectorAll('#grid .cell').length > 0", what="the shots × segments grid")
    browser.wait_for("document.querySelectorAll('#grid .cell[data-state=running]').length > 0"
                     " || document.querySelectorAll('#grid .cell[data-state=done]').length > 0", what="work starting")
    browser.screenshot(str(shots / "job-running.png"))
    # While it runs, the player holds the film's finished prefix, with its length in segments.
    browser.wait_for("(() => { const v = document.querySelector('#player');"
                     " return v && v.dataset.kind === 'preview' && v.readyState >= 1 && v.duration > 0; })()",
                     timeout=60, what="a preview of the finished prefix in the player")
    assert "Preview: the first" in browser.evaluate("document.querySelector('#player-caption').textContent")
    browser.screenshot(str(shots / "job-preview.png"))
    # Play it while the job still runs: its time advances and its sound is decoded (Chromium counts the audio bytes
    # it decoded; --mute-audio only silences the output). A preview swapped in meanwhile is played again.
    first = browser.evaluate("document.querySelector('#player').duration")
    playing = ("(() => { const v = document.querySelector('#player'); if (!v) return false;"
               " if (v.paused && !v.ended) v.play(); return v.currentTime > 0.2 || v.ended; })()")
    browser.wait_for(playing, timeout=30, what="the preview playing (currentTime advancing)")
    browser.wait_for("(() => { const v = document.querySelector('#player'); if (!v) return 0;"
                     " if (v.paused && !v.ended) v.play(); return v.webkitAudioDecodedByteCount; })()",
                     timeout=30, what="the preview's sound decoded")
    # It grows as segments land: a longer preview (or, at the latest, the whole film) replaces it.
    grown = browser.wait_for(f"(() => {{ const v = document.querySelector('#player');"
                             f" return v && v.readyState >= 1 && v.duration > {first} + 0.04"
                             f" ? [v.dataset.kind, v.duration] : null; }})()",
                             timeout=180, what=f"the player's duration growing past {first:.2f} s")
    print(f"preview: {first:.3f} s, then {grown[0]} of {grown[1]:.3f} s")
    # A shot plays alone once its segments are done ("cut": one segment of 7 frames, a chain of its own).
    button = "document.querySelector('#shots button[data-shot=cut]')"
    browser.wait_for(f"{button} && !{button}.disabled", timeout=120, what="the cut shot's play button enabled")
    browser.evaluate(f"{button}.click()")
    shot = browser.wait_for("(() => { const v = document.querySelector('#shot-video');"
                            " if (!v || v.readyState < 1) return null; if (v.paused && !v.ended) v.play();"
                            " return (v.currentTime > 0.05 || v.ended) ? v.duration : null; })()",
                            timeout=60, what="the shot playing alone")
    assert abs(shot - 7 / 24) < 0.05, shot
    browser.screenshot(str(shots / "job-shot.png"))
    browser.wait_for("[...document.querySelectorAll('#grid .cell')].every(c => c.dataset.state === 'done')"
                     " && (document.querySelector('#player') || {dataset: {}}).dataset.kind === 'film'",
                     timeout=180, what="every segment done and the film in the player")
    cells = browser.evaluate("document.querySelectorAll('#grid .cell').length")
    assert cells == 7, cells
    rows = browser.evaluate("document.querySelectorAll('#attempts tr').length - 1")
    assert rows >= 7, rows
    duration = browser.wait_for("(() => { const v = document.querySelector('#player');"
                                " return v && v.readyState >= 1 && isFinite(v.duration) ? v.duration : 0; })()",
                                timeout=30, what="the film's metadata in the player")
    assert 5.5 < duration < 6.5, duration
    # Each segment's first and last frames, 192 pixels wide (shown at half that).
    thumbs = browser.wait_for("(() => { const i = [...document.querySelectorAll('#shots img.thumb')];"
                              " return i.length === 14 && i.every(x => x.complete && x.naturalWidth === 192)"
                              " ? i.length : 0; })()", timeout=60, what="every segment's first and last frames")
    assert thumbs == 14, thumbs
    browser.screenshot(str(shots / "job-done.png"))
    assert browser.evaluate("window.__page") == "same"

    # The jobs table, the workers and the timeline.
    browser.evaluate("location.hash = '#/jobs'")
    browser.wait_for(f"document.querySelector('tr[data-job={js(job)}]') !== null", what="the job's row")
    assert "done" in browser.evaluate(f"document.querySelector('tr[data-job={js(job)}]').textContent")
    browser.screenshot(str(shots / "jobs.png"))
    browser.evaluate("location.hash = '#/workers'")
    browser.wait_for("document.querySelectorAll('#workers tr').length - 1 >= 2", what="two workers")
    assert "GiB" in browser.evaluate("document.querySelector('#workers').textContent")  # their memory
    # Disable one from its row and enable it again.
    browser.evaluate("document.querySelector('#workers button[data-action=disable]').click()")
    browser.wait_for("[...document.querySelectorAll('#workers tr')].some(r => r.textContent.includes('disabled'))",
                     what="a worker shown disabled")
    browser.screenshot(str(shots / "workers.png"))
    browser.evaluate("document.querySelector('#workers button[data-action=enable]').click()")
    browser.wait_for("document.querySelectorAll('#workers button[data-action=disable]').length >= 2",
                     what="both workers enabled again")
    browser.evaluate("location.hash = '#/timeline'")
    bars = browser.wait_for("document.querySelectorAll('#timeline rect').length", what="the timeline's bars")
    assert bars >= 7, bars
    browser.screenshot(str(shots / "timeline.png"))

    # Cancel from the jobs table: a second job, cancelled while it runs, shows as cancelled without a reload (another
    # seed: the same storyboard again would reuse every finished segment and be done at once).
    other = STORYBOARD.replace("seed: 11", "seed: 12")
    second = browser.evaluate(f"""fetch('/api/jobs', {{method: 'POST', headers: {{'X-Reelfarm-CSRF': '1',
        'Content-Type': 'application/json'}}, body: JSON.stringify({{storyboard: {js(other)}}})}})
        .then(r => r.json()).then(j => j.job)""")
    browser.evaluate("location.hash = '#/jobs'")
    button = f"document.querySelector('tr[data-job={js(second)}] button[data-action=cancel]')"
    browser.wait_for(f"{button} !== null", what="the second job's cancel button")
    browser.evaluate(f"{button}.click()")
    browser.wait_for(f"(document.querySelector('tr[data-job={js(second)}]') || {{}}).textContent"
                     f".includes('cancelled')", what="the second job cancelled")
    # The page says what the click did in words, not the API's raw JSON.
    said = browser.wait_for("(t => t.startsWith('Cancelled ') && t)(document.getElementById('toast').textContent)",
                            what="the cancel's message")
    assert re.fullmatch(rf"Cancelled {re.escape(second)}: \d+ running tasks? stopped", said), said
    browser.screenshot(str(shots / "jobs-cancelled.png"))
    # Retry it from its row: it runs again from what it had finished and ends done, still without a reload.
    retry = f"document.querySelector('tr[data-job={js(second)}] button[data-action=retry]')"
    browser.wait_for(f"{retry} !== null", what="the cancelled job's retry button")
    browser.evaluate(f"{retry}.click()")
    said = browser.wait_for("(t => t.startsWith('Retrying ') && t)(document.getElementById('toast').textContent)",
                            what="the retry's message")
    assert re.fullmatch(rf"Retrying {re.escape(second)}: \d+ tasks? queued again", said), said
    browser.wait_for(f"[...(document.querySelector('tr[data-job={js(second)}]') || document.body)"
                     f".querySelectorAll('*')].some(e => e.textContent.trim() === 'done')",
                     timeout=180, what="the retried job done")
    browser.screenshot(str(shots / "jobs-retried.png"))
    assert browser.evaluate("window.__page") == "same"
