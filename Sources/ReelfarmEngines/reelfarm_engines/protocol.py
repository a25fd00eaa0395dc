"""The engine-process contract, version 1 (ENGINES.md): framing, handshake, task types and the serve loop.

Nothing here knows about leases, sockets or the farm: an engine sees typed tasks and returns typed results.
"""

from __future__ import annotations

import json
import math
import os
import select
import struct
import sys
import time
import traceback
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, BinaryIO, Callable, Optional, Protocol

import numpy as np

CONTRACT = 1
MAGIC = b"RFEP"
MAX_META = 16 << 20
MAX_BLOBS = 4096
MAX_BLOB = 16 << 30

READY, SEGMENT, ANCHORS, PROGRESS, RESULT, FAILED, CANCEL, CANCELLED, SHUTDOWN = range(1, 10)
KINDS = {READY: "ready", SEGMENT: "segment", ANCHORS: "anchors", PROGRESS: "progress", RESULT: "result",
         FAILED: "failed", CANCEL: "cancel", CANCELLED: "cancelled", SHUTDOWN: "shutdown"}


class ContractError(Exception):
    """A message that breaks the contract (framing, kind, metadata)."""


class Cancelled(Exception):
    """Raised from `progress` once the worker has cancelled the running task."""


# ----------------------------------------------------------------------------------------------------- framing

def _read_exact(stream: BinaryIO, n: int) -> bytes:
    if n == 0:
        return b""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = stream.readinto(view[got:])
        if not k:
            raise EOFError(f"stream ended after {got} of {n} bytes")
        got += k
    return bytes(buf) if n < 4096 else buf  # large blobs stay bytearrays (no copy)


