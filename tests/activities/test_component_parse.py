"""The catalog's Components are parsed once per object version: every validation and deployment reads them."""

from __future__ import annotations

import copy
from typing import Any

from activities.deploy.component_sources import parsed_component
from api.component import PodSecurityLevel
from labctl.catalog import from_directory
from tests.activities.conftest import REPO, unique_name


def hello_app(uid: str | None, version: str | None) -> dict[str, Any]:
    body: dict[str, Any] = from_directory(REPO / "components").components["hello-app"].to_wire()
    body["metadata"] = {"name": "hello-app", "uid": uid, "resourceVersion": version}
    return body


def test_the_same_version_is_parsed_once_and_a_new_one_again() -> None:
    uid = unique_name("uid-")
    first, problems = parsed_component(hello_app(uid, "1"))
    assert first is not None and not problems
    assert parsed_component(hello_app(uid, "1"))[0] is first  # a copy of the same version: the same parse

    edited = hello_app(uid, "2")
    edited["spec"]["podSecurity"] = "privileged"
    changed, _ = parsed_component(edited)
    assert changed is not None and changed.spec.pod_security == PodSecurityLevel.PRIVILEGED
    assert first.spec.pod_security != PodSecurityLevel.PRIVILEGED

    recreated, _ = parsed_component(hello_app(unique_name("uid-"), "1"))  # deleted and created again: new uid
    assert recreated is not None and recreated is not first


def test_an_object_without_a_version_is_parsed_each_time() -> None:
    body = hello_app(None, None)
    once, again = parsed_component(body)[0], parsed_component(copy.deepcopy(body))[0]
    assert once is not None and again is not None and once is not again


def test_an_invalid_component_keeps_its_problems() -> None:
    body = hello_app(unique_name("uid-"), "7")
    body["spec"]["sources"] = "not a list"
    for _ in range(2):
        component, problems = parsed_component(body)
        assert component is None and any("sources" in p.path for p in problems)
