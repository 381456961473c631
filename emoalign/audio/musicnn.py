"""musicnn (Pons & Serra 2019) in PyTorch: the offline default encoder.

A port of the TensorFlow models in the PyPI wheel musicnn==0.1.0 (ISC licence), with the
weights converted by tools/convert_musicnn.py into assets/encoders/{mtt,msd}_musicnn.safetensors
("mtt": MagnaTagATune, "msd": Million Song Dataset; 50 tags each). The front end is a log-mel
spectrogram of 16-kHz audio cut into 3-s patches of 187 frames; every patch gives 50 tag
logits and a 200-d "penultimate" embedding. tests/test_musicnn.py checks the port against
the TensorFlow original on real audio (tags within 4e-6, penultimate within 3e-5).
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..paths import ASSETS
from .musicnn_onnx import OnnxMusicnn, load_onnx_musicnn
from .segments import EncodedSegments, default_device

SAMPLE_RATE = 16000
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
PATCH_FRAMES = 187  # 3 s: what the models were trained on
BN_EPS = 1e-3  # TensorFlow's default
MODELS = ("mtt", "msd")  # MagnaTagATune, Million Song Dataset
DEFAULT_MODELS = ("mtt",)  # both nets cost twice as much and did not score better on Emotify
WEIGHTS_DIR = ASSETS / "encoders"
BACKENDS = ("auto", "onnx", "torch")  # auto: ONNX Runtime on CPU when it is installed


def weights_path(name: str, suffix: str = "safetensors") -> Path:
    """assets/encoders/<name>_musicnn.<suffix>: the weights, or their ONNX export ("onnx")."""
    return WEIGHTS_DIR / f"{name}_musicnn.{suffix}"


@lru_cache(maxsize=None)
def mel_filters(device: torch.device | str = "cpu") -> Tensor:
    """(96, 257) Slaney mel filterbank: librosa.filters.mel(sr=16000, n_fft=512, n_mels=96)."""
    log_step = np.log(6.4) / 27  # mels are linear below 1 kHz (15 mel), logarithmic above

    def hz_to_mel(f):
        return np.where(f < 1000, f * 3 / 200, 15 + np.log(np.maximum(f, 1e-3) / 1000) / log_step)

    def mel_to_hz(m):
        return np.where(m < 15, m * 200 / 3, 1000 * np.exp((m - 15) * log_step))

    fft_hz = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = mel_to_hz(np.linspace(0, hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    ramps = edges[:, None] - fft_hz[None, :]
    width = np.diff(edges)[:, None]
    weights = np.maximum(0, np.minimum(-ramps[:-2] / width[:-1], ramps[2:] / width[1:]))
    weights *= 2 / (edges[2:, None] - edges[:-2, None])  # equal area per band
    return torch.from_numpy(weights.astype(np.float32)).to(device)


def log_mel_spectrogram(audio: Tensor) -> Tensor:
    """(..., samples) 16-kHz audio -> (..., 1 + samples // 256, 96) log10(10000 * mel + 1).

    As the wheel's extractor computes it: librosa.feature.melspectrogram(n_fft=512,
    hop_length=256, n_mels=96) (periodic Hann window, frames centred on zero-padded audio,
    power 2), rounded to float16, log in float32.
    """
    batch_shape = audio.shape[:-1]
    stft = torch.stft(audio.reshape(-1, audio.shape[-1]), N_FFT, HOP_LENGTH,
                      window=torch.hann_window(N_FFT, device=audio.device), center=True,
                      pad_mode="constant", return_complex=True)
    mel = mel_filters(audio.device) @ stft.abs().square()  # (batch, 96, frames)
    mel = mel.clamp(max=65504).half().float()  # float16 as musicnn stores it, without overflow
    return torch.log10(10000 * mel + 1).transpose(1, 2).reshape(*batch_shape, -1, N_MELS)


class ConvBlock(nn.Sequential):
    """Convolution -> ReLU -> BatchNorm: every musicnn convolution."""

    def __init__(self, conv: nn.Conv1d | nn.Conv2d):
        norm = nn.BatchNorm2d if isinstance(conv, nn.Conv2d) else nn.BatchNorm1d
        super().__init__(OrderedDict(conv=conv, relu=nn.ReLU(),
                                     bn=norm(conv.out_channels, eps=BN_EPS)))

    def max_over_frequency(self, x: Tensor) -> Tensor:
        """self(x).amax(dim=3) for (batch, 1, time, mel) x, with ReLU and BatchNorm after the max.

        BatchNorm is a per-channel a * x + b: its max is a * max + b where a > 0, and
        a * min + b where a < 0, so channels with a < 0 convolve with the negated kernel.
        """
        conv, sign = self.conv, self.bn_sign()
        weight = conv.weight * sign[:, None, None, None]
        if x.device.type == "cpu" and torch.backends.mkldnn.is_available() \
                and not torch.onnx.is_in_onnx_export():
            # Pool in oneDNN's blocked layout rather than convert the whole map back first.
            y = F.conv2d(x.to_mkldnn(), weight.to_mkldnn(), padding=conv.padding)
            y = F.max_pool2d(y, (1, y.shape[3])).to_dense()[..., 0]
        else:
            y = F.conv2d(x, weight, padding=conv.padding).amax(dim=3)
        return self.after_max(y, sign)

    def bn_sign(self) -> Tensor:
        """(channels,) +1 or -1: the sign of BatchNorm's per-channel scale a."""
        bn = self.bn
        scale = bn.weight * (bn.running_var + bn.eps).rsqrt()
        return torch.where(scale < 0, -1.0, 1.0).to(self.conv.weight)

    def after_max(self, y: Tensor, sign: Tensor) -> Tensor:
        """Bias, ReLU and BatchNorm on y, the max over frequency of the sign-flipped conv."""
        bn = self.bn
        return F.batch_norm(F.relu(sign[:, None] * y + self.conv.bias[:, None]), bn.running_mean,
                            bn.running_var, bn.weight, bn.bias, eps=bn.eps)


