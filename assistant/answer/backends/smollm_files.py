"""What a model cache folder (written by EmbeddedGenerator) holds besides the weights, read
without torch: the Llama config, the tokenizer and the chat template, as transformers
reads them. Both runtimes (smollm_numpy.py answers, smollm.py trains) use these."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace


class Unsupported(ValueError):
    """A model this runtime does not run (transformers does)."""


@dataclass
class Config:
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    vocab_size: int
    max_position_embeddings: int
    tie_word_embeddings: bool

    @classmethod
    def read(cls, path: Path) -> Config:
        c = json.loads(path.read_text())
        if c.get("model_type") != "llama" or c.get("rope_parameters", {}).get(
                "rope_type", "default") != "default" or c.get("rope_scaling") \
                or c.get("attention_bias") \
                or c.get("mlp_bias") or c.get("hidden_act") != "silu":
            raise Unsupported(f"{path} is not a plain Llama this runtime reads")
        theta = c.get("rope_parameters", {}).get("rope_theta", c.get("rope_theta"))
        return cls(c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"],
                   c["num_attention_heads"], c["num_key_value_heads"],
                   c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"],
                   c["rms_norm_eps"], float(theta), c["vocab_size"],
                   c["max_position_embeddings"], c.get("tie_word_embeddings", True))


class Tokenizer:
    """The cache's tokenizer.json and chat template, as transformers' tokenizer is used."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer as Fast

        self._fast = Fast.from_file(str(folder / "tokenizer.json"))
        self._fast.no_padding()
        self._fast.no_truncation()
        config = json.loads((folder / "tokenizer_config.json").read_text())
        ids = {name: self._fast.token_to_id(config[name]) if config.get(name) else None
               for name in ("bos_token", "eos_token", "pad_token")}
        self.bos_token_id, self.eos_token_id, self.pad_token_id = (
            ids["bos_token"], ids["eos_token"], ids["pad_token"])
        template = folder / "chat_template.jinja"
        self._template_text = template.read_text() if template.is_file() else \
            config.get("chat_template")
        self._template = None  # compiled on first use

    def __call__(self, text: str, return_tensors: str | None = None) -> SimpleNamespace:
        ids = self._fast.encode(text).ids
        if return_tensors == "pt":  # training and tests; the NumPy runtime takes lists
            import torch

            return SimpleNamespace(input_ids=torch.tensor([ids]))
        return SimpleNamespace(input_ids=ids)

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        return self._fast.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def apply_chat_template(self, messages, tokenize: bool = False,
                            add_generation_prompt: bool = False) -> str:
        if self._template is None:
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            # transformers renders chat templates with these settings.
            env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            self._template = env.from_string(self._template_text)
        return self._template.render(messages=list(messages),
                                     add_generation_prompt=add_generation_prompt)