def read_message(stream: BinaryIO) -> tuple[int, dict, list]:
    """One message: (kind, metadata, blobs). Raises EOFError at a clean end, ContractError on bad framing."""
    head = stream.read(16)
    if not head:
        raise EOFError("stream closed")
    if len(head) < 16:
        head += _read_exact(stream, 16 - len(head))
    magic, version, kind, zero, m, b = struct.unpack("<4sBBHII", head)
    if magic != MAGIC:
        raise ContractError(f"bad magic {magic!r}")
    if version != CONTRACT:
        raise ContractError(f"contract version {version}, this side speaks {CONTRACT}")
    if kind not in KINDS:
        raise ContractError(f"unknown message kind {kind}")
    if m > MAX_META or b > MAX_BLOBS:
        raise ContractError(f"metadata of {m} bytes or {b} blobs exceeds the limits ({MAX_META}, {MAX_BLOBS})")
    try:
        meta = json.loads(bytes(_read_exact(stream, m)).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ContractError(f"{KINDS[kind]} metadata is not JSON: {e}") from None
    if not isinstance(meta, dict):
        raise ContractError(f"{KINDS[kind]} metadata is not a JSON object")
    blobs = []
    for i in range(b):
        (n,) = struct.unpack("<Q", _read_exact(stream, 8))
        if n > MAX_BLOB:
            raise ContractError(f"blob {i} of {n} bytes exceeds {MAX_BLOB}")
        blobs.append(_read_exact(stream, n))
    return kind, meta, blobs


def write_message(stream: BinaryIO, kind: int, meta: dict, blobs: list = ()) -> None:
    body = json.dumps(meta, separators=(",", ":"), sort_keys=True).encode("utf-8")
    stream.write(struct.pack("<4sBBHII", MAGIC, CONTRACT, kind, 0, len(body), len(blobs)))
    stream.write(body)
    for blob in blobs:
        view = memoryview(blob).cast("B")
        stream.write(struct.pack("<Q", view.nbytes))
        stream.write(view)
    stream.flush()


# ----------------------------------------------------------------------------------------------------- latents

@dataclass
class Latents:
    """Latent steps of both streams: `video` is [T, ...], `audio` is [T, ...] (same T). Float32."""
    video: np.ndarray
    audio: np.ndarray

    def __post_init__(self):
        self.video = np.ascontiguousarray(self.video, dtype=np.float32)
        self.audio = np.ascontiguousarray(self.audio, dtype=np.float32)
        if self.video.ndim < 1 or self.audio.ndim < 1 or self.video.shape[0] != self.audio.shape[0]:
            raise ContractError(f"latents: video {self.video.shape} and audio {self.audio.shape} disagree on steps")

    @property
    def count(self) -> int:
        return self.video.shape[0]

    def encode(self) -> bytes:
        out = [b"RFLT", struct.pack("<I", 1)]
        for t in (self.video, self.audio):
            out.append(struct.pack("<I", t.ndim))
            out.append(struct.pack(f"<{t.ndim}q", *t.shape))
            out.append(t.astype("<f4", copy=False).tobytes())
        return b"".join(out)

    @staticmethod
    def decode(data) -> "Latents":
        data = memoryview(data).cast("B")
        if bytes(data[:4]) != b"RFLT" or len(data) < 8 or struct.unpack_from("<I", data, 4)[0] != 1:
            raise ContractError("latents: bad magic or version")
        off = 8
        tensors = []
        for name in ("video", "audio"):
            if off + 4 > len(data):
                raise ContractError(f"latents: {name} rank is truncated")
            (rank,) = struct.unpack_from("<I", data, off)
            off += 4
            if not 1 <= rank <= 8 or off + 8 * rank > len(data):
                raise ContractError(f"latents: bad {name} rank {rank}")
            shape = struct.unpack_from(f"<{rank}q", data, off)
            off += 8 * rank
            if any(d < 0 for d in shape):
                raise ContractError(f"latents: {name} shape {shape} has a negative dimension")
            n = math.prod(shape)
            if off + 4 * n > len(data):
                raise ContractError(f"latents: {name} tensor {shape} is larger than the data")
            tensors.append(np.frombuffer(data, dtype="<f4", count=n, offset=off).reshape(shape).astype(np.float32))
            off += 4 * n
        if off != len(data):
            raise ContractError(f"latents: {len(data) - off} trailing bytes")
        return Latents(tensors[0], tensors[1])


# ------------------------------------------------------------------------------------------------------- tasks

def _range(v, name) -> tuple[int, int]:
    if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) for x in v) and 0 <= v[0] <= v[1]):
        raise ContractError(f"{name} {v!r} is not a range [lo, hi)")
    return v[0], v[1]


def _get(d: dict, key: str, kind, where: str):
    if key not in d or not isinstance(d[key], kind) or (kind is int and isinstance(d[key], bool)):
        raise ContractError(f"{where}.{key} is missing or not {getattr(kind, '__name__', kind)}")
    return d[key]


@dataclass
class Model:
    engine: str
    seed: int
    steps: int
    config: Optional[str] = None
    weights: Optional[str] = None

    @staticmethod
    def parse(d: Any) -> "Model":
        if not isinstance(d, dict):
            raise ContractError("model is not an object")
        return Model(engine=_get(d, "engine", str, "model"), seed=_get(d, "seed", int, "model"),
                     steps=_get(d, "steps", int, "model"), config=d.get("config"), weights=d.get("weights"))


@dataclass
class Format:
    width: int
    height: int
    fps: Fraction
    sample_rate: int
    channels: int

    @staticmethod
    def parse(d: Any) -> "Format":
        if not isinstance(d, dict):
            raise ContractError("format is not an object")
        try:
            fps = Fraction(_get(d, "fps", str, "format"))
        except (ValueError, ZeroDivisionError):
            raise ContractError(f"format.fps {d.get('fps')!r} is not a rational") from None
        f = Format(_get(d, "width", int, "format"), _get(d, "height", int, "format"), fps,
                   _get(d, "sample_rate", int, "format"), _get(d, "channels", int, "format"))
        if f.width <= 0 or f.height <= 0 or f.fps <= 0 or f.sample_rate <= 0 or f.channels <= 0:
            raise ContractError(f"format {d} is not valid")
        return f

    def sample_at_frame(self, frame: int) -> int:
        """Global sample of global frame `frame` (floor), exactly as the farm's SampleClock."""
        return (frame * self.sample_rate * self.fps.denominator) // self.fps.numerator


