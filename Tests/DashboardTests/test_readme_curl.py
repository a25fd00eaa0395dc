"""The README's curl examples, run as written: the `sh` block that starts a coordinator with `--http` is taken from
README.md and run by bash, line by line, against a real coordinator and worker on loopback. Only the ports change (two
free ones instead of 8080 and 7700), `reelfarm` is this build's binary, and curl fails on an HTTP error status (each
`curl -s` runs as `curl -sf`), so a route that answers 4xx or 5xx fails the test. The outputs are then checked: the
film is an MP4 ffprobe reads, the worker drained and exited.

Needs the reelfarm binary ($REELFARM, else .build/debug/reelfarm), curl and ffprobe; without them it is skipped, or
fails under CI=true."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from needs import need

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        if "--http 127.0.0.1:8080 &" in block and "X-Reelfarm-CSRF" in block:
            return block
    raise AssertionError("README.md has no sh block starting a coordinator with --http 127.0.0.1:8080")


def test_the_readmes_curl_examples_work_as_written(tmp_path: Path):
    reelfarm = need(os.environ.get("REELFARM") or str(ROOT / ".build/debug/reelfarm"), "the reelfarm binary")
    need(shutil.which("curl"), "curl")
    ffprobe = need(shutil.which("ffprobe"), "ffprobe")
    block = readme_block()
    http, zmq = free_port(), free_port()
    script = block.replace("127.0.0.1:8080", f"127.0.0.1:{http}").replace("127.0.0.1:7700", f"127.0.0.1:{zmq}")
    script = re.sub(r"\bcurl -s(?!f)", "curl -sf", script)
    # Each line (a `\` continues it) is echoed, then run; the first failure stops the script with its status. The
    # event stream runs for its --max-time and ends with curl's 28 (time limit), which is how it is meant to end.
    lines: list[str] = []
    for line in script.replace("\\\n", " ").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        command = line.split("  #")[0].rstrip()
        lines.append(f"echo {shlex.quote('+ ' + command)} >&2")
        lines.append(command)
        if not command.endswith("&"):
            allowed = "28" if "/api/events" in command else "0"
            lines.append(f"s=$?; if [ $s -ne 0 ] && [ $s -ne {allowed} ]; then "
                         f"echo {shlex.quote('README line failed: ' + command)} \"($s)\" >&2; exit $s; fi")
    body = "set -u\n" + "\n".join(lines) + "\n"
    (tmp_path / "readme.sh").write_text(body)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "reelfarm").symlink_to(reelfarm)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", REELFARM_BIND=f"tcp://127.0.0.1:{zmq}",
               REELFARM_COORDINATOR=f"tcp://127.0.0.1:{zmq}")
    # Output to a file, not a pipe: the coordinator started in the background keeps what it inherited open.
    log = tmp_path / "readme.log"
    with open(log, "wb") as sink:
        p = subprocess.Popen(["bash", str(tmp_path / "readme.sh")], cwd=tmp_path, env=env, stdout=sink,
                             stderr=subprocess.STDOUT, start_new_session=True)
    try:
        p.wait(timeout=300)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=30)
        raise AssertionError(f"the README's examples did not finish within 300 s:\n{log.read_text()[-4000:]}")
    finally:
        # The coordinator (and a worker that did not drain) run in the script's process group.
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    out = log.read_text(errors="replace")
    assert p.returncode == 0, f"the README's examples failed:\n{out[-4000:]}"
    # What they did: a film ffprobe reads, with picture and sound; the worker asked to drain is leaving.
    film = tmp_path / "lobster.mp4"
    assert film.exists() and film.stat().st_size > 0, out[-2000:]
    probe = json.loads(subprocess.run([ffprobe, "-v", "error", "-show_streams", "-of", "json", str(film)],
                                      capture_output=True, text=True, timeout=60, check=True).stdout)
    assert sorted(s["codec_type"] for s in probe["streams"]) == ["audio", "video"]
    # The first shot alone, with picture and sound; a segment's first frame as a PNG.
    shot = json.loads(subprocess.run([ffprobe, "-v", "error", "-show_streams", "-of", "json", str(tmp_path / "shot1.mp4")],
                                     capture_output=True, text=True, timeout=60, check=True).stdout)
    assert sorted(s["codec_type"] for s in shot["streams"]) == ["audio", "video"]
    png = json.loads(subprocess.run([ffprobe, "-v", "error", "-show_streams", "-of", "json", str(tmp_path / "first.png")],
                                    capture_output=True, text=True, timeout=60, check=True).stdout)
    assert [(s["codec_name"], s["width"]) for s in png["streams"]] == [("png", 192)], png
    assert '"state":"leaving"' in out, out[-2000:]
