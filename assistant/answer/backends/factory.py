"""The generator a `model` setting names: the embedded SmolLM2 (with the shipped answer
adapter), another local model, or an OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

from assistant.answer.protocol import Generator
from assistant.config import Settings
from assistant.shipped import shipped

PROMPT_STYLES = ("auto", "chat", "notes")
ADAPTER_FILE = "generator-lora.pt"  # the shipped answer adapter (`assistant train-generator`)


def adapter_path(setting: str, spec: str = "embedded") -> Path | None:
    """The adapter an `adapter` setting names for model `spec`: "builtin" is the shipped one,
    for the embedded model only (it was trained for it); "none" is none; else a path."""
    setting = (setting or "builtin").strip()
    if setting == "none":
        return None
    if setting == "builtin":
        return shipped(ADAPTER_FILE) if spec == "embedded" else None
    if spec.startswith(("http://", "https://")):
        raise ValueError(f"adapter {setting} cannot apply to {spec}: adapters are for local "
                         "models; set adapter = \"none\"")
    return Path(setting).expanduser()


def make_generator(spec: str, cache_dir: Path | None = None, *, model_name: str = "",
                   api_key_env: str = "", timeout_s: float = 60.0,
                   adapter: str = "builtin", prompt_style: str = "auto",
                   proxy_loopback: bool = False) -> Generator:
    """The generator a `model` setting names: "embedded", a model folder or .gguf file, or
    an http(s) URL of an OpenAI-compatible server (the only case that uses the network).
    `prompt_style` "chat" or "notes" overrides whether it is treated as a chat model."""
    from assistant.answer.backends.embedded import EmbeddedGenerator

    spec = (spec or "embedded").strip()
    if prompt_style not in PROMPT_STYLES:
        raise ValueError(f"prompt_style {prompt_style!r} is not one of {', '.join(PROMPT_STYLES)}")
    chat = None if prompt_style == "auto" else prompt_style == "chat"
    tuned = adapter_path(adapter, spec)
    if spec == "embedded":
        return EmbeddedGenerator(cache_dir, adapter=tuned, chat=chat)
    if spec.startswith(("http://", "https://")):
        from assistant.answer.backends.remote import OpenAICompatibleGenerator, api_key_from_env

        return OpenAICompatibleGenerator(spec, model_name, api_key_from_env(api_key_env),
                                         timeout_s, chat=True if chat is None else chat,
                                         proxy_loopback=proxy_loopback)
    return EmbeddedGenerator(cache_dir, source=Path(spec), adapter=tuned, chat=chat)


def generator_for(settings: Settings, spec: str | None = None) -> Generator:
    """The generator `settings` name (or `spec` instead of their `model`)."""
    s = settings
    return make_generator(s.model if spec is None else spec, s.cache_dir,
                          model_name=s.model_name, api_key_env=s.api_key_env,
                          timeout_s=s.request_timeout_s, adapter=s.adapter,
                          prompt_style=s.prompt_style, proxy_loopback=s.proxy_loopback)
