"""mmdit-torch against the Swift MMDiT: the committed NumPy/Swift fixtures, whole segments, the engine-process
contract, and (when the binary has `engine serve`) the Swift engine itself on the same task."""

import importlib.util
import json
import math
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.numpy import load_file

from reelfarm_engines import mmdit_torch as m
from reelfarm_engines import protocol

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "FarmInferenceTests", "Fixtures")
TINY = os.path.join(FIXTURES, "tiny.safetensors")
CASE = os.path.join(FIXTURES, "tiny-case.safetensors")
TOLERANCE = 1e-4  # ReferenceTests.tolerance
PROCESS_LIMIT = 120  # seconds any engine process may live in a test


def max_relative_error(a, b) -> float:
    """ReferenceTests' maxRelativeError: max |a − b| over max |b|."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    assert a.shape == b.shape, f"compared arrays differ in length: {a.size} vs {b.size}"
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


# ------------------------------------------------------------------------------------------ 1. fixture parity

@pytest.fixture(scope="module")
def case():
    return load_file(CASE), safe_open(CASE, framework="np").metadata()


@pytest.fixture(scope="module")
def tiny_weights():
    return m.load_weights(TINY)


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]


def tiny_model(tiny_weights, dtype=torch.float32, perturb=None, device="cpu"):
    config, w = tiny_weights
    w = {k: v.copy() for k, v in w.items()}
    if perturb:
        name, index, delta = perturb
        w[name].reshape(-1)[index] += delta
    return m.MMDiT(config, w, device, dtype)


def forward_case(model, case, name):
    """One forward pass of a case's inputs, as ReferenceTests.forward does it: (video, audio) velocities."""
    data, meta = case
    c, dt = model.config, model.dtype
    T = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(model.device, dt)
    if name == "forward_a":
        lay = m.TokenLayout(c, 3, 4, 4, references=1)
        text = model.text_context(meta["prompt"], meta["sound"])
        vin = torch.cat([lay.patchify_video(T(data["forward_a.video.noisy"]), T(data["forward_a.video.reference"]),
                                            T(data["forward_a.video.mask"])),
                         lay.patchify_references(T(data["forward_a.references"]))])
        ain = lay.patchify_audio(T(data["forward_a.audio.noisy"]), T(data["forward_a.audio.reference"]),
                                 T(data["forward_a.audio.mask"]))
    else:
        lay = m.TokenLayout(c, 3, 4, 4, step_times=json.loads(meta["forward_b.step_times"]))
        text = model.text_context("", "")
        v, a = T(data["forward_b.video.noisy"]), T(data["forward_b.audio.noisy"])
        vin = lay.patchify_video(v, torch.zeros_like(v), v.new_zeros((v.shape[0], 4, 4)))
        ain = lay.patchify_audio(a, torch.zeros_like(a), a.new_zeros((a.shape[0], a.shape[2])))
    t = float(np.float32(float(meta[f"{name}.time"])))
    with torch.inference_mode():
        vo, ao = model.forward(vin, ain, lay, model.rope(lay), text, t)
    return lay.unpatchify_video(vo).cpu(), lay.unpatchify_audio(ao).cpu()


def forward_errors(model, case, name):
    video, audio = forward_case(model, case, name)
    data = case[0]
    return (max_relative_error(video, data[f"{name}.expected.video"]),
            max_relative_error(audio, data[f"{name}.expected.audio"]))


def sample_errors(model, case, segment=None):
    data, meta = case
    lay = m.TokenLayout(model.config, 3, 4, 4, references=1)
    cond = m.Conditioning(
        lay, meta["prompt"], meta["sound"], int(meta["sample.seed"]),
        int(meta["sample.segment"]) if segment is None else segment,
        data["sample.video.reference"].copy(), data["sample.video.mask"].copy(),
        data["sample.audio.reference"].copy(), data["sample.audio.mask"].copy(), data["sample.references"].copy())
    xv, xa = m.sample(model, cond, int(meta["sample.steps"]))
    return (max_relative_error(xv.cpu(), data["sample.expected.video"]),
            max_relative_error(xa.cpu(), data["sample.expected.audio"]))


