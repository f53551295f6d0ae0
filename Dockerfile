# One image for both processes of the experiment system, and the codec server; the command picks which:
#   python -m crd_gateway          (the CRD gateway)
#   python -m worker               (the Temporal worker)
#   python -m worker.codec_server  (the Temporal codec server)
# Only the product: the runtime dependencies exactly as requirements.lock pins them (hash-checked),
# then the product packages without resolving anything. The lab (labctl, labsim), tests, bench and
# the [lab]/[dev] extras never enter the image (.dockerignore admits only what is copied below).
# Built once, scanned, signed and SBOM-attested by digest by .github/workflows/image.yaml.

# Python 3.11.16 slim on Debian bookworm: the multi-platform index, pinned by digest so a rebuild
# gets the same base. To bump it, resolve the tag's current index and replace the digest:
#   docker buildx imagetools inspect python:3.11-slim-bookworm --format '{{json .Manifest.Digest}}'
# (or `crane digest python:3.11-slim-bookworm`), then let the image workflow scan the result.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Every distribution, transitive ones and the build backend (setuptools) included, pinned with its
# hashes; regenerate with the command at the top of requirements.lock when pyproject.toml changes.
COPY requirements.lock ./
RUN pip install --no-compile --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY api ./api
COPY activities ./activities
COPY workflows ./workflows
COPY worker ./worker
COPY crd_gateway ./crd_gateway
COPY runtime ./runtime
# The project itself: no dependency resolution, no download (the backend is the locked setuptools).
# pyproject's `labctl` console script has no package here, so its launcher is removed.
RUN pip install --no-compile --no-deps --no-build-isolation . \
 && rm /opt/venv/bin/labctl \
 && python -m compileall -q /opt/venv/lib

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.source="https://github.com/illMadeCoder/k8s-ai-cloud-testbed" \
      org.opencontainers.image.description="k8s-ai-cloud-testbed CRD gateway, Temporal worker and codec server" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
WORKDIR /tmp
# Numeric so Kubernetes' runAsNonRoot can check it without resolving names.
USER 10001:10001
EXPOSE 8081 8082 8083
ENTRYPOINT []
CMD ["python", "-m", "worker"]
