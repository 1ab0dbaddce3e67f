# One image for every Relais service and the portal; RELAIS_SERVICE chooses which one a
# container runs (intake, referral, casework, reporting or portal). See docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY contracts ./contracts
COPY services ./services
COPY relais ./relais
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent relais \
    && mkdir -p /data /accounts \
    && chown relais:relais /data /accounts

# Keys, NATS passwords and the integrators' registry live in /data; mount a volume there so
# they survive restarts. /accounts: the NATS accounts block (docker-compose.yml).
ENV RELAIS_DATA_DIR=/data \
    RELAIS_HOST=0.0.0.0
VOLUME ["/data"]
USER relais

CMD ["sh", "-c", "exec python -m \"services.${RELAIS_SERVICE:?set RELAIS_SERVICE to intake, referral, casework, reporting or portal}\""]
