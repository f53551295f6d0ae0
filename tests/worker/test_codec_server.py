"""The codec server: the real Temporal UI and CLI show decrypted payloads through it, by key id,
behind CORS for the UI's origin and a bearer token."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from tests.fixtures.process import ServerProcess, find_binary, free_port
from tests.results.browser import page_text_when
from tests.worker.conftest import Temporal, http_ok, new_key, python_env, start_dev_server
from worker.codec import PayloadKeySettings, data_converter

MARKER = "decoded-in-the-ui-5c1e"
TOKEN = "codec-token-for-tests"


@dataclass
class CodecSetup:
    temporal: Temporal
    open_codec: str
    """Codec server without a token, as the lab runs it for its UI (loopback only)."""
    guarded_codec: str
    """The same keys behind a bearer token."""
    workflow_id: str
    old_key_workflow_id: str


def start_codec_server(
    root: Path, name: str, keys: str, origins: str, token: str = "", port: int | None = None
) -> tuple[ServerProcess, str]:
    port = port or free_port()
    env = python_env(
        EXPERIMENT_PAYLOAD_KEYS=keys,
        CODEC_SERVER_HOST="127.0.0.1",
        CODEC_SERVER_PORT=str(port),
        CODEC_SERVER_ALLOWED_ORIGINS=origins,
        CODEC_SERVER_TOKEN=token,
    )
    argv = [sys.executable, "-m", "worker.codec_server"]
    url = f"http://127.0.0.1:{port}"
    return ServerProcess(name, argv, root / f"{name}.log", env=env).start(http_ok(f"{url}/healthz")), url


async def start_unpolled(address: str, keys: PayloadKeySettings, workflow_id: str) -> None:
    """A workflow nobody runs: its encrypted input is all the history the UI needs to show."""
    client = await Client.connect(address, data_converter=data_converter(keys))
    await client.start_workflow("ExperimentWorkflow", {"name": MARKER}, id=workflow_id, task_queue="nobody-polls")


@pytest.fixture(scope="module")
def codec_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodecSetup]:
    root = tmp_path_factory.mktemp("codec")
    old, new = new_key(), new_key()
    keys = f"2026-12:{new},lab-1:{old}"  # rotated: the newest first, the old one still decrypts
    processes: list[ServerProcess] = []
    try:
        open_port = free_port()  # Temporal's UI needs the codec URL, the codec server the UI's origin
        temporal = start_dev_server(root, codec_endpoint=f"http://127.0.0.1:{open_port}")
        processes.append(temporal.process)
        origins = f"{temporal.ui},http://localhost:{temporal.ui_port}"
        codec_open, open_url = start_codec_server(root, "codec-open", keys, origins, port=open_port)
        guarded, guarded_url = start_codec_server(root, "codec-guarded", keys, origins, token=TOKEN)
        processes += [codec_open, guarded]
        for workflow_id, written_with in (("codec-ui-new", keys), ("codec-ui-old", f"lab-1:{old}")):
            asyncio.run(
                start_unpolled(temporal.address, PayloadKeySettings(experiment_payload_keys=written_with), workflow_id)
            )
        yield CodecSetup(temporal, open_url, guarded_url, "codec-ui-new", "codec-ui-old")
    finally:
        for process in reversed(processes):
            process.stop()


@pytest.mark.slow
def test_temporal_ui_shows_the_decrypted_input_of_a_workflow(codec_setup: CodecSetup) -> None:
    for workflow_id in (codec_setup.workflow_id, codec_setup.old_key_workflow_id):
        url = f"{codec_setup.temporal.ui}/namespaces/default/workflows/{workflow_id}"
        text = page_text_when(url, MARKER)
        assert MARKER in text, f"{workflow_id}: the UI did not show the decoded input:\n{text[:1500]}"


def _cli_show(setup: CodecSetup, *codec_flags: str) -> subprocess.CompletedProcess[str]:
    argv = [find_binary("temporal"), "workflow", "show", "--address", setup.temporal.address]
    argv += ["--workflow-id", setup.old_key_workflow_id, "--detailed", *codec_flags]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_cli_decodes_through_the_codec_server_only_with_the_bearer_token(codec_setup: CodecSetup) -> None:
    shown = _cli_show(codec_setup, "--codec-endpoint", codec_setup.guarded_codec, "--codec-auth", f"Bearer {TOKEN}")
    assert shown.returncode == 0, shown.stderr
    assert MARKER in shown.stdout

    refused = _cli_show(codec_setup, "--codec-endpoint", codec_setup.guarded_codec, "--codec-auth", "Bearer wrong")
    assert MARKER not in refused.stdout
    unguarded = _cli_show(codec_setup)
    assert MARKER not in unguarded.stdout  # what the server stores is ciphertext


def test_protocol_cors_and_auth_on_the_wire(codec_setup: CodecSetup) -> None:
    origin = codec_setup.temporal.ui
    url = f"{codec_setup.guarded_codec}/decode"
    preflight = httpx.options(url, headers={"Origin": origin, "Access-Control-Request-Method": "POST"}, timeout=5)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "x-namespace" in preflight.headers["Access-Control-Allow-Headers"].lower()
    stranger = httpx.options(url, headers={"Origin": "http://evil.example"}, timeout=5)
    assert "Access-Control-Allow-Origin" not in stranger.headers

    body = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "IngiCg=="}]}  # json/plain "x"
    assert httpx.post(url, json=body, timeout=5).status_code == 401
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default"}
    encoded = httpx.post(f"{codec_setup.guarded_codec}/encode", json=body, headers=headers, timeout=5)
    assert encoded.status_code == 200
    sealed = encoded.json()["payloads"][0]
    assert sealed["metadata"]["encryption-key-id"] == "MjAyNi0xMg=="  # base64("2026-12"): the newest key
    decoded = httpx.post(f"{codec_setup.guarded_codec}/default/decode", json=encoded.json(), headers=headers, timeout=5)
    assert decoded.json() == body
    assert httpx.post(url, content=b"not json", headers=headers, timeout=5).status_code == 400
    assert json.loads(httpx.post(f"{codec_setup.guarded_codec}/nothing", json=body, headers=headers).text)["error"]