@dataclass
class Cue:
    sample: int
    sound: str


@dataclass
class Shot:
    index: int
    id: str
    prompt: str
    camera: str
    sound: str
    cues: list
    frames: tuple

    @staticmethod
    def parse(d: Any) -> "Shot":
        if not isinstance(d, dict):
            raise ContractError("shot is not an object")
        cues = d.get("cues", [])
        if not isinstance(cues, list):
            raise ContractError("shot.cues is not a list")
        return Shot(_get(d, "index", int, "shot"), _get(d, "id", str, "shot"), _get(d, "prompt", str, "shot"),
                    _get(d, "camera", str, "shot"), _get(d, "sound", str, "shot"),
                    [Cue(_get(c, "sample", int, "cue"), _get(c, "sound", str, "cue")) for c in cues],
                    _range(d.get("frames"), "shot.frames"))

    def prompt_text(self) -> str:
        """The prompt with its camera direction, as the Swift engines build it."""
        return self.prompt if not self.camera else f"{self.prompt}; camera: {self.camera}"

    def sound_text(self, samples: tuple[int, int]) -> str:
        """The sound in effect at `samples[0]`, then each cue starting inside `samples` ("rain; then thunder")."""
        current, later = self.sound, []
        for cue in sorted(self.cues, key=lambda c: c.sample):
            if cue.sample <= samples[0]:
                current = cue.sound
            elif cue.sample < samples[1]:
                later.append(f"then {cue.sound}")
        return "; ".join([current] + later)


@dataclass
class Pin:
    latent_index: int
    latents: Latents


@dataclass
class Keyframe:
    frame: int
    image: np.ndarray  # uint8 [H, W, 3]


@dataclass
class SegmentTask:
    id: str
    index: int
    model: Model
    shot: Shot
    format: Format
    generate: tuple
    own: tuple
    samples: tuple
    pins: list
    seed: int
    steps: int
    tail_latents: int
    keyframes: list = field(default_factory=list)
    references: list = field(default_factory=list)

    @property
    def frame_count(self) -> int:
        return self.generate[1] - self.generate[0]

    @staticmethod
    def parse(meta: dict, blobs: list) -> "SegmentTask":
        model = Model.parse(meta.get("model"))
        s = meta.get("segment")
        if not isinstance(s, dict):
            raise ContractError("segment is not an object")
        fmt = Format.parse(s.get("format"))
        image_bytes = fmt.width * fmt.height * 3

        def blob(i, what):
            if not isinstance(i, int) or not 0 <= i < len(blobs):
                raise ContractError(f"{what} refers to missing blob {i!r}")
            return blobs[i]

        def image(i, what):
            b = blob(i, what)
            if len(b) != image_bytes:
                raise ContractError(f"{what} blob {i} is not {fmt.width}x{fmt.height} RGB24")
            return np.frombuffer(b, dtype=np.uint8).reshape(fmt.height, fmt.width, 3)

        pins = [Pin(_get(p, "latent_index", int, "pin"), Latents.decode(blob(p.get("blob"), "pin")))
                for p in s.get("pins", [])]
        keyframes = [Keyframe(_get(k, "frame", int, "keyframe"), image(k.get("blob"), "keyframe"))
                     for k in s.get("keyframes", [])]
        references = [image(r, "reference") for r in s.get("references", [])]
        t = SegmentTask(
            id=_get(s, "id", str, "segment"), index=_get(s, "index", int, "segment"), model=model,
            shot=Shot.parse(s.get("shot")), format=fmt, generate=_range(s.get("generate"), "segment.generate"),
            own=_range(s.get("own"), "segment.own"), samples=_range(s.get("samples"), "segment.samples"),
            pins=pins, seed=_get(s, "seed", int, "segment"), steps=_get(s, "steps", int, "segment"),
            tail_latents=_get(s, "tail_latents", int, "segment"), keyframes=keyframes, references=references)
        if not (t.generate[0] <= t.own[0] <= t.own[1] <= t.generate[1]):
            raise ContractError(f"segment.own {t.own} is not inside generate {t.generate}")
        if t.samples != (fmt.sample_at_frame(t.own[0]), fmt.sample_at_frame(t.own[1])):
            raise ContractError(f"segment.samples {t.samples} are not those of frames {t.own}")
        return t


