#!/usr/bin/env bash
# Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d):
# the back offices' ticketing databases beside the gateway's store, owned by a role of
# their own, each with the schema its back office made (/ticketing/*.sql, one database
# per file). The role's password comes from the environment, never from a file.
set -euo pipefail

: "${TICKETS_DB_PASSWORD:?set TICKETS_DB_PASSWORD}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v password="$TICKETS_DB_PASSWORD" <<'SQL'
CREATE ROLE tickets LOGIN PASSWORD :'password';
SQL

for schema in /ticketing/*.sql; do
    name="tickets_$(basename "$schema" .sql | tr '-' '_')"
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
         -v name="$name" <<'SQL'
CREATE DATABASE :"name" OWNER tickets;
SQL
    psql -v ON_ERROR_STOP=1 --single-transaction --username "$POSTGRES_USER" \
         --dbname "$name" -c 'SET ROLE tickets' -f "$schema"
done
