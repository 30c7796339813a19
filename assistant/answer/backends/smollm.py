"""The embedded SmolLM2 (a Llama) on torch, from the model cache's safetensors: the twin of
smollm_numpy.py (which answers) for what needs autograd, training the answer adapter, and
for tests. Built without transformers, whose import and model building took most of 5 s.
Its logits are bit-identical to transformers' on the same cache; tests/test_generator.py
checks the NumPy runtime against it.

Module and parameter names mirror transformers' LlamaForCausalLM, so the cache's state
dict loads as is and lora.py's adapters attach and merge unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn
from torch.nn import functional as F

from assistant.answer.backends.smollm_files import Config, Tokenizer


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def _inv_freq(c: Config) -> torch.Tensor:
    """RoPE's default frequencies, as transformers computes them."""
    return 1.0 / (c.rope_theta ** (torch.arange(0, c.head_dim, 2, dtype=torch.int64).float()
                                   / c.head_dim))


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c: Config) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = (c.num_attention_heads,
                                                    c.num_key_value_heads, c.head_dim)
        self.q_proj = nn.Linear(c.hidden_size, self.heads * c.head_dim, bias=False)
        self.k_proj = nn.Linear(c.hidden_size, self.kv_heads * c.head_dim, bias=False)
        self.v_proj = nn.Linear(c.hidden_size, self.kv_heads * c.head_dim, bias=False)
        self.o_proj = nn.Linear(self.heads * c.head_dim, c.hidden_size, bias=False)

    def forward(self, x, cos, sin, past: list | None) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin
        if past and t > 1:
            raise ValueError("several new tokens after a cache: not used by the assistant")
        if past is not None:
            if past:
                k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
            past[:] = [k, v]
        groups = self.heads // self.kv_heads
        k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
        # Causal over the new tokens; a single new token sees everything before it.
        out = F.scaled_dot_product_attention(q, k, v, is_causal=t > 1)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, c: Config) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c: Config) -> None:
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)

    def forward(self, x, cos, sin, past) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, past)
        return x + self.mlp(self.post_attention_layernorm(x))


class Body(nn.Module):
    def __init__(self, c: Config) -> None:
        super().__init__()
        self.cfg = c
        # A given weight skips the random init, which on "meta" imports torch._dynamo
        # (1.8 s of a cold `ask`); load() assigns the real one.
        self.embed_tokens = nn.Embedding(
            c.vocab_size, c.hidden_size, _weight=torch.empty(c.vocab_size, c.hidden_size))
        self.layers = nn.ModuleList(Layer(c) for _ in range(c.num_hidden_layers))
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        # Filled by load(): computed here on "meta" it would import torch._dynamo.
        self.register_buffer("inv_freq", torch.empty(c.head_dim // 2), persistent=False)

    def forward(self, input_ids: torch.Tensor, attention_mask=None, cache: Cache | None = None
                ) -> SimpleNamespace:
        # attention_mask: training pads on the right, where causal attention already keeps
        # every real token from seeing the padding after it.
        start = cache.length if cache is not None else 0
        t = input_ids.shape[1]
        positions = torch.arange(start, start + t, dtype=torch.float32)
        freqs = positions[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), -1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        x = self.embed_tokens(input_ids)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, cache.layers[i] if cache is not None else None)
        if cache is not None:
            cache.length += t
        return SimpleNamespace(last_hidden_state=self.norm(x))


class Cache:
    """The keys and values of every layer so far, for one stream."""

    def __init__(self) -> None:
        self.layers: list[list] = []
        self.length = 0


class SmolLM(nn.Module):
    """LlamaForCausalLM's interface as EmbeddedGenerator and training use it."""

    def __init__(self, c: Config, eos: list[int]) -> None:
        super().__init__()
        self.model = Body(c)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        if c.tie_word_embeddings:  # as SmolLM2 was trained
            self.lm_head.weight = self.model.embed_tokens.weight
        self.config = SimpleNamespace(max_position_embeddings=c.max_position_embeddings)
        self.generation_config = SimpleNamespace(eos_token_id=eos)

    def forward(self, input_ids: torch.Tensor, cache: Cache | None = None,
                use_cache: bool = True, logits_to_keep: int = 0) -> SimpleNamespace:
        if cache is not None and not cache.layers:
            cache.layers = [[] for _ in self.model.layers]
        hidden = self.model(input_ids, cache=cache if use_cache else None).last_hidden_state
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        return SimpleNamespace(logits=self.lm_head(hidden))


def load(folder: Path) -> tuple[SmolLM, Tokenizer]:
    """The model and tokenizer in a cache folder written by EmbeddedGenerator."""
    from safetensors.torch import load_file

    cfg = Config.read(folder / "config.json")
    generation = json.loads((folder / "generation_config.json").read_text()) \
        if (folder / "generation_config.json").is_file() else {}
    eos = generation.get("eos_token_id", [])
    tokenizer = Tokenizer(folder)
    with torch.device("meta"):  # no random init of weights about to be replaced
        model = SmolLM(cfg, eos if isinstance(eos, list) else [eos])
    weights = load_file(folder / "model.safetensors")
    if cfg.tie_word_embeddings:
        weights["lm_head.weight"] = weights["model.embed_tokens.weight"]
    model.load_state_dict(weights, strict=True, assign=True)
    if cfg.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    model.model.inv_freq = _inv_freq(cfg)  # a buffer, not in the file (still on "meta")
    return model.eval(), tokenizer
