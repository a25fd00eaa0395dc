"""`ltx2`: diffusers' LTX-2 (joint audio + video) behind the engine-process contract (ENGINES.md).

One segment is one joint denoise of a `1 + 8k`-frame window and its sound, with our own loop over the pipeline's
components (`LTX2Pipeline`: Gemma text encoder, connectors, transformer, video VAE, audio VAE, vocoder). Held
latents follow `LTX2ConditionPipeline`: a conditioning mask of 1 makes a token's timestep 0 and replaces its x0
prediction with the clean value every step, so pins come back bit-identical. Keyframes are encoded with the video
VAE; at latent index 0 they are held in place, later ones are appended as extra tokens at their frame's time
(LTX-2's keyframe-index conditioning). Nothing is decoded and re-encoded for context.

Rates. Video: latent step 0 is one frame, step i ≥ 1 the 8 frames before local frame 1 + 8i. Audio: the audio VAE
turns 16 kHz audio into mel frames of `hop` = 160 samples (100 per second) and 4 mel frames into one latent, so
r_a = sample_rate / hop / 4 = 25 audio latents per second; it is causal too (a window's first latent is one mel
frame, each later one four). The vocoder makes `native_rate` samples per second (24 kHz for LTX-2) from the mels.

Global audio grid. Audio latent J (a global index) ends on mel frame 4J, the instant J / r_a seconds of the film.
Every window uses that grid, so neighbours share the very same audio latents: A(f) = max(0, ceil(f · r_a / fps)) is
the first audio latent at or after frame f's instant. A window of frames [lo, hi) denoises the audio latents
J ∈ [A(lo − 7), A(hi) + P): the sound of its first latent step's whole 8-frame block, and P = 3 latents (120 ms)
of lookahead past its last frame. Its decoded sound starts at J_start / r_a; `protocol.owned_audio` cuts the owned
samples at the film's rate from there (that start given as frame 1 of a frame rate 1 / start: same exact
positions). RoPE positions of the audio tokens are shifted by J_start / r_a − lo / fps: one clock for both streams.

Step layout. Video: [C, H/32, W/32], normalized (the transformer's space). Audio: [k, C_audio, mel_bins / 4] with
k = 20: the audio step of the video step that ends at global frame e holds the audio latents
J ∈ [A(e − 8), A(e) + P) in order from slot 0, zeros after: those whose instant falls in the 8 frames before e
(8 or 9 at 24 fps, 6 or 7 at 30000/1001, at most 16 down to 12.5 fps), then the P lookahead latents, which
overlap the next step's. e, and so the slots, follow from a pin's latent index and the window's first frame, so a
tail pinned at index 0 of the next window (whose first frame is the tail's first step's last frame) restores
exactly the audio latents of those spans. The lookahead is what keeps a join free of clicks: the next window holds
the previous one's audio latents on both sides of the frame where ownership passes, so both decode the same sound
there (the vocoder looks a few mel frames ahead). Anchors are 1-frame windows: their step covers the 8-frame block
before and including the anchor frame, plus the lookahead.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import numpy as np
import torch

from . import protocol

AUDIO_SLOTS = 20          # audio latents per video step (k): 16 + AUDIO_LOOKAHEAD fit films at 12.5 fps or more
AUDIO_LOOKAHEAD = 3       # audio latents past a step's end that its slot also holds (120 ms)
PRE_FRAMES = 7            # a window's audio starts with its first latent step's 8-frame block


@dataclass
class Sampling:
    """Guidance of the denoise (the pipeline's defaults for the real model; all off for the tiny one)."""
    guidance: float = 3.0
    audio_guidance: float = 7.0
    stg: float = 1.0
    audio_stg: float = 1.0
    stg_blocks: tuple = (28,)
    modality: float = 3.0
    audio_modality: float = 3.0
    rescale: float = 0.7
    audio_rescale: float = 0.7
    cross_timestep: bool = True
    negative: str = "worst quality, inconsistent motion, blurry, jittery, distorted"
    max_sequence_length: int = 1024


TINY_SAMPLING = Sampling(guidance=1.0, audio_guidance=1.0, stg=0.0, audio_stg=0.0, stg_blocks=(), modality=1.0,
                         audio_modality=1.0, rescale=0.0, audio_rescale=0.0, cross_timestep=False, negative="",
                         max_sequence_length=32)


@dataclass
class Window:
    """One joint denoise: frames [lo, hi) of the film and the audio latents [j0, j1) of the global audio grid."""
    lo: int
    hi: int
    fps: Fraction
    rate: Fraction  # audio latents per second
    steps: int       # video latent steps
    j0: int
    j1: int

    @staticmethod
    def of(lo: int, hi: int, fps: Fraction, rate: Fraction) -> "Window":
        a = lambda f: _audio_index(f, fps, rate)
        return Window(lo, hi, fps, rate, 1 + (hi - lo - 1) // 8, a(lo - PRE_FRAMES), a(hi) + AUDIO_LOOKAHEAD)

    def slot(self, step: int) -> range:
        """Global audio latents of video step `step`: the 8 frames before its end frame, and the lookahead."""
        end = self.lo + 1 + 8 * step
        return range(_audio_index(end - 8, self.fps, self.rate),
                     _audio_index(end, self.fps, self.rate) + AUDIO_LOOKAHEAD)


def _audio_index(frame: int, fps: Fraction, rate: Fraction) -> int:
    """A(f): the first global audio latent at or after frame f's instant (0 for instants before the film)."""
    return max(0, math.ceil(frame * rate / fps))


def _seed(seed: int, index: int) -> int:
    digest = hashlib.blake2b(f"ltx2/{seed}/{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def _prompt(shot: protocol.Shot, samples: tuple) -> str:
    picture, sound = shot.prompt_text().strip(), shot.sound_text(samples).strip()
    return f"{picture}. Sound: {sound}." if sound else picture


class LTX2Engine:
    name = "ltx2"

    def __init__(self):
        self.pipe = None
        self.config = None
        self.weights = None

    # ------------------------------------------------------------------------------------------------ loading

    def load(self, options: dict) -> protocol.Ready:
        import diffusers
        self.config = options.get("config") or ("real" if options.get("weights") else None)
        if self.config is None:
            raise ValueError("ltx2 needs --weights DIR (a local diffusers LTX-2 directory) or --config tiny")
        self.device = protocol.torch_device(options.get("device"))
        self.dtype = protocol.torch_dtype(options.get("dtype"), self.device)
        if self.config == "tiny":
            self.pipe, self.sampling, self.max_window = tiny_pipeline(), TINY_SAMPLING, 41
        else:
            self._load_weights(options["weights"])
            self.max_window = int(options.get("max_window") or 121)
        if self.config == "tiny" and self.dtype != torch.float32:
            self.pipe.to(self.device, self.dtype)
        else:
            self.pipe.to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        p, av = self.pipe, self.pipe.audio_vae
        self.audio_rate = Fraction(av.config.sample_rate, av.config.mel_hop_length * p.audio_vae_temporal_compression_ratio)
        self.native_rate = int(p.vocoder.config.output_sampling_rate)
        self.audio_channels = av.config.latent_channels
        self.audio_bins = av.config.mel_bins // p.audio_vae_mel_compression_ratio
        if p.vae_spatial_compression_ratio != 32 or p.vae_temporal_compression_ratio != 8:
            raise ValueError(f"video VAE strides {p.vae_temporal_compression_ratio}/{p.vae_spatial_compression_ratio},"
                             " the engine expects 8/32")
        memory = protocol.device_memory(self.device)
        geometry = protocol.Geometry(
            temporal_stride=8, spatial_stride=32, spatial_multiple=32,
            latent_channels=p.transformer.config.in_channels, max_window=self.max_window,
            step_audio=[AUDIO_SLOTS, self.audio_channels, self.audio_bins], native_audio_rate=self.native_rate)
        return protocol.Ready(self.name, f"diffusers-{diffusers.__version__}/ltx2-{self.config}", str(self.device),
                              memory, geometry)

    def _load_weights(self, path: str) -> None:
        from diffusers import LTX2Pipeline
        if not path or not os.path.isdir(path):
            raise ValueError(f"ltx2 weights {path!r} is not a local diffusers directory")
        self.pipe = LTX2Pipeline.from_pretrained(path, local_files_only=True, torch_dtype=self.dtype)
        self.weights, self.sampling = path, Sampling()
        if len(self.pipe.transformer.transformer_blocks) <= max(self.sampling.stg_blocks, default=-1):
            self.sampling = dataclasses.replace(self.sampling, stg=0.0, audio_stg=0.0, stg_blocks=())

    def _check_model(self, model: protocol.Model) -> None:
        if model.config and model.config != self.config and not (model.config == "real" and self.weights):
            raise ValueError(f"task wants ltx2 config {model.config!r}, this process runs {self.config!r}")
        if model.weights and self.config != "tiny" and os.path.abspath(model.weights) != os.path.abspath(self.weights):
            self._load_weights(model.weights)
            self.pipe.to(self.device)
            self.pipe.set_progress_bar_config(disable=True)

    def close(self) -> None:
        self.pipe = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ---------------------------------------------------------------------------------------------- segments

    def generate(self, task: protocol.SegmentTask, progress: Callable[[int, int], None]) -> protocol.SegmentResult:
        self._check_model(task.model)
        f = task.format
        window = self._window(task.generate[0], task.generate[1], f)
        if task.frame_count > self.max_window:
            raise ValueError(f"{task.frame_count} frames exceed max_window {self.max_window}")
        h, w = f.height // 32, f.width // 32
        held_video, held_audio, extra = {}, {}, []
        for pin in task.pins:
            for s in range(pin.latents.count):
                self._hold(window, pin.latent_index + s, pin.latents.video[s], pin.latents.audio[s], (h, w),
                           held_video, held_audio)
        for kf in task.keyframes:
            local = kf.frame - window.lo
            if not 0 <= local < task.frame_count:
                raise ValueError(f"keyframe at frame {kf.frame} is outside generate {task.generate}")
            latent = self._encode_image(kf.image)
            index = (local + 7) // 8
            if index == 0:
                held_video.setdefault(0, latent)
            else:
                extra.append((local, latent))
        text = _prompt(task.shot, (f.sample_at_frame(window.lo), f.sample_at_frame(window.hi)))
        video, audio = self._denoise(window, (h, w), text, _seed(task.seed, task.index), task.steps,
                                     held_video, held_audio, extra, lambda i, n: progress(i, n))
        n = min(task.tail_latents, window.steps)
        tail = protocol.Latents(video[window.steps - n:].cpu().numpy(),
                                np.stack([self._slot(window, s, audio) for s in range(window.steps - n, window.steps)])
                                if n else np.zeros((0, AUDIO_SLOTS, self.audio_channels, self.audio_bins)))
        frames = self._decode_video(video)[task.own[0] - window.lo:task.own[1] - window.lo]
        native = self._decode_audio(audio)
        origin = Fraction(window.j0) / window.rate
        return protocol.SegmentResult(tail, frames, owned_audio(native, self.native_rate, origin, task))

    def anchors(self, task: protocol.AnchorTask, progress: Callable[[int, int], None]) -> protocol.Latents:
        self._check_model(task.model)
        f = task.format
        h, w = f.height // 32, f.width // 32
        text_samples = (f.sample_at_frame(task.shot.frames[0]), f.sample_at_frame(task.shot.frames[1]))
        text = _prompt(task.shot, text_samples)
        videos, audios, total = [], [], task.steps * len(task.frames)
        for i, frame in enumerate(task.frames):
            window = self._window(frame, frame + 1, f)
            held_video, held_audio = {}, {}
            if i == 0 and task.start is not None:
                self._hold(window, 0, task.start.video[-1], task.start.audio[-1], (h, w), held_video, held_audio)
            video, audio = self._denoise(window, (h, w), text, _seed(task.seed, i), task.steps, held_video,
                                         held_audio, [], lambda d, n, i=i: progress(i * task.steps + d, total))
            videos.append(video[0].cpu().numpy())
            audios.append(self._slot(window, 0, audio))
        return protocol.Latents(np.stack(videos), np.stack(audios))

    # ------------------------------------------------------------------------------------------------ pieces

    def _window(self, lo: int, hi: int, f: protocol.Format) -> Window:
        if (hi - lo - 1) % 8 or hi <= lo:
            raise ValueError(f"a window of {hi - lo} frames is not 1 + 8k")
        if f.width % 32 or f.height % 32:
            raise ValueError(f"{f.width}x{f.height} is not a multiple of 32")
        if math.ceil(8 * self.audio_rate / f.fps) + AUDIO_LOOKAHEAD > AUDIO_SLOTS:
            raise ValueError(f"{f.fps} fps puts more than {AUDIO_SLOTS} audio latents in a latent step")
        return Window.of(lo, hi, f.fps, self.audio_rate)

    def _hold(self, window, index, video, audio, hw, held_video, held_audio) -> None:
        """Holds latent step `index` of `window` to a step in the declared layout (video and its audio slots)."""
        C = self.pipe.transformer.config.in_channels
        if video.shape != (C, *hw) or audio.shape != (AUDIO_SLOTS, self.audio_channels, self.audio_bins):
            raise ValueError(f"pin step of video {video.shape} / audio {audio.shape} does not fit the layout")
        if not 0 <= index < window.steps:
            raise ValueError(f"pin at latent index {index} is outside the window's {window.steps} steps")
        held_video[index] = torch.from_numpy(np.array(video, dtype=np.float32))
        for k, j in enumerate(window.slot(index)):
            held_audio[j - window.j0] = torch.from_numpy(np.array(audio[k], dtype=np.float32))

    def _slot(self, window: Window, step: int, audio: torch.Tensor) -> np.ndarray:
        out = np.zeros((AUDIO_SLOTS, self.audio_channels, self.audio_bins), dtype=np.float32)
        for k, j in enumerate(window.slot(step)):
            out[k] = audio[j - window.j0].cpu().numpy()
        return out

    @torch.no_grad()
    def _encode_image(self, image: np.ndarray) -> torch.Tensor:
        """An RGB uint8 image as one normalized latent step [C, h, w] (LTX2ConditionPipeline's encoding)."""
        vae = self.pipe.vae
        pixels = torch.from_numpy(np.ascontiguousarray(image)).to(self.device, torch.float32)
        pixels = (pixels.permute(2, 0, 1)[None, :, None] / 127.5 - 1.0).to(vae.dtype)
        z = vae.encode(pixels).latent_dist.mode().float()
        mean = vae.latents_mean.view(1, -1, 1, 1, 1).to(z)
        std = vae.latents_std.view(1, -1, 1, 1, 1).to(z)
        return ((z - mean) / std)[0, :, 0].cpu()

    @torch.no_grad()
    def _encode_text(self, text: str, guided: bool):
        p, s = self.pipe, self.sampling
        embeds, mask, neg, neg_mask = p.encode_prompt(
            prompt=text, negative_prompt=s.negative, do_classifier_free_guidance=guided,
            max_sequence_length=s.max_sequence_length, device=self.device)
        if guided:
            embeds, mask = torch.cat([neg, embeds]), torch.cat([neg_mask, mask])
        side = getattr(p.tokenizer, "padding_side", "left")
        return p.connectors(embeds, mask, padding_side=side)

    @torch.no_grad()
    def _denoise(self, window: Window, hw: tuple, text: str, seed: int, steps: int, held_video: dict,
                 held_audio: dict, extra: list, progress) -> tuple[torch.Tensor, torch.Tensor]:
        """Denoises the window; returns video [F, C, h, w] and audio [L, C_audio, bins], normalized, float32."""
        p, s, dev = self.pipe, self.sampling, self.device
        tr = p.transformer
        C, (h, w), F, L = tr.config.in_channels, hw, window.steps, window.j1 - window.j0
        fps = float(window.fps)
        generator = torch.Generator("cpu").manual_seed(seed)
        video = torch.randn((F, C, h, w), generator=generator, dtype=torch.float32)
        audio = torch.randn((L, self.audio_channels, self.audio_bins), generator=generator, dtype=torch.float32)
        vmask, amask = torch.zeros(F), torch.zeros(L)
        for i, v in held_video.items():
            video[i], vmask[i] = v, 1.0
        for j, a in held_audio.items():
            audio[j], amask[j] = a, 1.0
        clean_video, clean_audio = video.clone(), audio.clone()
        # packed token sequences: video [1, F·h·w (+ keyframe tokens), C], audio [1, L, C_audio·bins]
        pack_v = lambda x: x.permute(0, 2, 3, 1).reshape(1, -1, C).to(dev)
        latents = pack_v(video)
        clean = latents.clone()
        token_mask = vmask[:, None, None].expand(F, h, w).reshape(1, -1).to(dev)
        coords = tr.rope.prepare_video_coords(1, F, h, w, dev, fps=fps)
        for local, latent in extra:
            token = pack_v(latent[None])
            latents, clean = torch.cat([latents, token], 1), torch.cat([clean, token], 1)
            token_mask = torch.cat([token_mask, torch.ones(1, token.shape[1], device=dev)], 1)
            kf = tr.rope.prepare_video_coords(1, 1, h, w, dev, fps=fps)
            kf[:, 0] += local / fps
            coords = torch.cat([coords, kf], 2)
        base = F * h * w
        a_latents = audio.reshape(1, L, -1).to(dev)
        a_clean = a_latents.clone()
        a_mask = amask[None].to(dev)
        shift = float(Fraction(window.j0) / window.rate - Fraction(window.lo) / window.fps)
        a_coords = tr.audio_rope.prepare_audio_coords(1, L, dev) + shift

        guided = s.guidance > 1.0 or s.audio_guidance > 1.0
        stg = s.stg > 0.0 or s.audio_stg > 0.0
        modality = s.modality > 1.0 or s.audio_modality > 1.0
        video_embeds, audio_embeds, text_mask = self._encode_text(text, guided)
        from diffusers.pipelines.ltx2.pipeline_ltx2 import calculate_shift, rescale_noise_cfg, retrieve_timesteps
        sigmas = np.linspace(1.0, 1.0 / steps, steps)
        sc = p.scheduler.config
        mu = calculate_shift(base, sc.get("base_image_seq_len", 1024), sc.get("max_image_seq_len", 4096),
                             sc.get("base_shift", 0.95), sc.get("max_shift", 2.05))
        v_sched, a_sched = copy.deepcopy(p.scheduler), copy.deepcopy(p.scheduler)
        timesteps, _ = retrieve_timesteps(v_sched, steps, dev, sigmas=sigmas, mu=mu)
        retrieve_timesteps(a_sched, steps, dev, sigmas=sigmas, mu=mu)
        v_sched.set_begin_index(0)
        a_sched.set_begin_index(0)
        dtype = video_embeds.dtype

        def run(batch, t, v_emb, a_emb, m, isolate=False, blocks=None):
            vt = t * (1 - token_mask).expand(batch, -1)
            at = t * (1 - a_mask).expand(batch, -1)
            tt = t.expand(batch)
            out_v, out_a = tr(
                hidden_states=latents.expand(batch, -1, -1).to(dtype),
                audio_hidden_states=a_latents.expand(batch, -1, -1).to(dtype),
                encoder_hidden_states=v_emb, audio_encoder_hidden_states=a_emb, timestep=vt, audio_timestep=at,
                sigma=tt, audio_sigma=tt, encoder_attention_mask=m, audio_encoder_attention_mask=m,
                num_frames=F, height=h, width=w, fps=fps, audio_num_frames=L,
                video_coords=coords.expand(batch, -1, -1, -1), audio_coords=a_coords.expand(batch, -1, -1, -1),
                isolate_modalities=isolate, spatio_temporal_guidance_blocks=blocks,
                perturbation_mask=None, use_cross_timestep=s.cross_timestep, return_dict=False)
            return out_v.float(), out_a.float()

        for i, t in enumerate(timesteps):
            sv, sa = v_sched.sigmas[i], a_sched.sigmas[i]
            x0 = lambda v, a: (latents - v * sv, a_latents - a * sa)
            out_v, out_a = run(2 if guided else 1, t, video_embeds, audio_embeds, text_mask)
            if guided:
                (uv, cv), (ua, ca) = out_v.chunk(2), out_a.chunk(2)
                xv, xa = x0(cv, ca)
                ux, ua_x = x0(uv, ua)
                dv, da = (s.guidance - 1) * (xv - ux), (s.audio_guidance - 1) * (xa - ua_x)
                pos = (video_embeds[1:], audio_embeds[1:], text_mask[1:])
            else:
                xv, xa = x0(out_v, out_a)
                dv = da = 0
                pos = (video_embeds, audio_embeds, text_mask)
            if stg:
                pv, pa = x0(*run(1, t, *pos, blocks=list(s.stg_blocks)))
                dv, da = dv + s.stg * (xv - pv), da + s.audio_stg * (xa - pa)
            if modality:
                mv, ma = x0(*run(1, t, *pos, isolate=True))
                dv, da = dv + (s.modality - 1) * (xv - mv), da + (s.audio_modality - 1) * (xa - ma)
            gv, ga = xv + dv, xa + da
            xv = rescale_noise_cfg(gv, xv, s.rescale) if s.rescale > 0 else gv
            xa = rescale_noise_cfg(ga, xa, s.audio_rescale) if s.audio_rescale > 0 else ga
            # held tokens: their x0 is the clean value, so their velocity is 0 and they stay exactly as given
            xv = xv * (1 - token_mask[..., None]) + clean * token_mask[..., None]
            xa = xa * (1 - a_mask[..., None]) + a_clean * a_mask[..., None]
            latents = v_sched.step((latents - xv) / sv, t, latents, return_dict=False)[0]
            a_latents = a_sched.step((a_latents - xa) / sa, t, a_latents, return_dict=False)[0]
            progress(i + 1, steps)

        video = latents[0, :base].reshape(F, h, w, C).permute(0, 3, 1, 2).float().cpu()
        audio = a_latents[0].reshape(L, self.audio_channels, self.audio_bins).float().cpu()
        for i in held_video:
            video[i] = clean_video[i]
        for j in held_audio:
            audio[j] = clean_audio[j]
        return video, audio

    @torch.no_grad()
    def _decode_video(self, video: torch.Tensor) -> np.ndarray:
        """Normalized latents [F, C, h, w] → uint8 RGB frames [1 + 8(F−1), H, W, 3]."""
        vae = self.pipe.vae
        z = video.permute(1, 0, 2, 3)[None].to(self.device)
        mean = vae.latents_mean.view(1, -1, 1, 1, 1).to(z)
        std = vae.latents_std.view(1, -1, 1, 1, 1).to(z)
        z = (z * std / vae.config.scaling_factor + mean).to(vae.dtype)
        timestep = torch.zeros(1, device=self.device, dtype=z.dtype) if vae.config.timestep_conditioning else None
        x = vae.decode(z, timestep, return_dict=False)[0][0].float()  # [3, n, H, W] in [-1, 1]
        x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return x.permute(1, 2, 3, 0).cpu().numpy()

    @torch.no_grad()
    def _decode_audio(self, audio: torch.Tensor) -> np.ndarray:
        """Normalized audio latents [L, C_audio, bins] → native-rate audio [n, channels] from the first latent's instant."""
        p = self.pipe
        a = p._pack_audio_latents(audio.permute(1, 0, 2)[None]).to(self.device)
        a = p._denormalize_audio_latents(a, p.audio_vae.latents_mean, p.audio_vae.latents_std)
        a = p._unpack_audio_latents(a, audio.shape[0], num_mel_bins=self.audio_bins).to(p.audio_vae.dtype)
        mel = p.audio_vae.decode(a, return_dict=False)[0]
        wave = p.vocoder(mel.to(p.vocoder.dtype))[0].float()  # [channels, n]
        return wave.T.contiguous().cpu().numpy()


def owned_audio(native: np.ndarray, native_rate: int, origin: Fraction, task: protocol.SegmentTask) -> np.ndarray:
    """`protocol.owned_audio` for native audio whose sample 0 sits at `origin` seconds of the film rather than at
    the first generated frame: the origin is expressed as frame 1 of a frame rate 1 / origin, which gives the same
    exact rational positions."""
    if origin == 0:
        virtual = dataclasses.replace(task, generate=(0, task.generate[1]))
    else:
        fmt = dataclasses.replace(task.format, fps=1 / origin)
        virtual = dataclasses.replace(task, generate=(1, max(1, task.generate[1])), format=fmt)
    return protocol.owned_audio(native, native_rate, virtual)


# --------------------------------------------------------------------------------------------- tiny weights

def tiny_pipeline():
    """Every LTX-2 component with tiny random weights, built in code and seeded (like diffusers' pipeline tests,
    with a video VAE of the real strides 8/32, a vocoder whose 160× upsampling matches 100 mel frames a second at
    16 kHz, and an in-code Gemma tokenizer). No hub access."""
    from diffusers import (AutoencoderKLLTX2Audio, AutoencoderKLLTX2Video, FlowMatchEulerDiscreteScheduler,
                           LTX2Pipeline, LTX2VideoTransformer3DModel)
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
    from transformers import (Gemma3Config, Gemma3ForConditionalGeneration, Gemma3TextConfig, GemmaTokenizer,
                              SiglipVisionConfig)

    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4, "▁": 5}
    for c in map(chr, range(33, 127)):
        vocab[c], vocab["▁" + c] = len(vocab), len(vocab) + 1
    tokenizer = GemmaTokenizer(vocab=vocab, merges=[])
    text = Gemma3TextConfig(vocab_size=256, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                            num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=256,
                            sliding_window=64)
    vision = SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                image_size=28, patch_size=14)
    torch.manual_seed(0)
    text_encoder = Gemma3ForConditionalGeneration(Gemma3Config(text_config=text, vision_config=vision,
                                                               mm_tokens_per_image=4)).eval()
    torch.manual_seed(0)
    transformer = LTX2VideoTransformer3DModel(
        in_channels=4, out_channels=4, patch_size=1, patch_size_t=1, num_attention_heads=2, attention_head_dim=8,
        cross_attention_dim=16, audio_in_channels=4, audio_out_channels=4, audio_num_attention_heads=2,
        audio_attention_head_dim=4, audio_cross_attention_dim=8, num_layers=2, qk_norm="rms_norm_across_heads",
        caption_channels=16, rope_double_precision=False, rope_type="split")
    torch.manual_seed(0)
    connectors = LTX2TextConnectors(
        caption_channels=16, text_proj_in_factor=text.num_hidden_layers + 1, video_connector_num_attention_heads=2,
        video_connector_attention_head_dim=8, video_connector_num_layers=1,
        video_connector_num_learnable_registers=None, audio_connector_num_attention_heads=2,
        audio_connector_attention_head_dim=8, audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None, connector_rope_base_seq_len=32, rope_theta=10000.0,
        rope_double_precision=False, causal_temporal_positioning=False, rope_type="split")
    torch.manual_seed(0)
    vae = AutoencoderKLLTX2Video(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(16, 32, 64), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1), spatio_temporal_scaling=(True, True, True, True),
        decoder_spatio_temporal_scaling=(True, True, True), decoder_inject_noise=(False, False, False, False),
        downsample_type=("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
        upsample_residual=(True, True, True), upsample_factor=(2, 2, 2), timestep_conditioning=False, patch_size=4,
        patch_size_t=1, encoder_causal=True, decoder_causal=False, encoder_spatial_padding_mode="zeros",
        decoder_spatial_padding_mode="zeros", spatial_compression_ratio=32, temporal_compression_ratio=8)
    vae.use_framewise_encoding = vae.use_framewise_decoding = False
    torch.manual_seed(0)
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4, output_channels=2, ch_mult=(1, 2, 2), num_res_blocks=1, attn_resolutions=None, in_channels=2,
        resolution=32, latent_channels=2, norm_type="pixel", causality_axis="height", dropout=0.0,
        mid_block_add_attention=False, sample_rate=16000, mel_hop_length=160, is_causal=True, mel_bins=8)
    torch.manual_seed(0)
    vocoder = LTX2Vocoder(
        in_channels=2 * 8, hidden_channels=32, out_channels=2, upsample_kernel_sizes=[16, 11, 8],
        upsample_factors=[8, 5, 4], resnet_kernel_sizes=[3], resnet_dilations=[[1, 3, 5]],
        leaky_relu_negative_slope=0.1, output_sampling_rate=16000)
    with torch.no_grad():  # random biases drown the signal in so small a vocoder: no bias, gain 2, so sound follows latents
        for m in vocoder.modules():
            if isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
                m.weight.mul_(2.0)
                if m.bias is not None:
                    m.bias.zero_()
    return LTX2Pipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, audio_vae=audio_vae,
                        text_encoder=text_encoder, tokenizer=tokenizer, connectors=connectors,
                        transformer=transformer, vocoder=vocoder)
