#!/usr/bin/env bash
# Restore a backup.sh archive into an EMPTY database, in one transaction, then check that every
# trigger in the archive exists again (the audit trail's append-only triggers among them).
#
#   deploy/postgres/restore.sh DUMP_FILE TARGET_DBNAME
#
# Create the target first (createdb -O fedhub fedhub_restored); restoring over a live database
# is refused. Objects are owned by the restoring role (--no-owner). Afterwards point
# FEDHUB_DATABASE_URL(_FILE) at the target and run `fedhub db current` and `fedhub audit verify`.
set -euo pipefail

dump=${1:?usage: restore.sh DUMP_FILE TARGET_DBNAME}
db=${2:?usage: restore.sh DUMP_FILE TARGET_DBNAME}
db=${db/postgresql+psycopg:/postgresql:}

if [[ -f "$dump.sha256" ]]; then
  (cd "$(dirname "$dump")" && sha256sum --check --quiet "$(basename "$dump").sha256")
fi
existing=$(psql --no-password --dbname="$db" --tuples-only --no-align --command \
  "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
if [[ "$existing" != "0" ]]; then
  echo "error: target database already has $existing tables; restore into an empty database" >&2
  exit 2
fi
pg_restore --no-password --exit-on-error --single-transaction --no-owner --no-privileges \
  --dbname="$db" "$dump"

expected=$(pg_restore --list "$dump" | grep " TRIGGER " | awk '{print $(NF-1)}' | sort)
present=$(psql --no-password --dbname="$db" --tuples-only --no-align --command \
  "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1" | sort)
missing=$(comm -23 <(echo "$expected") <(echo "$present"))
if [[ -n "$missing" ]]; then
  echo "error: triggers missing after restore: $missing" >&2
  exit 1
fi
echo "restored $dump into $db; $(echo "$expected" | grep -c . || true) triggers present"
