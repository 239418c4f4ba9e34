#!/bin/sh
# Run once by the postgres image when it creates its data volume (docker-entrypoint-initdb.d):
# lets the cluster profile's postgres-replica stream from this server, with the admit role's password.
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
