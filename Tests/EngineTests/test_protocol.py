"""The Python side of the contract itself: framing refusals, latents codec, the `--as` alias."""

import io
import os
import select
import struct
import subprocess
import sys

import numpy as np
import pytest

from reelfarm_engines import protocol

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def frame(kind=protocol.READY, meta=b"{}", blobs=(), magic=b"RFEP", version=1):
    out = struct.pack("<4sBBHII", magic, version, kind, 0, len(meta), len(blobs)) + meta
    for b in blobs:
        out += struct.pack("<Q", len(b)) + b
    return out


def test_messages_round_trip():
    buf = io.BytesIO()
    protocol.write_message(buf, protocol.RESULT, {"task": "t", "seconds": 1.5}, [b"abc", np.zeros(4, np.float32)])
    kind, meta, blobs = protocol.read_message(io.BytesIO(buf.getvalue()))
    assert kind == protocol.RESULT and meta == {"task": "t", "seconds": 1.5}
    assert [bytes(b) for b in blobs] == [b"abc", bytes(16)]


@pytest.mark.parametrize("data, words", [
    (frame(magic=b"XXXX"), "bad magic"),
    (frame(version=2), "contract version 2"),
    (frame(kind=42), "unknown message kind 42"),
    (frame(meta=b"[1]"), "not a JSON object"),
    (frame(meta=b"{nope"), "not JSON"),
    (struct.pack("<4sBBHII", b"RFEP", 1, 1, 0, protocol.MAX_META + 1, 0), "exceeds the limits"),
])
def test_bad_frames_are_refused_with_the_reason(data, words):
    with pytest.raises(protocol.ContractError, match=words):
        protocol.read_message(io.BytesIO(data))


def test_latents_codec_refuses_what_does_not_fit():
    good = protocol.Latents(np.ones((2, 3, 1, 1)), np.zeros((2, 0))).encode()
    assert protocol.Latents.decode(good).count == 2
    for bad in (good[:-4], good + b"\0", b"RFLX" + good[4:]):
        with pytest.raises(protocol.ContractError):
            protocol.Latents.decode(bad)


def test_an_engine_answers_to_its_alias():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.path.join(ROOT, "Sources", "ReelfarmEngines"),
                                                                      os.environ.get("PYTHONPATH")])))
    p = subprocess.Popen([sys.executable, "-m", "reelfarm_engines", "mmdit-torch", "--config", "tiny", "--device", "cpu",
                          "--as", "mm-draft"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    try:
        assert select.select([p.stdout], [], [], 120)[0], "no ready within 120 s"
        kind, ready, _ = protocol.read_message(p.stdout)
        assert kind == protocol.READY and ready["engine"] == "mm-draft"
        protocol.write_message(p.stdin, protocol.SHUTDOWN, {})
        assert p.wait(timeout=60) == 0
    finally:
        if p.poll() is None:
            p.kill()
