#!/usr/bin/env python3
"""NumPy reference of reelfarm's dual-stream audio-video MMDiT (Sources/FarmInference), numpy only.

Reads the same safetensors weights the Swift core reads, computes in float64 what the Swift core computes in
float32, and writes a "case" file (safetensors) holding the inputs and the expected outputs of:

  * forward_a: one forward pass with the conditional text, held steps (masks) and one grid reference;
  * forward_b: one forward pass with the empty (unconditional) text and irregular step times (an anchor pass);
  * sample:    a short sampler run (rectified-flow Euler, time shift, classifier-free guidance, held steps,
               Philox noise) from a seed;
  * noise:     the first normals of one noise key.

Tests/FarmInferenceTests/ReferenceTests.swift runs the Swift core on the same inputs and compares.

Regenerate the committed fixtures (tiny configuration) from the repository root:

  swift build
  .build/debug/reelfarm model init --config tiny --seed 7 \
      -o Tests/FarmInferenceTests/Fixtures/tiny.safetensors
  python3 Scripts/mmdit_reference.py Tests/FarmInferenceTests/Fixtures/tiny.safetensors \
      -o Tests/FarmInferenceTests/Fixtures/tiny-case.safetensors
"""

import argparse
import json
import math
import struct
import sys

import numpy as np

EPS = 1e-6
STRIDE = 4          # temporal stride of the latent grid (causal)
ROPE_BASE = 10000.0
BOS = 256


# ----------------------------------------------------------------------------------------------- safetensors

def read_safetensors(path):
    """Tensors (float64 arrays) and metadata of a safetensors file (F32, F16, BF16)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        raw = data[base + b: base + end]
        if e["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif e["dtype"] == "F16":
            arr = np.frombuffer(raw, dtype="<f2")
        elif e["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {e['dtype']}")
        out[name] = arr.astype(np.float64).reshape(e["shape"])
    return out, meta


def write_safetensors(path, tensors, meta):
    """Writes float32 tensors, names sorted, header padded with spaces to 8 bytes."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(np.asarray(tensors[name], dtype="<f4"))
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    header["__metadata__"] = meta
    h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# --------------------------------------------------------------------------------------------------- kernels

def layer_norm(x):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + EPS)


