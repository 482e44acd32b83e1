# syntax=docker/dockerfile:1.7
# fedhub site agent image: `site-agent run` at a plant or lab. The same image runs the site's
# Flower SuperNode (`flower-supernode`), whose ClientApp subprocesses need fedhub and torch
# installed (SuperNodes do not install dependencies at run time unless told to).
#
# Build from the repository root, which is the build context:
#   docker build -f deploy/docker/site-agent.Dockerfile -t fedhub-site-agent:0.1.0 .
#
# torch is installed FIRST, the CPU build from PyTorch's CPU index: a bare `torch` requirement
# resolves to the CUDA build on PyPI (several GB).
#
# No secret is copied or baked in: the site key pair is generated inside the container by
# `site-agent init` into the SITE_AGENT_HOME volume and never leaves the site; the API key is
# picked up sealed to that key; certificates are mounted at run time.
#
# The site agent serves no HTTP, so its HEALTHCHECK runs `site-agent status` (local state and
# outbox readable); the SuperNode container overrides it with a GET of the SuperNode's /health.

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
    && python -c "import torch, site_agent.cli; assert torch.__version__.startswith('${TORCH_VERSION}')"

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/fedhub/bin:$PATH \
    HOME=/var/lib/site-agent \
    SITE_AGENT_HOME=/var/lib/site-agent \
    FLWR_HOME=/var/lib/flwr
RUN groupadd --system --gid 10001 fedhub \
    && useradd --system --uid 10001 --gid fedhub --home-dir /var/lib/site-agent \
       --shell /usr/sbin/nologin fedhub \
    && install -d -o fedhub -g fedhub -m 0700 /var/lib/site-agent /var/lib/flwr
COPY --from=build /opt/fedhub /opt/fedhub
COPY --chmod=0755 deploy/docker/healthcheck.py /usr/local/bin/fedhub-healthcheck
USER 10001:10001
WORKDIR /var/lib/site-agent
VOLUME ["/var/lib/site-agent"]
HEALTHCHECK --interval=60s --timeout=30s --start-period=30s --retries=3 \
    CMD ["site-agent", "status"]
ENTRYPOINT ["site-agent"]
CMD ["run"]
