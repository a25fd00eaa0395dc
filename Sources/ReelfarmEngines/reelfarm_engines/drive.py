"""Drives an engine process through the contract the way a worker does, and times it.

    python -m reelfarm_engines.drive ltx2 --config tiny --device cuda --size 1920x1088 --frames 97 --steps 2

Starts `python -m reelfarm_engines NAME …`, waits for `ready`, sends a segment and a second one pinned on the first's
tail, checks every result against the contract, and prints one JSON line: handshake seconds, and per task the wall
time, the engine's own seconds and the difference (the contract's overhead: moving the task in and the latents,
frames and sound out). For engine authors: a quick check that an engine speaks the contract, without a farm.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time

import numpy as np

from . import protocol


class EngineProcess:
    """A child engine process with deadline-bound reads."""

    def __init__(self, argv, env=None):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)

    def receive(self, timeout: float):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            raise TimeoutError(f"no message from the engine in {timeout} s")
        return protocol.read_message(self.p.stdout)

    def send(self, kind, meta, blobs=()):
        protocol.write_message(self.p.stdin, kind, meta, blobs)

    def close(self) -> int:
        try:
            self.send(protocol.SHUTDOWN, {})
        except (BrokenPipeError, OSError):
            pass
        try:
            return self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return -9


def segment_meta(name: str, config, width: int, height: int, generate, own, index: int, steps: int, tail: int,
                 pins=(), fps: str = "24", rate: int = 48000, channels: int = 2):
    fmt = protocol.Format(width, height, protocol.Fraction(fps), rate, channels)
    samples = [fmt.sample_at_frame(own[0]), fmt.sample_at_frame(own[1])]
    blobs = [p.encode() for _, p in pins]
    meta = {
        "model": {"engine": name, "seed": 7, "steps": steps, **({"config": config} if config else {})},
        "segment": {
            "id": f"drive/{index}", "index": index,
            "shot": {"index": 0, "id": "drive", "prompt": "waves roll in under a low sun", "camera": "slow dolly",
                     "sound": "surf and gulls", "cues": [], "frames": [0, own[1]]},
            "format": {"width": width, "height": height, "fps": fps, "sample_rate": rate, "channels": channels},
            "generate": list(generate), "own": list(own), "samples": samples,
            "pins": [{"latent_index": li, "blob": i} for i, (li, _) in enumerate(pins)],
            "seed": 7, "steps": steps, "tail_latents": tail, "keyframes": [], "references": [],
        },
    }
    return meta, blobs, samples


def run(name: str, config, device: str, width: int, height: int, frames: int, steps: int, timeout: float = 900):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.environ.get("PYTHONPATH")])))
    argv = [sys.executable, "-m", "reelfarm_engines", name, "--device", device] + (["--config", config] if config else [])
    t0 = time.perf_counter()
    e = EngineProcess(argv, env)
    report = {"engine": name, "config": config, "device": device, "size": f"{width}x{height}", "frames": frames,
              "steps": steps, "tasks": []}
    try:
        kind, ready, _ = e.receive(timeout)
        assert kind == protocol.READY, f"first message is kind {kind}"
        report["handshake_seconds"] = time.perf_counter() - t0
        report["ready"] = {k: ready[k] for k in ("version", "device", "device_memory_bytes", "geometry")}
        stride = ready["geometry"]["temporal_stride"]
        overlap = 1 + stride
        tail_steps = 1 + (overlap - 1) // stride
        start = frames - overlap
        plan = [((0, frames), (0, frames), 0, ()), ((start, start + frames), (frames, start + frames), 1, None)]
        tail = None
        for generate, own, index, pins in plan:
            if pins is None:
                pins = ((0, tail),)
            meta, blobs, samples = segment_meta(name, config, width, height, generate, own, index, steps, tail_steps, pins)
            t1 = time.perf_counter()
            e.send(protocol.SEGMENT, meta, blobs)
            progress = 0
            while True:
                kind, m, out = e.receive(timeout)
                if kind == protocol.PROGRESS:
                    progress += 1
                    continue
                break
            wall = time.perf_counter() - t1
            assert kind == protocol.RESULT, f"{meta['segment']['id']}: {protocol.KINDS.get(kind)} {m}"
            n = own[1] - own[0]
            assert len(out) == 3 and len(out[1]) == n * width * height * 3, "frames blob size"
            assert len(out[2]) == (samples[1] - samples[0]) * 2 * 4, "audio blob size"
            tail = protocol.Latents.decode(out[0])
            assert tail.count == tail_steps and np.isfinite(tail.video).all() and np.isfinite(tail.audio).all()
            moved = sum(len(b) for b in blobs) + sum(len(b) for b in out)
            report["tasks"].append({"id": meta["segment"]["id"], "wall_seconds": wall, "engine_seconds": m.get("seconds"),
                                    "overhead_seconds": wall - (m.get("seconds") or 0), "progress": progress,
                                    "bytes_moved": moved})
    finally:
        report["exit_status"] = e.close()
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="reelfarm_engines.drive", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("engine")
    p.add_argument("--config", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--size", default="192x64")
    p.add_argument("--frames", type=int, default=17)
    p.add_argument("--steps", type=int, default=2)
    a = p.parse_args(argv)
    w, h = (int(x) for x in a.size.split("x"))
    print(json.dumps(run(a.engine, a.config, a.device, w, h, a.frames, a.steps)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