def rms_heads(x, heads, weight):
    """RMS norm over each head's slice of the last axis, times weight (head size)."""
    n, d = x.shape
    y = x.reshape(n, heads, d // heads)
    y = y / np.sqrt((y ** 2).mean(-1, keepdims=True) + EPS) * weight
    return y.reshape(n, d)


def gelu(x):
    return x / (1 + np.exp(-1.5957691 * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1 + np.exp(-x))


def linear(W, name, x):
    return x @ W[name + ".weight"].T + W[name + ".bias"]


def attention(q, k, v, heads):
    """softmax(q kᵀ / sqrt(hd)) v per head, the whole matrix at once (the reference needs no tiling)."""
    hd = q.shape[1] // heads
    out = np.empty((q.shape[0], q.shape[1]))
    for h in range(heads):
        s = slice(h * hd, (h + 1) * hd)
        a = q[:, s] @ k[:, s].T / math.sqrt(hd)
        a = np.exp(a - a.max(-1, keepdims=True))
        out[:, s] = (a / a.sum(-1, keepdims=True)) @ v[:, s]
    return out


def rope_axes(hd):
    h = 2 * (hd // 6)
    return hd - 2 * h, h, h


def rope(x, positions, heads):
    """Rotates adjacent pairs: the first t/2 pairs by time, then h/2 by row, then w/2 by column."""
    n, d = x.shape
    hd = d // heads
    freqs = []
    for axis, dim in enumerate(rope_axes(hd)):
        freqs += [(axis, ROPE_BASE ** (-2 * i / dim)) for i in range(dim // 2)]
    ang = np.array([[positions[r][a] * f for (a, f) in freqs] for r in range(n)])
    # The Swift core keeps the tables in float32.
    c = np.cos(ang).astype(np.float32).astype(np.float64)
    s = np.sin(ang).astype(np.float32).astype(np.float64)
    y = x.reshape(n, heads, hd // 2, 2).copy()
    a, b = y[..., 0].copy(), y[..., 1].copy()
    y[..., 0] = a * c[:, None, :] - b * s[:, None, :]
    y[..., 1] = a * s[:, None, :] + b * c[:, None, :]
    return y.reshape(n, d)


# ------------------------------------------------------------------------------------------------------ text

def tokens(text, limit):
    return [BOS] + list(text.encode("utf-8"))[: limit - 1]


def text_encode(W, cfg, toks):
    d = cfg["textDim"]
    x = W["text.embed"][toks] + W["text.pos"][: len(toks)]
    for i in range(cfg["textDepth"]):
        p = f"text.blocks.{i}"
        h = layer_norm(x) * W[p + ".norm1.weight"] + W[p + ".norm1.bias"]
        qkv = linear(W, p + ".qkv", h)
        o = attention(qkv[:, :d], qkv[:, d:2 * d], qkv[:, 2 * d:], cfg["textHeads"])
        x = x + linear(W, p + ".out", o)
        h = layer_norm(x) * W[p + ".norm2.weight"] + W[p + ".norm2.bias"]
        x = x + linear(W, p + ".fc2", gelu(linear(W, p + ".fc1", h)))
    return layer_norm(x) * W["text.norm.weight"] + W["text.norm.bias"]


def text_context(W, cfg, prompt, sound):
    d, heads = cfg["dim"], cfg["heads"]
    sp = text_encode(W, cfg, tokens(prompt, cfg["textMaxTokens"]))
    ss = text_encode(W, cfg, tokens(sound, cfg["textMaxTokens"]))
    proj = linear(W, "text.proj", np.concatenate([sp, ss]))
    kv = []
    for i in range(cfg["depth"]):
        t = linear(W, f"blocks.{i}.text.kv", proj)
        kv.append((rms_heads(t[:, :d], heads, W[f"blocks.{i}.text.k_norm"]), t[:, d:]))
    return {
        "kv": kv,
        "pooled": [linear(W, "text.pool_video", sp.mean(0)), linear(W, "text.pool_audio", ss.mean(0))],
    }


# ---------------------------------------------------------------------------------------------------- layout

class Layout:
    """Mirrors TokenLayout.swift: token order, positions, patchify."""

    def __init__(self, cfg, steps, height, width, step_times=None, references=0):
        self.cfg, self.steps, self.h, self.w, self.refs = cfg, steps, height, width, references
        self.times = list(step_times) if step_times is not None else [STRIDE * j for j in range(steps)]
        self.pa = cfg["audioPatch"]
        self.A = cfg["audioTokensPerStep"]
        self.per_step = self.A // self.pa

    def video_positions(self):
        out = []
        for j in range(self.steps + self.refs):
            t = self.times[j] if j < self.steps else -8 * (j - self.steps + 1)
            out += [(t, r, c) for r in range(self.h // 2) for c in range(self.w // 2)]
        return out

    def audio_positions(self):
        return [(((self.times[j] - (STRIDE - 1)) * self.per_step + STRIDE * m) / self.per_step, 0, 0)
                for j in range(self.steps) for m in range(self.per_step)]

    def patchify_video(self, noisy, ref, mask):
        """[T,C,h,w] ×2 and [T,h,w] → tokens [(T·h/2·w/2), (2C+1)·4], features (channel, dy, dx)."""
        T, C, h, w = noisy.shape
        stack = np.concatenate([noisy, ref, mask[:, None]], axis=1)            # [T, 2C+1, h, w]
        t = stack.reshape(T, 2 * C + 1, h // 2, 2, w // 2, 2)                  # T, ch, r, dy, c, dx
        return t.transpose(0, 2, 4, 1, 3, 5).reshape(T * (h // 2) * (w // 2), (2 * C + 1) * 4)

    def patchify_references(self, latents):
        R, C, h, w = latents.shape
        return self.patchify_video(np.zeros_like(latents), latents, np.ones((R, h, w)))

    def unpatchify_video(self, tokens):
        C, T, h, w = self.cfg["videoChannels"], self.steps, self.h, self.w
        t = tokens.reshape(T, h // 2, w // 2, C, 2, 2)                           # T, r, c, ch, dy, dx
        return t.transpose(0, 3, 1, 4, 2, 5).reshape(T, C, h, w)

    def patchify_audio(self, noisy, ref, mask):
        T, C, A = noisy.shape
        stack = np.concatenate([noisy, ref, mask[:, None]], axis=1)            # [T, 2C+1, A]
        t = stack.reshape(T, 2 * C + 1, A // self.pa, self.pa)                  # T, ch, m, q
        return t.transpose(0, 2, 1, 3).reshape(T * (A // self.pa), (2 * C + 1) * self.pa)

    def unpatchify_audio(self, tokens):
        C, T = self.cfg["audioChannels"], self.steps
        t = tokens.reshape(T, self.A // self.pa, C, self.pa)                    # T, m, ch, q
        return t.transpose(0, 2, 1, 3).reshape(T, C, self.A)


# ----------------------------------------------------------------------------------------------------- model

def forward(W, cfg, lay, video_in, audio_in, t, ctx):
    """Velocity tokens (video clip, audio) for token inputs; mirrors MMDiT.forward."""
    d, heads, F = cfg["dim"], cfg["heads"], cfg["timeFrequencies"]
    half = F // 2
    k = np.arange(half)
    arg = float(np.float32(t)) * 1000 * np.exp(-math.log(10000) * k / half)
    emb = np.concatenate([np.cos(arg), np.sin(arg)])
    temb = linear(W, "time.fc2", silu(linear(W, "time.fc1", emb)))
    names = ["video", "audio"]
    cond = [silu(temb + ctx["pooled"][s]) for s in range(2)]
    mod = [linear(W, f"{names[s]}.modulation", cond[s]) for s in range(2)]
    fmod = [linear(W, f"{names[s]}.final.modulation", cond[s]) for s in range(2)]
    x = [linear(W, "video.embed", video_in), linear(W, "audio.embed", audio_in)]
    pos = [lay.video_positions(), lay.audio_positions()]
    for i in range(cfg["depth"]):
        m = [mod[s] + W[f"blocks.{i}.{names[s]}.modulation"].reshape(-1) for s in range(2)]
        ch = [[m[s][j * d:(j + 1) * d] for j in range(6)] for s in range(2)]
        qs, ks, vs = [], [], []
        for s in range(2):
            p = f"blocks.{i}.{names[s]}"
            h = layer_norm(x[s]) * (1 + ch[s][1]) + ch[s][0]
            qkv = linear(W, p + ".qkv", h)
            q = rope(rms_heads(qkv[:, :d], heads, W[p + ".q_norm"]), pos[s], heads)
            kk = rope(rms_heads(qkv[:, d:2 * d], heads, W[p + ".k_norm"]), pos[s], heads)
            qs.append(q)
            ks.append(kk)
            vs.append(qkv[:, 2 * d:])
        tk, tv = ctx["kv"][i]
        o = attention(np.concatenate(qs), np.concatenate([tk] + ks), np.concatenate([tv] + vs), heads)
        o = [o[: len(x[0])], o[len(x[0]):]]
        for s in range(2):
            p = f"blocks.{i}.{names[s]}"
            x[s] = x[s] + ch[s][2] * linear(W, p + ".out", o[s])
            h = layer_norm(x[s]) * (1 + ch[s][4]) + ch[s][3]
            x[s] = x[s] + ch[s][5] * linear(W, p + ".fc2", gelu(linear(W, p + ".fc1", h)))
    clip = lay.steps * (lay.h // 2) * (lay.w // 2)
    outs = []
    for s, rows in ((0, clip), (1, len(x[1]))):
        h = layer_norm(x[s][:rows]) * (1 + fmod[s][d:]) + fmod[s][:d]
        outs.append(linear(W, f"{names[s]}.final.proj", h))
    return outs


# ----------------------------------------------------------------------------------------------------- noise

def philox(counter, key):
    """Philox4x32-10 on arrays of counters (4 × uint64 holding uint32 values)."""
    c = [np.asarray(v, dtype=np.uint64) for v in counter]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    mask = np.uint64(0xFFFFFFFF)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c[0]
        p1 = np.uint64(0xCD9E8D57) * c[2]
        hi0, lo0 = p0 >> np.uint64(32), p0 & mask
        hi1, lo1 = p1 >> np.uint64(32), p1 & mask
        c = [hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0]
        k0 = (k0 + np.uint64(0x9E3779B9)) & mask
        k1 = (k1 + np.uint64(0xBB67AE85)) & mask
    return c


def normals(count, seed, segment, stream, step=0):
    """Mirrors NoiseGenerator.fill, rounded to float32 as the Swift core stores noise."""
    blocks = (count + 3) // 4
    n = np.arange(blocks, dtype=np.uint64)
    c2 = np.full(blocks, segment & 0xFFFFFFFF, dtype=np.uint64)
    c3 = np.full(blocks, (stream << 24) | (step & 0xFFFFFF), dtype=np.uint64)
    w = philox([n & np.uint64(0xFFFFFFFF), n >> np.uint64(32), c2, c3], (seed & 0xFFFFFFFF, seed >> 32))
    out = np.empty((blocks, 4))
    for pair in range(2):
        u0 = (w[2 * pair].astype(np.float64) + 0.5) / 4294967296.0
        u1 = (w[2 * pair + 1].astype(np.float64) + 0.5) / 4294967296.0
        r = np.sqrt(-2 * np.log(u0))
        out[:, 2 * pair] = r * np.cos(2 * np.pi * u1)
        out[:, 2 * pair + 1] = r * np.sin(2 * np.pi * u1)
    return out.reshape(-1)[:count].astype(np.float32).astype(np.float64)


# --------------------------------------------------------------------------------------------------- sampler

def schedule(steps, shift):
    t = 1 - np.arange(steps + 1) / steps
    return (shift * t / (1 + (shift - 1) * t)).astype(np.float32).astype(np.float64)


def sample(W, cfg, lay, prompt, sound, v_ref, v_mask, a_ref, a_mask, refs, seed, segment, steps, guidance, shift):
    """Mirrors FlowSampler.sample."""
    xv = normals(v_ref.size, seed, segment, 0).reshape(v_ref.shape)
    xa = normals(a_ref.size, seed, segment, 1).reshape(a_ref.shape)
    hv, ha = v_mask[:, None].astype(bool), a_mask[:, None].astype(bool)
    hv, ha = np.broadcast_to(hv, xv.shape), np.broadcast_to(ha, xa.shape)
    xv[hv], xa[ha] = v_ref[hv], a_ref[ha]
    cond = text_context(W, cfg, prompt, sound)
    uncond = None if guidance == 1 else text_context(W, cfg, "", "")
    ref_tokens = lay.patchify_references(refs) if lay.refs else np.zeros((0, cfg["videoChannels"] * 8 + 4))
    times = schedule(steps, shift)
    for i in range(steps):
        vin = np.concatenate([lay.patchify_video(xv, v_ref, v_mask), ref_tokens])
        ain = lay.patchify_audio(xa, a_ref, a_mask)
        vc, ac = forward(W, cfg, lay, vin, ain, times[i], cond)
        if uncond is not None:
            vu, au = forward(W, cfg, lay, vin, ain, times[i], uncond)
            vc, ac = vu + guidance * (vc - vu), au + guidance * (ac - au)
        dt = times[i + 1] - times[i]
        xv = xv + dt * lay.unpatchify_video(vc)
        xa = xa + dt * lay.unpatchify_audio(ac)
        xv[hv], xa[ha] = v_ref[hv], a_ref[ha]
    return xv, xa


# ------------------------------------------------------------------------------------------------------ case

def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def make_case(W, cfg, seed):
    rng = np.random.default_rng(seed)
    C, Ca, A = cfg["videoChannels"], cfg["audioChannels"], cfg["audioTokensPerStep"]
    T, h, w = 3, 4, 4
    out, meta = {}, {}
    prompt = "a red lobster marches over wet sand at dusk; camera: close-up"
    sound = "clicking shells; then a low horn"
    meta.update(prompt=prompt, sound=sound, grid=json.dumps([T, h, w]))

    # forward_a: conditional text, step 0 held in both streams, one grid reference.
    lay = Layout(cfg, T, h, w, references=1)
    v = {k: f32(rng.standard_normal((T, C, h, w))) for k in ("noisy", "reference")}
    a = {k: f32(rng.standard_normal((T, Ca, A))) for k in ("noisy", "reference")}
    vm, am = np.zeros((T, h, w)), np.zeros((T, A))
    vm[0], am[0], vm[2, 1:3, 0:2] = 1, 1, 1
    ref = f32(rng.standard_normal((1, C, h, w)))
    t = 0.63
    ctx = text_context(W, cfg, prompt, sound)
    vin = np.concatenate([lay.patchify_video(v["noisy"], v["reference"], vm), lay.patchify_references(ref)])
    ain = lay.patchify_audio(a["noisy"], a["reference"], am)
    vo, ao = forward(W, cfg, lay, vin, ain, t, ctx)
    out.update({"forward_a.video.noisy": v["noisy"], "forward_a.video.reference": v["reference"],
                "forward_a.video.mask": vm, "forward_a.audio.noisy": a["noisy"],
                "forward_a.audio.reference": a["reference"], "forward_a.audio.mask": am,
                "forward_a.references": ref, "forward_a.expected.video": lay.unpatchify_video(vo),
                "forward_a.expected.audio": lay.unpatchify_audio(ao)})
    meta["forward_a.time"] = repr(t)

    # forward_b: unconditional text, irregular step times, nothing held, no references.
    times = [0, 7, 96]
    lay = Layout(cfg, T, h, w, step_times=times)
    v = f32(rng.standard_normal((T, C, h, w)))
    a = f32(rng.standard_normal((T, Ca, A)))
    zv, za = np.zeros((T, C, h, w)), np.zeros((T, Ca, A))
    ctx = text_context(W, cfg, "", "")
    vo, ao = forward(W, cfg, lay, lay.patchify_video(v, zv, np.zeros((T, h, w))),
                     lay.patchify_audio(a, za, np.zeros((T, A))), 0.2, ctx)
    out.update({"forward_b.video.noisy": v, "forward_b.audio.noisy": a,
                "forward_b.expected.video": lay.unpatchify_video(vo),
                "forward_b.expected.audio": lay.unpatchify_audio(ao)})
    meta["forward_b.time"] = repr(0.2)
    meta["forward_b.step_times"] = json.dumps(times)

    # sample: three guided Euler steps from Philox noise, step 0 held (context), a video keyframe at step 2.
    lay = Layout(cfg, T, h, w, references=1)
    vr, ar = np.zeros((T, C, h, w)), np.zeros((T, Ca, A))
    vr[0], ar[0], vr[2] = f32(rng.standard_normal((C, h, w))), f32(rng.standard_normal((Ca, A))), f32(
        rng.standard_normal((C, h, w)))
    vm, am = np.zeros((T, h, w)), np.zeros((T, A))
    vm[0], am[0], vm[2] = 1, 1, 1
    ref = f32(rng.standard_normal((1, C, h, w)))
    s_seed, s_segment, steps = 0x1234_5678_9ABC_DEF0, 2, 3
    guidance, shift = float(cfg["guidance"]), float(cfg["timeShift"])
    xv, xa = sample(W, cfg, lay, prompt, sound, vr, vm, ar, am, ref, s_seed, s_segment, steps, guidance, shift)
    out.update({"sample.video.reference": vr, "sample.video.mask": vm, "sample.audio.reference": ar,
                "sample.audio.mask": am, "sample.references": ref, "sample.expected.video": xv,
                "sample.expected.audio": xa})
    meta.update({"sample.seed": str(s_seed), "sample.segment": str(s_segment), "sample.steps": str(steps)})

    # noise: the first normals of one key, to tell a generator mismatch from a model mismatch.
    out["noise.expected"] = normals(64, s_seed, s_segment, 1, 5)
    meta.update({"noise.stream": "1", "noise.step": "5"})
    return out, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("weights", help="safetensors weights written by `reelfarm model init`")
    ap.add_argument("-o", "--output", required=True, help="case file to write (safetensors)")
    ap.add_argument("--seed", type=int, default=2024, help="seed of the case's random inputs")
    args = ap.parse_args()
    W, meta = read_safetensors(args.weights)
    cfg = json.loads(meta["reelfarm.config"])
    out, case_meta = make_case(W, cfg, args.seed)
    case_meta["weights.config"] = cfg["name"]
    write_safetensors(args.output, out, case_meta)
    print(f"wrote {args.output}: {len(out)} tensors for configuration {cfg['name']}", file=sys.stderr)


if __name__ == "__main__":
    main()
