"""MERT-v1-95M as an EmoAlign encoder, through transformers' plain `HubertModel`.

MERT-v1-95M (m-a-p/MERT-v1-95M, weights CC-BY-NC-4.0) is a HuBERT-style model on 24 kHz mono
audio: a 7-layer conv feature encoder (total stride 320 samples, 75 frames per second) and 12
transformer layers of width 768. Its checkpoint loads into `HubertModel` with the architecture
shipped in `assets/encoders/mert-v1-95m/config.json`, so no `trust_remote_code` is needed.

Features, as in Liu, Roy & Herremans (2024): per 10-s segment, normalise the waveform to zero
mean and unit variance (`Wav2Vec2FeatureExtractor` semantics, no attention mask), run the model,
average each of the hidden states 3, 6, 9 and 12 over time and concatenate them: 4 x 768 = 3072.

Layer indexing: `outputs.hidden_states` has 13 entries. Entry 0 is the input of the first
transformer layer (conv features -> projection -> + convolutional position embedding ->
LayerNorm); entry k (1..12) is the output of transformer layer k, and entry 12 equals
`last_hidden_state`. MERT's own remote code numbers them the same way, so "layer 3" is
`hidden_states[3]`, the output of the third transformer layer.

Example (needs the weights, see `MertWeightsError`):

    >>> from emoalign.audio.load import load_audio, split_segments
    >>> encoder = MertEncoder(weights="/models/MERT-v1-95M")          # doctest: +SKIP
    >>> segments = split_segments(load_audio("song.mp3", 24000), 24000)  # doctest: +SKIP
    >>> encoder.encode(segments).features.shape                          # doctest: +SKIP
    (n_segments, 3072)
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..paths import ASSETS
from .segments import EncodedSegments, default_device

HUB_ID = "m-a-p/MERT-v1-95M"
WEIGHTS_ENV = "EMOALIGN_MERT_WEIGHTS"  # a local directory (or hub id) to load instead of HUB_ID
CONFIG_PATH = ASSETS / "encoders" / "mert-v1-95m" / "config.json"
SAMPLE_RATE = 24000  # Hz
FRAME_RATE = 75  # hidden-state frames per second (24000 / 320)
LAYERS = (3, 6, 9, 12)  # indices into `hidden_states`; 0 is the pre-transformer embedding
NORM_EPS = 1e-7  # Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
           "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class MertWeightsError(RuntimeError):
    """The MERT weights could not be loaded; the message says how to get them."""


def mert_config():
    """MERT-v1-95M's `HubertConfig`, from the shipped JSON (keys starting with '_' are notes)."""
    from transformers import HubertConfig
    with open(CONFIG_PATH, encoding="utf-8") as f:
        values = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    return HubertConfig(**values)


def normalize_segments(segments: torch.Tensor) -> torch.Tensor:
    """Zero-mean unit-variance per row, as `Wav2Vec2FeatureExtractor(do_normalize=True)`.

    (n, samples) float -> (n, samples) float32; a silent row becomes zeros.
    """
    segments = segments.float()
    mean = segments.mean(dim=1, keepdim=True)
    var = segments.var(dim=1, keepdim=True, unbiased=False)
    return (segments - mean) / torch.sqrt(var + NORM_EPS)


