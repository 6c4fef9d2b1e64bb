# syntax=docker/dockerfile:1
# One image for every Tusk service: `docker run IMAGE versioning` runs `tusk serve versioning`.
#
#   docker build -t tusk:dev .
#   docker run --rm -e TUSK_NATS_URL=... tusk:dev ingest
#
# Stage 1 builds every workspace package (libs/*, services/*, clients/*: whatever has a pyproject.toml)
# into a virtualenv; stage 2 copies only that venv onto a clean slim base and runs as an unprivileged user.
# Both stages use the same base image, so the venv's interpreter symlinks stay valid.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/tusk \
    PATH=/opt/tusk/bin:$PATH
RUN python -m venv /opt/tusk \
    && pip install --no-cache-dir "pip==24.3.1" "setuptools==75.6.0" "wheel==0.45.1"
WORKDIR /src
COPY libs/ libs/
COPY services/ services/
COPY clients/ clients/
# Every package in the workspace, installed together so pip resolves `tusk-common` from ./libs/common.
# Third-party dependencies come as binary wheels (the slim image has no compiler; all of ours ship them).
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# DL3013: these are the workspace's own packages, by path; their versions are the repo's.
# hadolint ignore=DL3013
RUN pkgs=(); \
    for dir in libs/*/ services/*/ clients/*/; do \
        if [[ -f "${dir}pyproject.toml" ]]; then pkgs+=("./${dir}"); fi; \
    done; \
    echo "installing: ${pkgs[*]}"; \
    pip install --no-cache-dir --prefer-binary "${pkgs[@]}" \
    && pip check \
    && tusk --help > /dev/null

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="tusk" \
      org.opencontainers.image.description="Tusk services: tusk serve <versioning|ingest|scheduler|worker|lineage>" \
      org.opencontainers.image.source="https://example.invalid/tusk"
RUN groupadd --system --gid 10001 tusk \
    && useradd --system --uid 10001 --gid tusk --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin tusk
COPY --from=builder /opt/tusk /opt/tusk
COPY deploy/docker/healthcheck.py /opt/tusk/healthcheck.py
# Containers listen on all interfaces; ops port 9100 (/metrics, /healthz, /readyz), ingest's HTTP 7080.
# JSON logs, no .pyc writes (the root filesystem is read-only on Kubernetes), HOME on the writable /tmp;
# two malloc arenas: glibc's default (8 per core) keeps freed transfer buffers, ~25 % more peak RSS.
ENV PATH=/opt/tusk/bin:$PATH \
    VIRTUAL_ENV=/opt/tusk \
    MALLOC_ARENA_MAX=2 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    TUSK_OPS_ADDR=0.0.0.0:9100 \
    TUSK_LOG_FORMAT=json
WORKDIR /tmp
USER 10001:10001
EXPOSE 9100 7080
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/opt/tusk/healthcheck.py"]
ENTRYPOINT ["tusk", "serve"]
CMD ["versioning"]
