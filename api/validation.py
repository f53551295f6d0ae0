"""Validation of Experiment and Component objects: schema (the models) plus the semantic rules a
CRD schema cannot express. Pure functions: callers load files or cluster objects and pass them in.

Every problem names the field path, says what is wrong and how to fix it. Used by
``labctl validate`` and by the workflow's admission step, so both give the same answer:
``parse_object`` (strict, as the API server parses) first, then ``check_experiment`` or
``check_component`` on the parsed object.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Mapping

from api.base import ObjectMeta
from api.component import Component, ComponentSource, ComponentType, ParameterType
from api.depends import find_cycle
from api.experiment import INLINE_WORKFLOW_TEMPLATE, ClusterType, ComponentRef, Experiment, ExperimentSpec
from api.problems import Problem, Severity, did_you_mean, errors, one_of
from api.schema_problems import parse_object

__all__ = [
    "Problem",
    "Severity",
    "check_component",
    "check_experiment",
    "check_workflow_template",
    "errors",
    "parse_object",
]

DEFAULT_METRIC_NAMES = ("cpu_by_pod", "memory_by_pod", "cpu_total", "memory_total")
QUERY_VARIABLES = ("EXPERIMENT", "NAMESPACE", "DURATION")
PLATFORM_WORKFLOW_PARAMS = ("experiment-name", "target-endpoint", "target-name")
_FIELDS_BY_TYPE = {
    "zone": {ClusterType.GKE},
    "machineType": {ClusterType.GKE},
    "preemptible": {ClusterType.GKE},
    "diskSizeGb": {ClusterType.GKE, ClusterType.EKS, ClusterType.AKS},
    "nodeCount": {ClusterType.GKE, ClusterType.EKS, ClusterType.AKS},
    "region": {ClusterType.EKS, ClusterType.AKS},
    "instanceType": {ClusterType.EKS},
    "vmSize": {ClusterType.AKS},
    "spot": {ClusterType.EKS, ClusterType.AKS},
}
# The same idea spelled per provider: location, node size, cheap interruptible nodes.
_EQUIVALENT_FIELDS = (
    {ClusterType.GKE: "zone", ClusterType.EKS: "region", ClusterType.AKS: "region"},
    {ClusterType.GKE: "machineType", ClusterType.EKS: "instanceType", ClusterType.AKS: "vmSize"},
    {ClusterType.GKE: "preemptible", ClusterType.EKS: "spot", ClusterType.AKS: "spot"},
)
# `metadata` keys the API server knows; anything else is rejected by `kubectl create` (strict
# field validation), and a misspelt `generateName` would otherwise pass unnoticed.
K8S_METADATA_FIELDS = (
    "name", "generateName", "namespace", "labels", "annotations", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "finalizers", "ownerReferences",
    "managedFields", "selfLink",
)  # fmt: skip
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_GENERATE_NAME = re.compile(r"^[a-z0-9][-a-z0-9]*$")
_EXACT_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_REF_KINDS = ("app", "workflow", "config")


def check_experiment(exp: Experiment, catalog: Mapping[str, Component] | None) -> list[Problem]:
    """Rules across fields. ``catalog`` None means component references are not checked."""
    spec = exp.spec
    problems: list[Problem] = []
    problems += _check_metadata(exp.metadata)
    problems += _check_names(exp)
    problems += _check_targets(spec)
    problems += _check_depends(spec)
    problems += _check_component_refs(spec)
    if catalog is not None:
        problems += _check_components(spec, catalog)
    problems += _check_workflow(spec)
    problems += _check_metrics(spec)
    problems += _check_tutorial(spec)
    problems += _check_publishing(spec)
    return problems


def _check_metadata(meta: ObjectMeta) -> list[Problem]:
    problems = []
    for key in meta.model_extra or {}:
        close = did_you_mean(key, K8S_METADATA_FIELDS)
        fix = f"rename it to `{close}`" if close else "remove it (put your own data in labels or annotations)"
        problems.append(Problem(f"metadata.{key}", "unknown metadata field; the API server rejects it", fix))
    return problems


def _check_names(exp: Experiment) -> list[Problem]:
    """What the API server accepts. Names we derive from it always fit (api.names), so no other limit."""
    meta = exp.metadata
    if not meta.name and not meta.generate_name:
        return [Problem("metadata", "neither name nor generateName is set", "add `generateName: <scenario>-`")]
    if meta.name and not (_DNS_SUBDOMAIN.match(meta.name) and len(meta.name) <= 253):
        fix = "use at most 253 lower-case letters, digits, - and ."
        return [Problem("metadata.name", f"{meta.name!r} is not a valid name", fix)]
    if meta.generate_name and not meta.name and not _GENERATE_NAME.match(meta.generate_name):
        example = re.sub(r"[^a-z0-9-]+", "-", meta.generate_name.lower()).strip("-")
        fix = f"use lower-case letters, digits and -, e.g. `{example}-`"
        return [Problem("metadata.generateName", f"{meta.generate_name!r} is not a valid name prefix", fix)]
    return []


def _check_targets(spec: ExperimentSpec) -> list[Problem]:
    problems = []
    seen: dict[str, int] = {}
    for i, target in enumerate(spec.targets):
        if target.name in seen:
            message = f"duplicate target name {target.name!r} (also targets[{seen[target.name]}])"
            problems.append(Problem(f"spec.targets[{i}].name", message, "give every target its own name"))
        seen.setdefault(target.name, i)
        cluster_type = ClusterType(target.cluster.type)
        given = target.cluster.model_dump(by_alias=True, exclude_none=True)
        for field in given:
            allowed = _FIELDS_BY_TYPE.get(field)
            if allowed is not None and cluster_type not in allowed:
                where = ", ".join(sorted(t.value for t in allowed))
                problems.append(
                    Problem(
                        f"spec.targets[{i}].cluster.{field}",
                        f"`{field}` does not apply to {cluster_type.value} targets (only {where})",
                        _cluster_field_fix(field, cluster_type),
                    )
                )
        obs = target.observability
        if obs and obs.enabled and cluster_type is ClusterType.HUB and obs.transport == "tailscale":
            problems.append(
                Problem(
                    f"spec.targets[{i}].observability.transport",
                    "a hub target needs no Tailscale tunnel to reach hub VictoriaMetrics",
                    "use `transport: direct`",
                    Severity.WARNING,
                )
            )
    return problems


def _cluster_field_fix(field: str, cluster_type: ClusterType) -> str:
    if cluster_type is ClusterType.HUB:
        return "remove it (nothing is provisioned for a hub target)"
    for spelling in _EQUIVALENT_FIELDS:
        if field in spelling.values():
            return f"use `{spelling[cluster_type]}` on {cluster_type.value} targets"
    return "remove it"


def _check_depends(spec: ExperimentSpec) -> list[Problem]:
    names = {t.name for t in spec.targets}
    problems = []
    graph: dict[str, list[str]] = {}
    for i, target in enumerate(spec.targets):
        graph[target.name] = []
        for j, dep in enumerate(target.depends or []):
            path = f"spec.targets[{i}].depends[{j}]"
            if dep == target.name:
                problems.append(Problem(path, f"target {dep!r} depends on itself", "remove it"))
            elif dep not in names:
                problems.append(Problem(path, f"no target named {dep!r}", f"use one of: {one_of(sorted(names))}"))
            else:
                graph[target.name].append(dep)
    cycle = find_cycle(graph)
    if cycle:
        i = next(k for k, t in enumerate(spec.targets) if t.name == cycle[0])
        message = f"dependency cycle {' -> '.join(cycle)}: no target could ever start"
        fix = "remove one of the depends entries in the cycle"
        problems.append(Problem(f"spec.targets[{i}].depends", message, fix))
    return problems


def _refs(spec: ExperimentSpec) -> Iterable[tuple[str, list[str], ComponentRef]]:
    """(path, kinds set, ref) for every component reference."""
    for i, target in enumerate(spec.targets):
        for j, ref in enumerate(target.components or []):
            yield f"spec.targets[{i}].components[{j}]", [k for k in _REF_KINDS if getattr(ref, k)], ref


def _check_component_refs(spec: ExperimentSpec) -> list[Problem]:
    problems = []
    for path, kinds, _ in _refs(spec):
        if len(kinds) != 1:
            message = "names no component" if not kinds else f"sets {' and '.join(kinds)}; only one is allowed"
            problems.append(Problem(path, message, "set exactly one of `app`, `workflow` or `config`"))
    return problems


def _check_components(spec: ExperimentSpec, catalog: Mapping[str, Component]) -> list[Problem]:
    problems = []
    for path, kinds, ref in _refs(spec):
        if len(kinds) != 1:
            continue
        kind = kinds[0]
        name = str(getattr(ref, kind))
        component = catalog.get(name)
        if component is None:
            close = difflib.get_close_matches(name, list(catalog), n=1)
            fix = f"did you mean `{close[0]}`?" if close else "add it to components/ (or the cluster) or fix the name"
            problems.append(Problem(f"{path}.{kind}", f"no Component named {name!r}", fix))
            continue
        actual = ComponentType(component.spec.type)
        if actual is not ComponentType(kind):
            message = f"Component {name!r} is of type {actual.value}"
            fix = f"refer to it as `{actual.value}: {name}`"
            problems.append(Problem(f"{path}.{kind}", message, fix, Severity.WARNING))
        problems += _check_params(f"{path}.params", name, component, ref.params or {})
    return problems


def _check_params(path: str, name: str, component: Component, params: Mapping[str, str]) -> list[Problem]:
    declared = {p.name: p for p in component.spec.parameters or []}
    if params and not any(s.helm for s in component.spec.sources or []):
        # The platform hands params to Helm only: a source without a helm block never sees them.
        message = f"Component {name!r} has no helm block, so these params would be ignored"
        return [Problem(path, message, "remove params (or give the Component's source a helm block)", Severity.WARNING)]
    problems = []
    for key, value in params.items():
        param = declared.get(key)
        if param is None:
            if declared:
                close = did_you_mean(key, declared)
                fix = f"did you mean `{close}`?" if close else f"declared parameters: {one_of(declared)}"
                message = f"not a declared parameter of Component {name!r}; passed through as a Helm value"
                problems.append(Problem(f"{path}.{key}", message, fix, Severity.WARNING))
            continue
        if param.type == ParameterType.INT and not re.fullmatch(r"-?[0-9]+", value):
            message = f"Component {name!r} declares {key!r} as int, got {value!r}"
            problems.append(Problem(f"{path}.{key}", message, 'write a whole number, e.g. "3"'))
        if param.type == ParameterType.BOOL and value not in ("true", "false"):
            message = f"Component {name!r} declares {key!r} as bool, got {value!r}"
            problems.append(Problem(f"{path}.{key}", message, 'write "true" or "false"'))
    for key, param in declared.items():
        if param.required and param.default is None and key not in params:
            message = f"Component {name!r} requires parameter {key!r}"
            problems.append(Problem(path, message, f'add `{key}: "<value>"` to params'))
    return problems


def _check_workflow(spec: ExperimentSpec) -> list[Problem]:
    template = spec.workflow.template
    if _DNS_SUBDOMAIN.match(template) and len(template) <= 253:
        return []
    message = f"{template!r} is not a valid WorkflowTemplate name"
    return [Problem("spec.workflow.template", message, "use lower-case letters, digits, - and .")]


def check_workflow_template(spec: ExperimentSpec, templates: Collection[str], where: str) -> list[Problem]:
    """``spec.workflow.template`` names one of ``templates`` (the WorkflowTemplates of namespace
    argo-workflows found ``where``) or the built-in inline workflow."""
    name = spec.workflow.template
    if name == INLINE_WORKFLOW_TEMPLATE or name in templates or not _DNS_SUBDOMAIN.match(name):
        return []  # an invalid name is reported by the name rule
    close = difflib.get_close_matches(name, list(templates), n=1)
    if close:
        fix = f"did you mean `{close[0]}`?"
    else:
        fix = (
            "ship a WorkflowTemplate of that name (experiments/<scenario>/workflow/template.yaml, applied to "
            f"namespace argo-workflows) or use `{INLINE_WORKFLOW_TEMPLATE}` (the built-in workflow)"
        )
    return [Problem("spec.workflow.template", f"no WorkflowTemplate named {name!r} in {where}", fix)]


def _check_metrics(spec: ExperimentSpec) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for i, metric in enumerate(spec.metrics or []):
        if metric.name in seen:
            message = f"duplicate metric name {metric.name!r}"
            problems.append(Problem(f"spec.metrics[{i}].name", message, "give every metric its own name"))
        seen.add(metric.name)
        for match in _VARIABLE.finditer(metric.query):
            var = match.group(1) or match.group(2)
            if var not in QUERY_VARIABLES:
                close = did_you_mean(var, QUERY_VARIABLES)
                known = ", ".join(f"${v}" for v in QUERY_VARIABLES)
                fix = f"did you mean ${close}?" if close else f"use one of: {known} (or their ${{…}} form)"
                message = f"unknown variable ${var}; it would reach Prometheus as is"
                problems.append(Problem(f"spec.metrics[{i}].query", message, fix))
    available = seen or set(DEFAULT_METRIC_NAMES)
    criteria = spec.hypothesis.success_criteria if spec.hypothesis else None
    for i, criterion in enumerate(criteria or []):
        path = f"spec.hypothesis.successCriteria[{i}]"
        if criterion.metric not in available:
            source = "spec.metrics" if seen else "the default metrics"
            fix = f"use one of: {one_of(sorted(available))}, or add it to spec.metrics"
            problems.append(Problem(f"{path}.metric", f"no metric {criterion.metric!r} in {source}", fix))
        try:
            float(criterion.value)
        except ValueError:
            fix = 'write a number as a string, e.g. "0.5"'
            problems.append(Problem(f"{path}.value", f"{criterion.value!r} is not a number", fix))
    for key, snippet in (spec.code_snippets or {}).items():
        if snippet.start_line and snippet.end_line and snippet.end_line < snippet.start_line:
            path = f"spec.codeSnippets.{key}.endLine"
            problems.append(Problem(path, "endLine is before startLine", "swap them or fix the range"))
    return problems


def _check_tutorial(spec: ExperimentSpec) -> list[Problem]:
    names = {t.name for t in spec.targets}
    services = spec.tutorial.services if spec.tutorial else None
    fix = f"use one of: {one_of(sorted(names))}"
    return [
        Problem(f"spec.tutorial.services[{i}].target", f"no target named {svc.target!r}", fix)
        for i, svc in enumerate(services or [])
        if svc.target not in names
    ]


def _check_publishing(spec: ExperimentSpec) -> list[Problem]:
    problems = []
    if not spec.publish:
        if spec.analyzer_config:
            message = "analysis only runs for published experiments"
            fix = "set `publish: true` or remove analyzerConfig"
            problems.append(Problem("spec.analyzerConfig", message, fix, Severity.WARNING))
        if spec.quality_gate and spec.quality_gate.enabled:
            message = "the quality gate only runs for published experiments"
            fix = "set `publish: true` or remove qualityGate"
            problems.append(Problem("spec.qualityGate", message, fix, Severity.WARNING))
    target_names = {t.name for t in spec.targets}
    for key in spec.workflow.params or {}:
        per_target = key.endswith(("-endpoint", "-name")) and key[: key.rfind("-")] in target_names
        if key in PLATFORM_WORKFLOW_PARAMS or per_target:
            message = "set by the platform; your value is overridden"
            problems.append(Problem(f"spec.workflow.params.{key}", message, "remove it", Severity.WARNING))
    return problems


def check_component(comp: Component) -> list[Problem]:
    problems = _check_metadata(comp.metadata)
    problems += _check_component_name(comp.metadata)
    if not comp.spec.sources:
        fix = "add a Helm chart or git path source"
        problems.append(Problem("spec.sources", "no sources: nothing would be deployed", fix))
    problems += _check_sources(comp)
    names: set[str] = set()
    for i, param in enumerate(comp.spec.parameters or []):
        if param.name in names:
            message = f"duplicate parameter {param.name!r}"
            problems.append(Problem(f"spec.parameters[{i}].name", message, "declare each parameter once"))
        names.add(param.name)
        if param.default is not None:
            bad = (param.type == ParameterType.INT and not re.fullmatch(r"-?[0-9]+", param.default)) or (
                param.type == ParameterType.BOOL and param.default not in ("true", "false")
            )
            if bad:
                message = f"default {param.default!r} is not a valid {param.type}"
                problems.append(Problem(f"spec.parameters[{i}].default", message, "fix the default or the type"))
    return problems


def _check_component_name(meta: ObjectMeta) -> list[Problem]:
    problems = []
    if not meta.name:
        message = "a Component needs a name (experiments refer to it by name)"
        problems.append(Problem("metadata.name", message, "add `metadata.name` (generateName cannot be referred to)"))
    elif not (_DNS_SUBDOMAIN.match(meta.name) and len(meta.name) <= 253):
        fix = "use lower-case letters, digits, - and ."
        problems.append(Problem("metadata.name", f"{meta.name!r} is not a valid name", fix))
    if meta.namespace:
        message = "Components are cluster-scoped; the namespace is ignored"
        problems.append(Problem("metadata.namespace", message, "remove it", Severity.WARNING))
    return problems


def _is_values_ref(source: ComponentSource) -> bool:
    """A git source with no chart, path or Helm block only carries values files (`ref: values`)."""
    return not source.chart and not source.path and source.helm is None


def _check_sources(comp: Component) -> list[Problem]:
    problems = []
    sources = comp.spec.sources or []
    has_values_ref = any(_is_values_ref(s) for s in sources)
    for i, source in enumerate(sources):
        path = f"spec.sources[{i}]"
        if source.chart and source.path:
            fix = "a source is either a Helm chart (chart) or a git directory (path)"
            problems.append(Problem(path, "sets both chart and path", fix))
        if _is_values_ref(source) and not any(
            v.startswith("$values") for s in sources if s.helm for v in s.helm.values_files or []
        ):
            fix = "add `chart:` for a Helm repository or `path:` for a git directory"
            problems.append(Problem(path, "sets neither chart nor path", fix))
        if source.helm and not source.chart and not source.path:
            problems.append(Problem(path, "has a helm block but neither chart nor path", "add `chart:` or `path:`"))
        for j, values_file in enumerate((source.helm.values_files or []) if source.helm else []):
            if values_file.startswith("$values") and not has_values_ref:
                fix = "add a second source with only repoURL and targetRevision: the repository holding the values file"
                message = f"{values_file!r} refers to a values source, but there is none"
                problems.append(Problem(f"{path}.helm.valuesFiles[{j}]", message, fix))
        if source.chart and not _EXACT_VERSION.match(source.target_revision):
            message = f"chart {source.chart!r} is not pinned to one version (targetRevision {source.target_revision!r})"
            fix = "set targetRevision to an exact chart version, e.g. 1.2.3"
            problems.append(Problem(f"{path}.targetRevision", message, fix))
    return problems
