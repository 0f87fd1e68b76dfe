# syndicate's image: build the wheel in one stage, install only the wheel in the next, run as a
# non-root user. compose.yaml builds this file for the api, worker, beat and migrate services.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY syndicate ./syndicate
COPY worker ./worker
COPY templates ./templates
# The project's wheel and a wheel of every dependency, so the runtime stage needs no compiler.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var \
    PUBLIC_DIR=/srv/public
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels syndicate \
    && useradd --system --uid 10001 --home-dir /app syndicate \
    && mkdir -p /app/var /srv/public && chown syndicate /app/var /srv/public
WORKDIR /app
USER syndicate
EXPOSE 8000
CMD ["syndicate", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
