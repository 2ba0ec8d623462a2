# syncd: one small process; state, models and drafts live in volumes.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY syncd ./syncd
RUN pip install --no-cache-dir '.[postgres]' && useradd --system --home /app syncd
COPY config ./config
USER syncd
ENV SYNCD_CONFIG=/app/config/syncd.toml
VOLUME ["/app/config/state", "/app/config/models", "/app/config/drafts"]
ENTRYPOINT ["syncd"]
CMD ["run"]
