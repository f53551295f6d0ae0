"""Plays the clouds' identity services for the simulated clusters, and the API server's token webhook.

One loopback HTTP server:

- ``POST /google/token``: Google's OAuth2 token endpoint for the service-account JWT grant
  (``urn:ietf:params:oauth:grant-type:jwt-bearer``): checks the RS256 signature with the fake service
  account's public key, the audience, expiry and scope, and answers an access token valid one hour.
- ``GET /sts/?Action=GetCallerIdentity&…``: STS with a presigned SigV4 URL, checked against the fake
  access key (signature, ``X-Amz-Date`` within ``X-Amz-Expires`` and the token's 15 minutes).
- Entra ID, over HTTPS only (MSAL refuses anything else; :meth:`IdentityServer.serve_tls`):
  ``GET /<tenant>/v2.0/.well-known/openid-configuration`` and ``POST /<tenant>/oauth2/v2.0/token``
  for the client-credentials grant of the fake app registration, scope ``<AKS server app>/.default``.
- ``POST /tokenreview``: the kube-apiserver's webhook token authenticator
  (``--authentication-token-webhook-config-file``). Google and Entra access tokens issued here and EKS tokens
  (``k8s-aws-v1.`` + a presigned GetCallerIdentity URL signed with ``x-k8s-aws-id`` = a simulated EKS
  cluster) authenticate; the identity gets group ``system:masters``, standing for the IAM role
  (``roles/container.admin``, an EKS access entry) a real setup grants.

:meth:`IdentityServer.credentials` are what the hub's Crossplane credential Secrets hold on a real
hub (service-account key JSON whose ``token_uri`` is this server; an AWS credentials file).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import ssl
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

log = logging.getLogger(__name__)
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
"""The ``aud`` Google requires of a service-account assertion, whatever ``token_uri`` it is posted to."""
EKS_TOKEN_PREFIX = "k8s-aws-v1."
SERVICE_ACCOUNT = "crossplane@illm-lab.iam.gserviceaccount.com"
AWS_ACCOUNT_ARN = "arn:aws:iam::000000000000:user/crossplane"
EKS_TOKEN_SECONDS = 15 * 60
AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"
AZURE_TENANT = "00000000-0000-0000-0000-00000000a11b"


class IdentityServer:
    def __init__(self, port: int = 0) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.access_key_id = "AKIA" + secrets.token_hex(8).upper()
        self.secret_access_key = secrets.token_urlsafe(30)
        self.eks_clusters: set[str] = set()
        """Cloud names of the simulated EKS clusters (what ``x-k8s-aws-id`` must be)."""
        self.azure_client_id = str(uuid.uuid4())
        self.azure_client_secret = secrets.token_urlsafe(30)
        self.google_tokens: dict[str, float] = {}
        self.entra_tokens: dict[str, float] = {}
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="labsim-identity", daemon=True)
        self.tls: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> IdentityServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        for httpd in (self.httpd, self.tls):
            if httpd:
                httpd.shutdown()
                httpd.server_close()

    def serve_tls(self, cert: Path, key: Path) -> str:
        """Also serve on a free HTTPS port (certificate for 127.0.0.1); the base URL, for Entra ID."""
        self.tls = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.tls.socket = context.wrap_socket(self.tls.socket, server_side=True)
        threading.Thread(target=self.tls.serve_forever, name="labsim-identity-tls", daemon=True).start()
        return f"https://127.0.0.1:{self.tls.server_address[1]}"

    def credentials(self) -> dict[str, str]:
        """Hub Secret name → its ``credentials`` value (as the platform's ExternalSecrets write them)."""
        pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        service_account = {
            "type": "service_account",
            "project_id": "illm-lab",
            "private_key_id": "labsim",
            "private_key": pem.decode(),
            "client_email": SERVICE_ACCOUNT,
            "client_id": "1",
            "token_uri": f"{self.url}/google/token",
        }
        aws = f"[default]\naws_access_key_id = {self.access_key_id}\naws_secret_access_key = {self.secret_access_key}\n"
        azure = {"clientId": self.azure_client_id, "clientSecret": self.azure_client_secret, "tenantId": AZURE_TENANT}
        return {
            "gcp-credentials": json.dumps(service_account),
            "aws-credentials": aws,
            "azure-credentials": json.dumps(azure),
        }

    # ------------------------------------------------------------------------------ Google

    def google_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != JWT_BEARER:
            return 400, {"error": "unsupported_grant_type"}
        try:
            claims = self._verified_jwt(form.get("assertion", ""))
        except ValueError as exc:
            return 400, {"error": "invalid_grant", "error_description": str(exc)}
        if claims.get("iss") != SERVICE_ACCOUNT or claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: iss or aud"}
        if not float(claims.get("iat", 0)) - 300 <= time.time() <= float(claims.get("exp", 0)):
            return 400, {
                "error": "invalid_grant",
                "error_description": "Invalid JWT: Token must be a short-lived token",
            }
        if CLOUD_PLATFORM_SCOPE not in str(claims.get("scope", "")).split():
            return 400, {"error": "invalid_scope"}
        token = "ya29.labsim-" + secrets.token_urlsafe(24)
        with self.lock:
            self.google_tokens[token] = time.time() + 3600
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _verified_jwt(self, assertion: str) -> dict[str, Any]:
        parts = assertion.split(".")
        if len(parts) != 3:
            raise ValueError("Invalid JWT: not three segments")
        header, claims = (json.loads(_unb64(p)) for p in parts[:2])
        if header.get("alg") != "RS256":
            raise ValueError("Invalid JWT: alg")
        try:
            self.key.public_key().verify(
                _unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception as exc:
            raise ValueError("Invalid JWT Signature.") from exc
        return dict(claims)

    # ------------------------------------------------------------------------------ Entra ID

    def entra_openid_configuration(self, base: str, tenant: str) -> dict[str, Any]:
        return {
            "issuer": f"{base}/{tenant}/v2.0",
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
        }

    def entra_token(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if tenant != AZURE_TENANT:
            return 400, {"error": "invalid_request", "error_description": f"AADSTS90002: Tenant '{tenant}' not found."}
        if form.get("client_id") != self.azure_client_id or form.get("client_secret") != self.azure_client_secret:
            return 401, {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
            }
        if form.get("scope", "").split() != [f"{AKS_SERVER_APP}/.default"]:
            return 400, {
                "error": "invalid_scope",
                "error_description": "AADSTS70011: The provided value for scope is not valid.",
            }
        token = "eyJ0eXAiOiJKV1QifQ.labsim-entra-" + secrets.token_urlsafe(24)
        with self.lock:
            self.entra_tokens[token] = time.time() + 3600
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}

    # ------------------------------------------------------------------------------ AWS STS

    def caller_identity(self, url: str, cluster: str) -> str | None:
        """The ARN a presigned GetCallerIdentity URL stands for, if it is valid for ``cluster``."""
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if query.get("Action") != "GetCallerIdentity" or "X-Amz-Signature" not in query:
            return None
        if "x-k8s-aws-id" not in query.get("X-Amz-SignedHeaders", "").split(";"):
            return None
        key_id, date, region, service, _ = (query.get("X-Amz-Credential", "") + "////").split("/")[:5]
        if key_id != self.access_key_id or service != "sts":
            return None
        signed_at = datetime.strptime(query.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
        if not signed_at - 300 <= time.time() <= signed_at + EKS_TOKEN_SECONDS:
            return None
        signature = query.pop("X-Amz-Signature")
        canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items()))
        headers = {"host": parts.netloc, "x-k8s-aws-id": cluster}
        signed = query["X-Amz-SignedHeaders"].split(";")
        canonical_headers = "".join(f"{h}:{headers.get(h, '')}\n" for h in signed)
        key = _signing_key(self.secret_access_key, date, region, service)
        scope = f"{date}/{region}/{service}/aws4_request"
        for payload in (hashlib.sha256(b"").hexdigest(), "UNSIGNED-PAYLOAD"):
            request = "\n".join(
                ["GET", parts.path or "/", canonical_query, canonical_headers, ";".join(signed), payload]
            )
            to_sign = "\n".join(
                ["AWS4-HMAC-SHA256", query["X-Amz-Date"], scope, hashlib.sha256(request.encode()).hexdigest()]
            )
            if hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), signature):
                return AWS_ACCOUNT_ARN
        return None

    # ------------------------------------------------------------------------------ TokenReview

    def review(self, token: str) -> dict[str, Any] | None:
        """The Kubernetes user a bearer token stands for, or None."""
        with self.lock:
            google, entra = self.google_tokens.get(token), self.entra_tokens.get(token)
            clusters = sorted(self.eks_clusters)
        if google and google > time.time():
            return {"username": SERVICE_ACCOUNT, "groups": ["system:masters", "system:authenticated"]}
        if entra and entra > time.time():
            return {"username": self.azure_client_id, "groups": ["system:masters", "system:authenticated"]}
        if token.startswith(EKS_TOKEN_PREFIX):
            url = _unb64(token.removeprefix(EKS_TOKEN_PREFIX)).decode(errors="replace")
            for cluster in clusters:
                arn = self.caller_identity(url, cluster)
                if arn:
                    return {"username": arn, "groups": ["system:masters", "system:authenticated"]}
        return None


