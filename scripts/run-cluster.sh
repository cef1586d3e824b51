#!/usr/bin/env bash
# Runs N jobcast nodes on one PostgreSQL database, for trying a cluster on one machine:
#   scripts/run-cluster.sh 3 postgres://postgres@127.0.0.1:5432/jobcast
# Node i listens on port 3000+i with JOBCAST_NODE_ID=node<i>; all share ./cluster-data/files. The database must
# exist (createdb jobcast); the schema is created by the first node. Put a load balancer in front (any node serves
# any request, streams resume on any node), or talk to the ports directly. Ctrl-C stops every node gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-3}
url=${2:-${JOBCAST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/jobcast}}
mkdir -p cluster-data/files
pids=()
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' INT TERM
for i in $(seq 1 "$count"); do
  JOBCAST_DATABASE_URL="$url" JOBCAST_NODE_ID="node$i" PORT=$((3000 + i)) \
    JOBCAST_DATA_DIR="cluster-data/node$i" JOBCAST_FILES_DIR="cluster-data/files" \
    node bin/jobcast.js serve "${@:3}" &
  pids+=($!)
done
wait
