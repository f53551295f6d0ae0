"""``labctl tutorial NAME``: page through an experiment's tutorial with its discovered endpoints filled in.

The tutorial is the scenario's ``experiments/<scenario>/tutorial.yaml`` (found from the current
directory upwards; ``--file`` names one directly). Both formats of the original are read:
Pattern A, ``instructions`` text split into pages on lines of three or more ``=``; Pattern B,
``modules[]`` with objectives and checkpoints (rendered as text, never executed). ``{{service}}`` and
``{{.service}}`` become the endpoints in ``status.tutorialStatus.services``. When the cluster cannot be
read, the tutorial is still shown, without endpoints. In a terminal the pages are paged (n/p/q);
otherwise, or with ``--page N``, they are printed.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from labctl.command import EXIT_OK, LabctlError, Subparsers
from labctl.experiments import Experiments, Obj, add_cluster_options, phase_of, status_of

TUTORIAL_FILE = "tutorial.yaml"
SCENARIO_LABEL = "experiments.illm.io/scenario"
_DELIMITER = re.compile(r"^\s*={3,}\s*$")
_PLACEHOLDER = re.compile(r"\{\{\s*\.?([A-Za-z0-9][-A-Za-z0-9_.]*)\s*\}\}")
_GENERATED_SUFFIX = re.compile(r"-[a-z0-9]{5}$")


@dataclass(frozen=True)
class Page:
    title: str
    body: str

    def render(self, number: int, total: int) -> str:
        rule = "─" * 72
        return f"{rule}\n{self.title}  ({number}/{total})\n{rule}\n{self.body.strip()}\n"


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "tutorial",
        help="read an experiment's tutorial, with its endpoints filled in",
        description="Show the tutorial of experiment NAME (experiments/<scenario>/tutorial.yaml) page by page, "
        "with {{service}} placeholders replaced by the endpoints the experiment discovered.",
    )
    parser.add_argument("name", metavar="NAME", help="the Experiment (or, offline, the scenario folder name)")
    parser.add_argument("--file", type=Path, help="the tutorial file (default: found from the scenario name)")
    parser.add_argument("--page", type=int, metavar="N", help="print only page N (1-based)")
    add_cluster_options(parser)
    parser.set_defaults(handler=show_tutorial)


def show_tutorial(args: argparse.Namespace) -> int:
    obj, offline_reason = _experiment_or_none(args)
    try:
        path = args.file or find_tutorial(_scenarios(args.name, obj), obj)
    except LabctlError as exc:
        raise LabctlError(
            f"{exc}" + (f" (and the experiment could not be read: {offline_reason})" if obj is None else "")
        ) from exc
    pages = load_pages(path)
    endpoints = service_endpoints(obj) if obj else {}
    pages = [Page(p.title, fill_placeholders(p.body, endpoints, obj)) for p in pages]
    print(header(path, obj, offline_reason))
    if args.page is not None:
        if not 1 <= args.page <= len(pages):
            raise LabctlError(f"{path} has {len(pages)} page(s); there is no page {args.page}")
        print(pages[args.page - 1].render(args.page, len(pages)))
    elif sys.stdin.isatty() and sys.stdout.isatty():
        page_interactively(pages)
    else:
        for i, page in enumerate(pages, start=1):
            print(page.render(i, len(pages)))
    return EXIT_OK


def _experiment_or_none(args: argparse.Namespace) -> tuple[Obj | None, str | None]:
    """The Experiment, or (None, why) when it cannot be read: the tutorial is still useful offline."""
    try:
        return Experiments.connect(args).get(args.name), None
    except LabctlError as exc:
        return None, str(exc)


# ------------------------------------------------------------------------------------ finding


def _scenarios(name: str, obj: Obj | None) -> list[str]:
    meta = (obj or {}).get("metadata") or {}
    candidates = [
        (meta.get("labels") or {}).get(SCENARIO_LABEL),
        (meta.get("generateName") or "").rstrip("-"),
        name,
        _GENERATED_SUFFIX.sub("", name),
    ]
    return list(dict.fromkeys(c for c in candidates if c))


def find_tutorial(scenarios: list[str], obj: Obj | None, start: Path | None = None) -> Path:
    relative = ((obj or {}).get("spec") or {}).get("tutorial", {}) or {}
    filename = relative.get("path") or TUTORIAL_FILE
    here = start or Path.cwd()
    for directory in (here, *here.parents):
        root = directory / "experiments"
        for scenario in scenarios:
            candidate = root / scenario / filename
            if candidate.is_file():
                return candidate
    tried = ", ".join(f"experiments/{s}/{filename}" for s in scenarios)
    raise LabctlError(f"no tutorial found ({tried}, from {here} upwards); use --file PATH")


# ------------------------------------------------------------------------------------ reading


def load_pages(path: Path) -> list[Page]:
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise LabctlError(f"cannot read {path}: {str(exc).splitlines()[0]}") from exc
    if not isinstance(doc, dict):
        raise LabctlError(f"{path}: a tutorial is a mapping with `instructions` or `modules`")
    if isinstance(doc.get("instructions"), str):
        pages = instruction_pages(doc["instructions"])
    elif isinstance(doc.get("modules"), list):
        pages = module_pages(doc)
    else:
        raise LabctlError(f"{path}: neither `instructions` (text) nor `modules` (list) is there")
    overview = overview_page(doc)
    pages = ([overview] if overview else []) + pages
    if not pages:
        raise LabctlError(f"{path}: the tutorial has no pages")
    return pages


def overview_page(doc: dict[str, Any]) -> Page | None:
    lines = [str(doc["description"]).strip(), ""] if doc.get("description") else []
    lines += [
        f"{label}: {doc[key]}"
        for key, label in (("duration", "Duration"), ("difficulty", "Difficulty"))
        if doc.get(key)
    ]
    prerequisites = doc.get("prerequisites") or []
    if prerequisites:
        lines += ["", "Prerequisites:", *[f"  - {_text(p)}" for p in prerequisites]]
    if not lines:
        return None
    return Page(str(doc.get("title") or doc.get("name") or "Overview"), "\n".join(lines))


def instruction_pages(text: str) -> list[Page]:
    """Pattern A: pages between ``===`` lines; a page's first non-empty line is its title."""
    chunks: list[list[str]] = [[]]
    for line in text.splitlines():
        if _DELIMITER.match(line):
            chunks.append([])
        else:
            chunks[-1].append(line)
    pages = []
    for chunk in chunks:
        content = list(chunk)
        while content and not content[0].strip():
            content.pop(0)
        if not any(line.strip() for line in content):
            continue
        title = content[0].strip().lstrip("#").strip()
        pages.append(Page(title, "\n".join(content[1:]).strip("\n")))
    return pages


