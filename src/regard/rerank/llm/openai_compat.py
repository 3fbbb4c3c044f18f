"""Generation through any OpenAI-compatible chat-completions server (vLLM, llama.cpp server, ...)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Sequence

from regard.errors import RegardError
from regard.lm.causal import Generation, Message

API_KEY_VARIABLE = "REGARD_LLM_API_KEY"
_OPENAI_HOST = "api.openai.com"
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def choose_api_key(base_url: str, api_key: str | None = None) -> str | None:
    """The key to send to ``base_url``, or None to send no Authorization header.

    A key is sent only when the user gave one for this backend: ``api_key``, else ``$REGARD_LLM_API_KEY``.
    ``$OPENAI_API_KEY`` is used only for OpenAI's own https endpoint, never sent to another host.
    """
    if api_key:
        return api_key
    if os.environ.get(API_KEY_VARIABLE):
        return os.environ[API_KEY_VARIABLE]
    url = urllib.parse.urlsplit(base_url)
    if url.scheme == "https" and url.hostname == _OPENAI_HOST and os.environ.get("OPENAI_API_KEY"):
        return os.environ["OPENAI_API_KEY"]
    return None


class OpenAICompatible:
    """A chat model behind ``{base_url}/chat/completions``; greedy decoding (temperature 0).

    ``api_key`` defaults to ``$REGARD_LLM_API_KEY``; without either, no key is sent (local servers
    need none). ``$OPENAI_API_KEY`` is read only when ``base_url`` is ``https://api.openai.com/...``.
    """

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 300.0):
        self.base_url = base_url.rstrip("/")
        self.name = model
        self.api_key = choose_api_key(self.base_url, api_key)
        self.timeout = timeout
        url = urllib.parse.urlsplit(self.base_url)
        if self.api_key and url.scheme == "http" and url.hostname not in _LOOPBACK:
            warnings.warn(f"{self.base_url}: the API key will travel unencrypted (plain http to another host)",
                          stacklevel=2)

    @property
    def identity(self) -> str:
        return f"{self.name}@{self.base_url}"

    def generate(self, messages: Sequence[Message], max_new_tokens: int) -> Generation:
        body = json.dumps({"model": self.name, "messages": list(messages), "max_tokens": max_new_tokens,
                           "temperature": 0}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=body, method="POST",
                                         headers=headers)
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
