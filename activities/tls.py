"""TLS contexts built once per process, not once per client.

Building an ``ssl.SSLContext`` loads a CA bundle: about 20 ms of CPU each time, which made a new
``httpx.AsyncClient`` per metrics query the worker's largest single cost. A context can serve any
number of connections, threads and clients at once, so each distinct trust setting gets one.
"""

from __future__ import annotations

import ssl
import tempfile
from functools import cache, lru_cache
from pathlib import Path

import httpx

KUBECONFIG_CONTEXTS = 64
"""Target clusters whose TLS settings are kept; more are rebuilt when used again (each ~20 ms)."""


@cache
def default_tls() -> ssl.SSLContext:
    """What ``httpx`` builds for ``verify=True`` (the certifi bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``)."""
    return httpx.create_ssl_context()


@lru_cache(maxsize=KUBECONFIG_CONTEXTS)
def kubeconfig_tls(
    ca_pem: str | None, client_cert_pem: str | None, client_key_pem: str | None, insecure: bool
) -> ssl.SSLContext:
    """The context a kubeconfig's cluster and user ask for: its CA (else the system's), its client key
    pair if it has one, no verification if ``insecure-skip-tls-verify``. Keyed by those values, so a
    changed connection Secret gets a new context."""
    context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert_pem and client_key_pem:
        # ssl only loads key pairs from files; they live for the duration of this call.
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            cert.write_text(client_cert_pem)
            key.write_text(client_key_pem)
            context.load_cert_chain(cert, key)
    return context
