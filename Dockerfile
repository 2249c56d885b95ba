# syntax=docker/dockerfile:1
# One image recipe for every service:
#   docker build --build-arg SERVICE=intake -t coachline/intake .
# SERVICE is one of: intake, evaluation, coaching, kpi, notifications.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS builder
ARG SERVICE
# Fail at the first step rather than producing an image that cannot start.
RUN test -n "${SERVICE}" || { echo "build with --build-arg SERVICE=<intake|evaluation|coaching|kpi|notifications>" >&2; exit 1; }
WORKDIR /src
COPY libs/ libs/
COPY services/${SERVICE}/ services/${SERVICE}/
# Wheels of the shared package, the service and every dependency, so the final stage installs offline
# and carries no build tooling. pip resolves the service's `coachline-libs` requirement to ./libs.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --wheel-dir /wheels ./libs ./services/${SERVICE}

FROM python:${PYTHON_VERSION}-slim
ARG SERVICE
ENV SERVICE=${SERVICE} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The settings default to loopback, which nothing outside the container can reach. Only the running
# service's own variable is read, so setting all five is harmless.
ENV INTAKE_HTTP_HOST=0.0.0.0 \
    EVALUATION_HTTP_HOST=0.0.0.0 \
    COACHING_HTTP_HOST=0.0.0.0 \
    KPI_HTTP_HOST=0.0.0.0 \
    NOTIFICATIONS_HTTP_HOST=0.0.0.0
# A numeric uid lets Kubernetes verify runAsNonRoot without looking inside the image.
RUN groupadd --system --gid 10001 coachline \
    && useradd --system --uid 10001 --gid coachline --no-create-home --shell /usr/sbin/nologin coachline
# Bind-mounting the wheels keeps them out of every layer of the final image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels "coachline-${SERVICE}"
USER 10001:10001
# `exec` makes Python PID 1, so SIGTERM from `docker stop` or the kubelet reaches uvicorn's graceful shutdown.
CMD ["sh", "-c", "exec python -m coachline_${SERVICE}"]
