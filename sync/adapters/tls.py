"""One TLS context per process for the source clients: loading the CA bundle costs ~50 ms."""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's default context (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), built once.

    A context is safe to share between clients and threads; httpx would otherwise build a fresh
    one for every client, and the daemon makes a client per run.
    """
    return httpx.create_ssl_context()
