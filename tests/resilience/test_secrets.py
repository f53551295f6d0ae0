"""After full runs, no Temporal history carries kubeconfig or token material (payloads decoded)."""

from __future__ import annotations

import asyncio

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer as RepeatedContainer
from google.protobuf.json_format import MessageToJson
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from tests.resilience.conftest import ResilienceLab
from worker.codec import PayloadKeySettings, data_converter

MARKERS = (
    "client-certificate-data",
    "client-key-data",
    "certificate-authority-data",
    "token:",
    "BEGIN RSA",
    "BEGIN PRIVATE KEY",
    "BEGIN CERTIFICATE",
)


async def every_history_text(address: str, keys: str) -> dict[str, str]:
    """Each workflow's history as JSON, with every payload decrypted to its plain data (the lab encrypts)."""
    converter = data_converter(PayloadKeySettings(experiment_payload_keys=keys))
    temporal = await Client.connect(address, data_converter=converter)
    texts: dict[str, str] = {}
    async for execution in temporal.list_workflows():
        history = await temporal.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        parts = []
        for event in history.events:
            parts.append(MessageToJson(event))
            found = _payloads(event)
            clear = await converter.payload_codec.decode(found) if converter.payload_codec else found
            parts += [payload.data.decode(errors="replace") for payload in clear]
        texts[f"{execution.id}/{execution.run_id}"] = "\n".join(parts)
    return texts


def _payloads(message: object) -> list[Payload]:
    found: list[Payload] = []
    if isinstance(message, Payload):
        return [message]
    if not isinstance(message, Message):
        return found
    for field, value in message.ListFields():
        values = value if isinstance(value, RepeatedContainer) else [value]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            values = list(value.values())
        for item in values:
            found += _payloads(item)
    return found


def test_no_workflow_history_contains_kubeconfig_or_token_material(lab: ResilienceLab) -> None:
    name = lab.create("secrets", duration="2s")
    lab.wait_final(name, "Complete", timeout=120)
    admin_token = (lab.state.root / "kube" / "admin.token").read_text().strip()
    secret_values = [admin_token, lab.github.token, lab.anthropic.api_key]

    texts = asyncio.run(every_history_text(f"127.0.0.1:{lab.state.ports['temporal']}", lab.state.payload_keys()))

    assert any(name in key for key in texts), "the run's own history was not read"
    leaks = {
        key: [m for m in (*MARKERS, *secret_values) if m in text]
        for key, text in texts.items()
        if any(m in text for m in (*MARKERS, *secret_values))
    }
    assert leaks == {}, leaks
    lab.assert_nothing_left(name)