class Musicnn(nn.Module):
    """musicnn: log-mel patches (batch, 187, 96) -> tag logits (batch, 50), penultimate (batch, 200)

    Front end: timbral filters (7 frames x 40% and 70% of the mel bands) and temporal filters
    (128, 64 and 32 frames x 1 band), each max-pooled over frequency. Mid end: three 7-frame
    convolutions over the front end's channels, the last two residual. Back end: max and mean
    over time of all 753 channels, then dense 200 (the penultimate layer) and dense 50.
    """

    def __init__(self, n_tags: int = 50, n_mels: int = N_MELS, timbral: int = 204,
                 temporal: int = 51, midend: int = 64, dense: int = 200):
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS)
        self.timbral = nn.ModuleList(
            ConvBlock(nn.Conv2d(1, timbral, (7, int(share * n_mels)), padding=(3, 0)))
            for share in (0.4, 0.7))
        self.temporal = nn.ModuleList(ConvBlock(nn.Conv2d(1, temporal, (frames, 1)))
                                      for frames in (128, 64, 32))
        front = 2 * timbral + 3 * temporal
        self.midend = nn.ModuleList(ConvBlock(nn.Conv1d(channels, midend, 7, padding=3))
                                    for channels in (front, midend, midend))
        self.pool_bn = nn.BatchNorm1d(2 * (front + 3 * midend), eps=BN_EPS)
        self.dense = nn.Linear(2 * (front + 3 * midend), dense)
        self.dense_bn = nn.BatchNorm1d(dense, eps=BN_EPS)
        self.head = nn.Linear(dense, n_tags)

    def forward(self, mel: Tensor) -> tuple[Tensor, Tensor]:
        x = self.input_bn(mel.unsqueeze(1))  # (batch, 1, time, mel)
        front = [block.max_over_frequency(x) for block in self.timbral]
        for block in self.temporal:  # TensorFlow's "same" padding: the extra frame goes after
            frames = block.conv.kernel_size[0]
            padded = F.pad(x, (0, 0, (frames - 1) // 2, frames // 2))
            front.append(block.max_over_frequency(padded))
        layers = [torch.cat(front, dim=1)]  # (batch, 561, time)
        for i, block in enumerate(self.midend):  # the second and third are residual
            layers.append(block(layers[-1]) + (layers[-1] if i else 0))
        h = torch.cat(layers, dim=1)  # (batch, 753, time)
        pooled = torch.stack([h.amax(dim=2), h.mean(dim=2)], dim=2).flatten(1)  # max0, mean0, ..
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
        return self.head(penultimate), penultimate


def load_musicnn(name: str = "mtt",
                 device: torch.device | str = "cpu") -> tuple[Musicnn, list[str]]:
    """Load "mtt" or "msd" from assets/encoders -> (model in eval mode, its 50 tag names)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    if name not in MODELS:
        raise ValueError(f"Unknown musicnn model {name!r}; available: {', '.join(MODELS)}")
    path = weights_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run tools/convert_musicnn.py")
    with safe_open(str(path), framework="pt") as f:
        tags = json.loads(f.metadata()["tags"])
    model = Musicnn(n_tags=len(tags))
    missing, unexpected = model.load_state_dict(load_file(str(path)), strict=False)
    if unexpected or any(not key.endswith("num_batches_tracked") for key in missing):
        raise ValueError(f"{path.name} does not fit Musicnn: missing {missing}, "
                         f"unexpected {unexpected}")
    return model.to(device).eval(), tags


def patch_starts(frames: int) -> list[int]:
    """Starts of as many 187-frame patches as fit without overlap, spread from first to last frame.

    >>> patch_starts(626)  # a 10-s segment
    [0, 220, 439]
    """
    n = max(1, frames // PATCH_FRAMES)
    return np.linspace(0, max(frames - PATCH_FRAMES, 0), n).round().astype(int).tolist()


class MusicnnEncoder:
    """Encoder "musicnn": 10-s segments at 16 kHz -> penultimate embeddings and tag probabilities.

    Each segment gives as many 3-s patches as fit without overlap (3 for 10 s), spread evenly
    from its start to its end; features and tags are means over its patches. `models` picks the
    nets, in order: the default ("mtt",) gives 200-d features and tags "mtt:guitar", ...;
    ("mtt", "msd") gives [MTT penultimate, MSD penultimate] (400-d) and 100 tags at twice the
    cost (a 3-min song on 2 CPU cores: 1.1 s with MTT, 2.1 s with both, decoding aside).

    device: None picks CUDA when present, else CPU. batch_size: patches per forward pass (bounds
    memory; None: 6 on CPU, 96 on CUDA). threads: CPU threads for torch (a process-wide
    setting) and ONNX Runtime; None caps torch's default at the cores this process may use.
    backend: "auto" runs the nets on ONNX Runtime on CPU when onnxruntime and the exported
    .onnx files are there (musicnn_onnx.py; float32 with a low-rank front end, calibrated scores
    within 0.001 of PyTorch's), else PyTorch; "torch" forces PyTorch; "onnx" requires ONNX
    Runtime.

    >>> encoder = MusicnnEncoder()
    >>> out = encoder.encode(np.zeros((2, 160000), np.float32))
    >>> out.features.shape, out.tags.shape, encoder.tag_names[0]
    ((2, 200), (2, 50), 'mtt:guitar')
    """

    name = "musicnn"
    sample_rate = SAMPLE_RATE

    def __init__(self, device: str | None = None, models: tuple[str, ...] = DEFAULT_MODELS,
                 batch_size: int | None = None, threads: int | None = None,
                 backend: str = "auto"):
        models = (models,) if isinstance(models, str) else tuple(models)
        if not models:
            raise ValueError(f"Pick at least one of the musicnn models {MODELS}")
        if backend not in BACKENDS:
            raise ValueError(f"Unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
        self.device = torch.device(device or default_device())
        if self.device.type == "cpu":
            _limit_threads(threads)
        self.nets: dict[str, Musicnn] = {}
        self.runners: dict[str, Callable] = {}  # model -> patches -> (logits, penultimate)
        tag_names: list[str] = []
        for model in models:
            self.nets[model], tags = load_musicnn(model, self.device)
            self.runners[model] = self._runner(model, backend)
            tag_names += [f"{model}:{tag}" for tag in tags]
        self.tag_names = tuple(tag_names)
        self.backend = "onnx" if all(isinstance(r, OnnxMusicnn) for r in self.runners.values()) \
            else "torch"
        self.feature_dim = sum(net.dense.out_features for net in self.nets.values())
        self.batch_size = batch_size or (96 if self.device.type == "cuda" else 6)

    def _runner(self, model: str, backend: str) -> Callable:
        onnx = None
        if backend != "torch" and self.device.type == "cpu":
            onnx = load_onnx_musicnn(weights_path(model, "onnx"), weights_path(model),
                                     torch.get_num_threads())
        if onnx is None and backend == "onnx":
            raise RuntimeError(f"The ONNX backend needs onnxruntime and "
                               f"{weights_path(model, 'onnx').name} (tools/export_musicnn_onnx.py)"
                               f"{'' if self.device.type == 'cpu' else ', on CPU'}.")
        return onnx or self.nets[model]

    @torch.inference_mode()
    def encode(self, segments: np.ndarray,
               progress: Callable[[float], None] | None = None) -> EncodedSegments:
        """(n, samples) float32 at 16 kHz -> features (n, 200 per model), tags (n, 50 per model)."""
        segments = np.asarray(segments, dtype=np.float32)
        if segments.ndim != 2:
            raise ValueError(f"Expected (n_segments, samples), got shape {segments.shape}")
        if len(segments) == 0:
            return EncodedSegments(features=np.zeros((0, self.feature_dim), np.float32),
                                   tags=np.zeros((0, len(self.tag_names)), np.float32))
        short = PATCH_FRAMES * HOP_LENGTH - segments.shape[1]
        if short > 0:  # under 3 s: zero-pad to one patch
            segments = np.pad(segments, ((0, 0), (0, short)))
        starts = patch_starts(1 + segments.shape[1] // HOP_LENGTH)
        per_chunk = max(1, self.batch_size // len(starts))  # segments per forward pass
        features, tags = [], []
        for first in range(0, len(segments), per_chunk):
            audio = torch.from_numpy(segments[first:first + per_chunk]).to(self.device)
            mel = log_mel_spectrogram(audio)  # (chunk, frames, 96)
            patches = torch.stack([mel[:, s:s + PATCH_FRAMES] for s in starts], dim=1)
            outputs = [tuple(map(torch.as_tensor, run(patches.flatten(0, 1))))
                       for run in self.runners.values()]
            n = len(audio)
            features.append(torch.cat([penultimate.view(n, len(starts), -1).mean(1)
                                       for _, penultimate in outputs], dim=1))
            tags.append(torch.cat([logits.sigmoid().view(n, len(starts), -1).mean(1)
                                   for logits, _ in outputs], dim=1))
            if progress is not None:
                progress(min(1.0, (first + n) / len(segments)))
        return EncodedSegments(features=torch.cat(features).float().cpu().numpy(),
                               tags=torch.cat(tags).float().cpu().numpy())


def _limit_threads(threads: int | None) -> None:
    """Use `threads` CPU threads, or at most the cores this process may run on."""
    if threads is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        threads = min(torch.get_num_threads(), cores or 1)
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
