"""The one way every process reaches a Kubernetes API server: worker activities (the hub), the CRD
gateway and labctl.

Fallback order (controller-runtime's ``config.GetConfig``), first that applies wins:

1. an explicit kubeconfig: ``--kubeconfig`` (labctl), ``HUB_KUBECONFIG`` (worker), ``GATEWAY_KUBECONFIG``;
2. ``$KUBECONFIG`` (a ``:``-separated list is merged, as kubectl does);
3. the in-cluster service account (``KUBERNETES_SERVICE_HOST`` and the mounted token);
4. ``~/.kube/config``.

A context (``--context``) selects one of the kubeconfig's contexts in 1, 2 and 4. A kubeconfig that
is named (1 or 2) but unusable is an error, never a silent fall-through to another cluster. The
callers' settings objects read ``$KUBECONFIG``; this module reads no environment variable itself
(the kubernetes client's in-cluster loader reads the service's host and port).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the client is imported when a connection is made: `labctl validate` never needs it
    from kubernetes import client

DEFAULT_KUBECONFIG = "~/.kube/config"


@dataclass(frozen=True)
class ClusterChoice:
    """Which cluster a process talks to: ``explicit`` (a flag or setting), ``env`` (``$KUBECONFIG``), ``context``."""

    explicit: str | None = None
    env: str | None = None
    context: str | None = None

    def kubeconfig_file(self) -> str:
        """The file a kubeconfig-based load reads: the named one, else ``~/.kube/config``."""
        return self.explicit or self.env or str(Path(DEFAULT_KUBECONFIG).expanduser())

    def describe(self) -> str:
        """For error messages: which kubeconfig (and context) a connection would use."""
        where = f"kubeconfig {self.explicit or self.env or DEFAULT_KUBECONFIG}"
        return where + (f", context {self.context}" if self.context else "")


def kube_configuration(choice: ClusterChoice) -> client.Configuration:
    """A client ``Configuration`` by the fallback order above; raises ``config.ConfigException`` (or an
    ``OSError``/``ValueError`` from a malformed file) when the chosen kubeconfig cannot be used."""
    from kubernetes import client, config

    configuration = client.Configuration()
    named = choice.explicit or choice.env
    if named:
        _load_kubeconfig(named, choice.context, configuration)
        return configuration
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        return configuration
    except config.ConfigException:
        pass
    _load_kubeconfig(choice.kubeconfig_file(), choice.context, configuration)
    return configuration


def new_api_client(choice: ClusterChoice) -> client.ApiClient:
    from kubernetes import client

    return client.ApiClient(kube_configuration(choice))


def _load_kubeconfig(path: str, context: str | None, configuration: client.Configuration) -> None:
    from kubernetes import config

    config.load_kube_config(config_file=path, context=context, client_configuration=configuration)  # type: ignore[no-untyped-call]
