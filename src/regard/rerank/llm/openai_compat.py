"""Generation through any OpenAI-compatible chat-completions server (vLLM, llama.cpp server, ...)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence

from regard.errors import RegardError
from regard.rerank.llm.hf import Generation, Message


class OpenAICompatible:
    """A chat model behind ``{base_url}/chat/completions``; greedy decoding (temperature 0).

    ``api_key`` defaults to ``$OPENAI_API_KEY`` (local servers usually accept any value).
    """

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 300.0):
        self.base_url = base_url.rstrip("/")
        self.name = model
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY", "EMPTY")
        self.timeout = timeout

    @property
    def identity(self) -> str:
        return f"{self.name}@{self.base_url}"

    def generate(self, messages: Sequence[Message], max_new_tokens: int) -> Generation:
        body = json.dumps({"model": self.name, "messages": list(messages), "max_tokens": max_new_tokens,
                           "temperature": 0}).encode("utf-8")
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions", data=body, method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:300]
            raise RegardError(f"{self.base_url}: the server answered HTTP {error.code}: {detail}") from error
        except (urllib.error.URLError, TimeoutError) as error:
            raise RegardError(f"{self.base_url}: cannot reach the server ({error})") from error
        try:
            text = payload["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as error:
            raise RegardError(f"{self.base_url}: unexpected chat-completions answer: {str(payload)[:300]}") from error
        usage = payload.get("usage") or {}
        return Generation(text, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))
