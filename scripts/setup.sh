#!/usr/bin/env bash
# Installs what Stockade needs and is missing: npm dependencies, redis-server and
# the PostgreSQL server binaries. Fast (well under a second) when nothing is missing.
# As root it installs system packages with apt-get; otherwise it prints the command.
set -euo pipefail
cd "$(dirname "$0")/.."

# npm dependencies: `npm ci` (exactly the lock) when node_modules is absent or was
# installed from another package-lock.json or other patches/. Its postinstall
# applies patches/ (patch-package).
stamp=node_modules/.stockade-lock
shopt -s nullglob
want=$(cat package-lock.json patches/*.patch | sha1sum | cut -d' ' -f1)
if [ -L node_modules ]; then
  # Another checkout's install, linked in: not this script's to replace.
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
    || echo "setup: node_modules links to an install of another package-lock.json; not reinstalling it" >&2
elif [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
# An install with --ignore-scripts skipped the patches: apply them (fails loudly if one does not
# apply). Checked by the marker of patches/postgres+3.4.9.patch: running patch-package takes a second.
[ ! -f patches/postgres+3.4.9.patch ] || grep -q 'stockade: closed-socket guard' node_modules/postgres/src/connection.js \
  || npm run --silent postinstall >&2

# System packages: not needed by `setup.sh start` when both services are given
# by URL (docker-compose); the test suite always runs its own.
if [ "${1:-}" = start ] && [ -n "${REDIS_URL:-}" ] && [ -n "${DATABASE_URL:-}" ]; then exit 0; fi
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
have_pg=no
if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then have_pg=yes; fi
if [ "$have_pg" = no ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then have_pg=yes; fi
[ "$have_pg" = yes ] || missing+=(postgresql)
# The suite watches the payment provider's fsyncs with strace (test/provider-durability.test.ts).
[ "${1:-}" = start ] || command -v strace >/dev/null 2>&1 || missing+=(strace)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${missing[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    echo "setup: missing ${missing[*]}; install with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
