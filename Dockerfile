# Slim, non-root image of llm-gateway.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip install . && useradd --system --uid 10001 --home /app gateway \
    && mkdir -p /app/logs && chown gateway /app/logs

COPY config.example.toml ./
COPY policies ./policies

USER gateway
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"
# Listen on every interface inside the container; mount your own config over /app/config.toml.
CMD ["gateway", "serve", "--config", "config.example.toml", "--host", "0.0.0.0"]