@dataclass
class AnchorTask:
    id: str
    model: Model
    shot: Shot
    format: Format
    frames: list
    start: Optional[Latents]
    seed: int
    steps: int

    @staticmethod
    def parse(meta: dict, blobs: list) -> "AnchorTask":
        model = Model.parse(meta.get("model"))
        a = meta.get("anchors")
        if not isinstance(a, dict):
            raise ContractError("anchors is not an object")
        frames = a.get("frames")
        if not (isinstance(frames, list) and frames and all(isinstance(f, int) and f >= 0 for f in frames)
                and frames == sorted(frames)):
            raise ContractError("anchors.frames is not an ascending list of frames")
        start = None
        if a.get("has_start"):
            if not blobs:
                raise ContractError("anchors.has_start but blob 0 is missing")
            start = Latents.decode(blobs[0])
        return AnchorTask(_get(a, "id", str, "anchors"), model, Shot.parse(a.get("shot")),
                          Format.parse(a.get("format")), frames, start, _get(a, "seed", int, "anchors"),
                          _get(a, "steps", int, "anchors"))


@dataclass
class SegmentResult:
    tail: Latents
    frames: np.ndarray  # uint8 [own.count, H, W, 3]
    audio: np.ndarray   # float32 [samples.count, channels]


@dataclass
class Geometry:
    temporal_stride: int
    spatial_stride: int
    spatial_multiple: int
    latent_channels: int
    max_window: int
    step_audio: list
    spatial_layout: bool = True
    native_audio_rate: Optional[int] = None

    def latent_count(self, frames: int) -> int:
        return 1 + (frames - 1) // self.temporal_stride

    def latent_index_of_frame(self, local_frame: int) -> int:
        return (local_frame + self.temporal_stride - 1) // self.temporal_stride

    def document(self) -> dict:
        return {"temporal_stride": self.temporal_stride, "causal": True, "spatial_stride": self.spatial_stride,
                "spatial_multiple": self.spatial_multiple, "latent_channels": self.latent_channels,
                "max_window": self.max_window,
                "step_layout": {"spatial": self.spatial_layout, "audio": list(self.step_audio)},
                "native_audio_rate": self.native_audio_rate}


@dataclass
class Ready:
    engine: str
    version: str
    device: str
    device_memory_bytes: int
    geometry: Geometry

    def document(self) -> dict:
        return {"contract": CONTRACT, "engine": self.engine, "version": self.version, "device": self.device,
                "device_memory_bytes": int(self.device_memory_bytes), "geometry": self.geometry.document()}


class Engine(Protocol):
    name: str

    def load(self, options: dict) -> Ready: ...
    def generate(self, task: SegmentTask, progress: Callable[[int, int], None]) -> SegmentResult: ...
    def anchors(self, task: AnchorTask, progress: Callable[[int, int], None]) -> Latents: ...
    def close(self) -> None: ...


# ------------------------------------------------------------------------------------------------------- audio

