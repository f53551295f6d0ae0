"""The production image holds the product packages only; none of them may need the lab to run.

The image copies api, activities, workflows, worker, crd_gateway and runtime, never labctl, labsim,
tests or bench (tests/deploy/test_dockerfile.py). These tests prove that is enough: no product module
imports from those packages, even lazily inside a function, and the three entry points import in a
fresh interpreter that cannot find them — as in the image.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.deploy.conftest import LAB_PACKAGES, REPO, product_packages

NOT_IN_IMAGE = (*LAB_PACKAGES, "tests", "bench")
ENTRY_POINTS = ("worker.__main__", "crd_gateway.__main__", "worker.codec_server")
"""`python -m worker`, `python -m crd_gateway`, `python -m worker.codec_server` (deploy/base/*.yaml)."""


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every absolute module an ``import`` or ``from … import`` in the file names, with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_no_product_module_imports_the_lab_tests_or_bench() -> None:
    offending = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for package in product_packages()
        for path in sorted((REPO / package).rglob("*.py"))
        for line, module in _imported_modules(path)
        if module.split(".")[0] in NOT_IN_IMAGE
    ]
    assert not offending, "the image does not contain these:\n" + "\n".join(offending)


BLOCKED_IMPORT = """
import importlib, sys

class NotInImage:
    # Finds nothing of the packages the image leaves out, before the editable install's finder can.
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"{{name}} is not in the production image", name=name)
        return None

sys.meta_path.insert(0, NotInImage)
for module in {modules!r}:
    importlib.import_module(module)
    # The worker imports its activities when it starts serving, not at import.
    if module == "worker.__main__":
        importlib.import_module("activities.registry")
left = sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r})
assert not left, left
"""


def test_the_entry_points_import_without_the_lab_tests_or_bench() -> None:
    script = BLOCKED_IMPORT.format(blocked=NOT_IN_IMAGE, modules=ENTRY_POINTS)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd="/", capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
