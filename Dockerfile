# One image for both processes of the experiment system; the command picks which:
#   python -m crd_gateway   (the CRD gateway)
#   python -m worker        (the Temporal worker)
# Only the runtime dependencies are installed: never the [lab] or [dev] extras (test servers,
# kubectl, linters). Built, scanned, SBOM-attested and signed by .github/workflows/image.yaml.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api ./api
COPY activities ./activities
COPY workflows ./workflows
COPY worker ./worker
COPY crd_gateway ./crd_gateway
COPY labctl ./labctl
COPY labsim ./labsim
COPY runtime ./runtime
RUN pip install --no-compile . \
 && python -m compileall -q /opt/venv/lib

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.source="https://github.com/illMadeCoder/k8s-ai-cloud-testbed" \
      org.opencontainers.image.description="k8s-ai-cloud-testbed CRD gateway and Temporal worker" \
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
EXPOSE 8081 8082
ENTRYPOINT []
CMD ["python", "-m", "worker"]
