"""``labctl kubeconfig NAME [TARGET]``: save a target cluster's kubeconfig, as the original labctl did.

The Secrets are the ones the experiment reports (``status.tutorialStatus.kubeconfigSecrets``, or a
target's ``kubeconfigSecret``), in the experiment's namespace. Files go to
``~/.illmlab/kubeconfig-<name>-<target>``: the folder 0700, the file 0600 (they hold cluster credentials).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import os
from pathlib import Path

from labctl.command import EXIT_OK, LabctlError, Subparsers
from labctl.experiments import Experiments, Obj, add_cluster_options, status_of

SECRET_KEYS = ("kubeconfig", "value", "config")
STORE_DIR = ".illmlab"


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "kubeconfig",
        help="save a target cluster's kubeconfig under ~/.illmlab/",
        description="Write the kubeconfig of every target (or TARGET) of experiment NAME to "
        "~/.illmlab/kubeconfig-<name>-<target> and print how to use it.",
    )
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("target", metavar="TARGET", nargs="?", help="only this target")
    add_cluster_options(parser)
    parser.set_defaults(handler=save_kubeconfigs)


def kubeconfig_secrets(obj: Obj) -> dict[str, str]:
    """target → Secret name, from the tutorial status and the per-target status."""
    status = status_of(obj)
    secrets = {t.name: t.kubeconfig_secret for t in status.targets or [] if t.kubeconfig_secret}
    secrets.update((status.tutorial_status.kubeconfig_secrets if status.tutorial_status else None) or {})
    return secrets


def store_path(name: str, target: str) -> Path:
    return Path.home() / STORE_DIR / f"kubeconfig-{name}-{target}"


def save_kubeconfigs(args: argparse.Namespace) -> int:
    experiments = Experiments.connect(args)
    obj = experiments.get(args.name)
    secrets = kubeconfig_secrets(obj)
    if not secrets:
        raise LabctlError(
            f"experiment {args.name} exposes no kubeconfigs (spec.tutorial.exposeKubeconfig, or not provisioned yet)"
        )
    if args.target:
        if args.target not in secrets:
            raise LabctlError(
                f"experiment {args.name} has no kubeconfig for target {args.target!r}; "
                f"targets: {', '.join(sorted(secrets))}"
            )
        secrets = {args.target: secrets[args.target]}
    written = []
    for target, secret in sorted(secrets.items()):
        content = _kubeconfig_from(experiments.secret_data(secret), secret)
        written.append(write_private(store_path(args.name, target), content))
        print(f"{target}: {written[-1]}")
    print(f"export KUBECONFIG={written[0]}")
    return EXIT_OK


def _kubeconfig_from(data: dict[str, str], secret: str) -> bytes:
    key = next((k for k in SECRET_KEYS if data.get(k)), None)
    if key is None:
        raise LabctlError(f"secret {secret!r} has none of the keys {', '.join(SECRET_KEYS)}")
    try:
        return base64.b64decode(data[key], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LabctlError(f"secret {secret!r}: key {key!r} is not base64") from exc


def write_private(path: Path, content: bytes) -> Path:
    """Write ``content`` readable by the owner only; the folder too (0700) — credentials."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        path.chmod(0o600)
    except OSError as exc:
        raise LabctlError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
