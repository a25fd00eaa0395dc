"""The `ltx2` engine with its tiny random-weight configuration on the CPU: shapes, determinism, pins, audio joins,
progress and cancel, anchors, and one segment through the engine-process contract."""

import json
import os
import select
import struct
import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
import pytest
import torch

from reelfarm_engines import protocol
from reelfarm_engines.ltx2 import AUDIO_LOOKAHEAD, AUDIO_SLOTS, LTX2Engine

torch.set_num_threads(1)
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHOT = protocol.Shot(0, "s0", "a red ball bounces", "static", "rain on a tin roof",
                     [protocol.Cue(20000, "thunder")], (0, 200))


@pytest.fixture(scope="module")
def engine():
    e = LTX2Engine()
    ready = e.load({"config": "tiny", "device": "cpu"})
    e.ready = ready
    yield e
    e.close()


def fmt(fps="24", rate=48000, channels=2):
    return protocol.Format(64, 64, Fraction(fps), rate, channels)


def task(f, generate, own, pins=(), index=0, tail=2, keyframes=(), seed=7):
    samples = (f.sample_at_frame(own[0]), f.sample_at_frame(own[1]))
    return protocol.SegmentTask(f"s0/{index}", index, protocol.Model("ltx2", 1, 2, "tiny"), SHOT, f, generate, own,
                                samples, list(pins), seed, 2, tail, list(keyframes))


def quiet(done, total):
    pass


def test_ready_geometry(engine):
    g = engine.ready.geometry
    assert (g.temporal_stride, g.spatial_stride, g.spatial_multiple) == (8, 32, 32)
    assert g.latent_channels == 4 and g.max_window == 41
    assert g.step_audio == [AUDIO_SLOTS, 2, 2] and g.native_audio_rate == 16000
    assert engine.ready.document()["version"].endswith("/ltx2-tiny")


@pytest.mark.parametrize("fps", ["24", "30000/1001"])
def test_segment_shapes_and_determinism(engine, fps):
    f = fmt(fps)
    t = task(f, (0, 17), (0, 17), tail=2)
    a = engine.generate(t, quiet)
    b = engine.generate(t, quiet)
    m = t.samples[1] - t.samples[0]
    assert a.frames.shape == (17, 64, 64, 3) and a.frames.dtype == np.uint8
    assert a.audio.shape == (m, 2) and a.audio.dtype == np.float32 and np.isfinite(a.audio).all()
    assert m == (48000 * 17 * Fraction(fps).denominator) // Fraction(fps).numerator
    assert a.tail.video.shape == (2, 4, 2, 2) and a.tail.audio.shape == (2, AUDIO_SLOTS, 2, 2)
    assert np.abs(a.audio).max() > 0 and a.frames.std() > 0
    for x, y in ((a.frames, b.frames), (a.audio, b.audio), (a.tail.video, b.tail.video), (a.tail.audio, b.tail.audio)):
        assert np.array_equal(x, y)
    # another segment index is another noise stream
    c = engine.generate(task(f, (0, 17), (0, 17), index=1), quiet)
    assert not np.array_equal(a.tail.video, c.tail.video)
    # the audio step of a video step holds the audio latents of its 8 frames (8 or 9 at 24 fps; 6 or 7 at 29.97)
    # and the lookahead
    used = [(np.abs(s).sum(axis=(1, 2)) > 0).sum() - AUDIO_LOOKAHEAD for s in a.tail.audio]
    expected = {"24": [8, 9], "30000/1001": [6, 7]}[fps]
    assert all(u in expected for u in used), used


def jumps(x):
    return np.abs(np.diff(x, axis=0)).max()