def noise_error(case, step=None):
    data, meta = case
    ours = m.normals(64, int(meta["sample.seed"]), int(meta["sample.segment"]), int(meta["noise.stream"]),
                     int(meta["noise.step"]) if step is None else step)
    return max_relative_error(ours, data["noise.expected"])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", ["forward_a", "forward_b"])
def test_forward_matches_reference(tiny_weights, case, name, dtype, device):
    video, audio = forward_errors(tiny_model(tiny_weights, dtype, device=device), case, name)
    assert video <= TOLERANCE and audio <= TOLERANCE, f"{name}: relative errors {video}, {audio}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_sampler_matches_reference(tiny_weights, case, dtype, device):
    video, audio = sample_errors(tiny_model(tiny_weights, dtype, device=device), case)
    assert video <= TOLERANCE and audio <= TOLERANCE, f"sample: relative errors {video}, {audio}"


def test_noise_matches_reference(case):
    assert noise_error(case) <= 1e-6


def test_each_check_can_fail(tiny_weights, case):
    # The ReferenceTests perturbation: the 7th float of blocks.1.audio.fc2.weight nudged by 0.05.
    bad = tiny_model(tiny_weights, perturb=("blocks.1.audio.fc2.weight", 6, 0.05))
    assert max(forward_errors(bad, case, "forward_a")) > TOLERANCE
    assert max(forward_errors(bad, case, "forward_b")) > TOLERANCE
    # A text-path weight (not seen by the fc2 nudge's stream first).
    bad_text = tiny_model(tiny_weights, perturb=("text.blocks.0.fc1.weight", 3, 0.05))
    assert max(forward_errors(bad_text, case, "forward_a")) > TOLERANCE
    # The sampler with another segment's noise, and noise of another step.
    good = tiny_model(tiny_weights)
    assert max(sample_errors(good, case, segment=3)) > TOLERANCE
    assert noise_error(case, step=4) > 1e-6
    # And the untouched model still passes, so the perturbation made the difference.
    assert max(forward_errors(good, case, "forward_a")) <= TOLERANCE


def test_seeded_weights_are_the_swift_ones(tiny_weights):
    """tiny.safetensors was written by `reelfarm model init --config tiny --seed 7` (ModelWeights.seeded)."""
    config, fixture = tiny_weights
    seeded = m.seeded_weights(config, 7)
    assert set(seeded) == set(fixture)
    differing = [k for k in fixture if not np.array_equal(seeded[k], fixture[k])]
    assert not differing, f"seeded weights differ from Swift's in {differing}"
    assert not np.array_equal(m.seeded_weights(config, 8)["text.embed"], fixture["text.embed"])


def test_weights_loader_refuses_another_configuration():
    with pytest.raises(ValueError, match="made for configuration \"tiny\""):
        m.load_weights(TINY, m.MMDiTConfig.named("small"))


# ------------------------------------------------------------------------------------------- 2. segments

W, H = 32, 32
FMT = {"width": W, "height": H, "fps": "24/1", "sample_rate": 8000, "channels": 2}
SHOT = {"index": 0, "id": "s1", "prompt": "a red lobster on wet sand", "camera": "slow dolly",
        "sound": "surf", "cues": [{"sample": 3000, "sound": "a gull cries"}], "frames": [0, 48]}


def sample_at(frame: int) -> int:
    return frame * FMT["sample_rate"] // 24


