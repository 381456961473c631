"""The alignment adapter: encoder features -> the 384-d text-embedding space, and its registry.

`Adapter` is the paper's attention adapter (input projection, transformer encoder layers,
LayerNorm, projection to 384, L2 normalisation), sized by `AdapterConfig`. Two variants:

- ``variant="segment"`` (the paper): every 10-s segment is a sequence of length 1, so segments
  never see each other (the attention degenerates to a per-segment MLP).
- ``variant="song"``: the segments of one song form the sequence, so each segment's embedding
  attends to the rest of the song (padding masked out). No positional encoding: the song is
  treated as a set of segments, which keeps any song length valid.

Weights are stored as ``name.safetensors`` with a JSON card ``name.json`` beside it; the card
holds the `AdapterConfig`, the encoder name, the training set-up and the metrics. Loading
trusts neither: the card's config must lie within `LIMITS` and match the tensor shapes in the
weights' header (read with `safe_open`, nothing allocated) before the adapter is built, and
both files have a size cap (`MAX_WEIGHTS_BYTES`, `MAX_CARD_BYTES`). `embed_songs` runs an
adapter over many songs in padded batches (evaluation, the reference corpus).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ..digest import file_digest
from ..paths import ASSETS
from ..text.encoder import TEXT_DIM

ADAPTER_DIR = ASSETS / "adapters"
VARIANTS = ("segment", "song")
MAX_WEIGHTS_BYTES = 256 << 20  # an adapter's .safetensors (the shipped one is 7 MB)
MAX_CARD_BYTES = 1 << 20  # its JSON card
MAX_PARAMETERS = 50_000_000
LIMITS = {"input_dim": (1, 16384), "d_model": (1, 4096), "n_heads": (1, 64),
          "n_layers": (1, 24), "ff_dim": (1, 16384), "output_dim": (TEXT_DIM, TEXT_DIM)}


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
    card["sha256"] = file_digest(path)
    path.with_suffix(".json").write_text(json.dumps(card, indent=2, default=_json_default) + "\n")
    return path


def load_adapter(name_or_path: str | Path, device: str | None = None,
                 directory: str | Path = ADAPTER_DIR) -> tuple[Adapter, dict]:
    """Load a shipped adapter by name (see `available_adapters`) or from a .safetensors path.
    Returns the adapter in eval mode and its card. The card is validated (`read_card`), the
    weights' header must hold exactly the tensors that config implies (`check_weights`), and
    the weights must match the card's SHA-256; only then is anything allocated.
    card["sha256"] is always the weights' SHA-256."""
    path = _resolve(name_or_path, Path(directory))
    card, config = read_card(path)
    check_weights(path, config)
    digest = file_digest(path)
    if card.setdefault("sha256", digest) != digest:
        raise ValueError(f"{path.name} does not match the SHA-256 in its card; the file is "
                         f"damaged or the card belongs to other weights")
    adapter = Adapter(config)
    adapter.load_state_dict(load_file(str(path)), strict=True)
    return adapter.to(device or "cpu").eval(), card


def read_card(path: str | Path) -> tuple[dict, AdapterConfig]:
    """The card beside the weights `path` and the `AdapterConfig` it holds, checked against
    `LIMITS` and `MAX_PARAMETERS` (ValueError, with a message for people, otherwise)."""
    path = Path(path)
    card_path = path.with_suffix(".json")
    if not card_path.is_file():
        raise FileNotFoundError(f"Adapter card {card_path.name} is missing (it goes beside "
                                f"{path.name})")
    if card_path.stat().st_size > MAX_CARD_BYTES:
        raise ValueError(f"Adapter card {card_path.name} is larger than "
                         f"{MAX_CARD_BYTES >> 10} KB; it is not an adapter card.")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"Adapter card {card_path.name} is not valid JSON.") from error
    except RecursionError as error:  # [[[[...]]]] 100,000 deep
        raise ValueError(f"Adapter card {card_path.name} is nested too deeply to be an adapter "
                         f"card.") from error
    raw = card.get("config") if isinstance(card, dict) else None
    if not isinstance(raw, dict):
        raise ValueError(f"Adapter card {card_path.name} has no 'config' object.")
    known = {f.name: f for f in fields(AdapterConfig)}
    values = {k: v for k, v in raw.items() if k in known}
    for key, (low, high) in LIMITS.items():
        value = values.get(key, known[key].default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"Adapter card {card_path.name}: {key} must be an integer from "
                             f"{low} to {high}, not {str(value)[:20]!r}.")
    dropout = values.get("dropout", 0.1)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"Adapter card {card_path.name}: dropout must be in [0, 1).")
    if "input_dim" not in values:
        raise ValueError(f"Adapter card {card_path.name}: the config has no input_dim.")
    try:
        config = AdapterConfig(**values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"Adapter card {card_path.name}: {error}") from error
    if expected_parameters(config) > MAX_PARAMETERS:
        raise ValueError(f"Adapter card {card_path.name} describes a network of "
                         f"{expected_parameters(config):,} parameters; at most "
                         f"{MAX_PARAMETERS:,} are allowed.")
    return card, config