def test_continuation_pins_and_audio_join(engine):
    f = fmt("24")
    first = engine.generate(task(f, (0, 17), (0, 17), tail=2), quiet)
    # the chain planner's next segment: 9 frames of overlap = the first's last 2 latent steps, pinned at index 0;
    # it owns [17, 25); asking it for [12, 25) changes nothing but the cut, and shows its sound before the join
    pin = protocol.Pin(0, protocol.Latents.decode(first.tail.encode()))
    second = engine.generate(task(f, (8, 25), (12, 25), pins=[pin], index=1, tail=3), quiet)
    assert np.array_equal(second.tail.video[:2], first.tail.video)
    assert np.array_equal(second.tail.audio[:2], first.tail.audio)
    assert not np.array_equal(second.tail.video[2], first.tail.video[1])

    s12, s17 = f.sample_at_frame(12), f.sample_at_frame(17)
    before, after = second.audio[:s17 - s12], second.audio[s17 - s12:]
    # no click: the jump at the join is within the largest jump inside either side
    join = np.abs(after[0] - first.audio[-1]).max()
    assert join <= 1.25 * max(jumps(first.audio), jumps(after)), join
    # and, what makes it so: over the 10 ms before the join both segments decode (nearly) the same sound, because
    # the pinned tail holds the audio latents around the join. An unrelated segment (no pin, other seed) does not.
    other = engine.generate(task(f, (8, 25), (12, 25), index=5, seed=99), quiet)
    near = slice(-480, None)
    agree = np.abs(before[near] - first.audio[s12:][near]).max()
    unrelated = np.abs(other.audio[:s17 - s12][near] - first.audio[s12:][near]).max()
    assert agree < 0.2 * unrelated, (agree, unrelated)
    assert unrelated > 0.1 * np.abs(first.audio).max()


def test_owned_audio_of_adjacent_ranges_joins_exactly():
    # two owned ranges cut from one native buffer meet sample for sample (the engine's shifted-origin cut)
    from reelfarm_engines.ltx2 import owned_audio
    f = fmt("30000/1001")
    native = np.sin(np.arange(20000) * 0.01)[:, None].astype(np.float32)
    whole = task(f, (8, 41), (9, 40))
    left, right = task(f, (8, 41), (9, 23)), task(f, (8, 41), (23, 40))
    origin = Fraction(7, 25)
    joined = np.concatenate([owned_audio(native, 16000, origin, left), owned_audio(native, 16000, origin, right)])
    assert np.array_equal(joined, owned_audio(native, 16000, origin, whole))
    assert jumps(joined) < 0.01 * 16000 / 48000 * 1.01 + 1e-6


def test_progress_once_per_step_and_cancel(engine):
    f = fmt("24")
    calls = []
    engine.generate(task(f, (0, 9), (0, 9)), lambda d, n: calls.append((d, n)))
    assert calls == [(1, 2), (2, 2)]

    seen = []

    def cancel(done, total):
        seen.append(done)
        raise protocol.Cancelled("s0/0")

    with pytest.raises(protocol.Cancelled):
        engine.generate(task(f, (0, 9), (0, 9)), cancel)
    assert seen == [1]


def test_keyframes_and_anchors(engine):
    f = fmt("24")
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    image[:, :32] = 255
    keys = [protocol.Keyframe(0, image), protocol.Keyframe(12, image[::-1].copy())]
    r = engine.generate(task(f, (0, 17), (0, 17), keyframes=keys, tail=3), quiet)
    assert np.array_equal(r.tail.video[0], engine._encode_image(image).numpy())
    plain = engine.generate(task(f, (0, 17), (0, 17), tail=3), quiet)
    assert not np.array_equal(r.tail.video[2], plain.tail.video[2])

    calls = []
    at = protocol.AnchorTask("s0/anchors", protocol.Model("ltx2", 1, 2, "tiny"), SHOT, f, [16, 40], None, 3, 2)
    a = engine.anchors(at, lambda d, n: calls.append((d, n)))
    assert a.video.shape == (2, 4, 2, 2) and a.audio.shape == (2, AUDIO_SLOTS, 2, 2)
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    start = protocol.Latents(a.video[1:], a.audio[1:])
    b = engine.anchors(protocol.AnchorTask("s1/anchors", at.model, SHOT, f, [40, 64], start, 4, 2), quiet)
    assert np.array_equal(b.video[0], a.video[1]) and np.array_equal(b.audio[0], a.audio[1])


