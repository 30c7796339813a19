"""Who writes the text: the embedded SmolLM2 (or another local model) and
OpenAI-compatible servers, chosen by a `model` setting."""
