# syncd: one small process; state, models and drafts live in volumes.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY syncd ./syncd
RUN pip install --no-cache-dir '.[postgres]' && useradd --system --home /app syncd
COPY config ./config
# the volumes' mount points exist and belong to syncd before VOLUME: a new named
# volume takes over their owner, so the daemon (not root) can write its state
RUN mkdir -p /app/config/state /app/config/models /app/config/drafts \
    && chown -R syncd:syncd /app/config/state /app/config/models /app/config/drafts
USER syncd
ENV SYNCD_CONFIG=/app/config/syncd.toml
VOLUME ["/app/config/state", "/app/config/models", "/app/config/drafts"]
# the daemon's own verdict: 0 when nothing needs a person (docs/operations.md)
HEALTHCHECK --interval=5m --timeout=30s --start-period=2m CMD ["syncd", "status"]
ENTRYPOINT ["syncd"]
CMD ["run"]
