"""Renders the Grafana Alloy configuration an Application's ``alloy`` chart source would run with.

What Helm and Alloy would do, for the parts the platform relies on: the ``$values/…`` files (read from
this repository, which the ``values`` source points at), the Application's Helm parameters applied as
``--set`` would (``a.b[1].c=v``), the chart's ``alloy.extraEnv`` as the agent's environment, and
``sys.env("NAME")`` in ``alloy.configMap.content`` replaced by that environment. The simulated agents
write where this configuration says, so a values file that ignores the injected URL fails in the lab
as it would on a real cluster.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
VALUES_REF = "$values/"
_ENV_CALL = re.compile(r'sys\.env\("([^"]+)"\)')
_SEGMENT = re.compile(r"([^.\[\]]+)(?:\[(\d+)\])?")
_REMOTE_WRITE_URL = re.compile(
    r'prometheus\.remote_write\s+"[^"]*"\s*\{.*?endpoint\s*\{[^}]*?url\s*=\s*"([^"]+)"', re.S
)


@dataclass(frozen=True)
class AlloyAgent:
    env: dict[str, str]
    config: str
    """The Alloy configuration with every ``sys.env(...)`` resolved."""

    @property
    def remote_write_urls(self) -> list[str]:
        return _REMOTE_WRITE_URL.findall(self.config)


def render(source: dict[str, Any], repo: Path = REPO) -> AlloyAgent:
    """The agent of one ``alloy`` chart source (``spec.sources[i]`` of an Application)."""
    helm = source.get("helm") or {}
    values: dict[str, Any] = {}
    for path in value_files(source, repo):
        values = _merge(values, yaml.safe_load(path.read_text()) or {})
    for parameter in helm.get("parameters") or []:
        _set(values, str(parameter["name"]), str(parameter.get("value", "")))
    alloy = values.get("alloy") or {}
    env = {str(e["name"]): str(e.get("value", "")) for e in alloy.get("extraEnv") or [] if e and "name" in e}
    content = str((alloy.get("configMap") or {}).get("content", ""))
    return AlloyAgent(env=env, config=_ENV_CALL.sub(lambda m: json.dumps(env.get(m.group(1), "")), content))


def value_files(source: dict[str, Any], repo: Path = REPO) -> list[Path]:
    """The repository files behind the source's ``$values/…`` value files, in order."""
    names = (source.get("helm") or {}).get("valueFiles") or []
    return [repo / name.removeprefix(VALUES_REF) for name in names if name.startswith(VALUES_REF)]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _set(values: dict[str, Any], path: str, value: str) -> None:
    """Helm's ``--set path=value`` for maps and list indices (a list grows to the index, as Helm's does)."""
    segments = [(m.group(1), m.group(2)) for m in _SEGMENT.finditer(path)]
    node: Any = values
    for i, (key, index) in enumerate(segments):
        last = i == len(segments) - 1
        if index is None:
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
            continue
        items = node.setdefault(key, [])
        while len(items) <= int(index):
            items.append({})
        if last:
            items[int(index)] = value
        else:
            node = items[int(index)]
