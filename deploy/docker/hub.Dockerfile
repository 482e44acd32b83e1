# syntax=docker/dockerfile:1.7
# fedhub hub image: the FastAPI hub (`fedhub serve`). The same image runs the migration job
# (`fedhub db upgrade`) and the Flower SuperLink (`flower-superlink`, whose ServerApp
# subprocesses need fedhub and torch installed: runtime dependency installation is disabled).
#
# Build from the repository root, which is the build context:
#   docker build -f deploy/docker/hub.Dockerfile -t fedhub-hub:0.1.0 .
# deploy/docker/hub.Dockerfile.dockerignore (BuildKit) and the root .dockerignore keep .git,
# .venv, .data, .env, keys and certificates out of the context.
#
# torch is installed FIRST, the CPU build from PyTorch's CPU index: a bare `torch` requirement
# resolves to the CUDA build on PyPI (several GB). The project's `torch==2.13.0` is then already
# satisfied (2.13.0+cpu) and nothing more is downloaded for it.
#
# No secret is copied or baked in: the secret key, database URL, certificates and keys are
# mounted at run time and named by FEDHUB_*_FILE variables (docs/runbook.md).

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_VERSION
ARG TORCH_INDEX_URL
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/fedhub/bin:$PATH
RUN python -m venv /opt/fedhub
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY standards ./standards
COPY hub ./hub
COPY site_agent ./site_agent
COPY training_portal ./training_portal
RUN pip install . \
    && python -c "import torch, hub.app; assert torch.__version__.startswith('${TORCH_VERSION}')"

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/fedhub/bin:$PATH \
    HOME=/var/lib/fedhub \
    FEDHUB_DATA_DIR=/var/lib/fedhub \
    FEDHUB_PORT=8080 \
    FLWR_HOME=/var/lib/flwr
RUN groupadd --system --gid 10001 fedhub \
    && useradd --system --uid 10001 --gid fedhub --home-dir /var/lib/fedhub \
       --shell /usr/sbin/nologin fedhub \
    && install -d -o fedhub -g fedhub -m 0750 /var/lib/fedhub /var/lib/flwr
COPY --from=build /opt/fedhub /opt/fedhub
COPY --chmod=0755 deploy/docker/healthcheck.py /usr/local/bin/fedhub-healthcheck
USER 10001:10001
WORKDIR /var/lib/fedhub
VOLUME ["/var/lib/fedhub"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=6s --start-period=60s --retries=3 \
    CMD ["python", "/usr/local/bin/fedhub-healthcheck"]
ENTRYPOINT ["fedhub"]
CMD ["serve"]
