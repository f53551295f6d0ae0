"""Parsing a document into an Experiment or Component, with schema errors as readable Problems.

Parsing is as strict as the API server: the document goes through JSON and is validated strictly by
wire name, so a quoted number is not an integer and ``ttl_days`` is not ``ttlDays``. pydantic's error
records are translated into "field path: what is wrong — fix: how"; nothing here raises on bad input.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Annotated, Any, get_args, get_origin

from annotated_types import Ge, Le
from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from api.base import _DURATION_RE, GROUP_VERSION
from api.component import Component
from api.experiment import METRIC_NAME_PATTERN, Experiment
from api.problems import Problem, did_you_mean, one_of


def parse_object(doc: Mapping[str, Any]) -> tuple[Experiment | Component | None, list[Problem]]:
    """Parse one document as an Experiment or Component; schema problems come back as Problems.

    The object is None exactly when the schema rejects the document. Raises ValueError when the
    document is neither kind (callers decide which documents are theirs).
    """
    kind = doc.get("kind")
    model: type[Experiment] | type[Component]
    if kind == "Experiment":
        model = Experiment
    elif kind == "Component":
        model = Component
    else:
        raise ValueError(f"not an Experiment or Component: kind={kind!r}")
    problems: list[Problem] = []
    if "apiVersion" not in doc:
        problems.append(Problem("apiVersion", "required field is missing", f"add `apiVersion: {GROUP_VERSION}`"))
    try:
        wire = json.dumps(doc, default=_json_scalar)
    except (TypeError, ValueError) as exc:
        problems.append(Problem("(document)", f"cannot be represented as JSON: {exc}", "use plain YAML values"))
        return None, problems
    try:
        obj = model.model_validate_json(wire, strict=True, by_alias=True, by_name=False)
    except ValidationError as exc:
        return None, problems + [_schema_problem(model, err) for err in _without_explained(model, exc.errors())]
    return obj, problems


def _without_explained(model: type[BaseModel], errs: list[Any]) -> list[Any]:
    """Drop "`targets` is missing" when the same mapping has `targts`: the rename fixes both."""
    renamed = set()
    for err in errs:
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            intended = _intended_field(str(loc[-1]), _known_fields(model, loc[:-1]))
            renamed.add((*loc[:-1], intended))
    return [e for e in errs if not (e["type"] == "missing" and tuple(e["loc"]) in renamed)]


def _json_scalar(value: Any) -> str:
    """YAML turns unquoted dates into date objects; the API server sees them as strings."""
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} values are not supported")


def field_path(loc: Iterable[int | str]) -> str:
    """``("spec", "targets", 0, "name")`` → ``spec.targets[0].name``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _generic_path(loc: Iterable[int | str]) -> str:
    """``spec.targets[0].name`` → ``spec.targets[].name``: the key of the hint tables below."""
    return re.sub(r"\[[0-9]+\]", "[]", field_path(loc))


_MISSING_HINTS = {
    ("Experiment", "spec"): "add `spec:` with `targets:` and `workflow:`",
    ("Component", "spec"): "add `spec:` with `type:` and `sources:`",
    ("Experiment", "spec.targets"): "add `targets:` with at least one target (`- name: app`, `cluster: {type: gke}`)",
    ("Experiment", "spec.workflow"): "add `workflow:` with `template: <name>` and `completion: {mode: workflow}`",
    ("Experiment", "spec.workflow.completion"): "add `completion: {mode: workflow}` (or `mode: manual`)",
    ("Experiment", "spec.workflow.template"): "add `template:` naming a WorkflowTemplate in namespace argo-workflows",
    ("Experiment", "spec.targets[].cluster"): "add `cluster: {type: gke}` (or eks, aks, hub)",
    ("Experiment", "spec.targets[].name"): "add `name:` (lower-case letters, digits and -, e.g. app)",
    ("Experiment", "spec.metrics[].query"): "add `query:` with PromQL (may use $EXPERIMENT, $NAMESPACE, $DURATION)",
    ("Experiment", "spec.hypothesis.claim"): "add `claim:` stating what the experiment should show",
    ("Component", "spec.sources[].repoURL"): "add `repoURL:` (a Helm repository or git repository URL)",
}
_EMPTY_HINTS = {
    "spec.analyzerConfig.sections": "list at least one section (e.g. abstract, body), or remove analyzerConfig "
    "to get the default sections",
    "spec.targets": "add at least one target (`- name: app`, `cluster: {type: gke}`)",
}


def _schema_problem(model: type[BaseModel], err: Any) -> Problem:
    loc = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    path = field_path(loc)
    if kind == "missing":
        return Problem(path, "required field is missing", _missing_fix(model, loc))
    if kind == "extra_forbidden":
        return Problem(path, "unknown field", _unknown_field_fix(str(loc[-1]), _known_fields(model, loc[:-1])))
    if kind in ("enum", "literal_error"):
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        close = did_you_mean(value, options) if isinstance(value, str) and len(options) > 1 else None
        fix = f"use {options[0]}" if len(options) == 1 else f"use one of: {one_of(options)}"
        return Problem(path, f"{value!r} is not allowed", fix + (f" (did you mean `{close}`?)" if close else ""))
    if kind in ("string_type", "int_type", "bool_type", "float_type"):
        return _type_problem(path, kind, value)
    if kind == "string_pattern_mismatch":
        return _pattern_problem(path, loc, str(value), str(ctx.get("pattern")))
    if kind == "too_short":
        return Problem(path, "must not be empty", _EMPTY_HINTS.get(_generic_path(loc), "add an item or remove the key"))
    if kind in ("greater_than_equal", "less_than_equal"):
        return _bounds_problem(model, loc, value)
    if kind == "string_too_long":
        limit = ctx.get("max_length")
        return Problem(path, f"is {len(str(value))} characters long; at most {limit} are allowed", "shorten it")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return Problem(path, f"must be a mapping, got {_describe(value)}", "write it as indented `key: value` lines")
    if kind == "list_type":
        return Problem(path, f"must be a list, got {_describe(value)}", "write it as `- item` lines")
    return Problem(path, err["msg"], "correct the value")


