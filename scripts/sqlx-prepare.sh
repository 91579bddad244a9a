#!/usr/bin/env bash
# Regenerates .sqlx/ (sqlx's offline query data) after a change to migrations/ or to a query
# in src/db/state.rs. Needs a PostgreSQL where it may create a scratch database; sqlx-cli is not
# needed: building with DATABASE_URL and SQLX_OFFLINE_DIR set makes the macros write the data.
#
#   scripts/sqlx-prepare.sh [ADMIN_URL]   (default postgres://postgres@127.0.0.1:5432/postgres)
set -euo pipefail
cd "$(dirname "$0")/.."

admin=${1:-postgres://postgres@127.0.0.1:5432/postgres}
db=stagegate_sqlx_prepare_$$
base=${admin%/*}

psql -q -v ON_ERROR_STOP=1 "$admin" -c "CREATE DATABASE $db"
trap 'psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
psql -q -v ON_ERROR_STOP=1 "$base/$db" -c "CREATE SCHEMA stagegate"
for file in migrations/*.sql; do
  psql -q -v ON_ERROR_STOP=1 -1 "$base/$db" -f "$file"
done

rm -rf .sqlx
mkdir .sqlx
# Force the query macros to expand again.
touch src/db/state.rs
DATABASE_URL="$base/$db" SQLX_OFFLINE_DIR="$PWD/.sqlx" cargo check --lib
echo "wrote $(ls .sqlx | wc -l) query files to .sqlx/" >&2
