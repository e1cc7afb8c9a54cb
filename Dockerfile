# syntax=docker/dockerfile:1
#
# sidecar-injector image: two stages on the same pinned CPython base.
#   builder  builds the project wheel, with webhook/core and the server's decision path compiled to
#            C by mypyc (setup.py), and installs it plus the hash-locked runtime dependencies
#            (requirements.lock) into /opt/venv; pip, the compiler and the build tools stay out of
#            that venv.
#   runtime  copies /opt/venv only and runs as the numeric non-root user 65532, so the chart's
#            Pod Security "restricted" settings (runAsNonRoot, readOnlyRootFilesystem) hold.
#
# The base is pinned to an exact patch release. When publishing, pin the digest as well:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm --format '{{json .Manifest.Digest}}'
#   ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<that digest>
# The slim base (not distroless) is used because distroless ships a different CPython build
# (Debian's /usr/bin/python3) than the one the venv is created with; keeping both stages on the
# same base keeps /opt/venv's interpreter symlinks valid.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv --without-pip /opt/venv
# Dependencies first, so their layer is cached until requirements.lock changes.
# --only-binary keeps compilers out of the picture: every locked package ships a cp311 wheel.
COPY requirements.lock ./
RUN pip --python /opt/venv/bin/python install --require-hashes --only-binary=:all: -r requirements.lock
# The compiled core: a C compiler for this stage only, and the hash-locked mypy, setuptools and
# wheel (requirements-build.lock). The compiler is Debian's for this base's release; its exact
# version moves with Debian's security updates, so it is not pinned (DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY requirements-build.lock ./
RUN pip install --require-hashes --only-binary=:all: -r requirements-build.lock
# README.md* : pyproject names README.md as the long description; the glob keeps the build
# working in a trimmed checkout.
COPY pyproject.toml setup.py README.md* ./
COPY webhook ./webhook
RUN SIDECAR_INJECTOR_COMPILE=1 pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/dist . \
    && pip --python /opt/venv/bin/python install --no-deps /tmp/dist/sidecar_injector-*.whl \
    && /opt/venv/bin/python -c "import sys; from webhook.build_info import COMPILED, core_build; \
sys.exit(None if core_build() == COMPILED else 'webhook/core was not compiled')"

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="sidecar-injector" \
      org.opencontainers.image.description="Mutating admission webhook that injects sidecar and init containers from ConfigMap templates" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=builder /opt/venv /opt/venv
USER 65532:65532
EXPOSE 8443 9090
ENTRYPOINT ["/opt/venv/bin/sidecar-injector"]
# Without flags, serve is a local trial on 127.0.0.1; in a container the exposed ports must answer.
CMD ["serve", "--host", "0.0.0.0"]
