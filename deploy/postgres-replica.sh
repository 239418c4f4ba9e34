#!/usr/bin/env bash
# docker compose's postgres-replica (cluster profile): a hot standby of the postgres service. Its
# first start copies the primary with pg_basebackup (-R: standby.signal and the primary's address,
# so it then streams from it); later starts carry on streaming from where it stopped.
set -euo pipefail
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  # An interrupted copy leaves a partial directory: start it again from nothing.
  find "$PGDATA" -mindepth 1 -delete
  pg_basebackup -h postgres -U admit -D "$PGDATA" -X stream -R -c fast
  chmod 0700 "$PGDATA"
fi
exec postgres -D "$PGDATA"
