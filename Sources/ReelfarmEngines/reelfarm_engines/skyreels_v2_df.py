"""`skyreels-v2-df`: diffusers' SkyReels-V2 diffusion forcing (text to video) behind the engine-process contract.

One segment is one window of `task.frame_count` frames (1+4k, at most `max_window`) at the film's size. The
denoising loop is the pipeline's synchronous diffusion forcing (`ar_step=0`, `SkyReelsV2DiffusionForcingPipeline`
`__call__` with `prefix_video_latents`), run here on the pipeline's own components so that the overlap context
goes in as *latents*, never re-encoded pixels, and may sit at any latent index:

- **Pins** (the previous segment's tail at `latent_index`, usually 0; anchors) are held latent steps: they stay
  exactly the given values in the latents (so they come back bit-identical), their timestep is 0 and the scheduler
  never updates them — what the pipeline does with `num_pre_ready` prefix frames. With `addnoise_condition` > 0
  (option; default 20, the pipeline's recommendation for long video) the transformer sees them lightly noised
  at that timestep, as the pipeline does (the noise from the segment's generator, not torch's global one); the
  held values themselves are not changed.
- **Keyframes** (RGB at global frames) are held the same way at latent index ceil(local/4): one at local frame 0
  is VAE-encoded alone (the causal first latent); a later one is encoded as five copies of the image and its
  second latent is taken (a 4-frame latent of the still image, the kind of step that sits at a later index). A pin
  wins over a keyframe at the same index.
- Noise comes from a CPU generator seeded from (task.seed, task.index), so a segment is reproducible on any device.
- **Anchors**: each anchor frame is a 1-frame window (its causal first latent), seeded from (seed, frame), with no
  link between anchors; the first is the start pin's last step when `has_start`.

Outputs: `tail` is the last min(tail_latents, steps) latent steps in the pipeline's normalised latent space
([n, 16, H/8, W/8]; no audio latents, `step_layout.audio = [0]`); frames are the owned frames of one causal VAE
decode of the whole window.

**Sound.** SkyReels-V2 makes no sound. The contract needs exactly the owned samples × channels at the film's
rate, so the sound track carries **silence (zeros)**: honest, and it meets its neighbours without a click. The
handshake says so with `native_audio_rate: null`; a sound engine or a later mix must supply real sound.

Options: `config` ("tiny": random weights built in code, like diffusers' tests, no hub; "540p" (default) or
"720p": real weights, base window 97 or 121 frames), `weights` (a local diffusers directory; a task's
`model.weights` may name another, which is then loaded), `device` ("auto": cuda when there is one), `dtype`
(bfloat16 on cuda, float32 on cpu; the VAE stays float32), and, for callers in Python, `guidance_scale` (6.0),
`negative_prompt` (""), `addnoise_condition` (20), `max_sequence_length` (512; tiny 16).
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import string
import sys
from copy import deepcopy
from typing import Callable, Optional

import numpy as np
import torch

from . import protocol

TEMPORAL_STRIDE = 4
BASE_FRAMES = {"tiny": 17, "540p": 97, "720p": 121}


def _log(message: str) -> None:
    print(f"skyreels-v2-df: {message}", file=sys.stderr, flush=True)


def _seed(*parts: int) -> int:
    """A 63-bit seed from integers (task seed, segment index, ...), stable across runs and machines."""
    digest = hashlib.sha256(":".join(str(int(p)) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def _clean_prompt(text: str) -> str:
    """The pipeline's prompt_clean (ftfy when installed, html unescape, whitespace)."""
    try:
        import ftfy
        text = ftfy.fix_text(text)
    except ImportError:
        pass
    return re.sub(r"\s+", " ", html.unescape(html.unescape(text))).strip()


# ------------------------------------------------------------------------------------------- tiny configuration

