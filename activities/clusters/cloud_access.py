"""How the worker gets into a GKE, EKS or AKS cluster: endpoint and CA from the connection Secret, and
a short-lived bearer token from the cloud's identity service, made in-process and refreshed.

The client certificate a connection Secret may carry is not used: on current GKE clusters it is not
issued or has no RBAC, EKS has none, and AKS may have local accounts disabled. Instead
:func:`cloud_kubeconfig` writes the kubeconfig each provider's own tooling writes (an ``exec`` user:
``gke-gcloud-auth-plugin``, ``aws eks get-token``, ``kubelogin``), so the tutorial kubeconfig works
for a person with those tools, and :func:`install_token` makes the same token without the binaries:

- GKE: a Google OAuth2 access token (scope ``cloud-platform``) from Application Default Credentials,
  else the service-account key in hub Secret ``experiment-connections/gcp-credentials`` (``google-auth``).
- EKS: ``k8s-aws-v1.`` + base64url (no padding) of an STS ``GetCallerIdentity`` URL presigned with
  header ``x-k8s-aws-id: <cluster>`` (botocore; valid ~15 min). Credentials from the default chain,
  else the ``[default]`` profile in hub Secret ``experiment-connections/aws-credentials``.
- AKS: an Entra ID token for the AKS server application (``azure-identity``) from the environment
  (``AZURE_*``, workload identity, managed identity), else the client in hub Secret
  ``experiment-connections/azure-credentials`` (``clientId``, ``clientSecret``, ``tenantId``).

The hub Secrets are the worker's own cloud identity, beside the connection Secrets: never the
Crossplane providers' credentials in ``crossplane-system``, which the worker may not read.

Tokens expire (EKS ~15 min, Google and Entra ~60 min): the client's ``refresh_api_key_hook`` gets a
new one before each request once the current one is within :data:`REFRESH_MARGIN` of expiry.
Credentials and tokens stay inside the activity; none is returned or logged.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import botocore.session
import google.auth
import yaml
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential, DefaultAzureCredential
from botocore.config import Config as BotoConfig
from google.auth.exceptions import DefaultCredentialsError
from google.auth.transport.requests import Request
from google.oauth2 import service_account
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from activities.kube import TimedApiClient, hub_client, is_not_found, load_yaml, secret_text
from activities.settings import ActivitySettings
from api import names

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"
EKS_TOKEN_PREFIX = "k8s-aws-v1."
EKS_TOKEN_SECONDS = 15 * 60
REFRESH_MARGIN = 5 * 60
CREDENTIALS_KEY = "credentials"
EXEC_API = "client.authentication.k8s.io/v1beta1"

Token = tuple[str, float]
"""A bearer token and when it expires (epoch seconds)."""


@dataclass(frozen=True)
class Cluster:
    """A cloud cluster as its provider's tooling names it."""

    type: str
    name: str
    """The cloud's cluster name (``illm-<composite>``), which EKS tokens are bound to."""
    region: str | None = None


def exec_user(cluster: Cluster) -> dict[str, Any]:
    """The ``exec`` user each provider's own ``get-credentials`` writes."""
    if cluster.type == "gke":
        return {
            "apiVersion": EXEC_API,
            "command": "gke-gcloud-auth-plugin",
            "provideClusterInfo": True,
            "installHint": "gcloud components install gke-gcloud-auth-plugin",
        }
    if cluster.type == "eks":
        args = ["eks", "get-token", "--cluster-name", cluster.name, "--output", "json"]
        return {
            "apiVersion": EXEC_API,
            "command": "aws",
            "args": [*(["--region", cluster.region] * bool(cluster.region)), *args],
        }
    return {
        "apiVersion": EXEC_API,
        "command": "kubelogin",
        "args": ["get-token", "--login", "azurecli", "--server-id", AKS_SERVER_APP],
        "installHint": "az aks install-cli",
    }


def cloud_kubeconfig(cluster: Cluster, server: str, ca_data: str | None) -> str:
    """A kubeconfig for ``server`` whose user is the provider's exec plugin (no static credential)."""
    kube_cluster: dict[str, Any] = {"server": server}
    if ca_data:
        kube_cluster["certificate-authority-data"] = ca_data
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster.name, "cluster": kube_cluster}],
        "users": [{"name": cluster.name, "user": {"exec": exec_user(cluster)}}],
        "contexts": [{"name": cluster.name, "context": {"cluster": cluster.name, "user": cluster.name}}],
        "current-context": cluster.name,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def cluster_of_exec(user: dict[str, Any]) -> Cluster | None:
    """The cluster an exec user written by :func:`exec_user` is for; None for any other user."""
    spec = user.get("exec") or {}
    args = [str(a) for a in spec.get("args") or []]
    if spec.get("command") == "gke-gcloud-auth-plugin":
        return Cluster("gke", "")
    if spec.get("command") == "aws" and "--cluster-name" in args:
        region = args[args.index("--region") + 1] if "--region" in args else None
        return Cluster("eks", args[args.index("--cluster-name") + 1], region)
    if spec.get("command") == "kubelogin" and AKS_SERVER_APP in args:
        return Cluster("aks", "")
    return None


