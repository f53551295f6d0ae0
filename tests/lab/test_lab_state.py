"""A lab folder made by an older labctl keeps its ports and gains those of services added since."""

from __future__ import annotations

import json
from pathlib import Path

from labctl.lab.state import PREFERRED_PORTS, LabState


def test_a_lab_without_a_codec_server_port_gets_one_and_keeps_the_others(tmp_path: Path) -> None:
    old_ports = {name: 30000 + i for i, name in enumerate(PREFERRED_PORTS) if name != "codec_server"}
    (tmp_path / "lab.json").write_text(json.dumps({"root": str(tmp_path), "ports": old_ports}))
    state = LabState.load(tmp_path)
    assert state is not None
    assert {k: state.ports[k] for k in old_ports} == old_ports
    assert state.ports["codec_server"] not in old_ports.values()
    assert state.codec_endpoint() == f"http://127.0.0.1:{state.ports['codec_server']}"


def test_the_lab_payload_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    state = LabState(tmp_path)
    keys = state.payload_keys()
    assert keys.startswith("lab-1:") and state.payload_keys() == keys
    assert (tmp_path / "payload-keys").stat().st_mode & 0o077 == 0
