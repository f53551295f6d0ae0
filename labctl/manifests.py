"""Reading Kubernetes manifests from disk: directory walks, multi-document YAML, line numbers.

Knows nothing about Experiments: it hands back mapping documents (with their YAML nodes, so a field
path can be turned into a line number) and the reasons a file could not be read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

YAML_SUFFIXES = (".yaml", ".yml")
_SKIPPED_DIRS = ("node_modules", "__pycache__")
# A Helm chart's templates are not YAML until rendered; the chart's own Chart.yaml and values are.
_HELM_TEMPLATE_DIRS = ("templates", "charts")
_PATH_TOKEN = re.compile(r"\[([0-9]+)\]|([^.\[\]]+)")


@dataclass(frozen=True)
class ReadProblem:
    """Why a path or file could not be read; a file with one is not (fully) validated."""

    file: str
    message: str
    fix: str
    line: int | None = None

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message} — fix: {self.fix}"


@dataclass(frozen=True)
class Document:
    """One mapping document of a YAML file."""

    file: str
    index: int  # 1-based position in the file, counting empty documents
    body: dict[str, Any]
    node: yaml.Node

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    @property
    def kind(self) -> str | None:
        kind = self.body.get("kind")
        return kind if isinstance(kind, str) else None

    @property
    def api_group(self) -> str | None:
        """``experiments.illm.io`` for ``experiments.illm.io/v1alpha1``; "" for core ``v1``."""
        version = self.body.get("apiVersion")
        if not isinstance(version, str):
            return None
        return version.rsplit("/", 1)[0] if "/" in version else ""

    @property
    def name(self) -> str | None:
        """``metadata.name``, else ``metadata.generateName``."""
        meta = self.body.get("metadata")
        if not isinstance(meta, dict):
            return None
        name = meta.get("name") or meta.get("generateName")
        return str(name) if name else None

    def line_of(self, path: str) -> int:
        """The line of a field path such as ``spec.targets[0].cluster.type`` (its parent's if absent)."""
        tokens: list[int | str] = [int(i) if i else key for i, key in _PATH_TOKEN.findall(path)]
        node = _locate(self.node, tokens) if path != "(document)" else self.node
        return int(node.start_mark.line) + 1

    def duplicate_keys(self) -> list[tuple[str, int, int]]:
        """(path, first line, repeated line) of every key given twice in one mapping: YAML keeps the last."""
        found: list[tuple[str, int, int]] = []
        seen_nodes: set[int] = set()

        def walk(node: yaml.Node, path: str) -> None:
            if id(node) in seen_nodes:
                return
            seen_nodes.add(id(node))
            if isinstance(node, yaml.MappingNode):
                first: dict[str, int] = {}
                for key, value in node.value:
                    if not isinstance(key, yaml.ScalarNode):
                        continue
                    child = f"{path}.{key.value}" if path else str(key.value)
                    line = int(key.start_mark.line) + 1
                    if key.value in first:
                        found.append((child, first[key.value], line))
                    first.setdefault(key.value, line)
                    walk(value, child)
            elif isinstance(node, yaml.SequenceNode):
                for i, item in enumerate(node.value):
                    walk(item, f"{path}[{i}]")

        walk(self.node, "")
        return found


def _locate(node: yaml.Node, tokens: Sequence[int | str]) -> yaml.Node:
    if not tokens:
        return node
    head = tokens[0]
    if isinstance(head, int):
        if isinstance(node, yaml.SequenceNode) and head < len(node.value):
            return _locate(node.value[head], tokens[1:])
        return node
    if isinstance(node, yaml.MappingNode):
        # Map keys may contain dots (`grafana.enabled`): try the longest run of tokens first.
        for n in range(len(tokens), 0, -1):
            if not all(isinstance(t, str) for t in tokens[:n]):
                continue
            wanted = ".".join(str(t) for t in tokens[:n])
            for key, value in reversed(node.value):  # YAML keeps the last of duplicate keys
                if isinstance(key, yaml.ScalarNode) and key.value == wanted:
                    return key if n == len(tokens) else _locate(value, tokens[n:])
    return node


def yaml_files(paths: Sequence[str]) -> tuple[list[Path], list[ReadProblem]]:
    """The files named, and the *.yaml / *.yml files under the directories named, in a stable order."""
    files: list[Path] = []
    problems: list[ReadProblem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(_walk(path))
            if not found:
                problems.append(ReadProblem(raw, "no *.yaml or *.yml files in this directory", "check the path"))
            files += found
        elif path.is_file():
            files.append(path)
        elif path.exists():
            problems.append(ReadProblem(raw, "not a regular file or directory", "name a YAML file or a directory"))
        else:
            problems.append(ReadProblem(raw, "no such file or directory", "check the path"))
    unique = {os.path.realpath(f): f for f in reversed(files)}  # first mention wins
    return [f for f in files if unique[os.path.realpath(f)] is f], problems


def _walk(root: Path) -> Iterator[Path]:
    for directory, subdirs, names in os.walk(root):
        skipped = _SKIPPED_DIRS + (_HELM_TEMPLATE_DIRS if "Chart.yaml" in names else ())
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in skipped)
        yield from (Path(directory, n) for n in names if n.endswith(YAML_SUFFIXES) and not n.startswith("."))


def read_documents(path: Path) -> tuple[list[Document], list[ReadProblem]]:
    """The mapping documents of one file; empty documents are dropped, anything else is a problem."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return [], [ReadProblem(file, "not UTF-8 text", "save the file as UTF-8")]
    except OSError as exc:
        return [], [ReadProblem(file, f"cannot read: {exc.strerror or exc}", "check the path and its permissions")]
    documents: list[Document] = []
    problems: list[ReadProblem] = []
    loader = yaml.SafeLoader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            index += 1
            if node is None:
                continue
            body = loader.construct_document(node)
            if body is None:
                continue
            if isinstance(body, dict):
                documents.append(Document(file, index, body, node))
            else:
                message = f"document {index} is {_describe(body)}, not a mapping"
                fix = "each document must be one Kubernetes object (apiVersion, kind, metadata, spec)"
                problems.append(ReadProblem(file, message, fix, int(node.start_mark.line) + 1))
    except yaml.constructor.ConstructorError as exc:  # e.g. `!!python/object`: valid YAML, not data
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        message = f"unsupported YAML tag: {exc.problem}"
        problems.append(ReadProblem(file, message, "remove the tag; manifests hold plain values only", line))
    except yaml.MarkedYAMLError as exc:
        problems.append(_syntax_problem(file, exc))
    except yaml.YAMLError as exc:
        problems.append(ReadProblem(file, f"YAML error: {exc}", "fix the YAML"))
    finally:
        loader.dispose()
    return documents, problems


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> ReadProblem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    what = exc.problem or "invalid YAML"
    if exc.context:
        what += f" ({exc.context})"
    if mark:
        what += f", column {mark.column + 1}"
    fix = f"check indentation, colons and quoting on line {line} and the lines above it" if line else "fix the YAML"
    if "'\\t'" in (exc.problem or ""):
        fix = "indent with spaces: YAML does not allow tabs"
    return ReadProblem(file, f"YAML syntax error: {what}", fix, line)


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a plain string"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, int | float) else f"a {type(value).__name__}"