def tiny_tokenizer():
    """A T5-like tokenizer built in memory (no hub): a unigram model over single characters with T5's special
    ids (<pad>=0, </s>=1, <unk>=2), lower-casing, sentencepiece's metaspace and an appended </s>."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    pieces = ["<pad>", "</s>", "<unk>", "\u2581"] + list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = [(p, 0.0 if i < 3 else -float(i)) for i, p in enumerate(pieces)]
    tk = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    tk.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tk.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tk.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tk.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                      special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def tiny_pipeline():
    """The components of diffusers' SkyReels-V2 DF fast tests, random and deterministic; the text encoder is a
    tiny T5 encoder (the test's hf-internal-testing/tiny-random-t5 shape: d_model 32) over `tiny_tokenizer`. The
    VAE has base_dim 8 (the test's 3 decodes nearly the same pixels whatever the latents)."""
    from diffusers import (AutoencoderKLWan, SkyReelsV2DiffusionForcingPipeline, SkyReelsV2Transformer3DModel,
                           UniPCMultistepScheduler)
    from transformers import T5Config, T5EncoderModel

    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    scheduler = UniPCMultistepScheduler(flow_shift=8.0, use_flow_sigmas=True, prediction_type="flow_prediction")
    torch.manual_seed(0)
    text_encoder = T5EncoderModel(T5Config(vocab_size=len(tokenizer), d_model=32, d_ff=37, d_kv=8, num_heads=4,
                                           num_layers=2, relative_attention_num_buckets=8, is_encoder_decoder=False,
                                           use_cache=False))
    torch.manual_seed(0)
    transformer = SkyReelsV2Transformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        rope_max_seq_len=1024)  # the real model's: any film size up to 2048 px a side
    return SkyReelsV2DiffusionForcingPipeline(tokenizer=tokenizer, text_encoder=text_encoder.eval(),
                                              transformer=transformer.eval(), vae=vae.eval(), scheduler=scheduler)


def load_model(cls, folder: str, dtype: torch.dtype, device: torch.device):
    """`cls.from_pretrained(folder)` without accelerate: built uninitialised on `device` in float32, every weight of
    the folder's safetensors (one file or an index of shards) loaded, then cast to `dtype` except the class's
    `_keep_in_fp32_modules`, as diffusers does."""
    import json

    from diffusers.models.modeling_utils import no_init_weights
    from safetensors.torch import load_file

    with no_init_weights(), torch.device(device):
        model = cls.from_config(cls.load_config(folder))
    index = [f for f in os.listdir(folder) if f.endswith(".safetensors.index.json")]
    if index:
        with open(os.path.join(folder, index[0])) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors"))
    if not files:
        raise ValueError(f"no safetensors weights in {folder}")
    expected, loaded = set(model.state_dict()), set()
    for name in files:
        state = load_file(os.path.join(folder, name), device=str(device))
        unexpected = set(state) - expected
        if unexpected:
            raise ValueError(f"{folder}/{name}: weights the model does not have: {sorted(unexpected)[:5]}")
        model.load_state_dict(state, strict=False)
        loaded |= set(state)
        del state
    if expected - loaded:
        raise ValueError(f"{folder}: weights missing: {sorted(expected - loaded)[:5]}")
    return cast(model, dtype).eval()


def cast(model, dtype: torch.dtype):
    """Parameters to `dtype`, except those of the class's `_keep_in_fp32_modules` (as diffusers' loading does)."""
    keep = getattr(model, "_keep_in_fp32_modules", None) or []
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.is_floating_point() and p.dtype != dtype and not any(k in name for k in keep):
                p.data = p.data.to(dtype)
    return model


# ------------------------------------------------------------------------------------------------------ engine

class SkyReelsV2DFEngine:
    name = "skyreels-v2-df"

    def __init__(self) -> None:
        self.pipe = None
        self.weights: Optional[str] = None
        self.last_latents: Optional[np.ndarray] = None  # debug: the last window's latents [T, C, h, w]
        self.last_frames: Optional[np.ndarray] = None  # debug: the last window's decoded frames [F, H, W, 3]
        self._prompt_cache: dict = {}

    # ----------------------------------------------------------------------------------------------- loading

    def load(self, options: dict) -> protocol.Ready:
        import diffusers

        self.config = options.get("config") or "540p"
        if self.config not in BASE_FRAMES:
            raise ValueError(f"unknown config {self.config!r}; one of {sorted(BASE_FRAMES)}")
        self.device = protocol.torch_device(options.get("device"))
        self.dtype = protocol.torch_dtype(options.get("dtype"), self.device)
        self.guidance_scale = float(options.get("guidance_scale", 6.0))
        self.negative_prompt = str(options.get("negative_prompt", ""))
        self.addnoise_condition = float(options.get("addnoise_condition", 20.0))
        self.max_sequence_length = int(options.get("max_sequence_length", 16 if self.config == "tiny" else 512))
        self.base_frames = int(options.get("base_num_frames", BASE_FRAMES[self.config]))

        if self.config == "tiny":
            self._install(tiny_pipeline())
        else:
            if not options.get("weights"):
                raise ValueError(f"config {self.config} needs --weights (a local diffusers directory)")
            self._load_weights(options["weights"])

        vae = self.pipe.vae
        self.spatial_stride = 2 ** len(vae.temperal_downsample)
        if 2 ** sum(vae.temperal_downsample) != TEMPORAL_STRIDE:
            raise ValueError("the VAE's temporal stride is not 4")
        patch = self.pipe.transformer.config.patch_size
        self.spatial_multiple = self.spatial_stride * max(patch[1], patch[2], 2)
        self.channels = self.pipe.transformer.config.in_channels
        memory = protocol.device_memory(self.device)
        geometry = protocol.Geometry(temporal_stride=TEMPORAL_STRIDE, spatial_stride=self.spatial_stride,
                                     spatial_multiple=self.spatial_multiple, latent_channels=self.channels,
                                     max_window=self.base_frames, step_audio=[0], native_audio_rate=None)
        self.geometry = geometry
        device_name = "cpu" if self.device.type == "cpu" else f"cuda:{self.device.index}"
        return protocol.Ready(engine=self.name, version=f"diffusers-{diffusers.__version__}/skyreels-v2-df-{self.config}",
                              device=device_name, device_memory_bytes=memory, geometry=geometry)

    def _install(self, pipe) -> None:
        cast(pipe.transformer.to(self.device), self.dtype)
        cast(pipe.text_encoder.to(self.device), self.dtype)
        pipe.vae.to(self.device, torch.float32)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe
        self._prompt_cache.clear()

    def _load_weights(self, path: str) -> None:
        from diffusers import SkyReelsV2DiffusionForcingPipeline

        if not os.path.isdir(path):
            raise ValueError(f"weights {path!r} is not a local diffusers directory")
        _log(f"loading {path} ({self.dtype}, {self.device})")
        dtypes = {"default": self.dtype, "vae": torch.float32}
        parts = {}
        from diffusers.utils import is_accelerate_available
        if not is_accelerate_available():
            # diffusers 0.42 cannot load a model with `_keep_in_fp32_modules` (the transformer, the VAE) without
            # accelerate; load those two here, the rest through the pipeline.
            from diffusers import AutoencoderKLWan, SkyReelsV2Transformer3DModel
            parts = {"transformer": load_model(SkyReelsV2Transformer3DModel, os.path.join(path, "transformer"),
                                               self.dtype, self.device),
                     "vae": load_model(AutoencoderKLWan, os.path.join(path, "vae"), torch.float32, self.device)}
        pipe = SkyReelsV2DiffusionForcingPipeline.from_pretrained(path, local_files_only=True, dtype=dtypes, **parts)
        self.pipe = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        self._install(pipe)
        self.weights = path

    def _use_model(self, model: protocol.Model) -> None:
        if model.config and model.config != self.config:
            _log(f"task asks for config {model.config!r}; this process serves {self.config!r}")
        if model.weights and self.config != "tiny" and os.path.realpath(model.weights) != os.path.realpath(self.weights):
            self._load_weights(model.weights)

    def close(self) -> None:
        self.pipe = None
        self._prompt_cache.clear()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ------------------------------------------------------------------------------------------------ pieces

    @torch.no_grad()
    def _text(self, prompt: str) -> torch.Tensor:
        """T5 embeddings as the pipeline's `_get_t5_prompt_embeds` makes them (padding zeroed), cached."""
        if prompt not in self._prompt_cache:
            if len(self._prompt_cache) > 8:
                self._prompt_cache.clear()
            pipe, n = self.pipe, self.max_sequence_length
            t = pipe.tokenizer([_clean_prompt(prompt)], padding="max_length", max_length=n, truncation=True,
                               add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
            ids, mask = t.input_ids.to(self.device), t.attention_mask.to(self.device)
            e = pipe.text_encoder(ids, mask).last_hidden_state
            e = e * mask[..., None].to(e.dtype)  # the pipeline cuts at the length and pads with zeros
            self._prompt_cache[prompt] = e.to(self.pipe.transformer.dtype)
        return self._prompt_cache[prompt]

    def _latent_stats(self):
        cfg = self.pipe.vae.config
        mean = torch.tensor(cfg.latents_mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1, 1)
        std = torch.tensor(cfg.latents_std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1, 1)
        return mean, std

    @torch.no_grad()
    def _encode_keyframe(self, image: np.ndarray, local_frame: int) -> torch.Tensor:
        """[C, h, w] normalised latent of a keyframe: alone (first, causal latent) at local frame 0, else the
        second latent of five copies (a 4-frame latent of the still image)."""
        x = torch.from_numpy(np.ascontiguousarray(image)).to(self.device, torch.float32)
        x = (x / 127.5 - 1.0).permute(2, 0, 1)[None, :, None]  # [1, 3, 1, H, W]
        copies = 1 if local_frame == 0 else 1 + TEMPORAL_STRIDE
        z = self.pipe.vae.encode(x.repeat(1, 1, copies, 1, 1)).latent_dist.mode()
        mean, std = self._latent_stats()
        return ((z - mean) / std)[0, :, copies // TEMPORAL_STRIDE]

    @torch.no_grad()
    def _decode(self, latents: torch.Tensor) -> np.ndarray:
        """uint8 RGB [F, H, W, 3] from normalised latents [1, C, T, h, w]."""
        mean, std = self._latent_stats()
        video = self.pipe.vae.decode(latents.to(torch.float32) * std + mean, return_dict=False)[0]
        video = ((video[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # [3, F, H, W]
        return video.permute(1, 2, 3, 0).cpu().numpy()

    @torch.no_grad()
    def _denoise(self, prompt: str, count: int, height: int, width: int, held: dict, steps: int, seed: int,
                 fps, progress: Callable[[int, int], None], done: int = 0, total: Optional[int] = None) -> torch.Tensor:
        """Synchronous diffusion forcing over `count` latent steps; `held` maps latent index -> [C, h, w] kept
        clean at timestep 0. Returns float32 latents [1, C, count, h, w]."""
        pipe = self.pipe
        transformer = pipe.transformer
        total = steps if total is None else total
        h, w = height // self.spatial_stride, width // self.spatial_stride
        generator = torch.Generator("cpu").manual_seed(seed)
        latents = torch.randn((1, self.channels, count, h, w), generator=generator, dtype=torch.float32)
        latents = latents.to(self.device)
        held_mask = torch.zeros(count, dtype=torch.bool)
        for i, v in held.items():
            latents[0, :, i] = v.to(self.device, torch.float32)
            held_mask[i] = True
        free = (~held_mask).nonzero().flatten().tolist()
        held_idx = held_mask.nonzero().flatten().tolist()
        if not free:
            return latents

        cond = self._text(prompt)
        cfg = self.guidance_scale > 1.0
        uncond = self._text(self.negative_prompt) if cfg else None
        fps_embeds = [0 if round(float(fps)) == 16 else 1]  # the pipeline's fps flag (16 fps or not)
        scheduler = deepcopy(pipe.scheduler)
        scheduler.set_timesteps(steps, device=self.device)
        timesteps = scheduler.timesteps.long()
        for k, t in enumerate(timesteps):
            x = latents.to(transformer.dtype).clone()
            timestep = torch.full((1, count), int(t), dtype=torch.long, device=self.device)
            timestep[:, held_idx] = 0
            if self.addnoise_condition > 0 and held_idx:
                f = 0.001 * self.addnoise_condition
                noise = torch.randn((1, self.channels, len(held_idx), h, w), generator=generator).to(self.device)
                x[:, :, held_idx] = (x[:, :, held_idx].float() * (1.0 - f) + noise * f).to(x.dtype)
                timestep[:, held_idx] = int(self.addnoise_condition)
            with transformer.cache_context("cond"):
                pred = transformer(hidden_states=x, timestep=timestep, encoder_hidden_states=cond,
                                   enable_diffusion_forcing=True, fps=fps_embeds, return_dict=False)[0]
            if cfg:
                with transformer.cache_context("uncond"):
                    pred_u = transformer(hidden_states=x, timestep=timestep, encoder_hidden_states=uncond,
                                         enable_diffusion_forcing=True, fps=fps_embeds, return_dict=False)[0]
                pred = pred_u + self.guidance_scale * (pred - pred_u)
            # One scheduler for every free step: they share the timestep (ar_step 0) and UniPC is elementwise,
            # so this equals the pipeline's scheduler per latent frame.
            latents[:, :, free] = scheduler.step(pred[:, :, free].float(), t, latents[:, :, free],
                                                 return_dict=False)[0]
            progress(done + k + 1, total)
        return latents

    def _check_size(self, fmt: protocol.Format) -> None:
        if fmt.width % self.spatial_multiple or fmt.height % self.spatial_multiple:
            raise ValueError(f"film {fmt.width}x{fmt.height} is not a multiple of {self.spatial_multiple}")

    def _pin_steps(self, latents: protocol.Latents, what: str, h: int, w: int) -> np.ndarray:
        v = latents.video
        if v.ndim != 4 or v.shape[1:] != (self.channels, h, w):
            raise ValueError(f"{what}: latent steps {v.shape[1:]}, this engine's are {(self.channels, h, w)}")
        return v

    # ------------------------------------------------------------------------------------------------- tasks

    def generate(self, task: protocol.SegmentTask, progress) -> protocol.SegmentResult:
        self._use_model(task.model)
        fmt = task.format
        self._check_size(fmt)
        frames = task.frame_count
        if frames < 1 or (frames - 1) % TEMPORAL_STRIDE or frames > self.base_frames:
            raise ValueError(f"{frames} frames is not a 1+4k window of at most {self.base_frames}")
        count = self.geometry.latent_count(frames)
        h, w = fmt.height // self.spatial_stride, fmt.width // self.spatial_stride
        held: dict = {}
        for k in task.keyframes:
            local = k.frame - task.generate[0]
            if not 0 <= local < frames:
                raise ValueError(f"keyframe at frame {k.frame} is outside {task.generate}")
            held[self.geometry.latent_index_of_frame(local)] = self._encode_keyframe(k.image, local)
        for pin in task.pins:
            v = self._pin_steps(pin.latents, f"pin at {pin.latent_index}", h, w)
            if pin.latent_index < 0 or pin.latent_index + v.shape[0] > count:
                raise ValueError(f"pin of {v.shape[0]} steps at {pin.latent_index} does not fit {count} steps")
            for j in range(v.shape[0]):
                held[pin.latent_index + j] = torch.from_numpy(v[j].copy())
        latents = self._denoise(task.shot.prompt_text(), count, fmt.height, fmt.width, held, task.steps,
                                _seed(task.seed, task.index), fmt.fps, progress)
        steps = latents[0].permute(1, 0, 2, 3).float().cpu().numpy()  # [T, C, h, w]
        self.last_latents = steps
        n = min(task.tail_latents, count)
        tail = steps[count - n:]
        video = self._decode(latents)
        self.last_frames = video
        lo, hi = task.own[0] - task.generate[0], task.own[1] - task.generate[0]
        silence = np.zeros((task.samples[1] - task.samples[0], fmt.channels), dtype=np.float32)
        return protocol.SegmentResult(tail=protocol.Latents(tail, np.zeros((n, 0), np.float32)),
                                      frames=np.ascontiguousarray(video[lo:hi]), audio=silence)

    def anchors(self, task: protocol.AnchorTask, progress) -> protocol.Latents:
        """One 1-frame window (its causal first latent) per anchor frame, seeded from (seed, frame); the first is
        the start pin when given (its last step, held: no denoising)."""
        self._use_model(task.model)
        fmt = task.format
        self._check_size(fmt)
        h, w = fmt.height // self.spatial_stride, fmt.width // self.spatial_stride
        start = None
        if task.start is not None:
            start = self._pin_steps(task.start, "anchors start", h, w)
            if start.shape[0] == 0:
                raise ValueError("anchors start holds no latent step")
        runs = len(task.frames) - (1 if start is not None else 0)
        total, out = runs * task.steps, []
        for i, frame in enumerate(task.frames):
            if i == 0 and start is not None:
                out.append(start[-1])
                continue
            done = len(out) - (1 if start is not None else 0)
            latents = self._denoise(task.shot.prompt_text(), 1, fmt.height, fmt.width, {}, task.steps,
                                    _seed(task.seed, -1, frame), fmt.fps, progress, done * task.steps, total)
            out.append(latents[0, :, 0].float().cpu().numpy())
        video = np.stack(out)
        return protocol.Latents(video, np.zeros((len(out), 0), np.float32))
