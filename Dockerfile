# ikdoemee-sync: the daemon (scheduler, outbox relay, e-mail, web) in one image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

# A non-root user; data/ is only used by the SQLite default, mount a volume if you use it.
RUN useradd --create-home --uid 10001 ikdoemee
WORKDIR /app

COPY pyproject.toml README.md ./
COPY connectors ./connectors
COPY mappings ./mappings
COPY samplefeed ./samplefeed
COPY sync ./sync
RUN pip install . && mkdir -p /app/data && chown ikdoemee /app/data

COPY config ./config
USER ikdoemee

EXPOSE 8080
# The web part listens on [web] host/port of the config: set host = "0.0.0.0" in a container.
HEALTHCHECK --interval=60s --timeout=5s --start-period=120s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"

# Migrate, then run the daemon; SIGTERM (docker stop) stops it cleanly.
CMD ["sh", "-c", "ikdoemee-sync --config ${IKDOEMEE_CONFIG:-config/ikdoemee.toml} db upgrade && exec ikdoemee-sync --config ${IKDOEMEE_CONFIG:-config/ikdoemee.toml} run"]
