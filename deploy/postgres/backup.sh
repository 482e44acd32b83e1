#!/usr/bin/env bash
# Back up the hub's PostgreSQL database: pg_dump custom format, a SHA-256 beside it, and a check
# that pg_restore can read the archive back.
#
#   deploy/postgres/backup.sh OUT_FILE [DBNAME]
#
# Connection: the usual libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD or ~/.pgpass);
# DBNAME defaults to $PGDATABASE, then "fedhub". It may also be a connection URI
# ("postgresql://fedhub@db:5432/fedhub"); keep passwords out of it, they would show in `ps`.
set -euo pipefail

out=${1:?usage: backup.sh OUT_FILE [DBNAME]}
db=${2:-${PGDATABASE:-fedhub}}
db=${db/postgresql+psycopg:/postgresql:}   # accept a FEDHUB_DATABASE_URL as written

umask 077
tmp="$out.partial"
trap 'rm -f "$tmp"' EXIT
pg_dump --format=custom --compress=6 --no-password --dbname="$db" --file="$tmp"
pg_restore --list "$tmp" >/dev/null
mv "$tmp" "$out"
trap - EXIT
(cd "$(dirname "$out")" && sha256sum "$(basename "$out")" > "$(basename "$out").sha256")
tables=$(pg_restore --list "$out" | grep -c " TABLE DATA " || true)
triggers=$(pg_restore --list "$out" | grep -c " TRIGGER " || true)
echo "backup $out: $(stat -c %s "$out") bytes, $tables tables with data, $triggers triggers"
