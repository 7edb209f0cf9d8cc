# syntax=docker/dockerfile:1
# One image for every service of the platform; the command picks the service:
#   healthplatform serve api|etl|relay|auth, healthplatform migrate, healthplatform auth maintain
# Multi-arch (linux/amd64, linux/arm64): no architecture-specific step; every dependency
# installs from a wheel (--only-binary), so neither stage needs a compiler.
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/healthplatform:<tag> .
#
# Base image: python 3.11.14 slim (Debian trixie), pinned by the digest of its multi-arch
# index. Refresh both together: docker buildx imagetools inspect python:3.11.14-slim
ARG PYTHON_IMAGE=python:3.11.14-slim@sha256:c8271b1f627d0068857dce5b53e14a9558603b527e46f1f901722f935b786a39

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
# The project as a wheel, then the wheel with its dependencies pinned by the lock file.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --only-binary=:all: -c requirements.lock /wheels/*.whl \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="healthplatform" \
      org.opencontainers.image.description="Health Connect data platform: API, ETL, relay, passkey auth" \
      org.opencontainers.image.licenses="Apache-2.0"
# Read-only root filesystem: everything that writes goes to /tmp (an emptyDir in Kubernetes).
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    TMPDIR=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HP_DATA_DIR=/tmp/healthplatform \
    HP_AUTH_DATA_DIR=/tmp/healthplatform
# pg_dump/pg_restore for `healthplatform backup` (client 17 = the CloudNativePG server major)
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /opt/venv /opt/venv
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000 8001 9102 9103
ENTRYPOINT ["healthplatform"]
CMD ["--help"]