def _handler(server: IdentityServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlsplit(self.path).path  # the API server adds ?timeout=30s
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            if path == "/google/token":
                self._json(*server.google_token(form))
            elif path.endswith("/oauth2/v2.0/token"):
                self._json(*server.entra_token(path.split("/")[1], form))
            elif path == "/tokenreview":
                review = json.loads(body or b"{}")
                user = server.review(str((review.get("spec") or {}).get("token", "")))
                status: dict[str, Any] = {"authenticated": user is not None}
                if user:
                    status["user"] = user
                self._json(200, {**review, "status": status})
            else:
                self._json(404, {"error": "not found"})

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path.endswith("/v2.0/.well-known/openid-configuration"):
                base = f"https://{self.headers.get('Host')}"
                self._json(200, server.entra_openid_configuration(base, path.split("/")[1]))
                return
            if not self.path.startswith("/sts"):
                self._json(404, {"error": "not found"})
                return
            arn = server.caller_identity(
                f"http://{self.headers.get('Host')}{self.path}", self.headers.get("x-k8s-aws-id", "")
            )
            if arn is None:
                self._json(403, {"Error": {"Code": "SignatureDoesNotMatch"}})
                return
            self._json(200, {"GetCallerIdentityResponse": {"GetCallerIdentityResult": {"Arn": arn}}})

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("identity: " + format, *args)

    return Handler


def _entra_error(error: str, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": description, "error_codes": [int(description[6:].split(":")[0])]}


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def cloud_identity_env(port: int, empty_dir: Path) -> dict[str, str]:
    """The worker's environment for the fake identity services: STS at the fake, and no Google ADC
    (no metadata-server probe, no gcloud credentials), so the hub's credential Secrets are used."""
    empty_dir.mkdir(parents=True, exist_ok=True)
    return {
        "AWS_ENDPOINT_URL_STS": f"http://127.0.0.1:{port}/sts",
        "NO_GCE_CHECK": "true",
        "CLOUDSDK_CONFIG": str(empty_dir),
        "GOOGLE_APPLICATION_CREDENTIALS": "",
        "AWS_CONFIG_FILE": str(empty_dir / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty_dir / "aws-credentials"),
    }