class MertEncoder:
    """MERT-v1-95M -> (n_segments, 3072) features: time-mean of hidden states 3, 6, 9, 12.

    weights: a local directory holding the checkpoint (e.g. from `hf download m-a-p/MERT-v1-95M
        --local-dir DIR`) or a hub id; default `$EMOALIGN_MERT_WEIGHTS`, else "m-a-p/MERT-v1-95M".
        Loading fails here, in the constructor, with `MertWeightsError` when they cannot be had.
        `HF_HUB_OFFLINE=1` (or `TRANSFORMERS_OFFLINE=1`) means only the local cache is tried.
    model: an already built `HubertModel` to use instead of loading weights (e.g. in tests).
    device: None picks CUDA when present, else CPU.
    dtype: "float16" / "bfloat16" run the model in half precision (CUDA only); features are
        always returned as float32.
    batch_size: segments per forward pass; memory is bounded by it, not by the song length.
    """

    name = "mert-v1-95m"
    sample_rate = SAMPLE_RATE
    tag_names: tuple[str, ...] = ()

    def __init__(self, weights: str | os.PathLike | None = None, *, model=None,
                 device: str | None = None, dtype: str | torch.dtype | None = None,
                 batch_size: int = 4, layers: Sequence[int] = LAYERS):
        self.device = torch.device(device or default_device())
        self.dtype = _resolve_dtype(dtype, self.device)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = int(batch_size)
        if model is None:
            model = load_mert_model(weights)
        n_states = model.config.num_hidden_layers + 1
        if not layers or any(not 0 <= i < n_states for i in layers):
            raise ValueError(f"layers must be hidden-state indices in 0..{n_states - 1}, "
                             f"got {layers}")
        self.layers = tuple(int(i) for i in layers)
        self.feature_dim = model.config.hidden_size * len(self.layers)
        self.model = model.eval().to(device=self.device, dtype=self.dtype)

    def encode(self, segments: np.ndarray,
               progress: Callable[[float], None] | None = None) -> EncodedSegments:
        """(n_segments, samples) float mono at 24 kHz -> features (n_segments, 3072) float32.

        Segments go through the model `batch_size` at a time; `progress(fraction_done)` is
        called after each batch.
        """
        segments = np.asarray(segments, dtype=np.float32)
        if segments.ndim != 2:
            raise ValueError(f"segments must be (n_segments, samples), got shape {segments.shape}")
        n = len(segments)
        features = np.empty((n, self.feature_dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, n, self.batch_size):
                batch = torch.from_numpy(segments[start:start + self.batch_size]).to(self.device)
                inputs = normalize_segments(batch).to(self.dtype)
                hidden = self.model(inputs, output_hidden_states=True).hidden_states
                pooled = [hidden[i].float().mean(dim=1) for i in self.layers]  # each (b, 768)
                features[start:start + len(batch)] = torch.cat(pooled, dim=1).cpu().numpy()
                if progress is not None:
                    progress(min(start + self.batch_size, n) / n)
        return EncodedSegments(features=features, tags=None)


def load_mert_model(weights: str | os.PathLike | None = None):
    """Load MERT-v1-95M weights into a `HubertModel` (eval mode, float32, CPU).

    Raises MertWeightsError, with instructions, when the weights are missing or incomplete, or
    do not fit the shipped architecture (rather than leave weights random or drop them).
    """
    from transformers import HubertModel

    weights = str(weights or os.environ.get(WEIGHTS_ENV) or HUB_ID)
    local = Path(weights).expanduser()
    offline = _env_flag("HF_HUB_OFFLINE") or _env_flag("TRANSFORMERS_OFFLINE")
    if local.exists():
        if not local.is_dir():
            raise MertWeightsError(_help(f"{local} is a file; pass the directory holding it"))
        source = str(local)
    elif _looks_like_path(weights):
        raise MertWeightsError(_help(f"the directory {local} does not exist"))
    else:
        source = weights  # a hub id
        # Without this, an unreachable hub costs about 90 s of retries before the same error.
        offline = offline or not _hub_reachable()
    try:
        model, info = HubertModel.from_pretrained(
            source, config=mert_config(), dtype=torch.float32, local_files_only=offline,
            output_loading_info=True)
    except (OSError, ValueError) as error:  # no files, no network, offline and not cached
        where = (f"in {source}" if local.exists() else
                 f"for {source!r}: offline or hub unreachable, and not in the Hugging Face cache"
                 if offline else
                 f"for {source!r} from the Hugging Face hub")
        raise MertWeightsError(_help(f"no usable checkpoint {where}: {error}")) from error
    except RuntimeError as error:  # transformers refuses weights of the wrong shape
        raise MertWeightsError(_mismatch(source, "weights of the wrong shape")) from error
    unused = sorted(info.get("unexpected_keys", ())) + sorted(
        str(k[0] if isinstance(k, tuple) else k) for k in info.get("mismatched_keys", ()))
    if unused:  # weights that would be silently dropped
        raise MertWeightsError(_mismatch(source, f"{len(unused)} weights that do not fit "
                                                 f"(e.g. {', '.join(unused[:3])})"))
    missing = sorted(k for k in info.get("missing_keys", ()) if "masked_spec_embed" not in k)
    if missing:
        raise MertWeightsError(_help(
            f"the checkpoint in {source} lacks {len(missing)} MERT-v1-95M weights "
            f"(e.g. {', '.join(missing[:3])}); it is not MERT-v1-95M or is incomplete"))
    return model.eval()


def _mismatch(source: str, detail: str) -> str:
    return (f"The checkpoint in {source} has {detail} for the architecture in "
            f"assets/encoders/mert-v1-95m/config.json. Check that it is MERT-v1-95M; if it is, "
            f"the shipped config is wrong: please report this.")


def _help(reason: str) -> str:
    return (
        f"Cannot load the MERT-v1-95M weights: {reason.rstrip('.')}.\n"
        f"On a machine with network access, download them (about 380 MB, licence CC-BY-NC-4.0):\n"
        f"    hf download {HUB_ID} --local-dir /path/to/MERT-v1-95M\n"
        f"(older huggingface_hub: huggingface-cli download ...), copy that folder here, then pass "
        f"it as MertEncoder(weights='/path/to/MERT-v1-95M') or set "
        f"{WEIGHTS_ENV}=/path/to/MERT-v1-95M. Without MERT, use the offline default encoder "
        f"'musicnn'.")


def _looks_like_path(text: str) -> bool:
    """True unless `text` has the shape of a hub id ('name' or 'owner/name')."""
    return (os.path.isabs(text) or text.startswith((".", "~")) or text.count("/") > 1
            or "\\" in text or (os.sep != "/" and os.sep in text))


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face endpoint accepts a TCP connection (assumed so behind a proxy)."""
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    from urllib.parse import urlparse
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    if dtype is None:
        return torch.float32
    if isinstance(dtype, str):
        if dtype.lower() not in _DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
        dtype = _DTYPES[dtype.lower()]
    if dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"unsupported dtype {dtype}")
    if dtype != torch.float32 and device.type != "cuda":
        raise ValueError(f"half precision ({dtype}) is only supported on CUDA; use float32 on "
                         f"{device.type}")
    return dtype
