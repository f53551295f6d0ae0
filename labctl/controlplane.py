"""A real Kubernetes control plane on loopback: etcd + kube-apiserver (+ kube-controller-manager).

The binaries come from ``KUBEBUILDER_ASSETS`` (envtest convention) or from the cache that
``tools/envtest/build.sh`` fills by building the pinned upstream Go modules; nothing is downloaded
at run time. RBAC is on: the admin token belongs to ``system:masters``, and ServiceAccount tokens
minted through the TokenRequest API authenticate as themselves, so tests can act with least
privilege. Used by the test fixtures and by the embedded lab.
"""

from __future__ import annotations

import base64
import secrets
import ssl
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from labctl.certs import Pki, ensure_pki
from labctl.supervisor import ServerProcess, free_port

if TYPE_CHECKING:
    from labctl.settings import ServerBinaries

KUBERNETES_VERSION = "1.36.3"
ETCD_VERSION = "3.6.16"
ASSET_NAMES = ("etcd", "kube-apiserver")
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  - level: Metadata
"""


def assets_dir(binaries: ServerBinaries) -> Path:
    """Where etcd and kube-apiserver live (``KUBEBUILDER_ASSETS``, else the envtest cache); raises with the
    command that provides them."""
    configured = binaries.kubebuilder_assets
    envtest = f"k8s-{KUBERNETES_VERSION}-etcd-{ETCD_VERSION}"
    directory = Path(configured) if configured else binaries.cache_dir / "k8s-ai-cloud-testbed" / "envtest" / envtest
    missing = [name for name in ASSET_NAMES if not (directory / name).exists()]
    if missing:
        source = "KUBEBUILDER_ASSETS" if configured else "the envtest cache"
        raise RuntimeError(
            f"{', '.join(missing)} not found in {directory} ({source}); build them with `bash tools/envtest/build.sh`"
        )
    return directory


@dataclass
class ControlPlane:
    """etcd + kube-apiserver (+ controller manager when its binary is there) in ``data_dir``."""

    data_dir: Path
    assets: Path
    etcd_port: int = 0
    apiserver_port: int = 0
    with_controller_manager: bool = True
    admin_token: str = ""
    token_webhook_url: str | None = None
    """A TokenReview webhook (labsim's identity server) that authenticates cloud bearer tokens."""
    audit_log: Path | None = None
    """Where the API server writes an audit event per request (Metadata level: who, verb, object;
    no bodies), for ``bench.scale --audit``; None: no audit log, as by default."""
    pki: Pki | None = None
    _processes: dict[str, ServerProcess] = field(default_factory=dict)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    @property
    def kubeconfig_path(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    def startup_seconds(self) -> dict[str, float]:
        return {name: proc.startup_seconds for name, proc in self._processes.items()}

    # ------------------------------------------------------------------------------ lifecycle

    def start(self) -> ControlPlane:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pki = ensure_pki(self.data_dir / "pki")
        self.etcd_port = self.etcd_port or free_port()
        self.apiserver_port = self.apiserver_port or free_port()
        self.admin_token = self.admin_token or self._read_or_make_token()
        (self.data_dir / "tokens.csv").write_text(f'{self.admin_token},admin,admin,"system:masters"\n')
        self.write_kubeconfig(self.kubeconfig_path, token=self.admin_token, user="admin")
        self._start_etcd()
        self._start_apiserver()
        if self.with_controller_manager and (self.assets / "kube-controller-manager").exists():
            self._start_controller_manager()
        return self

    def stop(self) -> None:
        for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
            proc = self._processes.get(name)
            if proc:
                proc.stop()

    def restart_apiserver(self) -> None:
        """Stop and start the API server on the same port (etcd keeps the data)."""
        self._processes["kube-apiserver"].stop()
        self._start_apiserver()

    def _read_or_make_token(self) -> str:
        path = self.data_dir / "admin.token"
        if path.exists():
            return path.read_text().strip()
        token = secrets.token_hex(16)
        path.write_text(token)
        path.chmod(0o600)
        return token

    def _start_etcd(self) -> None:
        peer = free_port()
        url = f"http://127.0.0.1:{self.etcd_port}"
        argv = [
            str(self.assets / "etcd"),
            "--name=default",
            f"--data-dir={self.data_dir / 'etcd'}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=default=http://127.0.0.1:{peer}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]
        proc = ServerProcess("etcd", argv, self.data_dir / "logs" / "etcd.log")
        self._processes["etcd"] = proc.start(lambda: b'"health":"true"' in _get(f"{url}/health"), timeout=30)

    def _start_apiserver(self) -> None:
        assert self.pki is not None
        argv = [
            str(self.assets / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.apiserver_port}",
            f"--cert-dir={self.data_dir / 'apiserver-certs'}",
            f"--tls-cert-file={self.pki.serving_cert}",
            f"--tls-private-key-file={self.pki.serving_key}",
            f"--client-ca-file={self.pki.ca_cert}",
            f"--token-auth-file={self.data_dir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={self.pki.sa_pub}",
            f"--service-account-signing-key-file={self.pki.sa_key}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--v=0",
            *self._token_webhook_flags(),
            *self._audit_flags(),
        ]
        proc = ServerProcess("kube-apiserver", argv, self.data_dir / "logs" / "kube-apiserver.log")
        self._processes["kube-apiserver"] = proc.start(self._apiserver_ready, timeout=90)

    def _audit_flags(self) -> list[str]:
        """One JSON line per finished request. The log rotates only past 100 GiB (the default, 0, means
        lumberjack's 100 MiB, which a 1,000-experiment run passes); bench.audit reads rotated files too."""
        if self.audit_log is None:
            return []
        policy = self.data_dir / "audit-policy.yaml"
        policy.write_text(AUDIT_POLICY)
        return [
            f"--audit-policy-file={policy}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-format=json",
            "--audit-log-maxsize=102400",
        ]

    def _token_webhook_flags(self) -> list[str]:
        if not self.token_webhook_url:
            return []
        path = self.data_dir / "token-webhook.kubeconfig"
        webhook = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "identity", "cluster": {"server": self.token_webhook_url}}],
            "users": [{"name": "apiserver", "user": {}}],
            "contexts": [{"name": "webhook", "context": {"cluster": "identity", "user": "apiserver"}}],
            "current-context": "webhook",
        }
        path.write_text(yaml.safe_dump(webhook))
        return [
            f"--authentication-token-webhook-config-file={path}",
            "--authentication-token-webhook-version=v1",
            "--authentication-token-webhook-cache-ttl=10s",
        ]

    def _start_controller_manager(self) -> None:
        assert self.pki is not None
        argv = [
            str(self.assets / "kube-controller-manager"),
            f"--kubeconfig={self.kubeconfig_path}",
            "--controllers=namespace,garbagecollector,serviceaccount,serviceaccount-token",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            f"--service-account-private-key-file={self.pki.sa_key}",
            f"--root-ca-file={self.pki.ca_cert}",
            "--use-service-account-credentials=false",
            "--concurrent-gc-syncs=5",
            "--namespace-sync-period=10s",
            "--v=0",
        ]
        proc = ServerProcess("kube-controller-manager", argv, self.data_dir / "logs" / "kube-controller-manager.log")
        # It has no cheap readiness probe without auth; it is ready once it runs.
        self._processes["kube-controller-manager"] = proc.start(lambda: True, timeout=10)

    def _apiserver_ready(self) -> bool:
        assert self.pki is not None
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        body = _get(f"{self.server}/readyz", context=context, token=self.admin_token)
        return body.strip() == b"ok"

    # ------------------------------------------------------------------------------ clients

    def write_kubeconfig(self, path: Path, *, token: str, user: str, namespace: str | None = None) -> Path:
        assert self.pki is not None
        context: dict[str, Any] = {"cluster": "testbed", "user": user}
        if namespace:
            context["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "testbed",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": base64.b64encode(self.pki.ca_cert.read_bytes()).decode(),
                    },
                }
            ],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": user, "context": context}],
            "current-context": user,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)
        return path