# ------------------------------------------------------------------------------------- clients


@dataclass
class _TargetClient:
    digest: str
    api: client.ApiClient
    users: int = 0
    stale: bool = False


TARGET_CLIENTS = 64
"""Target clusters whose client is kept: more than one worker's live experiments use at once. The least
recently used one beyond this is closed (once no call uses it) and rebuilt if used again."""
_TARGET_CLIENTS: OrderedDict[tuple[str, str, tuple[float, float]], _TargetClient] = OrderedDict()
_TARGET_CLIENTS_LOCK = threading.Lock()


@contextmanager
def target_client(kubeconfig: str, settings: ActivitySettings) -> Iterator[client.ApiClient]:
    """A target cluster from its kubeconfig text (read from a connection Secret, never passed around).

    A provider exec user (see :func:`exec_user`) becomes an in-process token; any other user is used as
    it is (the hub, or a kubeconfig with static credentials). Clients are kept per cluster (context and
    server), the :data:`TARGET_CLIENTS` most recently used, so a cluster is not dialled anew on every
    call: a kubeconfig that differs from the cached one (its connection Secret changed) builds a new
    client, and the old one (or one pushed out of the cache) is closed once no call uses it.
    :func:`close_target_clients` closes them all (worker shutdown).
    """
    doc = load_yaml(kubeconfig)
    context_name = str(doc["current-context"])
    context = next(x for x in doc["contexts"] if x["name"] == context_name)["context"]
    server = str(next(x for x in doc["clusters"] if x["name"] == context["cluster"])["cluster"].get("server"))
    key = (context_name, server, settings.kube_request_timeout)
    digest = hashlib.sha256(kubeconfig.encode()).hexdigest()
    with _TARGET_CLIENTS_LOCK:
        cached = _TARGET_CLIENTS.get(key)
        if cached is not None and cached.digest == digest:
            cached.users += 1
            _TARGET_CLIENTS.move_to_end(key)
    if cached is None or cached.digest != digest:
        fresh = _TargetClient(digest, _build_target_client(doc, settings), users=1)
        with _TARGET_CLIENTS_LOCK:
            replaced = [entry for entry in [_TARGET_CLIENTS.pop(key, None)] if entry is not None]
            _TARGET_CLIENTS[key] = cached = fresh
            while len(_TARGET_CLIENTS) > TARGET_CLIENTS:
                replaced.append(_TARGET_CLIENTS.popitem(last=False)[1])
            unused = _retire(replaced)
        for entry in unused:
            entry.api.close()  # type: ignore[no-untyped-call]
    try:
        yield cached.api
    finally:
        with _TARGET_CLIENTS_LOCK:
            cached.users -= 1
            close = cached.stale and cached.users == 0
        if close:
            cached.api.close()  # type: ignore[no-untyped-call]


def close_target_clients() -> None:
    """Close every cached target client (the next call builds a new one)."""
    with _TARGET_CLIENTS_LOCK:
        unused = _retire(list(_TARGET_CLIENTS.values()))
        _TARGET_CLIENTS.clear()
    for entry in unused:
        entry.api.close()  # type: ignore[no-untyped-call]


def _retire(entries: list[_TargetClient]) -> list[_TargetClient]:
    """Mark clients out of the cache (under the lock); the ones no call uses are returned, to be closed
    now; the others are closed by their last user."""
    unused = [entry for entry in entries if not entry.stale and entry.users == 0]
    for entry in entries:
        entry.stale = True
    return unused


def _build_target_client(doc: dict[str, Any], settings: ActivitySettings) -> client.ApiClient:
    context = next(x for x in doc["contexts"] if x["name"] == doc["current-context"])["context"]
    user = next(x for x in doc["users"] if x["name"] == context["user"])["user"]
    cluster = cluster_of_exec(user)
    if cluster:
        user.pop("exec")
    configuration = client.Configuration()
    config.load_kube_config_from_dict(doc, client_configuration=configuration)  # type: ignore[no-untyped-call]
    if cluster:
        with hub_client(settings) as hub:
            install_token(configuration, cluster, hub, settings)
    return TimedApiClient(configuration, settings.kube_request_timeout)


# ------------------------------------------------------------------------------------- tokens