def _missing_fix(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    kind = "Experiment" if model is Experiment else "Component"
    hint = _MISSING_HINTS.get((kind, _generic_path(loc)))
    if hint:
        return hint
    info = _field_info(model, loc)
    annotation = _unwrap(info.annotation)[0] if info else None
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return f"add `{loc[-1]}:` (one of: {one_of(m.value for m in annotation)})"
    return f"add `{loc[-1]}:`"


def _unknown_field_fix(field: str, known: list[str]) -> str:
    intended = _intended_field(field, known)
    if intended == to_camel(field):
        return f"use the camelCase name `{intended}`"
    if intended:
        return f"rename it to `{intended}`"
    return f"remove it (known fields: {one_of(known)})" if known else "remove it"


def _intended_field(field: str, known: list[str]) -> str | None:
    """The known field an unknown one was meant to be: its camelCase spelling, or a close match."""
    camel = to_camel(field)
    return camel if camel != field and camel in known else did_you_mean(field, known)


def _type_problem(path: str, kind: str, value: Any) -> Problem:
    got = _describe(value)
    text = value if isinstance(value, str) else ""
    if kind == "string_type":
        if isinstance(value, bool | int | float):
            return Problem(path, f"must be a string, got {got}", f'quote it: "{str(value).lower()}"')
        return Problem(path, f"must be a string, got {got}", "write a single text value")
    if kind == "int_type":
        if re.fullmatch(r"-?[0-9]+", text):
            return Problem(path, f"must be a whole number, got {got}", f"remove the quotes: {text}")
        return Problem(path, f"must be a whole number, got {got}", "write a whole number, e.g. 3")
    if kind == "bool_type":
        if text.lower() in ("true", "false"):
            return Problem(path, f"must be true or false, got {got}", f"remove the quotes: {text.lower()}")
        return Problem(path, f"must be true or false, got {got}", "write true or false")
    if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
        return Problem(path, f"must be a number, got {got}", f"remove the quotes: {text}")
    return Problem(path, f"must be a number, got {got}", "write a number, e.g. 0.5")


def _pattern_problem(path: str, loc: tuple[Any, ...], value: str, pattern: str) -> Problem:
    if pattern == _DURATION_RE.pattern:
        fix = "write a number and a unit (ms, s, m, h, d), e.g. 90s, 45m, 1h30m or 7d"
        return Problem(path, f"{value!r} is not a duration", fix)
    if pattern == METRIC_NAME_PATTERN:
        example = re.sub(r"[^a-z0-9_]+", "_", value.lower()).strip("_")
        example = example if re.match(r"[a-z]", example) else f"m_{example}"
        fix = f"use lower-case letters, digits and _, starting with a letter, e.g. `{example}`"
        return Problem(path, f"{value!r} is not a valid metric name", fix)
    if loc[-1] == "name" and "targets" in loc:
        example = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-") or "app"
        fix = f"use lower-case letters, digits and -, e.g. `{example}`"
        return Problem(path, f"{value!r} is not a valid target name", fix)
    if loc[-1] == "repo":
        return Problem(path, f"{value!r} is not an owner/repo name", "write it as owner/repo, e.g. grafana/alloy")
    return Problem(path, f"{value!r} does not match {pattern}", "change the value to match the pattern")


def _bounds_problem(model: type[BaseModel], loc: tuple[Any, ...], value: Any) -> Problem:
    info = _field_info(model, loc)
    metadata = info.metadata if info else []
    low = next((m.ge for m in metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in metadata if isinstance(m, Le)), None)
    too_low = low is not None and value < low
    message = f"{value!r} is less than the minimum {low}" if too_low else f"{value!r} is more than the maximum {high}"
    if low is not None and high is not None:
        return Problem(field_path(loc), message, f"use a value from {low} to {high}")
    return Problem(field_path(loc), message, f"use {low} or more" if too_low else f"use {high} or less")


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__


# --------------------------------------------------------------- walking the models by wire name


def _known_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    holder = _model_at(model, loc)
    if holder is None:
        return []
    return [f.alias or name for name, f in holder.model_fields.items()]


def _field_info(model: type[BaseModel], loc: tuple[Any, ...]) -> FieldInfo | None:
    holder = _model_at(model, loc[:-1])
    if holder is None or not loc or not isinstance(loc[-1], str):
        return None
    return next((f for n, f in holder.model_fields.items() if loc[-1] in (n, f.alias)), None)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class found at ``loc`` (list indices and map keys stepped over), else None."""
    current: Any = model
    skip_key = False
    for part in loc:
        if isinstance(part, int):
            continue
        if skip_key:
            skip_key = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
        if info is None:
            return None
        current, skip_key = _unwrap(info.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """``list[X] | None`` → (X, False); ``dict[str, X] | None`` → (X, True: a map key comes next)."""
    is_map = False
    while (origin := get_origin(annotation)) is not None:
        is_map = is_map or origin is dict
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0] if origin is Annotated else args[-1] if args else None
    return annotation, is_map
