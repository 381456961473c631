"""all-MiniLM-L6-v2 in plain torch: a 6-layer BERT, mean-pooled and normalised.

Why not sentence-transformers: importing it (and transformers) costs 3-8 s on two cores,
most of a cold start, for a model this small. This reads the same safetensors weights and
`tokenizer.json` and gives the same embeddings (tests/test_labels_text.py checks it against
sentence-transformers to 1e-5). Other models still go through sentence-transformers (text.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length
BATCH = 64


def is_plain_bert(model_dir: str | Path) -> bool:
    """Whether `model_dir` is a local BERT sentence model this module can run: BERT weights in
    safetensors, a fast tokenizer, and mean pooling."""
    model_dir = Path(model_dir)
    try:
        config = json.loads((model_dir / "config.json").read_text())
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (config.get("model_type") == "bert" and pooling.get("pooling_mode_mean_tokens") is True
            and (model_dir / "model.safetensors").is_file()
            and (model_dir / "tokenizer.json").is_file())


class MiniLM:
    """`encode(texts) -> (n, dim)` float32 unit-norm embeddings, like SentenceTransformer's."""

    def __init__(self, model_dir: str | Path, device: str = "cpu"):
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        config = json.loads((model_dir / "config.json").read_text())
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config.get("layer_norm_eps", 1e-12)
        self.weights = {k: v.to(device) for k, v in
                        load_file(str(model_dir / "model.safetensors")).items()}
        self.device = device
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def _layer_norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        w = self.weights
        return F.layer_norm(x, x.shape[-1:], w[f"{name}.weight"], w[f"{name}.bias"], self.eps)

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.weights[f"{name}.weight"], self.weights[f"{name}.bias"])

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        w, (n, length) = self.weights, ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._layer_norm(x, "embeddings.LayerNorm")
        keep = mask[:, None, None, :].bool()  # (n, 1, 1, L): padding is never attended to
        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q, k, v = (self._linear(x, f"{p}.attention.self.{m}")
                       .view(n, length, self.heads, -1).transpose(1, 2)
                       for m in ("query", "key", "value"))
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
            attended = attended.transpose(1, 2).reshape(n, length, -1)
            x = self._layer_norm(x + self._linear(attended, f"{p}.attention.output.dense"),
                                 f"{p}.attention.output.LayerNorm")
            hidden = F.gelu(self._linear(x, f"{p}.intermediate.dense"))
            x = self._layer_norm(x + self._linear(hidden, f"{p}.output.dense"),
                                 f"{p}.output.LayerNorm")
        return x

    def encode(self, texts: list[str]) -> np.ndarray:
        out = []
        # Batches of similar length, as sentence-transformers does: padding costs compute.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(texts), BATCH):
                batch = self.tokenizer.encode_batch([texts[i] for i in order[start:start + BATCH]])
                ids = torch.tensor([b.ids for b in batch], device=self.device)
                mask = torch.tensor([b.attention_mask for b in batch], device=self.device)
                tokens = self._forward(ids, mask)
                weights = mask[..., None].to(tokens.dtype)
                pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                out.append(F.normalize(pooled, dim=-1).cpu().numpy())
        if not out:
            return np.zeros((0, self.weights["embeddings.LayerNorm.weight"].shape[0]), np.float32)
        embeddings = np.empty((len(texts), out[0].shape[1]), np.float32)
        embeddings[order] = np.concatenate(out)
        return embeddings
