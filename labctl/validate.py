"""``labctl validate PATH...``: check Experiment and Component files before they reach a cluster.

Reads files and directory trees (multi-document YAML), validates every Experiment and Component
with the rules the platform applies on admission (``api.validation``), and checks component and
``spec.workflow.template`` references against a catalog: the repository's ``components/`` tree and
the WorkflowTemplates of ``experiments/`` beside it (or ``--catalog DIR``, or the cluster with
``--kubeconfig`` / ``--context``: its Components and the WorkflowTemplates of namespace
argo-workflows), plus the Components and WorkflowTemplates among the files themselves. Other
documents are skipped. Exit 0: valid (warnings allowed); 1: errors; 2: input that could not be read.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.base import API_GROUP
from api.component import Component
from api.experiment import INLINE_WORKFLOW_TEMPLATE, Experiment
from api.problems import did_you_mean
from api.validation import (
    Problem,
    Severity,
    check_component,
    check_experiment,
    check_workflow_template,
    parse_object,
)
from labctl.catalog import (
    LAB_KINDS,
    Catalog,
    find_components_dir,
    from_cluster,
    from_directory,
    is_lab_object,
    workflow_template_name,
)
from labctl.command import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, LabctlError, Subparsers
from labctl.manifests import Document, ReadProblem, read_documents, yaml_files

_NO_CATALOG = (
    "component and WorkflowTemplate references not checked: no components/ directory here or above "
    "(use --catalog DIR or --kubeconfig FILE)"
)


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check Experiment and Component YAML files",
        description="Check Experiment and Component files with the rules the platform applies when they are "
        "created, and check their component and WorkflowTemplate references against a catalog: components/ "
        "in the current directory or above with the WorkflowTemplates of experiments/ beside it (or --catalog "
        "DIR, or a cluster with --kubeconfig / --context: its Components and the WorkflowTemplates of namespace "
        "argo-workflows), plus the Components and WorkflowTemplates among the files themselves. "
        f"{INLINE_WORKFLOW_TEMPLATE!r} (the built-in workflow) is always valid. Other documents are skipped.",
        epilog="exit status: 0 valid (warnings allowed), 1 errors found, 2 input or catalog could not be read",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="YAML files or directories (searched recursively)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--catalog", metavar="DIR", help="check references against the Components in DIR (and ../experiments/)"
    )
    source.add_argument("--kubeconfig", metavar="FILE", help="check references against a cluster (the hub)")
    parser.add_argument("--context", help="kubeconfig context of that cluster (implies a cluster catalog)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the problems")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.catalog and args.context:
        raise LabctlError("--context selects a cluster catalog; it cannot be combined with --catalog")
    report = validate_paths(args.paths, _base_catalog(args))
    if args.output == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        for line in report.problem_lines():
            print(line)
        if not args.quiet:
            print(report.summary())
    return report.exit_code


def _base_catalog(args: argparse.Namespace) -> Catalog | None:
    if args.kubeconfig or args.context:
        return from_cluster(args.settings.cluster_choice(args.kubeconfig, args.context))
    if args.catalog:
        return from_directory(Path(args.catalog))
    found = find_components_dir(Path.cwd())
    return from_directory(found) if found else None


# ------------------------------------------------------------------------------------ results


@dataclass
class ObjectResult:
    document: Document
    kind: str
    obj: Experiment | Component | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.document.name or '(unnamed)'}"

    def count(self, severity: Severity) -> int:
        return sum(p.severity is severity for p in self.problems)


@dataclass
class FileResult:
    path: Path
    unreadable: list[ReadProblem] = field(default_factory=list)
    objects: list[ObjectResult] = field(default_factory=list)
    skipped: int = 0
    templates: list[str] = field(default_factory=list)  # WorkflowTemplates among the skipped documents


@dataclass
class Report:
    unreadable: list[ReadProblem]  # paths that name nothing readable
    files: list[FileResult]
    catalog: Catalog | None

    @property
    def objects(self) -> list[ObjectResult]:
        return [o for f in self.files for o in f.objects]

    @property
    def all_unreadable(self) -> list[ReadProblem]:
        return self.unreadable + [p for f in self.files for p in f.unreadable]

    @property
    def errors(self) -> int:
        return len(self.all_unreadable) + sum(o.count(Severity.ERROR) for o in self.objects)

    @property
    def warnings(self) -> int:
        return sum(o.count(Severity.WARNING) for o in self.objects)

    @property
    def exit_code(self) -> int:
        if self.all_unreadable:
            return EXIT_UNREADABLE
        return EXIT_INVALID if self.errors else EXIT_OK

    def problem_lines(self) -> list[str]:
        lines = [p.render() for p in self.unreadable]
        for result in self.files:
            lines += [p.render() for p in result.unreadable]
            for obj in result.objects:
                lines += [f"{obj.document.file}: {obj.label}: {p.render()}" for p in obj.problems]
        return lines

    def summary(self) -> str:
        parts = [
            _count(len(self.files), "file"),
            _count(len(self.objects), "object"),
            _count(self.errors, "error"),
            _count(self.warnings, "warning"),
        ]
        text = ", ".join(parts)
        skipped = sum(f.skipped for f in self.files)
        if skipped:
            text += f"; {_count(skipped, 'document')} of other kinds skipped"
        return text + "; " + (f"catalog: {self.catalog.describe()}" if self.catalog else _NO_CATALOG)

    def to_json(self) -> dict[str, Any]:
        problems: list[dict[str, Any]] = [_read_problem_json(p) for p in self.all_unreadable]
        objects = []
        for obj in self.objects:
            doc = obj.document
            where = {"file": doc.file, "document": doc.index, "kind": obj.kind, "name": doc.name}
            objects.append(
                {
                    **where,
                    "line": doc.line,
                    "errors": obj.count(Severity.ERROR),
                    "warnings": obj.count(Severity.WARNING),
                }
            )
            problems += [
                {**where, "line": doc.line_of(p.path), "path": p.path, "severity": p.severity.value}
                | {"message": p.message, "fix": p.fix}
                for p in obj.problems
            ]
        return {
            "valid": self.exit_code == EXIT_OK,
            "exitCode": self.exit_code,
            "summary": {
                "files": len(self.files),
                "objects": len(self.objects),
                "errors": self.errors,
                "warnings": self.warnings,
                "skipped": sum(f.skipped for f in self.files),
            },
            "catalog": {
                "source": self.catalog.source,
                "components": sorted(self.catalog.components),
                "templates": sorted(self.catalog.templates) if self.catalog.templates is not None else None,
            }
            if self.catalog
            else None,
            "problems": problems,
            "objects": objects,
        }


def _read_problem_json(problem: ReadProblem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "severity": Severity.ERROR.value,
        "unreadable": True,
        "message": problem.message,
        "fix": problem.fix,
    }


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------------- validation


def validate_paths(paths: Sequence[str], base_catalog: Catalog | None) -> Report:
    files, unreadable = yaml_files(paths)
    results = [_read_file(path) for path in files]
    objects = [o for r in results for o in r.objects]
    catalog = _with_own_objects(base_catalog, objects, {t for r in results for t in r.templates})
    for obj in objects:
        if isinstance(obj.obj, Experiment):
            obj.problems += check_experiment(obj.obj, catalog.components if catalog else None)
            if catalog and catalog.templates is not None:
                obj.problems += check_workflow_template(obj.obj.spec, catalog.templates, catalog.templates_source)
        elif isinstance(obj.obj, Component):
            obj.problems += check_component(obj.obj)
    _check_duplicate_components(objects)
    return Report(unreadable, results, catalog)


def _read_file(path: Path) -> FileResult:
    result = FileResult(path)
    documents, result.unreadable = read_documents(path)
    for doc in documents:
        if is_lab_object(doc):
            result.objects.append(_parse(doc))
        elif doc.api_group == API_GROUP:
            result.objects.append(ObjectResult(doc, str(doc.kind), problems=[_unknown_kind(doc)]))
        else:
            result.skipped += 1
            if name := workflow_template_name(doc):
                result.templates.append(name)
    return result


def _parse(doc: Document) -> ObjectResult:
    obj, problems = parse_object(doc.body)
    for path, first, again in doc.duplicate_keys():
        message = f"given twice (lines {first} and {again}); YAML keeps only the last"
        problems.append(Problem(path, message, "merge the two into one"))
    return ObjectResult(doc, str(doc.kind), obj, problems)


def _unknown_kind(doc: Document) -> Problem:
    close = did_you_mean(str(doc.kind), LAB_KINDS)
    fix = f"did you mean `{close}`?" if close else "use Experiment or Component"
    return Problem("kind", f"{doc.kind!r} is not a kind of {API_GROUP}", fix)


def _with_own_objects(base: Catalog | None, objects: list[ObjectResult], own_templates: set[str]) -> Catalog | None:
    """The base catalog with the validated files' own Components and WorkflowTemplates on top (they are
    what will be applied)."""
    if base is None:
        return None
    own = {o.obj.metadata.name: o.obj for o in objects if isinstance(o.obj, Component) and o.obj.metadata.name}
    added = set(own) - set(base.components)
    source = base.source + (" and the validated files" if added else "")
    templates, templates_source = base.templates, base.templates_source
    if templates is not None and own_templates - templates:  # unknown stays unknown: no partial checks
        templates, templates_source = templates | own_templates, f"{templates_source} and the validated files"
    return Catalog(source, {**base.components, **own}, base.left_out, templates, templates_source)


def _check_duplicate_components(objects: list[ObjectResult]) -> None:
    first: dict[str, ObjectResult] = {}
    for obj in objects:
        if not (isinstance(obj.obj, Component) and obj.obj.metadata.name):
            continue
        name = obj.obj.metadata.name
        if name in first:
            other = first[name].document
            message = f"Component {name!r} is also defined in {other.file} (document {other.index})"
            obj.problems.append(Problem("metadata.name", message, "rename one; applying both keeps only the last"))
        first.setdefault(name, obj)