def expected_shapes(config: AdapterConfig) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of an `Adapter(config)`'s state dict, built on the meta device
    (no memory is allocated)."""
    with torch.device("meta"):
        model = Adapter(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def expected_parameters(config: AdapterConfig) -> int:
    return sum(int(torch.Size(s).numel()) for s in expected_shapes(config).values())


def check_weights(path: str | Path, config: AdapterConfig) -> None:
    """Refuse weights over `MAX_WEIGHTS_BYTES`, or whose header (read with `safe_open`) does not
    hold exactly the float32 tensors `config` implies."""
    path = Path(path)
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_WEIGHTS_BYTES >> 20} MB; adapters are "
                         f"far smaller.")
    expected = expected_shapes(config)
    try:
        with safe_open(str(path), framework="pt") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{path.name} is not a readable .safetensors file.") from error
    if found != expected:
        wrong = sorted(set(found) ^ set(expected)) or sorted(
            k for k in expected if found[k] != expected[k])
        raise ValueError(f"{path.name} does not hold the tensors its card describes "
                         f"(e.g. {wrong[0]!r}); the card belongs to other weights.")
    if dtypes - {"F32"}:
        raise ValueError(f"{path.name} holds {', '.join(sorted(dtypes))} tensors; float32 "
                         f"expected.")


def stage_uploaded_adapter(weights: str | Path, card: str | Path, directory: str | Path,
                           keep: int = 20) -> Path:
    """Copy an uploaded adapter into `directory`/<SHA-256s of weights and card>/ (the same
    upload twice is one adapter), after its size and card pass `check_weights` / `read_card`;
    only the newest `keep` staged adapters stay on disk. Returns the staged .safetensors
    path; ValueError for what is refused."""
    weights, card = Path(weights), Path(card)
    if weights.stat().st_size > MAX_WEIGHTS_BYTES:
        raise ValueError(f"{weights.name} is larger than {MAX_WEIGHTS_BYTES >> 20} MB; adapters "
                         f"are far smaller.")
    folder = Path(directory) / f"{file_digest(weights)[:16]}-{file_digest(card)[:8]}"
    stem = re.sub(r"[^\w.-]+", "_", weights.stem)[:60] or "adapter"
    target = folder / f"{stem}.safetensors"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(card, target.with_suffix(".json"))
    try:
        _, config = read_card(target)  # a bad card is refused before the weights are copied
        if not target.is_file():
            shutil.copyfile(weights, target)
        check_weights(target, config)
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    folder.touch()
    staged = sorted(Path(directory).iterdir(), key=lambda p: p.stat().st_mtime)
    for old in staged[:max(0, len(staged) - keep)]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def prune_adapters(directory: str | Path, keep: int) -> None:
    """Delete all but the newest `keep` adapters (weights and card) in `directory`."""
    weights = sorted(Path(directory).glob("*.safetensors"), key=lambda p: p.stat().st_mtime)
    for path in weights[:max(0, len(weights) - keep)]:
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)


def _resolve(name_or_path: str | Path, directory: Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".safetensors" or candidate.suffix == ".json" or candidate.is_file():
        path = candidate.with_suffix(".safetensors")
    else:
        path = directory / f"{name_or_path}.safetensors"
    if not path.is_file():
        names = ", ".join(available_adapters(directory)) or "none"
        raise FileNotFoundError(f"No adapter {str(name_or_path)!r}; available: "
                                f"{names}")
    return path


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def pad_batch(features: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Songs of (S_i, D) -> features (B, S_max, D) float32 and mask (B, S_max) bool."""
    n = max(len(f) for f in features)
    out = np.zeros((len(features), n, features[0].shape[1]), np.float32)
    mask = np.zeros((len(features), n), bool)
    for i, f in enumerate(features):
        out[i, :len(f)] = f
        mask[i, :len(f)] = True
    return torch.from_numpy(out), torch.from_numpy(mask)


@torch.no_grad()
def embed_songs(adapter: Adapter, features: list[np.ndarray], batch: int = 64) -> list[np.ndarray]:
    """Per song, the (S, 384) unit-norm segment embeddings (adapter in eval mode)."""
    was_training = adapter.training
    adapter.eval()
    out = []
    for b in range(0, len(features), batch):
        chunk = features[b:b + batch]
        x, mask = pad_batch(chunk)
        device = next(adapter.parameters()).device
        emb = adapter(x.to(device), mask.to(device)).cpu().numpy()
        out += [emb[i, :len(f)] for i, f in enumerate(chunk)]
    adapter.train(was_training)
    return out
