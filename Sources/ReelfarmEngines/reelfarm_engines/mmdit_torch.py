"""`mmdit-torch`: reelfarm's dual-stream audio-video MMDiT (Sources/FarmInference) in PyTorch.

The same model, weights (same safetensors names, the same seeded weights when no file is given), token layout,
rotary positions, text encoder, sampler, Philox noise and codecs as the Swift `MMDiTEngine`, so one segment task
gives the same latents, frames and samples on either side (up to float32 summation order). Each function names
the Swift definition it ports; where the Swift core computes in Double (schedules, rotary tables, noise, the audio
timeline) this module does too, and rounds to float32 where it does.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, fields
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from . import protocol

TEMPORAL_STRIDE = 4
SPATIAL_STRIDE = 8
PATCH = 2
MAX_REFERENCES = 9
TEXT_VOCABULARY = 257
BOS = 256
EPS = 1e-6
ROPE_BASE = 10_000.0
PIXELS = SPATIAL_STRIDE * SPATIAL_STRIDE * 3
MASK64 = (1 << 64) - 1


# ---------------------------------------------------------------------------------------------- configuration

@dataclass(frozen=True)
class MMDiTConfig:
    """MMDiTConfig.swift; field names are the Swift ones (they are the keys of `reelfarm.config` JSON)."""
    name: str
    videoChannels: int
    audioChannels: int
    audioTokensPerStep: int
    audioPatch: int
    dim: int
    heads: int
    depth: int
    mlpRatio: int
    textDim: int
    textHeads: int
    textDepth: int
    textMaxTokens: int
    timeFrequencies: int
    audioWindowPoints: int
    maxWindow: int
    guidance: float
    timeShift: float

    head_dim = property(lambda s: s.dim // s.heads)
    mlp_dim = property(lambda s: s.dim * s.mlpRatio)
    audio_tokens_per_step_patched = property(lambda s: s.audioTokensPerStep // s.audioPatch)
    video_token_inputs = property(lambda s: (2 * s.videoChannels + 1) * PATCH * PATCH)
    video_token_outputs = property(lambda s: s.videoChannels * PATCH * PATCH)
    audio_token_inputs = property(lambda s: (2 * s.audioChannels + 1) * s.audioPatch)
    audio_token_outputs = property(lambda s: s.audioChannels * s.audioPatch)

    @staticmethod
    def named(name: str) -> "MMDiTConfig":
        if name not in CONFIGS:
            raise ValueError(f"unknown mmdit configuration \"{name}\" (have: {', '.join(CONFIGS)})")
        return CONFIGS[name]

    @staticmethod
    def from_json(text: str) -> "MMDiTConfig":
        d = json.loads(text)
        names = {f.name for f in fields(MMDiTConfig)}
        if set(d) != names:
            raise ValueError(f"configuration JSON has keys {sorted(d)}, expected {sorted(names)}")
        return MMDiTConfig(**d)

    def problems(self) -> list:
        p = []
        if self.dim % self.heads:
            p.append(f"dim {self.dim} is not a multiple of heads {self.heads}")
        if self.head_dim % 2 or self.head_dim < 6:
            p.append(f"head size {self.head_dim} must be even and ≥ 6")
        if self.textDim % self.textHeads:
            p.append(f"textDim {self.textDim} is not a multiple of textHeads {self.textHeads}")
        if self.audioTokensPerStep % self.audioPatch:
            p.append("audioTokensPerStep is not a multiple of audioPatch")
        if self.audio_tokens_per_step_patched % TEMPORAL_STRIDE:
            p.append(f"audio tokens per step ({self.audio_tokens_per_step_patched}) must be a multiple of "
                     f"{TEMPORAL_STRIDE}")
        if (self.maxWindow - 1) % TEMPORAL_STRIDE:
            p.append(f"maxWindow {self.maxWindow} is not 1 + 4k")
        if self.timeFrequencies % 2:
            p.append("timeFrequencies must be even")
        if min(self.videoChannels, self.audioChannels, self.depth, self.textDepth, self.textMaxTokens,
               self.audioWindowPoints, self.mlpRatio) < 1:
            p.append("every size must be ≥ 1")
        return p

    def latent_count(self, frames: int) -> int:
        return 1 + (frames - 1) // TEMPORAL_STRIDE

    def geometry(self) -> protocol.Geometry:
        """MMDiTEngine.geometry(of:)."""
        return protocol.Geometry(temporal_stride=TEMPORAL_STRIDE, spatial_stride=SPATIAL_STRIDE,
                                 spatial_multiple=2 * SPATIAL_STRIDE, latent_channels=self.videoChannels,
                                 max_window=self.maxWindow, step_audio=[self.audioChannels, self.audioTokensPerStep],
                                 spatial_layout=True, native_audio_rate=None)


CONFIGS = {c.name: c for c in [
    MMDiTConfig("tiny", videoChannels=4, audioChannels=4, audioTokensPerStep=4, audioPatch=1, dim=32, heads=2,
                depth=2, mlpRatio=2, textDim=16, textHeads=2, textDepth=1, textMaxTokens=32, timeFrequencies=32,
                audioWindowPoints=8, maxWindow=33, guidance=3, timeShift=3),
    MMDiTConfig("small", videoChannels=8, audioChannels=8, audioTokensPerStep=8, audioPatch=2, dim=96, heads=4,
                depth=4, mlpRatio=4, textDim=64, textHeads=4, textDepth=2, textMaxTokens=96, timeFrequencies=64,
                audioWindowPoints=32, maxWindow=97, guidance=3, timeShift=3),
    MMDiTConfig("bench", videoChannels=16, audioChannels=16, audioTokensPerStep=16, audioPatch=2, dim=1024, heads=8,
                depth=4, mlpRatio=4, textDim=256, textHeads=4, textDepth=2, textMaxTokens=128, timeFrequencies=256,
                audioWindowPoints=64, maxWindow=97, guidance=4, timeShift=5),
]}


def parameter_layout(c: MMDiTConfig) -> list:
    """ParameterLayout.swift: (name, shape, role) of every tensor, in the Swift order."""
    p = []

    def linear(name, out, inp):
        p.append((f"{name}.weight", (out, inp), "linear"))
        p.append((f"{name}.bias", (out,), "bias"))

    def norm(name, n):
        p.append((f"{name}.weight", (n,), "normWeight"))
        p.append((f"{name}.bias", (n,), "bias"))

    d, dt, hd = c.dim, c.textDim, c.head_dim
    p.append(("text.embed", (TEXT_VOCABULARY, dt), "embedding"))
    p.append(("text.pos", (c.textMaxTokens, dt), "embedding"))
    for i in range(c.textDepth):
        norm(f"text.blocks.{i}.norm1", dt)
        linear(f"text.blocks.{i}.qkv", 3 * dt, dt)
        linear(f"text.blocks.{i}.out", dt, dt)
        norm(f"text.blocks.{i}.norm2", dt)
        linear(f"text.blocks.{i}.fc1", 4 * dt, dt)
        linear(f"text.blocks.{i}.fc2", dt, 4 * dt)
    norm("text.norm", dt)
    linear("text.proj", d, dt)
    linear("text.pool_video", d, dt)
    linear("text.pool_audio", d, dt)
    linear("time.fc1", d, c.timeFrequencies)
    linear("time.fc2", d, d)
    for s, inputs, outputs in (("video", c.video_token_inputs, c.video_token_outputs),
                               ("audio", c.audio_token_inputs, c.audio_token_outputs)):
        linear(f"{s}.embed", d, inputs)
        linear(f"{s}.modulation", 6 * d, d)
        linear(f"{s}.final.modulation", 2 * d, d)
        linear(f"{s}.final.proj", outputs, d)
    for i in range(c.depth):
        for s in ("video", "audio"):
            p.append((f"blocks.{i}.{s}.modulation", (6, d), "modulationOffset"))
            linear(f"blocks.{i}.{s}.qkv", 3 * d, d)
            p.append((f"blocks.{i}.{s}.q_norm", (hd,), "normWeight"))
            p.append((f"blocks.{i}.{s}.k_norm", (hd,), "normWeight"))
            linear(f"blocks.{i}.{s}.out", d, d)
            linear(f"blocks.{i}.{s}.fc1", c.mlp_dim, d)
            linear(f"blocks.{i}.{s}.fc2", d, c.mlp_dim)
        linear(f"blocks.{i}.text.kv", 2 * d, d)
        p.append((f"blocks.{i}.text.k_norm", (hd,), "normWeight"))
    p.append(("codec.video.decode.weight", (TEMPORAL_STRIDE * PIXELS, c.videoChannels), "decoder"))
    p.append(("codec.video.decode.bias", (TEMPORAL_STRIDE * PIXELS,), "bias"))
    p.append(("codec.video.encode.weight", (c.videoChannels, PIXELS), "encoder"))
    p.append(("codec.video.encode.bias", (c.videoChannels,), "encoder"))
    p.append(("codec.audio.decode.weight", (2 * c.audioWindowPoints, c.audioChannels), "decoder"))
    p.append(("codec.audio.decode.bias", (2 * c.audioWindowPoints,), "bias"))
    p.append(("codec.audio.encode.weight", (c.audioChannels, 2 * c.audioWindowPoints), "encoder"))
    p.append(("codec.audio.encode.bias", (c.audioChannels,), "encoder"))
    return p


# ------------------------------------------------------------------------------------------- seeded weights

def _mix(x):
    """SeedDerivation.mix (SplitMix64 finaliser) on a uint64 array, wrapping."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _mix_int(x: int) -> int:
    return int(_mix(np.array([x & MASK64], dtype=np.uint64))[0])