def install_token(
    configuration: client.Configuration, cluster: Cluster, hub: client.ApiClient, settings: ActivitySettings
) -> None:
    """Authenticate ``configuration`` with the provider's bearer token, refreshed before it expires."""
    tokens = _token_cache(cluster, hub, settings)
    configuration.api_key_prefix["authorization"] = "Bearer"

    def refresh(config: client.Configuration) -> None:
        config.api_key["authorization"] = tokens.current()

    configuration.refresh_api_key_hook = refresh  # type: ignore[assignment]
    refresh(configuration)


class _Tokens:
    """One provider identity's current token, shared by every client of the worker, renewed near expiry."""

    def __init__(self, source: Callable[[], Token]) -> None:
        self.source = source
        self.lock = threading.Lock()
        self.token: Token | None = None

    def current(self) -> str:
        with self.lock:
            if self.token is None or self.token[1] - time.time() < REFRESH_MARGIN:
                self.token = self.source()
            return self.token[0]


_TOKENS: dict[Cluster, _Tokens] = {}
_TOKENS_LOCK = threading.Lock()


def _token_cache(cluster: Cluster, hub: client.ApiClient, settings: ActivitySettings) -> _Tokens:
    key = cluster if cluster.type == "eks" else Cluster(cluster.type, "")  # GKE/AKS tokens are not per cluster
    with _TOKENS_LOCK:
        if key not in _TOKENS:
            _TOKENS[key] = _Tokens(_token_source(cluster, hub, settings))
        return _TOKENS[key]


def _token_source(cluster: Cluster, hub: client.ApiClient, settings: ActivitySettings) -> Callable[[], Token]:
    if cluster.type == "gke":
        return _google_token_source(hub)
    if cluster.type == "eks":
        session = _aws_session(hub)
        return lambda: (
            eks_token(session, cluster.name, cluster.region or "us-east-1"),
            time.time() + EKS_TOKEN_SECONDS,
        )
    return _azure_token_source(hub, settings.azure_disable_instance_discovery)


def _google_token_source(hub: client.ApiClient) -> Callable[[], Token]:
    try:
        credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
    except DefaultCredentialsError:
        info = json.loads(_hub_credentials(hub, "gcp-credentials"))
        credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=[CLOUD_PLATFORM_SCOPE]
        )

    def token() -> Token:
        credentials.refresh(Request())  # type: ignore[no-untyped-call]
        expiry = credentials.expiry.timestamp() if credentials.expiry else time.time() + 3600
        return str(credentials.token), expiry

    return token


def _aws_session(hub: client.ApiClient) -> botocore.session.Session:
    session = botocore.session.Session()
    if session.get_credentials() is None:
        profile = configparser.ConfigParser()
        profile.read_string(_hub_credentials(hub, "aws-credentials"))
        section = profile["default"]
        session.set_credentials(
            section["aws_access_key_id"], section["aws_secret_access_key"], section.get("aws_session_token")
        )
    return session


def eks_token(session: botocore.session.Session, cluster: str, region: str) -> str:
    """What ``aws eks get-token`` / aws-iam-authenticator make: a presigned GetCallerIdentity URL."""
    sts = session.create_client(
        "sts", region_name=region, config=BotoConfig(connect_timeout=10, read_timeout=30, retries={"max_attempts": 3})
    )

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers["x-k8s-aws-id"] = cluster

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    return EKS_TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def _azure_token_source(hub: client.ApiClient, disable_instance_discovery: bool) -> Callable[[], Token]:
    scope = f"{AKS_SERVER_APP}/.default"
    credential: Any = DefaultAzureCredential()
    try:
        credential.get_token(scope)
    except ClientAuthenticationError:  # no identity in the environment (CredentialUnavailableError) or refused
        info = json.loads(_hub_credentials(hub, "azure-credentials"))
        credential = ClientSecretCredential(
            info["tenantId"],
            info["clientId"],
            info["clientSecret"],
            disable_instance_discovery=disable_instance_discovery,
        )

    def token() -> Token:
        access = credential.get_token(scope)
        return access.token, float(access.expires_on)

    return token


def _hub_credentials(hub: client.ApiClient, name: str) -> str:
    """The worker's own cloud credentials on the hub (not the Crossplane providers', which it may not read)."""
    try:
        secret = client.CoreV1Api(hub).read_namespaced_secret(name, names.CONNECTION_NAMESPACE)
    except ApiException as exc:
        if is_not_found(exc):
            raise NoCloudCredentials(name) from exc
        raise
    text = secret_text(secret, CREDENTIALS_KEY)
    if not text:
        raise NoCloudCredentials(name)
    return text


class NoCloudCredentials(RuntimeError):
    def __init__(self, secret: str) -> None:
        super().__init__(
            f"no cloud credentials for the target cluster: none in the worker's environment and no key "
            f"{CREDENTIALS_KEY!r} in Secret {names.CONNECTION_NAMESPACE}/{secret} (see docs/cloud-access.md)"
        )
