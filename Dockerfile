# Build stage: durable_rules ships as source only and compiles C; so does our
# native build of the decision path's hot modules (setup.py, mypyc).
FROM python:3.12-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY policy_service ./policy_service
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/venv/bin/pip install --no-cache-dir .

# Runtime stage: no compiler, non-root.
FROM python:3.12-slim
RUN useradd --system --uid 10001 --home-dir /app policy
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY rules ./rules
ENV PATH=/opt/venv/bin:$PATH \
    POLICY_HOST=0.0.0.0 \
    POLICY_PORT=8080 \
    POLICY_RULES_DIR=/app/rules \
    POLICY_STATE_URL=memory://
# The bearer tokens are never part of the image: the operator mounts a tokens
# file at this path (docker-compose.yml: a read-only volume; or a Docker or
# Kubernetes secret). Without it the service refuses to start (README, Access
# control); the healthcheck then never passes.
ENV POLICY_TOKENS_FILE=/run/secrets/policy-tokens.yaml
USER policy
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)" || exit 1
ENTRYPOINT ["policy-service", "serve"]