def fnv1a(text: str) -> int:
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return h


def _fill(count: int, key: int, mean: np.float32, std: np.float32, chunk: int = 1 << 22) -> np.ndarray:
    """ModelWeights.fill: uniform draws; value i depends on key and i only. Float32 arithmetic as in Swift."""
    half = np.float32(std * np.sqrt(np.float32(3)))
    k = np.uint64(_mix_int(key))
    out = np.empty(count, dtype=np.float32)
    with np.errstate(over="ignore"):
        for lo in range(0, count, chunk):
            i = np.arange(lo, min(count, lo + chunk), dtype=np.uint64)
            bits = _mix(k + i * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
            u = bits.astype(np.float32) / np.float32(1 << 24) * np.float32(2) - np.float32(1)
            out[lo:lo + len(i)] = mean + half * u
    return out


def _invert_matrix(m: list, n: int) -> list:
    """ModelWeights.invertMatrix: Gauss–Jordan with partial pivoting, in the Swift order."""
    a = list(m)
    inv = [0.0] * (n * n)
    for i in range(n):
        inv[i * n + i] = 1.0
    for col in range(n):
        pivot = col
        for r in range(col + 1, n):  # Swift's max(by:) keeps the first of equal maxima
            if abs(a[pivot * n + col]) < abs(a[r * n + col]):
                pivot = r
        if pivot != col:
            for j in range(n):
                a[col * n + j], a[pivot * n + j] = a[pivot * n + j], a[col * n + j]
                inv[col * n + j], inv[pivot * n + j] = inv[pivot * n + j], inv[col * n + j]
        p = a[col * n + col]
        if p == 0:
            raise ValueError("invertMatrix: singular matrix")
        for j in range(n):
            a[col * n + j] /= p
            inv[col * n + j] /= p
        for r in range(n):
            if r == col:
                continue
            f = a[r * n + col]
            if f == 0:
                continue
            for j in range(n):
                a[r * n + j] -= f * a[col * n + j]
                inv[r * n + j] -= f * inv[col * n + j]
    return inv


def _invert(decode: np.ndarray, bias: np.ndarray) -> tuple:
    """ModelWeights.invert: E = (DᵀD)⁻¹Dᵀ and e = -E·b in Double, in the Swift summation order."""
    rows, cols = decode.shape
    d = [float(v) for v in decode.reshape(-1)]
    b = [float(v) for v in bias]
    gram = [0.0] * (cols * cols)
    for i in range(cols):
        for j in range(cols):
            s = 0.0
            for r in range(rows):
                s += d[r * cols + i] * d[r * cols + j]
            gram[i * cols + j] = s
    inv = _invert_matrix(gram, cols)
    e = np.empty((cols, rows), dtype=np.float32)
    eb = np.empty(cols, dtype=np.float32)
    for i in range(cols):
        acc = 0.0
        row = inv[i * cols:(i + 1) * cols]
        for r in range(rows):
            s = 0.0
            dr = d[r * cols:(r + 1) * cols]
            for j in range(cols):
                s += row[j] * dr[j]
            e[i, r] = s
            acc -= s * b[r]
        eb[i] = acc
    return e, eb


def seeded_weights(c: MMDiTConfig, seed: int) -> dict:
    """ModelWeights.seeded: the same seed gives the same bits as the Swift core. Float32 numpy arrays."""
    if c.problems():
        raise ValueError(f"MMDiTConfig {c.name}: {c.problems()}")
    w = {}
    f32 = np.float32
    for name, shape, role in parameter_layout(c):
        if role == "encoder":
            w[name] = np.zeros(shape, dtype=np.float32)
            continue
        mean = f32(0)
        if role == "linear":
            std = f32(1) / np.sqrt(f32(shape[1]))
        elif role == "bias":
            std = f32(0.02)
        elif role == "normWeight":
            mean, std = f32(1), f32(0.05)
        elif role == "embedding":
            std = f32(1)
        elif role == "modulationOffset":
            std = f32(0.1)
        elif role == "decoder":
            std = (f32(0.05) if name.startswith("codec.audio") else f32(0.25)) / np.sqrt(f32(shape[1]))
        else:
            raise AssertionError(role)
        n = int(np.prod(shape))
        w[name] = _fill(n, (seed & MASK64) ^ fnv1a(name), mean, f32(std)).reshape(shape)
    last = (TEMPORAL_STRIDE - 1) * PIXELS
    e, eb = _invert(w["codec.video.decode.weight"][last:last + PIXELS], w["codec.video.decode.bias"][last:])
    w["codec.video.encode.weight"], w["codec.video.encode.bias"] = e, eb
    e, eb = _invert(w["codec.audio.decode.weight"], w["codec.audio.decode.bias"])
    w["codec.audio.encode.weight"], w["codec.audio.encode.bias"] = e, eb
    return w


def load_weights(path: str, expected: Optional[MMDiTConfig] = None) -> tuple:
    """ModelWeights.load: (config, {name: float32 array}); refuses what the Swift loader refuses."""
    from safetensors import safe_open
    if os.path.isdir(path):
        raise ValueError(f"{path}: mmdit weights are one safetensors file, not a directory")
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
        stored = MMDiTConfig.from_json(meta["reelfarm.config"]) if "reelfarm.config" in meta else None
        config = stored or expected
        if config is None:
            raise ValueError(f"{path}: metadata has no reelfarm.config, and no configuration was given")
        if expected is not None and stored is not None and stored != expected:
            raise ValueError(f"{path}: weights were made for configuration \"{stored.name}\", not \"{expected.name}\"")
        if config.problems():
            raise ValueError(f"{path}: configuration is unusable: {'; '.join(config.problems())}")
        keys = set(f.keys())
        w = {}
        for name, shape, _ in parameter_layout(config):
            if name not in keys:
                raise ValueError(f"{path}: tensor {name} {list(shape)} is missing")
            t = f.get_tensor(name)
            if tuple(t.shape) != tuple(shape):
                raise ValueError(f"{path}: tensor {name} has shape {list(t.shape)}, configuration "
                                 f"\"{config.name}\" needs {list(shape)}")
            w[name] = t.to(torch.float32).numpy()
        extra = sorted(keys - set(w))
        if extra:
            raise ValueError(f"{path}: tensor {extra[0]} is not part of configuration \"{config.name}\"")
    return config, w


# --------------------------------------------------------------------------------------------------- noise

def philox(counter: list, key: tuple) -> list:
    """NoiseGenerator.philox (Philox4x32-10) on arrays of counters (uint64 arrays holding uint32 values)."""
    c = [np.asarray(v, dtype=np.uint64) for v in counter]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    m32 = np.uint64(0xFFFFFFFF)
    with np.errstate(over="ignore"):
        for _ in range(10):
            p0 = np.uint64(0xD2511F53) * c[0]
            p1 = np.uint64(0xCD9E8D57) * c[2]
            c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & m32, (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & m32]
            k0 = (k0 + np.uint64(0x9E3779B9)) & m32
            k1 = (k1 + np.uint64(0xBB67AE85)) & m32
    return c


def normals(count: int, seed: int, segment: int, stream: int, step: int = 0) -> np.ndarray:
    """NoiseGenerator.fill: `count` standard normals of key (seed, segment, stream, step) as float32."""
    seed &= MASK64
    blocks = (count + 3) // 4
    n = np.arange(blocks, dtype=np.uint64)
    c2 = np.full(blocks, segment & 0xFFFFFFFF, dtype=np.uint64)
    c3 = np.full(blocks, ((stream << 24) | (step & 0xFFFFFF)) & 0xFFFFFFFF, dtype=np.uint64)
    w = philox([n & np.uint64(0xFFFFFFFF), n >> np.uint64(32), c2, c3], (seed & 0xFFFFFFFF, seed >> 32))
    out = np.empty((blocks, 4))
    for pair in range(2):
        u0 = (w[2 * pair].astype(np.float64) + 0.5) / 4294967296.0
        u1 = (w[2 * pair + 1].astype(np.float64) + 0.5) / 4294967296.0
        r = np.sqrt(-2 * np.log(u0))
        out[:, 2 * pair] = r * np.cos(2 * np.pi * u1)
        out[:, 2 * pair + 1] = r * np.sin(2 * np.pi * u1)
    return out.reshape(-1)[:count].astype(np.float32)


# -------------------------------------------------------------------------------------------------- layout

class TokenLayout:
    """TokenLayout.swift: token order, rotary positions, patchify and unpatchify (torch, batched over steps)."""

    def __init__(self, config: MMDiTConfig, steps: int, height: int, width: int, step_times=None,
                 references: int = 0):
        if not (steps >= 1 and height >= 2 and width >= 2 and height % 2 == 0 and width % 2 == 0):
            raise ValueError(f"TokenLayout: {steps} steps of {height}×{width} latents")
        if not 0 <= references <= MAX_REFERENCES:
            raise ValueError(f"TokenLayout: {references} references, at most {MAX_REFERENCES}")
        self.config, self.steps, self.height, self.width, self.references = config, steps, height, width, references
        self.step_times = list(step_times) if step_times is not None else [TEMPORAL_STRIDE * j for j in range(steps)]
        if len(self.step_times) != steps:
            raise ValueError("TokenLayout: one time per step")

    patches_per_step = property(lambda s: (s.height // 2) * (s.width // 2))
    video_clip_tokens = property(lambda s: s.steps * s.patches_per_step)
    video_tokens = property(lambda s: (s.steps + s.references) * s.patches_per_step)
    audio_tokens = property(lambda s: s.steps * s.config.audio_tokens_per_step_patched)

    def video_positions(self) -> np.ndarray:
        """[videoTokens, 3] (t, h, w) as float32 values."""
        times = self.step_times + [-8 * (r + 1) for r in range(self.references)]
        h2, w2 = self.height // 2, self.width // 2
        t = np.repeat(np.array(times, dtype=np.float32), h2 * w2)
        r = np.tile(np.repeat(np.arange(h2, dtype=np.float32), w2), len(times))
        c = np.tile(np.arange(w2, dtype=np.float32), len(times) * h2)
        return np.stack([t, r, c], axis=1)

    def audio_positions(self) -> np.ndarray:
        per = self.config.audio_tokens_per_step_patched
        s = TEMPORAL_STRIDE
        t = [np.float32((self.step_times[j] - (s - 1)) * per + s * m) / np.float32(per)
             for j in range(self.steps) for m in range(per)]
        z = np.zeros(len(t), dtype=np.float32)
        return np.stack([np.array(t, dtype=np.float32), z, z], axis=1)

    @staticmethod
    def patchify_video(noisy, reference, mask):
        """[T,C,h,w] ×2 and [T,h,w] → [T·h/2·w/2, (2C+1)·4], features (channel, dy, dx)."""
        T, C, h, w = noisy.shape
        stack = torch.cat([noisy, reference, mask[:, None]], dim=1)
        t = stack.reshape(T, 2 * C + 1, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5)
        return t.reshape(T * (h // 2) * (w // 2), (2 * C + 1) * 4)

    def patchify_references(self, latents):
        R, C, h, w = latents.shape
        return self.patchify_video(torch.zeros_like(latents), latents, latents.new_ones((R, h, w)))

    def unpatchify_video(self, tokens):
        C, T, h, w = self.config.videoChannels, self.steps, self.height, self.width
        t = tokens.reshape(T, h // 2, w // 2, C, 2, 2).permute(0, 3, 1, 4, 2, 5)
        return t.reshape(T, C, h, w)

    def patchify_audio(self, noisy, reference, mask):
        T, C, A = noisy.shape
        p = self.config.audioPatch
        stack = torch.cat([noisy, reference, mask[:, None]], dim=1)
        return stack.reshape(T, 2 * C + 1, A // p, p).permute(0, 2, 1, 3).reshape(T * (A // p), (2 * C + 1) * p)

    def unpatchify_audio(self, tokens):
        c = self.config
        p = c.audioPatch
        t = tokens.reshape(self.steps, c.audioTokensPerStep // p, c.audioChannels, p).permute(0, 2, 1, 3)
        return t.reshape(self.steps, c.audioChannels, c.audioTokensPerStep)


def rope_tables(positions: np.ndarray, head_dim: int) -> tuple:
    """RotaryEmbedding.swift: per token, headDim/2 cosines and sines, computed in Double and stored as float32.
    Pairs: the first t/2 turn with time, then h/2 with the row, then w/2 with the column."""
    ah = 2 * (head_dim // 6)
    at = head_dim - 2 * ah
    axes, freqs = [], []
    for axis, d in enumerate((at, ah, ah)):
        for i in range(d // 2):
            axes.append(axis)
            freqs.append(math.pow(ROPE_BASE, -2 * i / d))
    pos = positions.astype(np.float64)[:, axes]  # [N, half]
    ang = pos * np.array(freqs)[None, :]
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


def apply_rope(x, cos, sin):
    """x [N, H, hd]; cos/sin [N, hd/2]: pair (a, b) → (a·c − b·s, a·s + b·c)."""
    N, H, hd = x.shape
    y = x.reshape(N, H, hd // 2, 2)
    a, b = y[..., 0], y[..., 1]
    c, s = cos[:, None, :], sin[:, None, :]
    return torch.stack([a * c - b * s, b * c + a * s], dim=-1).reshape(N, H, hd)


# --------------------------------------------------------------------------------------------------- model

def gelu(x):
    """VectorMath.gelu: x · sigmoid(1.5957691 · (x + 0.044715 x³))."""
    return x * torch.sigmoid(1.5957691 * (x * (x * x * 0.044715 + 1)))


def rms_heads(x, weight):
    """Normalization.rmsNormHeads on [N, H, hd]."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * weight


def tokens(text: str, limit: int) -> list:
    """ByteTokenizer.tokens: BOS then the UTF-8 bytes, at most `limit` tokens."""
    return [BOS] + list(text.encode("utf-8"))[:limit - 1]


@dataclass
class TextContext:
    """TextContext.swift: per block the text's keys (RMS-normed per head) and values, and the pooled vectors."""
    keys: list      # [n, H, hd] per block
    values: list    # [n, H, hd] per block
    pooled: list    # [video (dim), audio (dim)]
    tokens: int


class MMDiT:
    """MMDiT.swift on torch tensors: weights by their safetensors names, on one device and dtype."""

    def __init__(self, config: MMDiTConfig, weights: dict, device="cpu", dtype=torch.float32):
        self.config = config
        self.device = torch.device(device)
        self.dtype = dtype
        # Fresh copies: the torch allocator's alignment, so kernels (whose summation order can follow the
        # alignment) give the same bits for the same weights however they were made.
        self.w = {k: torch.from_numpy(np.ascontiguousarray(v)).to(device=self.device, dtype=dtype, copy=True)
                  for k, v in weights.items()}
        self.numpy_weights = weights  # float32, for the codecs' exact host arithmetic

    def parameter_count(self) -> int:
        return sum(int(v.numel()) for v in self.w.values())

    def linear(self, name, x):
        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    # -- text
    def encode_text(self, toks: list):
        """TextEncoder.encode: final-normed states [n, textDim]."""
        c, w = self.config, self.w
        n, d = len(toks), c.textDim
        if not 1 <= n <= c.textMaxTokens:
            raise ValueError(f"TextEncoder: {n} tokens")
        idx = torch.tensor(toks, device=self.device)
        x = w["text.embed"][idx] + w["text.pos"][:n]
        hh = c.textHeads
        for i in range(c.textDepth):
            p = f"text.blocks.{i}"
            h = F.layer_norm(x, (d,), w[p + ".norm1.weight"], w[p + ".norm1.bias"], EPS)
            qkv = self.linear(p + ".qkv", h).reshape(n, 3, hh, d // hh).permute(1, 2, 0, 3)
            o = F.scaled_dot_product_attention(qkv[0][None], qkv[1][None], qkv[2][None])[0]  # [H, n, hd]
            x = x + self.linear(p + ".out", o.permute(1, 0, 2).reshape(n, d))
            h = F.layer_norm(x, (d,), w[p + ".norm2.weight"], w[p + ".norm2.bias"], EPS)
            x = x + self.linear(p + ".fc2", gelu(self.linear(p + ".fc1", h)))
        return F.layer_norm(x, (d,), w["text.norm.weight"], w["text.norm.bias"], EPS)

    def text_context(self, prompt: str, sound: str) -> TextContext:
        c = self.config
        sp = self.encode_text(tokens(prompt, c.textMaxTokens))
        ss = self.encode_text(tokens(sound, c.textMaxTokens))
        proj = self.linear("text.proj", torch.cat([sp, ss]))
        n = proj.shape[0]
        keys, values = [], []
        for i in range(c.depth):
            kv = self.linear(f"blocks.{i}.text.kv", proj)
            k = kv[:, :c.dim].reshape(n, c.heads, c.head_dim)
            keys.append(rms_heads(k, self.w[f"blocks.{i}.text.k_norm"]))
            values.append(kv[:, c.dim:].reshape(n, c.heads, c.head_dim))
        pooled = [self.linear("text.pool_video", sp.mean(0)), self.linear("text.pool_audio", ss.mean(0))]
        return TextContext(keys, values, pooled, n)

    # -- rotary tables for a layout
    def rope(self, layout: TokenLayout) -> list:
        out = []
        for pos in (layout.video_positions(), layout.audio_positions()):
            cos, sin = rope_tables(pos, self.config.head_dim)
            out.append((torch.from_numpy(cos).to(self.device, self.dtype),
                        torch.from_numpy(sin).to(self.device, self.dtype)))
        return out

    def time_embedding(self, t: float):
        c = self.config
        half = c.timeFrequencies // 2
        tt = float(np.float32(t))
        arg = [tt * 1000 * math.exp(-math.log(10_000) * k / half) for k in range(half)]
        emb = np.array([math.cos(a) for a in arg] + [math.sin(a) for a in arg], dtype=np.float32)
        e = torch.from_numpy(emb).to(self.device, self.dtype)
        return self.linear("time.fc2", F.silu(self.linear("time.fc1", e)))

    def forward(self, video_in, audio_in, layout: TokenLayout, rope: list, text: TextContext, t: float):
        """MMDiT.forward: velocity tokens ([videoClipTokens, C·4], [audioTokens, Ca·patch])."""
        c, w = self.config, self.w
        d, H, hd = c.dim, c.heads, c.head_dim
        names = ("video", "audio")
        temb = self.time_embedding(t)
        cond = [F.silu(temb + text.pooled[s]) for s in range(2)]
        mod = [self.linear(f"{names[s]}.modulation", cond[s]) for s in range(2)]
        fmod = [self.linear(f"{names[s]}.final.modulation", cond[s]) for s in range(2)]
        x = [self.linear("video.embed", video_in), self.linear("audio.embed", audio_in)]
        nv = x[0].shape[0]
        for i in range(c.depth):
            m = [(mod[s] + w[f"blocks.{i}.{names[s]}.modulation"].reshape(-1)).reshape(6, d) for s in range(2)]
            qs, ks, vs = [], [], []
            for s in range(2):
                p = f"blocks.{i}.{names[s]}"
                h = F.layer_norm(x[s], (d,), eps=EPS) * (1 + m[s][1]) + m[s][0]
                qkv = self.linear(p + ".qkv", h).reshape(-1, 3, H, hd)
                cos, sin = rope[s]
                qs.append(apply_rope(rms_heads(qkv[:, 0], w[p + ".q_norm"]), cos, sin))
                ks.append(apply_rope(rms_heads(qkv[:, 1], w[p + ".k_norm"]), cos, sin))
                vs.append(qkv[:, 2])
            # [1, H, N, hd]: four dimensions let SDPA take its fused (flash) kernels instead of the math path.
            q = torch.cat(qs).transpose(0, 1)[None]
            k = torch.cat([text.keys[i]] + ks).transpose(0, 1)[None]
            v = torch.cat([text.values[i]] + vs).transpose(0, 1)[None]
            o = F.scaled_dot_product_attention(q, k, v)[0].transpose(0, 1).reshape(-1, d)
            o = [o[:nv], o[nv:]]
            for s in range(2):
                p = f"blocks.{i}.{names[s]}"
                x[s] = x[s] + m[s][2] * self.linear(p + ".out", o[s])
                h = F.layer_norm(x[s], (d,), eps=EPS) * (1 + m[s][4]) + m[s][3]
                x[s] = x[s] + m[s][5] * self.linear(p + ".fc2", gelu(self.linear(p + ".fc1", h)))
        outs = []
        for s, rows in ((0, layout.video_clip_tokens), (1, x[1].shape[0])):
            h = F.layer_norm(x[s][:rows], (d,), eps=EPS) * (1 + fmod[s][d:]) + fmod[s][:d]
            outs.append(self.linear(f"{names[s]}.final.proj", h))
        return outs[0], outs[1]


# ------------------------------------------------------------------------------------------------- sampler

@dataclass
class Conditioning:
    """Conditioning.swift: text, held steps (reference + mask per stream), grid references, noise key."""
    layout: TokenLayout
    prompt: str
    sound: str
    seed: int
    segment: int
    video_reference: np.ndarray = None  # [T, C, h, w]
    video_mask: np.ndarray = None       # [T, h, w]
    audio_reference: np.ndarray = None  # [T, Ca, A]
    audio_mask: np.ndarray = None       # [T, A]
    references: np.ndarray = None       # [R, C, h, w]

    def __post_init__(self):
        lay, c = self.layout, self.layout.config
        T, h, w = lay.steps, lay.height, lay.width
        if self.video_reference is None:
            self.video_reference = np.zeros((T, c.videoChannels, h, w), dtype=np.float32)
            self.video_mask = np.zeros((T, h, w), dtype=np.float32)
            self.audio_reference = np.zeros((T, c.audioChannels, c.audioTokensPerStep), dtype=np.float32)
            self.audio_mask = np.zeros((T, c.audioTokensPerStep), dtype=np.float32)
        if self.references is None:
            self.references = np.zeros((lay.references, c.videoChannels, h, w), dtype=np.float32)

    def hold_video(self, step: int, latent) -> None:
        self.video_reference[step] = np.asarray(latent, dtype=np.float32).reshape(self.video_reference.shape[1:])
        self.video_mask[step] = 1

    def hold_audio(self, step: int, latent) -> None:
        self.audio_reference[step] = np.asarray(latent, dtype=np.float32).reshape(self.audio_reference.shape[1:])
        self.audio_mask[step] = 1


def schedule(steps: int, shift: float) -> list:
    """FlowSampler.schedule: flow times 1 → 0, computed in Double, rounded to float32."""
    s = float(np.float32(shift))
    return [float(np.float32(s * (1 - i / steps) / (1 + (s - 1) * (1 - i / steps)))) for i in range(steps + 1)]


def sample(model: MMDiT, cond: Conditioning, steps: int, guidance: Optional[float] = None,
           time_shift: Optional[float] = None, progress: Optional[Callable[[int, int], None]] = None) -> tuple:
    """FlowSampler.sample: rectified-flow Euler steps with a time shift and classifier-free guidance; held
    positions are reset to their references before the first step and after each. Returns (video, audio) tensors
    [T, C, h, w] and [T, Ca, A] in the model's dtype."""
    if steps < 1:
        raise ValueError("FlowSampler: steps must be ≥ 1")
    c, lay = model.config, cond.layout
    guidance = float(np.float32(c.guidance if guidance is None else guidance))
    shift = c.timeShift if time_shift is None else time_shift
    dev, dt_ = model.device, model.dtype
    tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(dev, dt_)
    ref_v, mask_v = tensor(cond.video_reference), tensor(cond.video_mask)
    ref_a, mask_a = tensor(cond.audio_reference), tensor(cond.audio_mask)
    hold_v, hold_a = (mask_v != 0)[:, None].expand_as(ref_v), (mask_a != 0)[:, None].expand_as(ref_a)
    with torch.inference_mode():
        conditional = model.text_context(cond.prompt, cond.sound)
        unconditional = None if guidance == 1 else model.text_context("", "")
        rope = model.rope(lay)
        xv = tensor(normals(ref_v.numel(), cond.seed, cond.segment, 0).reshape(ref_v.shape))
        xa = tensor(normals(ref_a.numel(), cond.seed, cond.segment, 1).reshape(ref_a.shape))
        ref_tokens = lay.patchify_references(tensor(cond.references)) if lay.references else None
        xv, xa = torch.where(hold_v, ref_v, xv), torch.where(hold_a, ref_a, xa)
        times = schedule(steps, shift)
        for i in range(steps):
            vin = lay.patchify_video(xv, ref_v, mask_v)
            if ref_tokens is not None:
                vin = torch.cat([vin, ref_tokens])
            ain = lay.patchify_audio(xa, ref_a, mask_a)
            vc, ac = model.forward(vin, ain, lay, rope, conditional, times[i])
            if unconditional is not None:
                vu, au = model.forward(vin, ain, lay, rope, unconditional, times[i])
                vc, ac = vu + guidance * (vc - vu), au + guidance * (ac - au)
            dt = float(np.float32(times[i + 1]) - np.float32(times[i]))
            xv = xv + dt * lay.unpatchify_video(vc)
            xa = xa + dt * lay.unpatchify_audio(ac)
            xv, xa = torch.where(hold_v, ref_v, xv), torch.where(hold_a, ref_a, xa)
            if progress is not None:
                progress(i + 1, steps)
    return xv, xa


# --------------------------------------------------------------------------------------------------- codecs

def _byte(v: np.ndarray) -> np.ndarray:
    """VideoCodec.byte: ((v + 1)·127.5).rounded() (half away from zero), clamped to [0, 255]."""
    b = (v.astype(np.float32) + np.float32(1)) * np.float32(127.5)
    fl = np.floor(b)
    r = np.where(b - fl == np.float32(0.5), fl + 1, np.round(b))  # ties away (negatives clamp to 0 anyway)
    return np.clip(r, 0, 255).astype(np.uint8)


def decode_video(model: MMDiT, latents, frames: range) -> np.ndarray:
    """VideoCodec.decode: local frames `frames` of latents [T, C, h, w] as RGB24 [n, 8h, 8w, 3]."""
    T, C, h, w = latents.shape
    frames = list(frames)
    if not frames:
        return np.zeros((0, 8 * h, 8 * w, 3), dtype=np.uint8)
    W = model.w["codec.video.decode.weight"].reshape(TEMPORAL_STRIDE, PIXELS, C)
    b = model.w["codec.video.decode.bias"].reshape(TEMPORAL_STRIDE, PIXELS)
    steps = [(f + 3) // TEMPORAL_STRIDE for f in frames]
    subs = [(f + 3) % TEMPORAL_STRIDE for f in frames]
    if max(steps) >= T:
        raise ValueError(f"VideoCodec: frame {frames[-1]} needs latent step {max(steps)}")
    with torch.inference_mode():
        z = latents.to(model.dtype)[steps].permute(0, 2, 3, 1)                  # [n, h, w, C]
        si = torch.tensor(subs, device=latents.device)
        block = torch.einsum("nyxc,npc->nyxp", z, W[si]) + b[si][:, None, None, :]  # [n, h, w, 192]
        rgb = block.reshape(len(frames), h, w, 8, 8, 3).permute(0, 1, 3, 2, 4, 5).reshape(len(frames), 8 * h, 8 * w, 3)
        vals = rgb.to(torch.float32).cpu().numpy()
    return _byte(vals)


def encode_image(model: MMDiT, rgb: np.ndarray) -> np.ndarray:
    """VideoCodec.encode: the latent [C, h, w] of one RGB24 image [H, W, 3]."""
    H, W_, _ = rgb.shape
    if H % 8 or W_ % 8:
        raise ValueError("VideoCodec: bad image")
    h, w = H // 8, W_ // 8
    blocks = (rgb.astype(np.float32) / np.float32(127.5) - np.float32(1))
    blocks = blocks.reshape(h, 8, w, 8, 3).transpose(0, 2, 1, 3, 4).reshape(h * w, PIXELS)
    with torch.inference_mode():
        z = model.linear("codec.video.encode", torch.from_numpy(np.ascontiguousarray(blocks)).to(model.device,
                                                                                                 model.dtype))
        return z.to(torch.float32).cpu().numpy().T.reshape(-1, h, w).copy()


class AudioTimeline:
    """AudioTimeline.swift: exact integer placement of film samples on the audio-latent axis."""

    def __init__(self, fmt: protocol.Format, first_frame: int, tokens_per_step: int):
        self.num, den = fmt.fps.numerator, fmt.fps.denominator
        self.rate_den = fmt.sample_rate * den
        self.a = tokens_per_step
        self.first_sample, self.remainder = divmod(first_frame * self.rate_den, self.num)

    def coordinate(self, sample: int) -> tuple:
        """(latent index, fraction) of local sample `sample`."""
        d = 4 * self.rate_den
        base = sample * self.num + (TEMPORAL_STRIDE - 1) * self.rate_den - self.remainder
        q, r = divmod(base * self.a, d)
        return q, r / d


def decode_audio(model: MMDiT, latents, steps: int, timeline: AudioTimeline, samples: range,
                 channels: int) -> np.ndarray:
    """AudioCodec.decode: interleaved PCM [len(samples), channels] (float32) of local samples `samples`."""
    c = model.config
    ca, a, p = c.audioChannels, c.audioTokensPerStep, c.audioWindowPoints
    count = steps * a
    with torch.inference_mode():
        z = latents.to(model.dtype).permute(0, 2, 1).reshape(count, ca)       # [(j, i), ch]
        frames = model.linear("codec.audio.decode", z).to(torch.float32).cpu().numpy()  # [count, 2P]
    n = len(samples)
    if n == 0:
        return np.zeros((0, channels), dtype=np.float32)
    coords = [timeline.coordinate(s) for s in samples]
    k0 = np.array([q for q, _ in coords], dtype=np.int64)
    x0 = np.array([f for _, f in coords], dtype=np.float64)
    f32 = np.float32
    left = np.zeros(n, dtype=np.float32)
    right = np.zeros(n, dtype=np.float32)
    for k, x in ((k0, x0), (k0 - 1, x0 + 1)):
        valid = (k >= 0) & (k < count)
        kk = np.clip(k, 0, count - 1)
        sine = np.array([math.sin(math.pi * v / 2) for v in x])
        wgt = (sine * sine).astype(np.float32)
        pos = np.minimum(np.maximum(x * p / 2 - 0.5, 0), p - 1)
        i = pos.astype(np.int64)
        t = (pos - i).astype(np.float32)
        nxt = np.minimum(i + 1, p - 1)
        for side, acc in ((0, left), (1, right)):
            fi = frames[kk, side * p + i]
            fn = frames[kk, side * p + nxt]
            v = np.where(i + 1 < p, fi * (f32(1) - t) + fn * t, fi).astype(np.float32)
            acc[:] = np.where(valid, acc + wgt * v, acc)
    left, right = np.clip(left, -1, 1), np.clip(right, -1, 1)
    if channels == 1:
        return ((left + right) / f32(2))[:, None].astype(np.float32)
    out = np.empty((n, channels), dtype=np.float32)
    for ch in range(channels):
        out[:, ch] = left if ch % 2 == 0 else right
    return out


# --------------------------------------------------------------------------------------------------- engine

def _resolve_device(name: Optional[str]) -> torch.device:
    return protocol.torch_device(name)


def _resolve_dtype(name: Optional[str]) -> torch.dtype:
    if name in (None, "", "float32", "fp32"):
        return torch.float32
    if name in ("float64", "fp64"):
        return torch.float64
    raise ValueError(f"mmdit-torch computes in float32 (or float64 for checks), not {name}")


def _device_memory(dev: torch.device) -> int:
    return protocol.device_memory(dev)


class MMDiTTorchEngine:
    """The engine behind `python -m reelfarm_engines mmdit-torch`: MMDiTEngine's segment and anchor passes."""

    name = "mmdit-torch"
    cache_size = 2

    def __init__(self):
        self.options: dict = {}
        self.config: Optional[MMDiTConfig] = None
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self._models: "OrderedDict[tuple, MMDiT]" = OrderedDict()

    # -- lifecycle
    def load(self, options: dict) -> protocol.Ready:
        self.options = dict(options or {})
        self.device = _resolve_device(self.options.get("device"))
        self.dtype = _resolve_dtype(self.options.get("dtype"))
        name = self.options.get("config")
        weights = self.options.get("weights")
        if weights:
            model = self._load_file(weights, MMDiTConfig.named(name) if name else None)
            self.config = model.config
        else:
            self.config = MMDiTConfig.named(name or "small")  # MMDiTEngine+Factory's default
        dev = f"cuda:{self.device.index or 0}" if self.device.type == "cuda" else "cpu"
        return protocol.Ready(engine=self.name, version=f"torch-{torch.__version__}/{self.config.name}", device=dev,
                              device_memory_bytes=_device_memory(self.device), geometry=self.config.geometry())

    def close(self) -> None:
        self._models.clear()

    # -- models
    def _cached(self, key: tuple, make: Callable[[], MMDiT]) -> MMDiT:
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        model = make()
        self._models[key] = model
        while len(self._models) > self.cache_size:
            self._models.popitem(last=False)
        return model

    def _load_file(self, path: str, expected: Optional[MMDiTConfig]) -> MMDiT:
        path = os.path.abspath(path)

        def make():
            config, w = load_weights(path, expected)
            return MMDiT(config, w, self.device, self.dtype)
        model = self._cached(("file", path), make)
        if expected is not None and model.config != expected:
            raise ValueError(f"{path}: weights were made for configuration \"{model.config.name}\", "
                             f"not \"{expected.name}\"")
        return model

    def model_for(self, spec: protocol.Model) -> MMDiT:
        """MMDiTEngine(model:): the process's configuration, weights from the options or `model.weights`, else
        seeded from `model.seed`."""
        if self.config is None:
            raise RuntimeError("mmdit-torch: load() first")
        if spec.config and spec.config != self.config.name:
            raise ValueError(f"model.config \"{spec.config}\": this mmdit-torch process serves configuration "
                             f"\"{self.config.name}\" (start one with --config {spec.config})")
        weights = self.options.get("weights") or spec.weights
        if weights:
            return self._load_file(weights, self.config)
        seed = spec.seed & MASK64
        return self._cached(("seeded", self.config.name, seed),
                            lambda: MMDiT(self.config, seeded_weights(self.config, seed), self.device, self.dtype))

    # -- checks (MMDiTEngine.checkPicture / checkLayout)
    @staticmethod
    def _check_picture(f: protocol.Format, task_id: str) -> None:
        if f.width % 16 or f.height % 16 or f.width < 16 or f.height < 16:
            raise ValueError(f"{task_id}: picture {f.width}×{f.height} is not a multiple of 16 (2×2 patches of 8×8)")

    @staticmethod
    def _check_layout(l: protocol.Latents, c: MMDiTConfig, layout: TokenLayout, task_id: str) -> None:
        video = (c.videoChannels, layout.height, layout.width)
        audio = (c.audioChannels, c.audioTokensPerStep)
        if tuple(l.video.shape[1:]) != video or tuple(l.audio.shape[1:]) != audio:
            raise ValueError(f"{task_id}: pinned latents have shapes {list(l.video.shape)} and {list(l.audio.shape)}, "
                             f"this model needs [T, {', '.join(map(str, video))}] and "
                             f"[T, {', '.join(map(str, audio))}]")

    # -- tasks
    def generate(self, task: protocol.SegmentTask, progress) -> protocol.SegmentResult:
        """MMDiTEngine.generate."""
        model = self.model_for(task.model)
        c = model.config
        f = task.format
        g0, g1 = task.generate
        count = g1 - g0
        if not (count >= 1 and (count - 1) % TEMPORAL_STRIDE == 0 and count <= c.maxWindow):
            raise ValueError(f"{task.id}: generate range {list(task.generate)} is not 1 + 4k frames ≤ {c.maxWindow}")
        if not (g0 <= task.own[0] and task.own[1] <= g1):
            raise ValueError(f"{task.id}: owned range {list(task.own)} is outside generated {list(task.generate)}")
        self._check_picture(f, task.id)
        if len(task.references) > MAX_REFERENCES:
            raise ValueError(f"{task.id}: {len(task.references)} grid references, at most {MAX_REFERENCES}")
        steps = c.latent_count(count)
        layout = TokenLayout(c, steps, f.height // 8, f.width // 8, references=len(task.references))
        sound = task.shot.sound_text((f.sample_at_frame(g0), f.sample_at_frame(g1)))
        cond = Conditioning(layout, task.shot.prompt_text(), sound, task.seed, task.index)
        for key in task.keyframes:
            local = key.frame - g0
            if not (0 <= local < count) or key.image.shape != (f.height, f.width, 3):
                raise ValueError(f"{task.id}: keyframe at frame {key.frame} is outside {list(task.generate)} or not "
                                 f"{f.width}×{f.height}")
            cond.hold_video((local + TEMPORAL_STRIDE - 1) // TEMPORAL_STRIDE, encode_image(model, key.image))
        # Pins come last: context and anchors win over a keyframe on the same step.
        for pin in task.pins:
            self._check_layout(pin.latents, c, layout, task.id)
            for t in range(pin.latents.count):
                j = pin.latent_index + t
                if 0 <= j < steps:
                    cond.hold_video(j, pin.latents.video[t])
                    cond.hold_audio(j, pin.latents.audio[t])
        for r, image in enumerate(task.references):
            if image.shape != (f.height, f.width, 3):
                raise ValueError(f"{task.id}: grid reference {r} is not {f.width}×{f.height} RGB")
            cond.references[r] = encode_image(model, image)
        xv, xa = sample(model, cond, max(task.steps, 1), progress=progress)
        frames = decode_video(model, xv, range(task.own[0] - g0, task.own[1] - g0))
        timeline = AudioTimeline(f, g0, c.audioTokensPerStep)
        pcm = decode_audio(model, xa, steps, timeline,
                           range(task.samples[0] - timeline.first_sample, task.samples[1] - timeline.first_sample),
                           f.channels)
        n = min(task.tail_latents, steps)
        video = xv.to(torch.float32).cpu().numpy()
        audio = xa.to(torch.float32).cpu().numpy()
        tail = protocol.Latents(video[steps - n:], audio[steps - n:])
        return protocol.SegmentResult(tail=tail, frames=frames, audio=pcm)

    def anchors(self, task: protocol.AnchorTask, progress) -> protocol.Latents:
        """MMDiTEngine.anchors: one latent step per requested frame, generated as sparse clips in chunks."""
        frames_all = list(task.frames)
        if not frames_all or any(a >= b for a, b in zip(frames_all, frames_all[1:])):
            raise ValueError(f"{task.id}: anchor frames must be a non-empty ascending list")
        model = self.model_for(task.model)
        c = model.config
        f = task.format
        self._check_picture(f, task.id)
        per_chunk = max(2, c.latent_count(c.maxWindow))
        h, w = f.height // 8, f.width // 8
        first = frames_all[0]
        sound = task.shot.sound_text((f.sample_at_frame(first), f.sample_at_frame(first + 1)))
        video_out, audio_out = [], []
        start_at, chunk = 0, 0
        held = None if task.start is None else (task.start.video[-1:], task.start.audio[-1:])
        while start_at < len(frames_all):
            frames = frames_all[start_at:start_at + per_chunk]
            layout = TokenLayout(c, len(frames), h, w, step_times=[x - frames[0] for x in frames])
            cond = Conditioning(layout, task.shot.prompt_text(), sound, task.seed, -1 - chunk)
            if held is not None:
                self._check_layout(protocol.Latents(held[0], held[1]), c, layout, task.id)
                cond.hold_video(0, held[0][0])
                cond.hold_audio(0, held[1][0])
            xv, xa = sample(model, cond, max(task.steps, 1))
            v = xv.to(torch.float32).cpu().numpy()
            a = xa.to(torch.float32).cpu().numpy()
            # A later chunk's first step repeats the previous chunk's last anchor.
            video_out.append(v if not video_out else v[1:])
            audio_out.append(a if not audio_out else a[1:])
            held = (v[-1:], a[-1:])
            remaining = len(frames_all) - start_at
            start_at += len(frames) if len(frames) == remaining else len(frames) - 1
            chunk += 1
            progress(min(start_at, len(frames_all)), len(frames_all))
        return protocol.Latents(np.concatenate(video_out), np.concatenate(audio_out))


# ---------------------------------------------------------------------------------------------------- bench

BENCH_PROMPT = "A lobster legion marches across a neon seabed at dusk, slow dolly forward"
BENCH_SOUND = "deep sub-bass drone with clicking shells"


def bench(config: str = "bench", device: Optional[str] = None, width: int = 320, height: int = 192,
          frames: int = 33, runs: int = 3, threads: Optional[int] = None, dtype: str = "float32",
          log: Optional[Callable[[str], None]] = None) -> float:
    """Median seconds of one forward pass, as InferenceBenchmark measures it: seeded weights (seed 1), a
    `frames`-frame window of `width`×`height` (default 320×192, 33 frames), the real text context, token inputs
    from Philox noise, time 0.7, one warm-up pass then `runs` timed passes."""
    if threads:
        torch.set_num_threads(threads)
    c = MMDiTConfig.named(config)
    dev = _resolve_device(device)
    model = MMDiT(c, seeded_weights(c, 1), dev, _resolve_dtype(dtype))
    steps = c.latent_count(frames)
    layout = TokenLayout(c, steps, height // 8, width // 8)
    with torch.inference_mode():
        text = model.text_context(BENCH_PROMPT, BENCH_SOUND)
        rope = model.rope(layout)
        vin = torch.from_numpy(normals(layout.video_tokens * c.video_token_inputs, 1, 0, 0)).to(dev, model.dtype)
        ain = torch.from_numpy(normals(layout.audio_tokens * c.audio_token_inputs, 1, 0, 1)).to(dev, model.dtype)
        vin, ain = vin.reshape(layout.video_tokens, -1), ain.reshape(layout.audio_tokens, -1)

        def once():
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            model.forward(vin, ain, layout, rope, text, 0.7)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            return time.perf_counter() - t0

        once()
        times = [once() for _ in range(runs)]
    if log:
        log(f"bench {c.name} on {dev} ({torch.get_num_threads()} threads): "
            f"{layout.video_tokens} video + {layout.audio_tokens} audio + {text.tokens} text tokens, "
            f"forward {', '.join(f'{t:.3f}' for t in times)} s")
    return statistics.median(times)


def main(argv=None) -> int:
    """`python -m reelfarm_engines.mmdit_torch bench [--config C] [--device D] [--threads N] [--runs N]`."""
    import argparse
    p = argparse.ArgumentParser(prog="reelfarm_engines.mmdit_torch")
    p.add_argument("command", choices=["bench"])
    p.add_argument("--config", default="bench")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--frames", type=int, default=33)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=192)
    a = p.parse_args(argv)
    s = bench(a.config, a.device, a.width, a.height, a.frames, a.runs, a.threads,
              log=lambda m: print(m, file=sys.stderr))
    print(json.dumps({"engine": "mmdit-torch", "config": a.config, "device": str(_resolve_device(a.device)),
                      "threads": torch.get_num_threads(), "seconds_per_forward": s}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
