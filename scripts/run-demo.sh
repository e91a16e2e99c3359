#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make run`: on first start creates the data directory (cpm init) and seeds
# the demo configuration (demo/demo.json), then runs cpmd in the foreground.
# Usage: scripts/run-demo.sh BUILD_DIR DATA_DIR HOST:PORT
set -euo pipefail
build=$1 data=$2 listen=$3

if [[ ! -e "$data/master.key" ]]; then
  echo "First start: creating $data and the demo configuration."
  key=$("$build/cpm" init --data "$data")
  "$build/cpm" seed --data "$data" demo/demo.json
  cat <<MSG

  Admin API key (shown once — copy it now; 'cpm keys create' makes more):

      $key

MSG
fi

# The demo property's HS256 key is in demo/demo.json (public: demo only).
token=$("$build/cpm" token --data "$data" --property demo-shop --subject demo-visitor --ttl 3600)
cat <<MSG
OpenCPM is starting on http://$listen
  demo shop:  http://$listen/demo?token=$token
              (a logged-in visitor's token, valid one hour: 'cpm token --property demo-shop --subject ID'
               mints more; http://$listen/demo without one is an anonymous visitor)
  preferences: http://$listen/center#token=$token&region=CN
  console:    http://$listen/admin  (sign in with the admin API key printed at first start)
  health:     http://$listen/healthz
  API doc:    http://$listen/v1/openapi.json
  try:        curl -H "Authorization: Bearer cpm_…" http://$listen/v1/purposes
Stop with Ctrl-C.
MSG
exec "$build/cpmd" --data "$data" --listen "$listen"
