# One image for every Maestro service of docker-compose.yml: the code location, the Dagster
# webserver and daemon, Celery workers, Optuna workers and the API with the built chart UI.
FROM node:20-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster_home MAESTRO_DATA_DIR=/data
RUN pip install --no-cache-dir "uv>=0.9,<1"
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY maestro_pipeline/ maestro_pipeline/
COPY api/ api/
RUN uv sync --frozen --no-dev --extra distributed
COPY workspace.yaml ./
COPY deploy/ deploy/
COPY --from=frontend /src/frontend/dist frontend/dist
RUN mkdir -p $DAGSTER_HOME /data && cp deploy/distributed/dagster.yaml $DAGSTER_HOME/