def segment_message(generate, own, *, index=0, steps=2, tail=1, pins=(), keyframes=(), references=(),
                    seed=11, model_seed=7, weights=TINY, engine="mmdit-torch", task_id=None, fmt=None):
    """The `segment` message the worker sends: (metadata, blobs)."""
    blobs, pin_docs, key_docs, ref_docs = [], [], [], []
    for latent_index, latents in pins:
        pin_docs.append({"latent_index": latent_index, "blob": len(blobs)})
        blobs.append(latents.encode())
    for frame, image in keyframes:
        key_docs.append({"frame": frame, "blob": len(blobs)})
        blobs.append(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
    for image in references:
        ref_docs.append(len(blobs))
        blobs.append(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
    model = {"engine": engine, "config": "tiny", "seed": model_seed, "steps": steps}
    if weights:
        model["weights"] = weights
    seg = {"id": task_id or f"seg-{index}", "index": index, "shot": SHOT, "format": fmt or FMT,
           "generate": list(generate), "own": list(own), "samples": [sample_at(own[0]), sample_at(own[1])],
           "pins": pin_docs, "seed": seed, "steps": steps, "tail_latents": tail, "keyframes": key_docs,
           "references": ref_docs}
    return {"model": model, "segment": seg}, blobs


def segment_task(*args, **kw) -> protocol.SegmentTask:
    meta, blobs = segment_message(*args, **kw)
    return protocol.SegmentTask.parse(json.loads(json.dumps(meta)), blobs)


@pytest.fixture(scope="module")
def engine():
    torch.set_num_threads(1)
    e = m.MMDiTTorchEngine()
    ready = e.load({"config": "tiny", "device": "cpu"})
    assert ready.engine == "mmdit-torch" and ready.device == "cpu"
    yield e
    e.close()


class Progress:
    def __init__(self, cancel_at=None):
        self.calls, self.cancel_at = [], cancel_at

    def __call__(self, done, total):
        self.calls.append((done, total))
        if self.cancel_at is not None and done >= self.cancel_at:
            raise protocol.Cancelled("test")


def test_ready_geometry_is_the_swift_one():
    e = m.MMDiTTorchEngine()
    for name, c in m.CONFIGS.items():
        doc = e.load({"config": name, "device": "cpu"}).document()
        assert doc["engine"] == "mmdit-torch" and doc["contract"] == 1
        assert doc["version"] == f"torch-{torch.__version__}/{name}"
        assert doc["device_memory_bytes"] > 0
        assert doc["geometry"] == {
            "temporal_stride": 4, "causal": True, "spatial_stride": 8, "spatial_multiple": 16,
            "latent_channels": c.videoChannels, "max_window": c.maxWindow,
            "step_layout": {"spatial": True, "audio": [c.audioChannels, c.audioTokensPerStep]},
            "native_audio_rate": None}
    assert e.load({"device": "cpu"}).version.endswith("/small")  # MMDiTEngine+Factory's default
    assert e.load({"weights": TINY, "device": "cpu"}).version.endswith("/tiny")  # the file's configuration


def test_segment_then_a_segment_pinned_on_its_tail(engine):
    first = segment_task((0, 9), (0, 9), index=0, tail=1)
    progress = Progress()
    r1 = engine.generate(first, progress)
    assert progress.calls == [(1, 2), (2, 2)]
    assert r1.tail.video.shape == (1, 4, H // 8, W // 8) and r1.tail.audio.shape == (1, 4, 4)
    assert r1.frames.shape == (9, H, W, 3) and r1.frames.dtype == np.uint8
    assert r1.audio.shape == (sample_at(9), 2) and r1.audio.dtype == np.float32
    assert np.isfinite(r1.audio).all() and np.abs(r1.audio).max() <= 1 and np.abs(r1.audio).max() > 0
    assert r1.frames.std() > 0
    protocol.check_result(first, r1)

    second = segment_task((8, 17), (9, 17), index=1, tail=3, pins=[(0, r1.tail)])
    r2 = engine.generate(second, Progress())
    assert r2.tail.video.shape == (3, 4, 4, 4) and r2.tail.audio.shape == (3, 4, 4)
    assert np.array_equal(r2.tail.video[0], r1.tail.video[0]), "pinned video step is not bit-identical"
    assert np.array_equal(r2.tail.audio[0], r1.tail.audio[0]), "pinned audio step is not bit-identical"
    assert r2.frames.shape == (8, H, W, 3) and r2.audio.shape == (sample_at(17) - sample_at(9), 2)
    # The same task again gives the same bits (counter-based noise, no state carried between tasks).
    again = engine.generate(second, Progress())
    assert np.array_equal(again.tail.video, r2.tail.video) and np.array_equal(again.frames, r2.frames)
    assert np.array_equal(again.audio, r2.audio)


def test_seeded_weights_render_like_the_file_they_were_written_as(engine):
    """No model.weights: seeded weights of model.seed, the same bits as tiny.safetensors (seed 7)."""
    with_file = engine.generate(segment_task((0, 5), (0, 5), steps=1, tail=2), Progress())
    seeded = engine.generate(segment_task((0, 5), (0, 5), steps=1, tail=2, weights=None), Progress())
    assert np.array_equal(with_file.tail.video, seeded.tail.video) and np.array_equal(with_file.audio, seeded.audio)
    other = engine.generate(segment_task((0, 5), (0, 5), steps=1, tail=2, weights=None, model_seed=8), Progress())
    assert not np.array_equal(other.tail.video, seeded.tail.video)


def test_segment_matches_the_numpy_reference_sampler(engine):
    """The engine's wiring (texts, noise key, pins, references, schedule) against Scripts/mmdit_reference.py's
    sampler, which the Swift core is held to."""
    spec = importlib.util.spec_from_file_location("mmdit_reference", os.path.join(ROOT, "Scripts",
                                                                                  "mmdit_reference.py"))
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    W64, meta = ref.read_safetensors(TINY)
    cfg = json.loads(meta["reelfarm.config"])
    rng = np.random.default_rng(5)
    pin = protocol.Latents(rng.standard_normal((1, 4, 4, 4)).astype(np.float32),
                           rng.standard_normal((1, 4, 4)).astype(np.float32))
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    task = segment_task((8, 17), (9, 17), index=3, steps=2, tail=3, pins=[(0, pin)], references=[image])
    ours = engine.generate(task, Progress())
    model = engine.model_for(task.model)
    lay = ref.Layout(cfg, 3, 4, 4, references=1)
    vr, vm = np.zeros((3, 4, 4, 4)), np.zeros((3, 4, 4))
    ar, am = np.zeros((3, 4, 4)), np.zeros((3, 4))
    vr[0], ar[0], vm[0], am[0] = pin.video[0], pin.audio[0], 1, 1
    refs = m.encode_image(model, image)[None].astype(np.float64)
    sound = task.shot.sound_text((sample_at(8), sample_at(17)))
    assert sound == "surf; then a gull cries"
    xv, xa = ref.sample(W64, cfg, lay, "a red lobster on wet sand; camera: slow dolly", sound, vr, vm, ar, am, refs,
                        11, 3, 2, float(cfg["guidance"]), float(cfg["timeShift"]))
    assert max_relative_error(ours.tail.video, xv) <= TOLERANCE
    assert max_relative_error(ours.tail.audio, xa) <= TOLERANCE


@CUDA
def test_cuda_segment_matches_cpu(engine):
    """The same task on the GPU: tail within the parity tolerance, frames within 2 of 255, audio within 1e-3."""
    gpu = m.MMDiTTorchEngine()
    assert gpu.load({"config": "tiny", "device": "cuda"}).device.startswith("cuda:")
    rng = np.random.default_rng(4)
    pin = protocol.Latents(rng.standard_normal((1, 4, 4, 4)).astype(np.float32),
                           rng.standard_normal((1, 4, 4)).astype(np.float32))
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    task = segment_task((8, 17), (9, 17), index=1, steps=3, tail=3, pins=[(0, pin)], keyframes=[(12, image)],
                        references=[image])
    a, b = engine.generate(task, Progress()), gpu.generate(task, Progress())
    assert max_relative_error(b.tail.video, a.tail.video) <= TOLERANCE
    assert max_relative_error(b.tail.audio, a.tail.audio) <= TOLERANCE
    assert np.array_equal(b.tail.video[0], pin.video[0])
    assert np.abs(b.frames.astype(int) - a.frames.astype(int)).max() <= 2
    assert np.abs(b.audio - a.audio).max() <= 1e-3
    gpu.close()


def test_keyframe_is_held_at_its_latent_step(engine):
    image = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    task = segment_task((0, 9), (0, 9), steps=1, tail=3, keyframes=[(4, image)])
    r = engine.generate(task, Progress())
    held = m.encode_image(engine.model_for(task.model), image)
    assert np.array_equal(r.tail.video[1], held)
    # Frame 4 is sub-frame 3 of step 1 (the frame a step stands for), as frame 0 is of a one-step clip.
    alone = m.decode_video(engine.model_for(task.model), torch.from_numpy(held[None]), range(0, 1))
    assert np.abs(r.frames[4].astype(int) - alone[0].astype(int)).max() <= 1


def test_cancel_from_progress_stops_generation(engine):
    progress = Progress(cancel_at=1)
    with pytest.raises(protocol.Cancelled):
        engine.generate(segment_task((0, 9), (0, 9), steps=5), progress)
    assert progress.calls == [(1, 5)]


def test_anchor_pass(engine):
    meta = {"model": {"engine": "mmdit-torch", "config": "tiny", "seed": 7, "steps": 1, "weights": TINY},
            "anchors": {"id": "a1", "shot": SHOT, "format": FMT, "frames": list(range(0, 44, 4)), "has_start": True,
                        "seed": 3, "steps": 1}}
    start = protocol.Latents(np.ones((2, 4, 4, 4), np.float32), np.full((2, 4, 4), 0.5, np.float32))
    task = protocol.AnchorTask.parse(meta, [start.encode()])
    progress = Progress()
    out = engine.anchors(task, progress)
    assert out.video.shape == (11, 4, 4, 4) and out.audio.shape == (11, 4, 4)
    assert np.array_equal(out.video[0], start.video[-1]) and np.array_equal(out.audio[0], start.audio[-1])
    assert progress.calls == [(8, 11), (11, 11)]  # two chunks of at most 9 steps, sharing one


@pytest.mark.parametrize("change, message", [
    (dict(generate=(0, 10), own=(0, 10)), "not 1 \\+ 4k frames"),
    (dict(generate=(0, 37), own=(0, 37)), "not 1 \\+ 4k frames ≤ 33"),
    (dict(pins=[(0, protocol.Latents(np.zeros((1, 4, 2, 2), np.float32), np.zeros((1, 4, 4), np.float32)))]),
     "pinned latents have shapes"),
    (dict(references=[np.zeros((H, W, 3), np.uint8)] * 10), "at most 9"),
])
def test_refuses_what_swift_refuses(engine, change, message):
    kw = dict(generate=(0, 9), own=(0, 9))
    kw.update(change)
    generate, own = kw.pop("generate"), kw.pop("own")
    with pytest.raises(ValueError, match=message):
        engine.generate(segment_task(generate, own, **kw), Progress())


def test_refuses_a_picture_off_the_patch_grid_and_another_configuration(engine):
    with pytest.raises(ValueError, match="not a multiple of 16"):
        engine.generate(segment_task((0, 5), (0, 5), fmt=dict(FMT, width=24, height=24)), Progress())
    meta, blobs = segment_message((0, 5), (0, 5))
    meta["model"]["config"] = "small"
    with pytest.raises(ValueError, match="serves configuration \"tiny\""):
        engine.generate(protocol.SegmentTask.parse(meta, blobs), Progress())


def swift_audio_decode(frames, count, points, first_frame, fmt, samples, channels):
    """AudioCodec.decode + AudioTimeline.coordinate, one sample at a time as the Swift code reads (float32 where
    Swift uses Float)."""
    f32 = np.float32
    num, den = fmt.fps.numerator, fmt.fps.denominator
    rate_den = fmt.sample_rate * den
    remainder = (first_frame * rate_den) % num
    out = np.zeros((len(samples), channels), np.float32)
    for n, s in enumerate(samples):
        q, r = divmod((s * num + 3 * rate_den - remainder) * A_PER_STEP,
                      4 * rate_den)
        k, x = q, r / (4 * rate_den)
        st = [f32(0), f32(0)]
        for _ in range(2):
            if 0 <= k < count:
                sine = math.sin(math.pi * x / 2)
                w = f32(sine * sine)
                pos = min(max(x * points / 2 - 0.5, 0), points - 1)
                i = int(pos)
                t = f32(pos - i)
                for side in range(2):
                    fr = frames[k, side * points:(side + 1) * points]
                    v = fr[i] * (f32(1) - t) + fr[i + 1] * t if i + 1 < points else fr[i]
                    st[side] = f32(st[side] + f32(w * v))
            k, x = k - 1, x + 1
        l, r_ = min(max(st[0], f32(-1)), f32(1)), min(max(st[1], f32(-1)), f32(1))
        for c in range(channels):
            out[n, c] = f32((l + r_) / f32(2)) if channels == 1 else (l if c % 2 == 0 else r_)
    return out


A_PER_STEP = 4  # tiny's audioTokensPerStep


@pytest.mark.parametrize("fps, rate, channels, first", [("30000/1001", 48000, 2, 8), ("24/1", 44100, 1, 12),
                                                        ("25/1", 16000, 3, 0)])
def test_audio_decode_is_the_swift_arithmetic(tiny_weights, fps, rate, channels, first):
    model = tiny_model(tiny_weights)
    fmt = protocol.Format.parse({"width": 32, "height": 32, "fps": fps, "sample_rate": rate, "channels": channels})
    steps = 3
    latents = torch.from_numpy(np.random.default_rng(2).standard_normal((steps, 4, 4)).astype(np.float32) * 3)
    timeline = m.AudioTimeline(fmt, first, 4)
    assert timeline.first_sample == fmt.sample_at_frame(first)
    lo, hi = fmt.sample_at_frame(first + 1) - timeline.first_sample, fmt.sample_at_frame(first + 9) - timeline.first_sample
    ours = m.decode_audio(model, latents, steps, timeline, range(lo, hi), channels)
    z = latents.permute(0, 2, 1).reshape(steps * 4, 4)
    frames = torch.nn.functional.linear(z, model.w["codec.audio.decode.weight"], model.w["codec.audio.decode.bias"])
    ref = swift_audio_decode(frames.numpy(), steps * 4, 8, first, fmt, range(lo, hi), channels)
    assert ours.shape == (hi - lo, channels)
    assert np.array_equal(ours, ref)
    assert np.abs(ours).max() > 0.01


def test_video_decode_and_encode_are_the_swift_arithmetic(tiny_weights):
    model = tiny_model(tiny_weights)
    z = np.random.default_rng(3).standard_normal((3, 4, 2, 4)).astype(np.float32) * 0.5
    ours = m.decode_video(model, torch.from_numpy(z), range(0, 9))
    W_ = model.numpy_weights["codec.video.decode.weight"]
    b = model.numpy_weights["codec.video.decode.bias"]
    for f in range(9):
        j, sub = (f + 3) // 4, (f + 3) % 4
        for y in range(2):
            for x in range(4):
                block = b[sub * 192:(sub + 1) * 192] + W_[sub * 192:(sub + 1) * 192] @ z[j, :, y, x]
                byte = np.clip(np.floor((block.astype(np.float64) + 1) * 127.5 + 0.5), 0, 255)
                got = ours[f, 8 * y:8 * y + 8, 8 * x:8 * x + 8].reshape(-1)
                assert np.abs(got.astype(int) - byte.astype(int)).max() <= 1
    # The seeded encoder is the least-squares inverse of sub-frame 3: encoding a decoded latent gives it back
    # (up to the bytes' rounding; small latents keep the pixels off the clamp).
    back = m.encode_image(model, ours[4])
    assert np.abs(back - z[1]).max() < 0.1
    # Swift's `.rounded()` takes ties away from zero (torch and numpy round them to even).
    v = np.concatenate([np.random.default_rng(0).uniform(-1.1, 1.1, 2000).astype(np.float32),
                        np.array([-1, 1, 2, -3], np.float32)])
    ties = []
    for k in (64, 65, 66, 100, 200):  # latents whose pixel value is exactly k + 0.5 in float32
        near = (np.arange(-2000, 2001) + np.float32((k + 0.5) / 127.5 - 1).view(np.int32)).astype(np.int32)
        near = near.view(np.float32)
        ties.append(near[(near + np.float32(1)) * np.float32(127.5) == np.float32(k + 0.5)][0])
    v = np.concatenate([v, np.array(ties, np.float32)])
    b = ((v + np.float32(1)) * np.float32(127.5)).astype(np.float64)
    assert np.array_equal(m._byte(v), np.clip(np.floor(b + 0.5), 0, 255).astype(np.uint8))
    assert m._byte(np.array(ties[:2], np.float32)).tolist() == [65, 66]


# -------------------------------------------------------------------------------------------- 3. the contract

class EngineProcess:
    """An engine process under test: messages read on a thread into a queue, every wait bounded, and the process
    killed after PROCESS_LIMIT seconds whatever happens."""

    def __init__(self, argv, cwd=None, env=None):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     cwd=cwd, env=env)
        self.killer = threading.Timer(PROCESS_LIMIT, self.proc.kill)
        self.killer.daemon = True
        self.killer.start()
        self.messages = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            while True:
                self.messages.put(protocol.read_message(self.proc.stdout))
        except Exception as e:  # EOF or a framing error: the test sees it as the next message
            self.messages.put(e)

    def send(self, kind, meta, blobs=()):
        protocol.write_message(self.proc.stdin, kind, meta, list(blobs))

    def next(self, timeout=60):
        try:
            item = self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout} s; stderr:\n{self.log()}") from None
        if isinstance(item, Exception):
            raise AssertionError(f"engine stream ended ({item!r}); stderr:\n{self.log()}")
        return item

    def until(self, kinds, timeout=60):
        """Messages up to the first of `kinds`: (progress list, final message)."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            kind, meta, blobs = self.next(max(0.1, deadline - time.monotonic()))
            if kind in kinds:
                return seen, (kind, meta, blobs)
            assert kind == protocol.PROGRESS, f"unexpected {protocol.KINDS[kind]}: {meta}"
            seen.append(meta)

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-4000:]

    def close(self):
        try:
            if self.proc.poll() is None:
                self.send(protocol.SHUTDOWN, {})
                self.proc.wait(timeout=20)
        except Exception:
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.killer.cancel()
            self.stderr.close()
        return self.proc.returncode


def torch_engine_process(*extra) -> EngineProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.path.join(ROOT, "Sources", "ReelfarmEngines"), os.environ.get("PYTHONPATH")])), OMP_NUM_THREADS="1",
               PYTHONUNBUFFERED="1")
    return EngineProcess([sys.executable, "-m", "reelfarm_engines", "mmdit-torch", "--config", "tiny",
                          "--device", "cpu", *extra], cwd=ROOT, env=env)


def check_segment_result(meta_doc, blobs, final, steps_back):
    kind, meta, out = final
    assert kind == protocol.RESULT, f"{protocol.KINDS[kind]}: {meta}"
    assert meta["task"] == meta_doc["segment"]["id"] and len(out) == 3
    seg = meta_doc["segment"]
    tail = protocol.Latents.decode(out[0])
    assert tail.video.shape == (steps_back, 4, H // 8, W // 8) and tail.audio.shape == (steps_back, 4, 4)
    own = seg["own"][1] - seg["own"][0]
    assert len(out[1]) == own * H * W * 3
    assert len(out[2]) == (seg["samples"][1] - seg["samples"][0]) * FMT["channels"] * 4
    return tail, np.frombuffer(out[1], np.uint8).reshape(own, H, W, 3), \
        np.frombuffer(out[2], "<f4").reshape(-1, FMT["channels"])


def test_contract_segment_cancel_and_shutdown():
    p = torch_engine_process()
    try:
        kind, ready, _ = p.next(timeout=90)
        assert kind == protocol.READY and ready["engine"] == "mmdit-torch" and ready["contract"] == 1
        assert ready["geometry"]["max_window"] == 33 and ready["device"] == "cpu"

        meta, blobs = segment_message((0, 9), (0, 9), steps=3, tail=2)
        p.send(protocol.SEGMENT, meta, blobs)
        progress, final = p.until({protocol.RESULT, protocol.FAILED})
        assert progress == [{"task": "seg-0", "done": d, "total": 3} for d in (1, 2, 3)]
        tail, frames, audio = check_segment_result(meta, blobs, final, 2)
        # The same task in-process gives the same bits.
        e = m.MMDiTTorchEngine()
        e.load({"config": "tiny", "device": "cpu"})
        local = e.generate(protocol.SegmentTask.parse(meta, blobs), lambda d, t: None)
        assert np.array_equal(local.tail.video, tail.video) and np.array_equal(local.frames, frames)
        assert np.array_equal(local.audio, audio)

        # A task the engine refuses fails; the engine stays up.
        bad, bad_blobs = segment_message((0, 10), (0, 10), task_id="bad")
        p.send(protocol.SEGMENT, bad, bad_blobs)
        _, (kind, fmeta, _) = p.until({protocol.RESULT, protocol.FAILED})
        assert kind == protocol.FAILED and fmeta["task"] == "bad" and "1 + 4k" in fmeta["message"]

        # Cancel mid-task.
        long, long_blobs = segment_message((0, 33), (0, 33), steps=400, task_id="long")
        p.send(protocol.SEGMENT, long, long_blobs)
        kind, first, _ = p.next(timeout=60)
        assert kind == protocol.PROGRESS and first["task"] == "long"
        p.send(protocol.CANCEL, {"task": "long"})
        progress, (kind, cmeta, _) = p.until({protocol.CANCELLED, protocol.RESULT, protocol.FAILED}, timeout=30)
        assert kind == protocol.CANCELLED and cmeta["task"] == "long"
        assert len(progress) < 398

        # Still serving after the cancel.
        meta2, blobs2 = segment_message((0, 5), (0, 5), steps=1, tail=1, task_id="after")
        p.send(protocol.SEGMENT, meta2, blobs2)
        _, final = p.until({protocol.RESULT, protocol.FAILED})
        check_segment_result(meta2, blobs2, final, 1)
    finally:
        rc = p.close()
    assert rc == 0


def test_contract_bench_configuration_gets_ready():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.path.join(ROOT, "Sources", "ReelfarmEngines"), os.environ.get("PYTHONPATH")])), OMP_NUM_THREADS="1")
    p = EngineProcess([sys.executable, "-m", "reelfarm_engines", "mmdit-torch", "--config", "bench",
                       "--device", "cpu"], cwd=ROOT, env=env)
    try:
        kind, ready, _ = p.next(timeout=90)
        assert kind == protocol.READY and ready["version"].endswith("/bench")
        assert ready["geometry"]["latent_channels"] == 16 and ready["geometry"]["step_layout"]["audio"] == [16, 16]
    finally:
        assert p.close() == 0


# --------------------------------------------------------------------------------- 4. against the Swift engine

def swift_binary():
    """`.build/debug/reelfarm` (or $REELFARM_BIN) when it exists and knows `engine serve`, else a skip reason."""
    path = os.environ.get("REELFARM_BIN") or os.path.join(ROOT, ".build", "debug", "reelfarm")
    if not os.path.exists(path):
        return None, f"{path} is missing (run `swift build` in this checkout)"
    try:
        out = subprocess.run([path, "engine", "serve", "--help"], capture_output=True, timeout=30, text=True)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"{path} engine serve --help failed: {e}"
    if out.returncode != 0 or "mmdit" not in (out.stdout + out.stderr):
        return None, f"{path} does not know `engine serve … mmdit` yet"
    return path, None


def test_same_segment_as_the_swift_engine():
    binary, reason = swift_binary()
    if binary is None:
        pytest.skip(reason)
    rng = np.random.default_rng(9)
    pin = protocol.Latents(rng.standard_normal((1, 4, 4, 4)).astype(np.float32),
                           rng.standard_normal((1, 4, 4)).astype(np.float32))
    key = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    grid = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    tasks = [dict(generate=(0, 9), own=(0, 9), index=0, tail=3),
             dict(generate=(8, 17), own=(9, 17), index=1, tail=3, pins=[(0, pin)], keyframes=[(16, key)],
                  references=[grid])]
    results = {}
    for side in ("swift", "torch"):
        if side == "swift":
            p = EngineProcess([binary, "engine", "serve", "mmdit", "--config", "tiny", "--weights", TINY], cwd=ROOT)
        else:
            p = torch_engine_process("--weights", TINY)
        try:
            kind, ready, _ = p.next(timeout=90)
            assert kind == protocol.READY, protocol.KINDS[kind]
            assert ready["geometry"]["latent_channels"] == 4 and ready["geometry"]["max_window"] == 33
            for i, t in enumerate(tasks):
                t = dict(t)
                meta, blobs = segment_message(t.pop("generate"), t.pop("own"), steps=3,
                                              engine="mmdit" if side == "swift" else "mmdit-torch", **t)
                p.send(protocol.SEGMENT, meta, blobs)
                progress, final = p.until({protocol.RESULT, protocol.FAILED}, timeout=90)
                assert len(progress) == 3, f"{side}: progress {progress}"
                results[side, i] = check_segment_result(meta, blobs, final, 3)
        finally:
            p.close()
    for i in range(len(tasks)):
        (st, sf, sa), (tt, tf, ta) = results["swift", i], results["torch", i]
        assert max_relative_error(tt.video, st.video) <= TOLERANCE, f"task {i}: tail video"
        assert max_relative_error(tt.audio, st.audio) <= TOLERANCE, f"task {i}: tail audio"
        assert np.abs(tf.astype(int) - sf.astype(int)).max() <= 2, f"task {i}: frames"
        assert np.abs(ta.astype(np.float64) - sa).max() <= 1e-3, f"task {i}: audio"