def test_guided_sampling_holds_pins(engine):
    # the real model's path: classifier-free, spatio-temporal and modality guidance with rescale, cross timesteps
    import dataclasses
    from reelfarm_engines.ltx2 import Sampling
    f = fmt("24")
    first = engine.generate(task(f, (0, 17), (0, 17), tail=2), quiet)
    saved = engine.sampling
    engine.sampling = dataclasses.replace(Sampling(), stg_blocks=(1,), max_sequence_length=32)
    try:
        key = [protocol.Keyframe(20, np.full((64, 64, 3), 128, dtype=np.uint8))]
        r = engine.generate(task(f, (8, 25), (17, 25), pins=[protocol.Pin(0, first.tail)], tail=3, keyframes=key), quiet)
    finally:
        engine.sampling = saved
    assert np.array_equal(r.tail.video[:2], first.tail.video) and np.array_equal(r.tail.audio[:2], first.tail.audio)
    assert np.isfinite(r.audio).all() and r.frames.shape == (8, 64, 64, 3)


# ------------------------------------------------------------------------------------------ through the contract

class Reader:
    """Reads framed messages from a pipe, every read under one deadline."""

    def __init__(self, fd, deadline):
        self.fd, self.deadline, self.buf = fd, deadline, b""

    def take(self, n):
        while len(self.buf) < n:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise TimeoutError("engine did not answer in time")
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                raise EOFError("engine closed stdout")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def message(self):
        magic, version, kind, _, m, b = struct.unpack("<4sBBHII", self.take(16))
        assert magic == b"RFEP" and version == 1
        meta = json.loads(self.take(m))
        blobs = [self.take(struct.unpack("<Q", self.take(8))[0]) for _ in range(b)]
        return kind, meta, blobs


def test_through_the_contract():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.path.join(ROOT, "Sources", "ReelfarmEngines"), os.environ.get("PYTHONPATH")])), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "reelfarm_engines", "ltx2", "--config", "tiny", "--device", "cpu"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    try:
        r = Reader(proc.stdout.fileno(), time.monotonic() + 180)
        kind, ready, _ = r.message()
        assert kind == protocol.READY and ready["engine"] == "ltx2" and ready["contract"] == 1
        assert ready["geometry"]["step_layout"] == {"spatial": True, "audio": [AUDIO_SLOTS, 2, 2]}
        segment = {
            "id": "s0/0", "index": 0,
            "shot": {"index": 0, "id": "s0", "prompt": "a red ball", "camera": "", "sound": "rain", "cues": [],
                     "frames": [0, 17]},
            "format": {"width": 64, "height": 64, "fps": "24/1", "sample_rate": 48000, "channels": 2},
            "generate": [0, 17], "own": [0, 17], "samples": [0, 34000], "pins": [], "seed": 5, "steps": 2,
            "tail_latents": 2, "keyframes": [], "references": []}
        protocol.write_message(proc.stdin, protocol.SEGMENT,
                               {"model": {"engine": "ltx2", "seed": 1, "steps": 2}, "segment": segment})
        progress = []
        while True:
            kind, meta, blobs = r.message()
            if kind != protocol.PROGRESS:
                break
            progress.append((meta["done"], meta["total"]))
        assert kind == protocol.RESULT, meta
        assert meta["task"] == "s0/0" and progress == [(1, 2), (2, 2)]
        tail, frames, audio = blobs
        latents = protocol.Latents.decode(tail)
        assert latents.video.shape == (2, 4, 2, 2) and latents.audio.shape == (2, AUDIO_SLOTS, 2, 2)
        assert len(frames) == 17 * 64 * 64 * 3 and len(audio) == 34000 * 2 * 4
        protocol.write_message(proc.stdin, protocol.SHUTDOWN, {})
        assert proc.wait(timeout=max(1, r.deadline - time.monotonic())) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
