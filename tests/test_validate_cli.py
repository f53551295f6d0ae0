"""`labctl validate`: one-mistake files report that mistake, shipped content is clean, and the
command reads directories, multi-document files and clusters without ever showing a traceback."""

from __future__ import annotations

import json
import re
import socket
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

import labctl.validate
from labctl.cli import main
from tests.fixtures.experiment_yaml import experiment_yaml

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "validation_corpus"
CATALOG = REPO / "components"
SHIPPED = sorted(
    p for d in ("experiments", "components") for p in (REPO / d).rglob("*.y*ml") if "templates" not in p.parts
)

WORKFLOW_TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: demo
  namespace: argo-workflows
spec:
  entrypoint: main
"""


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def expectations(path: Path) -> tuple[list[str], int]:
    text = path.read_text()
    exit_line = re.search(r"^# exit: ([0-9])$", text, re.MULTILINE)
    assert exit_line, f"{path.name} has no `# exit:` line"
    return re.findall(r"^# expect: (.+)$", text, re.MULTILINE), int(exit_line.group(1))


# ------------------------------------------------------------------------------- the corpus


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.yaml")), ids=lambda p: p.stem)
def test_corpus_file_reports_its_one_mistake(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected, exit_code = expectations(path)
    assert expected, f"{path.name} has no `# expect:` line"

    code, out, err = validate(capsys, "--catalog", str(CATALOG), "--quiet", str(path))

    assert code == exit_code, out + err
    for substring in expected:
        assert substring in out, f"{substring!r} not in:\n{out}"
    assert len(out.splitlines()) == 1, f"one mistake should give one line:\n{out}"
    assert err == ""


def test_corpus_covers_many_mistakes_and_every_exit_code() -> None:
    files = sorted(CORPUS.glob("*.yaml"))
    assert len(files) >= 30
    assert {expectations(f)[1] for f in files} == {0, 1, 2}


# ------------------------------------------------------------------------- shipped content


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_yaml_file_validates_clean(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = validate(capsys, "--catalog", str(CATALOG), str(path))

    assert code == 0, out
    assert ", 0 errors, 0 warnings" in out


def test_experiments_and_components_directories_validate_clean_from_the_repo_root(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)

    code, out, _ = validate(capsys, "experiments", "components")

    assert code == 0, out
    (summary,) = out.splitlines()
    assert re.search(r"\d+ objects, 0 errors, 0 warnings; \d+ documents of other kinds skipped", summary)
    assert re.search(r"catalog: \d+ Components from components/; \d+ WorkflowTemplates from experiments/$", summary)


def test_hello_app_references_the_platform_components_it_relies_on() -> None:
    names = {yaml.safe_load(p.read_text())["metadata"]["name"] for p in CATALOG.rglob("component.yaml")}
    assert {"hello-app", "metrics-app", "metrics-agent", "metrics-egress", "tailscale-operator"} <= names


# ---------------------------------------------------------------------- reading the input


def test_multi_document_file_validates_each_object_and_names_the_broken_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "bundle.yaml"
    file.write_text(
        "---\n".join(
            [
                experiment_yaml(generate_name="first-"),
                WORKFLOW_TEMPLATE,
                experiment_yaml(generate_name="second-", mode="sometimes"),
                "",  # an empty document is fine
            ]
        )
    )

    code, out, _ = validate(capsys, "--catalog", str(CATALOG), "--output", "json", str(file))

    report = json.loads(out)
    assert code == 1
    assert report["summary"] == {"files": 1, "objects": 2, "errors": 1, "warnings": 0, "skipped": 1}
    (problem,) = report["problems"]
    assert problem["name"] == "second-"
    assert problem["document"] == 3
    assert problem["path"] == "spec.workflow.completion.mode"
    line = file.read_text().splitlines()[problem["line"] - 1]
    assert line.strip() == "mode: sometimes"


def test_directory_walk_validates_experiments_and_skips_everything_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "experiments" / "demo"
    (scenario / "workflow").mkdir(parents=True)
    (scenario / "experiment.yaml").write_text(experiment_yaml())
    (scenario / "workflow" / "template.yml").write_text(WORKFLOW_TEMPLATE)
    (scenario / "tutorial.yaml").write_text("title: Demo\ninstructions: |\n  ===\n  Step one\n")
    (scenario / "README.md").write_text("# not YAML")
    (tmp_path / "experiments" / ".drafts").mkdir()
    (tmp_path / "experiments" / ".drafts" / "broken.yaml").write_text("spec: [unclosed\n")
    chart = tmp_path / "experiments" / "demo" / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (chart / "templates" / "deployment.yaml").write_text("replicas: {{ .Values.replicas }}\n  bad: [\n")

    code, out, _ = validate(capsys, "--catalog", str(CATALOG), str(tmp_path / "experiments"))

    assert code == 0, out
    assert out.startswith("4 files, 1 object, 0 errors, 0 warnings; 3 documents of other kinds skipped")


def test_output_json_is_machine_readable(capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "criterion-value-unquoted.yaml"

    code, out, _ = validate(capsys, "--catalog", str(CATALOG), "--output", "json", str(path))

    report = json.loads(out)
    assert code == report["exitCode"] == 1
    assert report["valid"] is False
    assert "hello-app" in report["catalog"]["components"]
    (problem,) = report["problems"]
    assert problem | {"file": None} == {
        "file": None,
        "document": 1,
        "line": path.read_text().splitlines().index("        value: 0.5") + 1,
        "kind": "Experiment",
        "name": "corpus-",
        "path": "spec.hypothesis.successCriteria[0].value",
        "severity": "error",
        "message": "must be a string, got the number 0.5",
        "fix": 'quote it: "0.5"',
    }
    assert report["objects"][0]["errors"] == 1


def test_output_json_points_at_the_line_of_a_dotted_param_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "experiment.yaml"
    file.write_text(
        experiment_yaml().replace(
            "- app: hello-app", '- app: hello-app\n          params:\n            hpa.enabled: "maybe"'
        )
    )

    code, out, _ = validate(capsys, "--catalog", str(CATALOG), "-o", "json", str(file))

    (problem,) = json.loads(out)["problems"]
    assert code == 1
    assert problem["path"] == "spec.targets[0].components[0].params.hpa.enabled"
    assert file.read_text().splitlines()[problem["line"] - 1].strip() == 'hpa.enabled: "maybe"'


def test_output_json_reports_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = validate(capsys, "--output", "json", str(CORPUS / "yaml-syntax-error.yaml"))

    report = json.loads(out)
    assert code == report["exitCode"] == 2
    (problem,) = report["problems"]
    assert problem["unreadable"] is True
    assert problem["line"] == 11


def test_missing_file_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = validate(capsys, "--quiet", "does/not/exist.yaml")

    assert code == 2
    assert out.splitlines() == ["does/not/exist.yaml: no such file or directory — fix: check the path"]
    assert err == ""


def test_unreadable_input_still_validates_the_rest(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = validate(
        capsys, "--catalog", str(CATALOG), "missing.yaml", str(CORPUS / "completion-mode-enum.yaml")
    )

    assert code == 2  # unreadable input wins over invalid input
    assert "missing.yaml: no such file or directory" in out
    assert "spec.workflow.completion.mode: 'auto' is not allowed" in out
    assert out.splitlines()[-1].startswith("1 file, 1 object, 2 errors, 0 warnings")


def test_empty_directory_is_unreadable_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = validate(capsys, "--quiet", str(tmp_path))

    assert code == 2
    assert out.splitlines() == [f"{tmp_path}: no *.yaml or *.yml files in this directory — fix: check the path"]


def test_warnings_do_not_fail_validation(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = validate(capsys, "--catalog", str(CATALOG), str(CORPUS / "hub-target-tailscale.yaml"))

    assert code == 0
    warning, summary = out.splitlines()
    assert ": warning: spec.targets[0].observability.transport:" in warning
    assert summary.startswith("1 file, 1 object, 0 errors, 1 warning;")


def test_a_component_defined_twice_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    component = (CATALOG / "apps" / "hello-app" / "component.yaml").read_text()
    (tmp_path / "a.yaml").write_text(component)
    (tmp_path / "b.yaml").write_text(component)

    code, out, _ = validate(capsys, "--catalog", str(CATALOG), "--quiet", str(tmp_path))

    assert code == 1
    assert out.splitlines() == [
        f"{tmp_path / 'b.yaml'}: Component hello-app: metadata.name: Component 'hello-app' is also defined in "
        f"{tmp_path / 'a.yaml'} (document 1) — fix: rename one; applying both keeps only the last"
    ]


# ----------------------------------------------------------------------------- the catalog


def test_every_workflow_template_an_experiment_names_is_shipped_under_that_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = validate(capsys, "--catalog", str(CATALOG), "-o", "json", str(REPO / "experiments"))

    report = json.loads(out)
    shipped = set(report["catalog"]["templates"])
    assert {"hello-app-validation", "logging-comparison-v3", "observability-cost-validation"} <= shipped
    assert not [p for p in report["problems"] if p["path"] == "spec.workflow.template"], report["problems"]


@pytest.mark.parametrize("template", ["experiment-lifecycle", "demo"])
def test_the_inline_workflow_and_templates_in_the_validated_files_need_no_catalog_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], template: str
) -> None:
    file = tmp_path / "bundle.yaml"
    experiment = experiment_yaml(template=template)
    file.write_text(experiment + "---\n" + WORKFLOW_TEMPLATE)

    code, out, _ = validate(capsys, "--catalog", str(CATALOG), str(file))

    assert code == 0, out
    assert "1 object, 0 errors, 0 warnings" in out


def test_a_catalog_without_experiments_beside_it_does_not_check_templates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    components = tmp_path / "components"
    components.mkdir()
    (components / "hello-app.yaml").write_text((CATALOG / "apps" / "hello-app" / "component.yaml").read_text())
    file = tmp_path / "exp.yaml"
    file.write_text(experiment_yaml(template="anything"))

    code, out, _ = validate(capsys, "--catalog", str(components), str(file))

    assert code == 0, out
    assert "WorkflowTemplate references not checked" in out


def test_components_in_the_validated_files_join_the_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "widget.yaml").write_text(
        (CORPUS / "param-bool-ill-typed.yaml").read_text().replace('debug: "yes"', 'debug: "true"')
    )

    code, out, _ = validate(capsys, "--catalog", str(CATALOG), str(tmp_path))

    assert code == 0, out
    assert "Components from" in out and "and the validated files" in out


def test_catalog_is_found_by_walking_up_from_the_current_directory(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO / "experiments" / "hello-app")

    code, out, _ = validate(capsys, "experiment.yaml")

    assert code == 0, out
    assert f"Components from {CATALOG}/" in out


def test_without_a_catalog_component_references_are_not_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    code, out, _ = validate(capsys, str(CORPUS / "component-unknown.yaml"))

    assert code == 0, out
    assert "component and WorkflowTemplate references not checked: no components/ directory here or above" in out


def test_missing_catalog_directory_is_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = validate(capsys, "--catalog", "/no/such/components", str(CORPUS / "targets-empty.yaml"))

    assert code == 2
    assert out == ""
    assert err == "labctl validate: catalog /no/such/components: no such directory\n"


class _FakeApiServer(BaseHTTPRequestHandler):
    components: ClassVar[list[dict[str, Any]]] = []

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/apis/experiments.illm.io/v1alpha1/components":
            self.send_error(404)
            return
        body = json.dumps({"kind": "ComponentList", "items": self.components, "metadata": {}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def fake_cluster(tmp_path: Path, components: list[dict[str, Any]]) -> Iterator[Path]:
    """A kubeconfig for a loopback HTTP server that answers the Component list like an API server."""
    handler = type("Handler", (_FakeApiServer,), {"components": components})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield _kubeconfig(tmp_path, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


def _kubeconfig(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        textwrap.dedent(
            f"""\
            apiVersion: v1
            kind: Config
            clusters: [{{name: lab, cluster: {{server: "{server}"}}}}]
            users: [{{name: lab, user: {{token: not-a-secret}}}}]
            contexts: [{{name: lab, context: {{cluster: lab, user: lab}}}}]
            current-context: lab
            """
        )
    )
    return path


def test_catalog_can_come_from_a_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hello = yaml.safe_load((CATALOG / "apps" / "hello-app" / "component.yaml").read_text())
    hello["metadata"] |= {"uid": "1234", "resourceVersion": "7", "managedFields": [{"manager": "kubectl"}]}
    hello["status"] = {"conditions": []}
    broken = {"apiVersion": "experiments.illm.io/v1alpha1", "kind": "Component", "metadata": {"name": "x"}}

    with fake_cluster(tmp_path, [hello, broken]) as kubeconfig:
        code, out, _ = validate(
            capsys, "--kubeconfig", str(kubeconfig), "--context", "lab", str(CORPUS / "component-unknown.yaml")
        )

    assert code == 1
    assert "no Component named 'helo-app' — fix: did you mean `hello-app`?" in out
    assert "catalog: 1 Components from the cluster (kubeconfig" in out
    assert "context lab) (1 invalid left out)" in out


def test_a_cluster_without_argo_workflows_has_no_workflow_templates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hello = yaml.safe_load((CATALOG / "apps" / "hello-app" / "component.yaml").read_text())
    file = tmp_path / "exp.yaml"
    file.write_text(experiment_yaml())

    with fake_cluster(tmp_path, [hello]) as kubeconfig:  # it answers 404 for workflowtemplates
        code, out, _ = validate(capsys, "--quiet", "--kubeconfig", str(kubeconfig), str(file))

    assert code == 1
    assert out.splitlines() == [
        f"{file}: Experiment demo-: spec.workflow.template: no WorkflowTemplate named 'hello-app-validation' in "
        "namespace argo-workflows of the cluster (none there: is Argo Workflows installed?) — fix: ship a "
        "WorkflowTemplate of that name (experiments/<scenario>/workflow/template.yaml, applied to namespace "
        "argo-workflows) or use `experiment-lifecycle` (the built-in workflow)"
    ]


def test_unreachable_cluster_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        kubeconfig = _kubeconfig(tmp_path, f"https://127.0.0.1:{port}")

        code, out, err = validate(capsys, "--kubeconfig", str(kubeconfig), str(CORPUS / "targets-empty.yaml"))

    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("labctl validate: cannot reach the cluster (kubeconfig ")
    assert "Traceback" not in err


def test_unusable_kubeconfig_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = validate(capsys, "--kubeconfig", str(tmp_path / "nope"), str(CORPUS / "targets-empty.yaml"))

    assert code == 2
    assert err.startswith(f"labctl validate: cannot use kubeconfig {tmp_path / 'nope'}")
    assert len(err.splitlines()) == 1


# ------------------------------------------------------------------------- never a traceback


def test_an_unexpected_error_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(labctl.validate, "validate_paths", explode)

    code, _, err = validate(capsys, "--catalog", str(CATALOG), str(CORPUS / "targets-empty.yaml"))

    assert code == 2
    assert err.splitlines() == [
        "labctl validate: unexpected error: RuntimeError: boom (LABCTL_DEBUG=1 shows the traceback)"
    ]


def test_usage_errors_return_2_instead_of_exiting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 2
    assert "the following arguments are required: PATH" in capsys.readouterr().err
    assert main(["validate", "--catalog", "a", "--kubeconfig", "b", "x.yaml"]) == 2
    assert main(["--help"]) == 0