def module_pages(doc: dict[str, Any]) -> list[Page]:
    """Pattern B: one page per module (objectives, content, checkpoints), then the completion page."""
    pages = []
    for i, module in enumerate(m for m in doc["modules"] if isinstance(m, dict)):
        title = str(module.get("title") or module.get("name") or f"Module {i + 1}")
        lines: list[str] = []
        if module.get("description"):
            lines += [str(module["description"]).strip(), ""]
        if module.get("objectives"):
            lines += ["Objectives:", *[f"  - {_text(o)}" for o in module["objectives"]], ""]
        for key in ("content", "instructions", "steps"):
            if isinstance(module.get(key), str):
                lines += [module[key].strip(), ""]
            elif isinstance(module.get(key), list):
                lines += [f"  {n}. {_text(s)}" for n, s in enumerate(module[key], start=1)] + [""]
        if module.get("checkpoints"):
            lines += ["Checkpoints:", *[_checkpoint(c) for c in module["checkpoints"]]]
        pages.append(Page(title, "\n".join(lines).strip("\n")))
    completion = doc.get("completion")
    if completion:
        if isinstance(completion, dict):
            body = [str(completion.get("message") or "").strip()]
            body += [f"  - {_text(s)}" for s in completion.get("nextSteps") or completion.get("next_steps") or []]
            pages.append(Page(str(completion.get("title") or "Done"), "\n".join(b for b in body if b)))
        else:
            pages.append(Page("Done", str(completion).strip()))
    return pages


def _checkpoint(checkpoint: Any) -> str:
    if not isinstance(checkpoint, dict):
        return f"  [ ] {_text(checkpoint)}"
    name = checkpoint.get("name") or checkpoint.get("title") or ""
    text = f"  [ ] {name}" + (f" — {checkpoint['description']}" if checkpoint.get("description") else "")
    if checkpoint.get("command"):
        text += f"\n        $ {checkpoint['command']}"
    validation = checkpoint.get("validation")
    if isinstance(validation, dict) and validation.get("type"):
        details = ", ".join(f"{k}={v}" for k, v in validation.items() if k != "type")
        text += f"\n        check: {validation['type']}" + (f" ({details})" if details else "")
    return text


def _text(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("description") or item.get("name") or item.get("title") or item)
    return str(item)


# ----------------------------------------------------------------------------------- endpoints


def service_endpoints(obj: Obj) -> dict[str, str]:
    status = status_of(obj)
    services = (status.tutorial_status.services if status.tutorial_status else None) or []
    return {s.name: s.endpoint for s in services if s.endpoint}


def fill_placeholders(text: str, endpoints: dict[str, str], obj: Obj | None) -> str:
    """``{{name}}`` / ``{{.name}}`` → that service's endpoint (or the experiment's name/namespace); unknown stay."""
    meta = (obj or {}).get("metadata") or {}
    values = {"experiment": meta.get("name"), "namespace": meta.get("namespace"), **endpoints}
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1)) or m.group(0)), text)


def header(path: Path, obj: Obj | None, offline_reason: str | None) -> str:
    if obj is None:
        return f"Tutorial {path} (offline: {offline_reason}; endpoints not filled in)"
    status = status_of(obj)
    lines = [f"Tutorial {path} — experiment {obj['metadata']['name']} ({phase_of(obj)})"]
    for service in (status.tutorial_status.services if status.tutorial_status else None) or []:
        state = service.endpoint or "not discovered yet"
        lines.append(f"  service {service.name}: {state}" + ("" if service.ready else " (not ready)"))
    secrets = (status.tutorial_status.kubeconfig_secrets if status.tutorial_status else None) or {}
    if secrets:
        lines.append(f"  kubeconfigs: `labctl kubeconfig {obj['metadata']['name']}` ({', '.join(sorted(secrets))})")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------- pager


def page_interactively(pages: list[Page]) -> None:
    index = 0
    while True:
        print(pages[index].render(index + 1, len(pages)))
        try:
            key = input("[n]ext  [p]revious  [g] first  [G] last  [q]uit > ").strip()
        except EOFError:
            return
        if key in ("q", "quit"):
            return
        if key in ("", "n", "l", " "):
            if index == len(pages) - 1:
                return
            index += 1
        elif key in ("p", "h"):
            index = max(0, index - 1)
        elif key == "g":
            index = 0
        elif key == "G":
            index = len(pages) - 1
        elif key.isdigit() and 1 <= int(key) <= len(pages):
            index = int(key) - 1