def _get(url: str, *, context: ssl.SSLContext | None = None, token: str | None = None) -> bytes:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=2, context=context) as response:
        return bytes(response.read())


def wait_until(predicate: Any, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def install_crds(kubeconfig: Path, files: list[Path], timeout: float = 30.0) -> list[str]:
    """Create or replace the CRDs in ``files`` and wait until each is Established."""
    from kubernetes import client, config

    api = client.ApiextensionsV1Api(config.new_client_from_config(config_file=str(kubeconfig)))  # type: ignore[no-untyped-call]
    names = []
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            name = doc["metadata"]["name"]
            try:
                current = api.read_custom_resource_definition(name)
                assert current.metadata is not None
                doc["metadata"]["resourceVersion"] = current.metadata.resource_version
                api.replace_custom_resource_definition(name, doc)
            except client.ApiException as exc:
                if exc.status != 404:
                    raise
                api.create_custom_resource_definition(doc)
            names.append(name)

    def established() -> bool:
        for name in names:
            status = api.read_custom_resource_definition(name).status
            conditions = (status.conditions if status else None) or []
            if not any(c.type == "Established" and c.status == "True" for c in conditions):
                return False
        return True

    if not wait_until(established, timeout):
        raise RuntimeError(f"CRDs not Established within {timeout:.0f}s: {', '.join(names)}")
    return names
