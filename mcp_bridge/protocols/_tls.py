"""The TLS context for provider connections, built once and off the start-up path.

Loading the trusted certificates takes about 50 ms. The HTTP service starts
building the context in a thread while the server starts; a stdio server
builds it with its first upstream request (see `_pool.ShardedTransport`), so
that no agent session waits for it at start-up."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterable

import httpx2

__all__ = ["needs_tls", "prepare_tls_context", "tls_context"]

_lock = threading.Lock()
_thread: threading.Thread | None = None
_context: ssl.SSLContext | None = None


def needs_tls(base_urls: Iterable[str]) -> bool:
    """Whether any of these provider URLs is https (else no certificates load)."""
    return any(url.strip().lower().startswith("https:") for url in base_urls)


def prepare_tls_context() -> None:
    """Start building the shared TLS context in the background (idempotent)."""
    global _thread
    with _lock:
        if _thread is None and _context is None:
            _thread = threading.Thread(target=_build, name="tls-context", daemon=True)
            _thread.start()


def tls_context() -> ssl.SSLContext:
    """The shared TLS context (httpx2's default trust), built once."""
    thread = _thread
    if thread is not None:
        thread.join()
    if _context is None:
        _build()
    assert _context is not None
    return _context


def _build() -> None:
    global _context
    context = httpx2.create_ssl_context()
    with _lock:
        if _context is None:
            _context = context
