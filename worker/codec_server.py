"""``python -m worker.codec_server``: the Temporal codec server, so the UI and CLI show clear payloads.

Speaks Temporal's remote-codec protocol: ``POST /encode`` and ``POST /decode`` (also under a
``/{namespace}/`` prefix, as the CLI's endpoint templating sends them) with a proto3-JSON body
``{"payloads": [{"metadata": {...base64}, "data": base64}]}`` answered in the same shape. The Web UI
calls it from the browser, so it answers CORS preflights for the configured UI origins; every
encode/decode needs ``Authorization: Bearer <CODEC_SERVER_TOKEN>`` when a token is set. Keys and
key ids come from the same settings as the worker's (worker/codec.py).
"""

from __future__ import annotations

import hmac
import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated

from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from temporalio.api.common.v1 import Payloads

from runtime.logs import configure
from worker.codec import AesGcmCodec, PayloadKeyError, PayloadKeySettings

log = logging.getLogger("worker.codec_server")
MAX_BODY = 8 * 1024 * 1024
ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"


class CodecServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODEC_SERVER_", extra="ignore")

    host: str = Field("0.0.0.0", description="Listen address.")
    port: int = Field(8083, ge=0, le=65535, description="Listen port; 0: any free port.")
    token: str = Field("", description="Bearer token required on /encode and /decode; empty: no auth (loopback).")
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated browser origins (the Temporal UI's) allowed by CORS."
    )
    log_level: str = "INFO"
    # EXPERIMENT_PAYLOAD_KEY(S), no CODEC_SERVER_ prefix; a codec server without a key has no purpose.
    payload_keys: PayloadKeySettings = Field(
        default_factory=lambda: PayloadKeySettings(experiment_payload_encryption_required=True), exclude=True
    )

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value


class CodecServer:
    """One ThreadingHTTPServer; the codec is pure CPU, so each request runs it inline."""

    def __init__(self, settings: CodecServerSettings, codec: AesGcmCodec) -> None:
        self.settings, self.codec = settings, codec
        self._server = ThreadingHTTPServer((settings.host, settings.port), _handler(self))
        self.port = int(self._server.server_address[1])

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def authorized(self, header: str | None) -> bool:
        if not self.settings.token:
            return True
        return hmac.compare_digest((header or "").encode(), f"Bearer {self.settings.token}".encode())

    def transform(self, action: str, body: bytes) -> bytes:
        payloads = ParseDict(json.loads(body or b"{}"), Payloads())
        run = self.codec.encode_sync if action == "encode" else self.codec.decode_sync
        out = Payloads(payloads=run(list(payloads.payloads)))
        return json.dumps(MessageToDict(out)).encode()


def _handler(server: CodecServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_OPTIONS(self) -> None:  # CORS preflight: never carries credentials, so no auth here
            self._reply(204, b"")

        def do_GET(self) -> None:  # alive is ready: it holds no connection and keys load at start
            probe = self.path in ("/healthz", "/readyz")
            self._reply(200 if probe else 404, b"ok\n" if probe else b"")

        def do_POST(self) -> None:
            action = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            length = int(self.headers.get("Content-Length") or 0)
            if action not in ("encode", "decode"):
                return self._reply(404, b'{"error": "unknown path: POST /encode or /decode"}')
            if length > MAX_BODY:
                return self._reply(413, b'{"error": "body too large"}')
            body = self.rfile.read(length)
            if not server.authorized(self.headers.get("Authorization")):
                return self._reply(401, b'{"error": "missing or wrong bearer token"}')
            try:
                answer = server.transform(action, body)
            except (ValueError, ParseError) as err:
                return self._reply(400, json.dumps({"error": f"not a Payloads JSON body: {err}"}).encode())
            except Exception as err:  # a wrong or unknown key: say so, never echo the payload
                log.warning("%s failed: %s", action, err)
                return self._reply(422, json.dumps({"error": f"{type(err).__name__}: {err}"}).encode())
            self._reply(200, answer)

        def _reply(self, code: int, body: bytes) -> None:
            self.send_response(code)
            origin = (self.headers.get("Origin") or "").rstrip("/")
            if origin and origin in server.settings.allowed_origins:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Credentials", "true")
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", ALLOWED_HEADERS)
                self.send_header("Access-Control-Max-Age", "600")
                self.send_header("Vary", "Origin")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug(format, *args)

    return Handler


def main() -> None:
    settings = CodecServerSettings()
    configure(settings.log_level, ("worker", "temporalio"))
    try:
        codec = settings.payload_keys.codec()
    except PayloadKeyError as err:
        raise SystemExit(f"codec server: {err}") from err
    assert codec is not None
    server = CodecServer(settings, codec)
    log.info("codec server on %s:%d, encoding with key %s", settings.host, server.port, codec.encode_key_id)
    server.serve_forever()


if __name__ == "__main__":
    main()