def owned_audio(native: np.ndarray, native_rate: int, task: SegmentTask, taps: int = 32) -> np.ndarray:
    """The task's owned samples at the film's rate from `native` ([n, c] or [n] float) at `native_rate`, whose
    sample 0 is the instant of the generated range's first frame.

    Film sample s sits at native position p(s) = (s·fps_num − g0·rate·fps_den)·native_rate / (rate·fps_num): its
    integer part is computed in integers, only the fraction (a filter phase) is a float. A Blackman-windowed sinc
    with `taps` zero crossings each side, cut off at the lower Nyquist, interpolates there; samples outside the
    native buffer count as its edge values. Channels: mono is copied to every film channel; otherwise the first
    `channels` are taken (a mono film gets their mean)."""
    f = task.format
    x = np.asarray(native, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n = x.shape[0]
    if n == 0:
        return np.zeros((task.samples[1] - task.samples[0], f.channels), dtype=np.float32)
    num, den = f.fps.numerator, f.fps.denominator
    s = np.arange(task.samples[0], task.samples[1], dtype=object)
    scale = f.sample_rate * num
    numer = [(int(v) * num - task.generate[0] * f.sample_rate * den) * native_rate for v in s]
    base = np.array([q // scale for q in numer], dtype=np.int64)
    frac = np.array([(q % scale) / scale for q in numer], dtype=np.float64)
    cutoff = min(1.0, f.sample_rate / native_rate)
    if cutoff == 1.0 and rate_is_integer_shift(numer, scale):
        y = x[np.clip(base, 0, n - 1)]  # whole native samples at the same rate: a copy, no filter
    else:
        k = np.arange(-taps + 1, taps + 1)  # neighbours base + k
        idx = np.clip(base[:, None] + k[None, :], 0, n - 1)
        d = k[None, :] - frac[:, None]  # distance from the position, in native samples
        w = cutoff * np.sinc(cutoff * d) * (0.42 + 0.5 * np.cos(np.pi * d / taps) + 0.08 * np.cos(2 * np.pi * d / taps))
        w[np.abs(d) >= taps] = 0
        y = np.einsum("sk,skc->sc", w, x[idx])
    if y.shape[1] == 1:
        y = np.repeat(y, f.channels, axis=1)
    elif f.channels == 1:
        y = y.mean(axis=1, keepdims=True)
    else:
        y = y[:, :f.channels] if y.shape[1] >= f.channels else np.repeat(y[:, :1], f.channels, axis=1)
    return np.ascontiguousarray(y, dtype=np.float32)


def rate_is_integer_shift(numer: list, scale: int) -> bool:
    """True when every position is a whole native sample (same rate, aligned start): copy, no filtering."""
    return all(q % scale == 0 for q in numer)


# ----------------------------------------------------------------------------------------------- the serve loop

def torch_device(option: Optional[str]):
    """The torch device an engine runs on: `auto` (or nothing) is `cuda:N` (the current GPU) when torch sees one,
    else `cpu`; `cuda` alone gets the current GPU's index, so `ready` names it."""
    import torch
    if option in (None, "", "auto"):
        option = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(option)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device() if torch.cuda.is_available() else 0)
    return dev


DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
          "float16": "float16", "fp16": "float16"}


def torch_dtype(option: Optional[str], device):
    """`float32`/`bfloat16`/`float16` (or their short names); by default bf16 on a GPU and float32 on the CPU."""
    import torch
    if option in (None, ""):
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if option not in DTYPES:
        raise ValueError(f"dtype {option!r} is not one of {sorted(DTYPES)}")
    return getattr(torch, DTYPES[option])


def device_memory(device) -> int:
    """Bytes of memory on `device` (the host's RAM for the CPU)."""
    if device.type == "cuda":
        import torch
        return int(torch.cuda.get_device_properties(device.index or 0).total_memory)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def serve(engine: Engine, options: dict) -> int:
    """Loads `engine`, sends `ready`, then answers tasks until `shutdown` or the end of stdin. Returns an exit
    status: 0 after a clean end, 2 after a contract error from the worker's side."""
    out_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out = os.fdopen(out_fd, "wb", buffering=0)
    inp = os.fdopen(os.dup(0), "rb", buffering=0)
    ready = engine.load(options)
    if ready.engine != engine.name:
        raise ContractError(f"engine {engine.name} reports name {ready.engine}")
    write_message(out, READY, ready.document())
    _log(f"{engine.name}: ready on {ready.device} ({ready.version})")
    try:
        while True:
            try:
                kind, meta, blobs = read_message(inp)
            except EOFError:
                return 0
            if kind == SHUTDOWN:
                return 0
            if kind == CANCEL:
                continue  # a cancel that crossed our answer: nothing runs
            if kind not in (SEGMENT, ANCHORS):
                raise ContractError(f"unexpected {KINDS[kind]} between tasks")
            task_id = "?"
            try:
                task = SegmentTask.parse(meta, blobs) if kind == SEGMENT else AnchorTask.parse(meta, blobs)
                task_id = task.id
                del blobs
                progress = _Progress(out, inp, task.id)
                t0 = time.perf_counter()
                if kind == SEGMENT:
                    r = engine.generate(task, progress)
                    check_result(task, r)
                    write_message(out, RESULT, {"task": task.id, "seconds": time.perf_counter() - t0},
                                  [r.tail.encode(), np.ascontiguousarray(r.frames, dtype=np.uint8),
                                   np.ascontiguousarray(r.audio, dtype="<f4")])
                else:
                    latents = engine.anchors(task, progress)
                    if latents.count != len(task.frames):
                        raise ContractError(f"{task.id}: {latents.count} anchors for {len(task.frames)} frames")
                    write_message(out, RESULT, {"task": task.id, "seconds": time.perf_counter() - t0},
                                  [latents.encode()])
            except Cancelled:
                write_message(out, CANCELLED, {"task": task_id})
                _log(f"{engine.name}: {task_id} cancelled")
            except (EOFError, BrokenPipeError):
                return 0
            except Exception as e:  # the task failed; the engine stays up
                _log(f"{engine.name}: {task_id} failed:\n{traceback.format_exc()}")
                write_message(out, FAILED, {"task": task_id, "message": f"{type(e).__name__}: {e}"})
    except ContractError as e:
        _log(f"{engine.name}: contract error: {e}")
        return 2
    finally:
        engine.close()


class _Progress:
    """`progress(done, total)`: sends progress, and raises Cancelled once a cancel for the task has arrived."""

    def __init__(self, out, inp, task_id: str):
        self.out, self.inp, self.task_id = out, inp, task_id
        self.cancelled = False

    def __call__(self, done: int, total: int) -> None:
        write_message(self.out, PROGRESS, {"task": self.task_id, "done": int(done), "total": int(total)})
        while select.select([self.inp.fileno()], [], [], 0)[0]:
            kind, meta, _ = read_message(self.inp)
            if kind == SHUTDOWN:
                raise EOFError("shutdown")
            if kind != CANCEL:
                raise ContractError(f"unexpected {KINDS[kind]} while task {self.task_id} runs")
            if meta.get("task") == self.task_id:
                self.cancelled = True
        if self.cancelled:
            raise Cancelled(self.task_id)


def check_result(task: SegmentTask, r: SegmentResult) -> None:
    """Refuses a result that does not fit its task before it leaves (the worker checks again)."""
    f = task.format
    n = task.own[1] - task.own[0]
    if r.frames.shape != (n, f.height, f.width, 3):
        raise ContractError(f"{task.id}: frames {r.frames.shape}, task owns {(n, f.height, f.width, 3)}")
    m = task.samples[1] - task.samples[0]
    if r.audio.shape != (m, f.channels):
        raise ContractError(f"{task.id}: audio {r.audio.shape}, task owns {(m, f.channels)}")
    if not (np.isfinite(r.tail.video).all() and np.isfinite(r.tail.audio).all()):
        raise ContractError(f"{task.id}: tail latents hold non-finite values")
