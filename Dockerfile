# Slim, non-root image of llm-gateway.
# The base image is pinned by an exact tag (Python 3.11.11 on Debian bookworm); move it on purpose.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, in a layer that is rebuilt only when pyproject.toml changes: the
# [project] dependencies listed there, installed without the package itself.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the code (its dependencies are already in place).
COPY README.md ./
COPY gateway ./gateway
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home /app gateway \
    && mkdir -p /app/logs && chown gateway /app/logs

# The config the container runs is /app/config.toml: mount yours over it. The demo config is
# shipped there so that `docker run` without a mount still starts (mock provider, sk-demo key).
# Relative paths in the config (policies/, logs/) are relative to /app.
COPY config.example.toml ./config.toml
COPY policies ./policies

USER gateway
EXPOSE 8080
# The health check asks the port the config sets ([server] port, 8080 when unset).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import tomllib, urllib.request; port = tomllib.load(open('/app/config.toml', 'rb')).get('server', {}).get('port', 8080); urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2)"]
# Listen on every interface inside the container; the port comes from the config.
CMD ["gateway", "serve", "--config", "/app/config.toml", "--host", "0.0.0.0"]
