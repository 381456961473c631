"""The alignment adapter: encoder features -> the 384-d text-embedding space, and its registry.

`Adapter` is the paper's attention adapter (input projection, transformer encoder layers,
LayerNorm, projection to 384, L2 normalisation), sized by `AdapterConfig`. Two variants:

- ``variant="segment"`` (the paper): every 10-s segment is a sequence of length 1, so segments
  never see each other (the attention degenerates to a per-segment MLP).
- ``variant="song"``: the segments of one song form the sequence, so each segment's embedding
  attends to the rest of the song (padding masked out). No positional encoding: the song is
  treated as a set of segments, which keeps any song length valid.

Weights are stored as ``name.safetensors`` with a JSON card ``name.json`` beside it; the card
holds the `AdapterConfig`, the encoder name, the training set-up and the metrics.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from .text import TEXT_DIM

ADAPTER_DIR = Path(__file__).resolve().parent.parent / "assets" / "adapters"
VARIANTS = ("segment", "song")


@dataclass
class AdapterConfig:
    input_dim: int  # the encoder's feature_dim
    d_model: int = 256
    n_heads: int = 8
    n_layers: int = 2
    ff_dim: int = 1024
    dropout: float = 0.1
    output_dim: int = TEXT_DIM
    variant: str = "segment"  # "segment" (paper) or "song" (attend across a song's segments)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")


class Adapter(nn.Module):
    """features (B, S, input_dim) float + mask (B, S) bool (True = real segment)
    -> (B, S, output_dim) L2-normalised embeddings. Padded positions are computed but
    meaningless; callers ignore them through the mask."""

    def __init__(self, config: AdapterConfig):
        super().__init__()
        self.config = config
        # Feature standardisation fitted on the training set (saved with the weights).
        self.register_buffer("input_mean", torch.zeros(config.input_dim))
        self.register_buffer("input_std", torch.ones(config.input_dim))
        self.input_proj = nn.Linear(config.input_dim, config.d_model)
        layer = nn.TransformerEncoderLayer(
            config.d_model, config.n_heads, config.ff_dim, config.dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.d_model)
        self.output_proj = nn.Linear(config.d_model, config.output_dim)

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if features.ndim != 3 or features.shape[-1] != self.config.input_dim:
            raise ValueError(f"expected features (B, S, {self.config.input_dim}), "
                             f"got {tuple(features.shape)}")
        batch, n_segments, _ = features.shape
        x = self.input_proj((features - self.input_mean) / self.input_std)
        if self.config.variant == "segment":
            x = self.encoder(x.reshape(batch * n_segments, 1, -1)).reshape(batch, n_segments, -1)
        else:
            padding = None
            if mask is not None:
                padding = ~mask.bool()
                padding[padding.all(dim=1)] = False  # an all-padding row would give NaN
            x = self.encoder(x, src_key_padding_mask=padding)
        return F.normalize(self.output_proj(self.norm(x)), dim=-1)

    def set_input_stats(self, mean, std, eps: float = 1e-6) -> None:
        """Standardise inputs with per-dimension `mean` and `std` (D,) arrays."""
        self.input_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.input_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp_min(eps))

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def available_adapters(directory: str | Path = ADAPTER_DIR) -> list[str]:
    """Names of the adapters shipped in `directory` (stems of *.safetensors with a card)."""
    directory = Path(directory)
    return sorted(p.stem for p in directory.glob("*.safetensors")
                  if p.with_suffix(".json").is_file())


def save_adapter(adapter: Adapter, path: str | Path, card: dict | None = None) -> Path:
    """Write `path` (.safetensors) and its card (.json); the card gains the config, the
    parameter count and the weights' SHA-256. Returns the weights path."""
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in adapter.state_dict().items()}
    save_file(state, str(path))
    path.chmod(0o644)
    card = dict(card or {})
    card["config"] = asdict(adapter.config)
    card["n_parameters"] = adapter.n_parameters
    card["sha256"] = _sha256(path)
    path.with_suffix(".json").write_text(json.dumps(card, indent=2, default=_json_default) + "\n")
    return path


def load_adapter(name_or_path: str | Path, device: str | None = None,
                 directory: str | Path = ADAPTER_DIR) -> tuple[Adapter, dict]:
    """Load a shipped adapter by name (see `available_adapters`) or from a .safetensors path.
    Returns the adapter in eval mode and its card; card["sha256"] is the weights' SHA-256
    (checked against the card's where it has one). The weights must match the card's config."""
    path = _resolve(name_or_path, Path(directory))
    card_path = path.with_suffix(".json")
    if not card_path.is_file():
        raise FileNotFoundError(f"Adapter card {card_path} is missing")
    card = json.loads(card_path.read_text())
    digest = _sha256(path)
    if card.setdefault("sha256", digest) != digest:
        raise ValueError(f"{path.name} does not match the SHA-256 in its card; the file is "
                         f"damaged or the card belongs to other weights")
    known = {f.name for f in fields(AdapterConfig)}
    config = AdapterConfig(**{k: v for k, v in card["config"].items() if k in known})
    adapter = Adapter(config)
    adapter.load_state_dict(load_file(str(path)), strict=True)
    return adapter.to(device or "cpu").eval(), card


def _resolve(name_or_path: str | Path, directory: Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".safetensors" or candidate.suffix == ".json" or candidate.is_file():
        path = candidate.with_suffix(".safetensors")
    else:
        path = directory / f"{name_or_path}.safetensors"
    if not path.is_file():
        names = ", ".join(available_adapters(directory)) or "none"
        raise FileNotFoundError(f"No adapter {str(name_or_path)!r} (looked for {path}); "
                                f"available: {names}")
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
