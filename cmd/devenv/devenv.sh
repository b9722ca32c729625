#!/usr/bin/env bash
# devenv.sh — the PostgreSQL, Redis and etcd that `make run`, `make test`
# and clusters use.
#
#   devenv.sh up [--etcd]
#                    use SWIPER_DATABASE_URL / SWIPER_REDIS_URL (or API.md's
#                    defaults) if they answer; otherwise install PostgreSQL
#                    and/or Redis from the distribution's packages if missing
#                    and start private instances under .dev/ on ports 55432
#                    and 56379. With --etcd (clusters and make test; one node
#                    alone needs no etcd) also etcd: SWIPER_ETCD_ENDPOINTS
#                    (default 127.0.0.1:2379) if it is healthy, else a
#                    private etcd (Debian's etcd-server, installed if
#                    missing) on 127.0.0.1:2379, or a free port if that is
#                    taken. Writes .dev/env.sh for the Makefile to source.
#                    Running it again is harmless.
#   devenv.sh down   stop the private instances (their data stays in .dev/;
#                    etcd's, only leases, begins afresh at its next start),
#                    saying what it stopped and what it left alone. `stop`
#                    is the same.
#   devenv.sh around [--etcd] CMD...
#                    what `make test` runs: a C compiler for -race (installed
#                    if missing), then `up`, then CMD; afterwards, pass or
#                    fail, it stops the private instances it started itself
#                    once no other `around` still uses them. Instances that
#                    ran before (make run) keep running.
#   devenv.sh cc     make sure `go test -race` can build (cgo and a C compiler).
#   devenv.sh admin-token
#                    print the dev admin token make run gives swiperd,
#                    creating .dev/admin-token the first time.
#
# It needs swiperctl (SWIPERCTL, built by the Makefile) to tell whether a
# server answers. SWIPER_DEV_DIR moves .dev/ (tests use it).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
dev=${SWIPER_DEV_DIR:-"$root/.dev"}
ctl=${SWIPERCTL:-"$root/bin/swiperctl"}
pg_port=${SWIPER_DEV_PG_PORT:-55432}
redis_port=${SWIPER_DEV_REDIS_PORT:-56379}
# The private etcd's client port: 2379, what cluster-config/ names, unless
# something else listens there (then a free one; env.sh says which).
etcd_port=${SWIPER_DEV_ETCD_PORT:-2379}
private_db="postgres://postgres@127.0.0.1:$pg_port/swiper?sslmode=disable"
private_redis="redis://127.0.0.1:$redis_port/0"

log() { printf 'devenv: %s\n' "$*" >&2; }

redact() { # a URL without its password or query
  printf '%s' "${1%%\?*}" | sed -E 's#(//[^:/@]*):[^@/]*@#\1:xxxxx@#'
}

# answers pg|redis URL: does the server answer? Why not goes to $dev/why.
answers() {
  if [ "$1" = pg ]; then
    SWIPER_DATABASE_URL=$2 "$ctl" check -quiet -only postgres 2>"$dev/why"
  else
    SWIPER_REDIS_URL=$2 "$ctl" check -quiet -only redis 2>"$dev/why"
  fi
}

# wait_for pg|redis URL: poll until it answers, for up to a minute.
wait_for() {
  local deadline=$((SECONDS + 60))
  until answers "$1" "$2"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "$1 at $2 did not come up: $(cat "$dev/why"); see the logs under $dev"
      return 1
    fi
    sleep 0.5
  done
}

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    log "installing packages needs root, and there is no sudo: install them yourself, or set SWIPER_DATABASE_URL / SWIPER_REDIS_URL"
    exit 1
  fi
}

apt_install() {
  if ! command -v apt-get >/dev/null; then
    log "no apt-get: install $* yourself, or set SWIPER_DATABASE_URL / SWIPER_REDIS_URL"
    exit 1
  fi
  log "installing $* from the distribution's packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# install_server PACKAGE SERVICE: install a server package without the
# system service it brings. Debian starts and enables a package's service on
# install; Swiper runs private instances instead, and a system Redis left on
# 6379 would be picked up by the next `make run` (it answers at the default
# URL) where `make stop` cannot stop it. So a policy-rc.d keeps the service
# from starting during the install, and the service is disabled after.
install_server() {
  local pkg=$1 svc=$2 policy=${SWIPER_DEV_POLICY_RC:-/usr/sbin/policy-rc.d}
  if ! command -v apt-get >/dev/null; then apt_install "$pkg"; fi # says why not
  if as_root test -e "$policy"; then
    apt_install "$pkg" # someone else's policy (Docker's forbids every start)
  else
    (
      # Removed however the install ends, even interrupted.
      trap 'as_root rm -f "$policy"' EXIT
      as_root sh -c "printf '#!/bin/sh\\n# devenv.sh: no service starts while it installs %s\\nexit 101\\n' '$pkg' > '$policy' && chmod 755 '$policy'"
      apt_install "$pkg"
    )
  fi
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    as_root systemctl disable --now "$svc" >/dev/null 2>&1 || true
  else
    if command -v update-rc.d >/dev/null; then as_root update-rc.d "$svc" disable >/dev/null 2>&1 || true; fi
    if command -v service >/dev/null; then as_root service "$svc" stop >/dev/null 2>&1 || true; fi
  fi
  log "left the system $svc service stopped and disabled: Swiper runs its own instance under $dev"
}

pg_bindir() { # the newest installed server's bin/, or nothing
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then echo "$d"; fi
  done | sort -V | tail -n 1
}

# PostgreSQL refuses to run as root, so root runs it as the postgres user
# (the package creates it), in a folder that user owns, from /: the
# caller's directory (under /root, say) is one postgres may not enter, and
# initdb and pg_ctl would each say "could not change directory".
as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_base() { # holds data/, sock/ and postgres.log
  if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && ! as_pg test -x "$dev"; then
    # The checkout is not reachable by the postgres user (under /root, say).
    echo "/var/tmp/swiper-dev-$(printf '%s' "$dev" | sha1sum | cut -c1-12)/postgres"
  else
    echo "$dev/postgres"
  fi
}

start_pg() {
  local bindir; bindir=$(pg_bindir)
  if [ -z "$bindir" ]; then
    install_server postgresql postgresql
    bindir=$(pg_bindir)
    if [ -z "$bindir" ]; then
      log "PostgreSQL was installed but no server binaries were found under /usr/lib/postgresql"
      exit 1
    fi
  fi
  local base; base=$(pg_base)
  if [ ! -s "$base/data/PG_VERSION" ]; then
    log "creating a private PostgreSQL cluster in $base/data"
    rm -rf "$base/data" # whatever an interrupted initdb left
    mkdir -p "$base/data" "$base/sock"
    if [ "$(id -u)" = 0 ]; then chown -R postgres "$base"; fi
    as_pg "$bindir/initdb" -D "$base/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! as_pg "$bindir/pg_ctl" -D "$base/data" status >/dev/null 2>&1; then
    log "starting private PostgreSQL on 127.0.0.1:$pg_port"
    as_pg "$bindir/pg_ctl" -D "$base/data" -l "$base/postgres.log" -w -t 60 start \
      -o "-p $pg_port -c listen_addresses=127.0.0.1 -k '$base/sock' -c max_connections=300 -c shared_buffers=256MB" >/dev/null
  fi
  wait_for pg "$private_db"
}

pg_running() { # does the private PostgreSQL run?
  local bindir base; bindir=$(pg_bindir); base=$(pg_base)
  [ -n "$bindir" ] && [ -s "$base/data/PG_VERSION" ] &&
    as_pg "$bindir/pg_ctl" -D "$base/data" status >/dev/null 2>&1
}

stop_pg() { # stop_pg: stop the private PostgreSQL; false if it did not run
  if ! pg_running; then return 1; fi
  local bindir base; bindir=$(pg_bindir); base=$(pg_base)
  log "stopping the private PostgreSQL on 127.0.0.1:$pg_port (data stays in $base/data)"
  as_pg "$bindir/pg_ctl" -D "$base/data" -m fast -w stop >/dev/null
}

redis_pid() { # the private Redis's pid, if it runs
  if [ -s "$dev/redis.pid" ] && kill -0 "$(cat "$dev/redis.pid")" 2>/dev/null; then cat "$dev/redis.pid"; fi
}

start_redis() {
  if ! command -v redis-server >/dev/null; then install_server redis-server redis-server; fi
  mkdir -p "$dev/redis"
  if [ -z "$(redis_pid)" ]; then
    log "starting private Redis on 127.0.0.1:$redis_port"
    redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes \
      --pidfile "$dev/redis.pid" --logfile "$dev/redis.log" --dir "$dev/redis" \
      --save "" --appendonly no >/dev/null 9>&- # not the lock: see start_etcd
  fi
  wait_for redis "$private_redis"
}

stop_redis() { # stop_redis: stop the private Redis; false if it did not run
  local pid; pid=$(redis_pid)
  if [ -z "$pid" ]; then return 1; fi
  log "stopping the private Redis on 127.0.0.1:$redis_port"
  kill "$pid"
  local deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then log "the private Redis (pid $pid) did not stop within 10 s"; return 0; fi
  rm -f "$dev/redis.pid"
}

# etcd_healthy ENDPOINTS: does every comma-separated endpoint answer
# GET /health with health true, each within 3 s? Why not goes to $dev/why.
# Plain endpoints are asked with bash's /dev/tcp (no client needed; Debian's
# etcd-server has no etcdctl), https ones with curl.
etcd_healthy() {
  local ep hostport host port body
  local -a eps
  : > "$dev/why"
  IFS=, read -ra eps <<< "$1"
  for ep in "${eps[@]}"; do
    ep=${ep// /}
    [ -n "$ep" ] || continue
    case $ep in
      https://*)
        if ! command -v curl >/dev/null; then echo "$ep: checking an https endpoint needs curl" > "$dev/why"; return 1; fi
        body=$(curl -fsS --max-time 3 "$ep/health" 2>&1) || { echo "$ep: $body" > "$dev/why"; return 1; }
        ;;
      *)
        hostport=${ep#http://}
        host=${hostport%:*} port=${hostport##*:}
        host=${host#[} host=${host%]}
        body=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "GET /health HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" >&3 && cat <&3' _ "$host" "$port" 2>&1) ||
          { echo "$ep: no answer: ${body:-timed out}" | tail -n 1 > "$dev/why"; return 1; }
        ;;
    esac
    if ! grep -q '"health": *"true"' <<< "$body"; then
      echo "$ep: not healthy: $(tail -n 1 <<< "$body" | head -c 200)" > "$dev/why"
      return 1
    fi
  done
}

port_taken() { # port_taken PORT: does something listen on 127.0.0.1:PORT?
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

free_port() { # free_port [PREFERRED]: PREFERRED if nothing listens there, else a free one
  local p=${1:-} i
  if [ -n "$p" ] && ! port_taken "$p"; then echo "$p"; return; fi
  for i in $(seq 50); do
    p=$((20000 + RANDOM % 30000))
    if ! port_taken "$p"; then echo "$p"; return; fi
  done
  log "found no free loopback port for etcd"
  exit 1
}

etcd_pid() { # the private etcd's pid, if it runs (and is etcd: pids are reused)
  local pid
  if [ -s "$dev/etcd.pid" ]; then
    pid=$(cat "$dev/etcd.pid")
    if kill -0 "$pid" 2>/dev/null; then
      # setsid, for the moment before it execs etcd; no /proc: trust the file
      case $(cat "/proc/$pid/comm" 2>/dev/null || echo etcd) in etcd | setsid) echo "$pid" ;; esac
    fi
  fi
}

private_etcd() { cat "$dev/etcd.endpoint"; } # the running private etcd's endpoint

# start_etcd: run a private etcd, the binary (the package's systemd unit is
# of no use in a container), on loopback, its data in $dev/etcd. The data
# is only leases and membership, which die with it, so each start begins
# afresh: no stale member or peer URL from a start on other ports.
start_etcd() {
  if ! command -v etcd >/dev/null; then
    install_server etcd-server etcd
    if ! command -v etcd >/dev/null; then log "etcd-server was installed but there is no etcd on PATH"; exit 1; fi
  fi
  if [ -z "$(etcd_pid)" ]; then
    local cport pport
    cport=$(free_port "$etcd_port")
    pport=$(free_port "$((cport + 1))")
    if [ "$cport" = "$pport" ]; then pport=$(free_port); fi
    rm -rf "$dev/etcd"
    mkdir -p "$dev/etcd"
    chmod 700 "$dev/etcd"
    log "starting private etcd on 127.0.0.1:$cport (peer port $pport, log in $dev/etcd.log)"
    # Its own session (make's Ctrl-C does not reach it), no inherited
    # stdout (a caller reading ours would wait on it) and not fd 9, the
    # lock: a daemon holding it would keep it locked after an exit 1 that
    # skips unlock, and every later devenv.sh would wait for it forever.
    setsid etcd --name swiper-dev --data-dir "$dev/etcd" \
      --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
      --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
      --initial-cluster "swiper-dev=http://127.0.0.1:$pport" --initial-cluster-state new \
      --initial-cluster-token "swiper-dev-$cport" \
      </dev/null >"$dev/etcd.log" 2>&1 9>&- &
    echo $! > "$dev/etcd.pid"
    echo "127.0.0.1:$cport" > "$dev/etcd.endpoint"
  fi
  local ep pid deadline=$((SECONDS + 60))
  ep=$(private_etcd)
  until etcd_healthy "$ep"; do
    pid=$(etcd_pid)
    if [ -z "$pid" ]; then
      log "the private etcd exited: $(tail -n 3 "$dev/etcd.log" 2>/dev/null | head -c 600)"
      log "its whole log: $dev/etcd.log"
      rm -f "$dev/etcd.pid"
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "the private etcd (pid $pid) at $ep was not healthy within 60 s: $(cat "$dev/why"); see $dev/etcd.log"
      stop_etcd || true
      exit 1
    fi
    sleep 0.2
  done
}

stop_etcd() { # stop_etcd: stop the private etcd; false if it did not run
  local pid; pid=$(etcd_pid)
  if [ -z "$pid" ]; then return 1; fi
  log "stopping the private etcd on $(private_etcd)"
  kill "$pid"
  local deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "the private etcd (pid $pid) did not stop within 10 s; killing it"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dev/etcd.pid" "$dev/etcd.endpoint"
}

# up_etcd: choose the etcd env.sh names (sets $etcd_eps).
up_etcd() {
  if [ -n "${SWIPER_ETCD_ENDPOINTS:-}" ]; then
    if etcd_healthy "$SWIPER_ETCD_ENDPOINTS"; then
      log "using etcd at $SWIPER_ETCD_ENDPOINTS"
      etcd_eps=$SWIPER_ETCD_ENDPOINTS
      return
    fi
    log "no healthy etcd at SWIPER_ETCD_ENDPOINTS=$SWIPER_ETCD_ENDPOINTS ($(cat "$dev/why")); using a private instance"
  elif [ -z "$(etcd_pid)" ] && etcd_healthy 127.0.0.1:2379; then
    log "using etcd at 127.0.0.1:2379, which devenv did not start"
    etcd_eps=127.0.0.1:2379
    return
  fi
  start_etcd
  etcd_eps=$(private_etcd)
}

# Concurrent runs (two `make test`s, or one beside `make run`) share the
# private instances, so starting and stopping them happens under a lock on
# $dev/lock. $dev/transient lists the instances an `around` started and
# nobody has claimed since (a plain `up`, as make run does, claims them);
# $dev/holders has a file per live `around`, named by its pid. The last
# holder to leave stops the transient instances.
lock() { exec 9>"$dev/lock"; flock 9; }
unlock() { flock -u 9; exec 9>&-; }

prune_holders() { # forget holders whose process is gone (killed, say)
  local f
  for f in "$dev/holders"/*; do
    [ -e "$f" ] || continue
    kill -0 "${f##*/}" 2>/dev/null || rm -f "$f"
  done
}

up() {
  mkdir -p "$dev"
  lock
  up_locked "$@"
  # Whatever runs now is make run's (or the user's) to keep: a plain `up`
  # claims it, except when an `around` runs it (make test's own services
  # step).
  if [ -z "${SWIPER_DEVENV_AROUND:-}" ]; then rm -f "$dev/transient"; fi
  unlock
}

up_locked() { # up_locked [--etcd]
  local want_etcd='' etcd_eps=''
  if [ "${1:-}" = --etcd ]; then want_etcd=1; fi
  if [ ! -x "$ctl" ]; then log "$ctl is missing: run make build"; exit 1; fi
  local db=${SWIPER_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/swiper?sslmode=disable}
  local rd=${SWIPER_REDIS_URL:-redis://127.0.0.1:6379/0}
  if answers pg "$db"; then
    log "using PostgreSQL at $(redact "$db")"
  else
    log "no PostgreSQL answers at $(redact "$db") ($(tail -n 1 "$dev/why" | head -c 300)); using a private instance"
    start_pg
    db=$private_db
  fi
  if answers redis "$rd"; then
    log "using Redis at $(redact "$rd")"
  else
    log "no Redis answers at $(redact "$rd") ($(tail -n 1 "$dev/why" | head -c 300)); using a private instance"
    start_redis
    rd=$private_redis
  fi
  if [ -n "$want_etcd" ]; then
    up_etcd
  elif [ -n "$(etcd_pid)" ]; then
    etcd_eps=$(private_etcd) # started before for a cluster: still there to use
  fi
  printf 'export SWIPER_DATABASE_URL=%q\nexport SWIPER_REDIS_URL=%q\n' "$db" "$rd" > "$dev/env.sh"
  if [ -n "$etcd_eps" ]; then
    printf 'export SWIPER_ETCD_ENDPOINTS=%q\n' "$etcd_eps" >> "$dev/env.sh"
  fi
}

# around CMD...: up, CMD, then stop what this started once no other around
# needs it; exits with CMD's status.
around() { # around [--etcd] CMD...
  local flags=()
  if [ "$1" = --etcd ]; then flags=(--etcd); shift; fi
  need_cc
  need_chromium
  mkdir -p "$dev/holders"
  lock
  prune_holders
  local had_pg='' had_redis='' had_etcd=''
  if pg_running; then had_pg=1; fi
  if [ -n "$(redis_pid)" ]; then had_redis=1; fi
  if [ -n "$(etcd_pid)" ]; then had_etcd=1; fi
  up_locked "${flags[@]}"
  if [ -z "$had_pg" ] && pg_running; then echo pg >> "$dev/transient"; fi
  if [ -z "$had_redis" ] && [ -n "$(redis_pid)" ]; then echo redis >> "$dev/transient"; fi
  if [ -z "$had_etcd" ] && [ -n "$(etcd_pid)" ]; then echo etcd >> "$dev/transient"; fi
  : > "$dev/holders/$$"
  unlock
  trap leave EXIT
  local status=0
  SWIPER_DEVENV_AROUND=1 "$@" || status=$?
  exit "$status"
}

leave() { # the EXIT trap of around
  lock
  rm -f "$dev/holders/$$"
  prune_holders
  if [ -z "$(ls -A "$dev/holders")" ] && [ -s "$dev/transient" ]; then
    if grep -qx pg "$dev/transient"; then stop_pg || true; fi
    if grep -qx redis "$dev/transient"; then stop_redis || true; fi
    if grep -qx etcd "$dev/transient"; then stop_etcd || true; fi
    rm -f "$dev/transient"
  elif [ -s "$dev/transient" ]; then
    log "leaving the private instances running: another make test uses them"
  fi
  unlock
}

# down: stop the private instances, and say what runs that is not ours.
down() {
  mkdir -p "$dev"
  lock
  local db='' rd='' et='' private_et=''
  if [ -s "$dev/env.sh" ]; then
    db=$(source "$dev/env.sh" && echo "$SWIPER_DATABASE_URL")
    rd=$(source "$dev/env.sh" && echo "$SWIPER_REDIS_URL")
    et=$(source "$dev/env.sh" && echo "${SWIPER_ETCD_ENDPOINTS:-}")
  fi
  if [ -n "$(etcd_pid)" ]; then private_et=$(private_etcd); fi
  stop_pg || log "no private PostgreSQL was running"
  stop_redis || log "no private Redis was running"
  stop_etcd || log "no private etcd was running"
  if [ -n "$db" ] && [ "$db" != "$private_db" ]; then
    log "left alone: the PostgreSQL at $(redact "$db"), which devenv did not start (stop it the way it was started)"
  fi
  if [ -n "$rd" ] && [ "$rd" != "$private_redis" ]; then
    log "left alone: the Redis at $(redact "$rd"), which devenv did not start (a distribution's service stops with: sudo systemctl disable --now redis-server)"
  fi
  if [ -n "$et" ] && [ "$et" != "$private_et" ]; then
    log "left alone: the etcd at $et, which devenv did not start"
  fi
  rm -f "$dev/env.sh" "$dev/transient"
  unlock
}

# need_cc: go test -race needs cgo, so a C compiler; install gcc if there
# is none, as PostgreSQL and Redis are installed.
need_cc() {
  local go=${GO:-go} cc
  cc=$("$go" env CC)
  cc=${cc%% *}
  if ! command -v "$cc" >/dev/null 2>&1; then
    case "$cc" in
      gcc | cc)
        log "go test -race needs cgo and so a C compiler; there is none"
        apt_install gcc libc6-dev
        ;;
      *)
        log "go test -race needs a C compiler, and CC=$cc is not found"
        exit 1
        ;;
    esac
  fi
  if [ "$("$go" env CGO_ENABLED)" != 1 ]; then
    log "go test -race needs cgo, but CGO_ENABLED is 0 ($("$go" env GOENV), or the environment): unset it"
    exit 1
  fi
}

# need_chromium: the web app's tests drive a headless Chromium; install
# Debian's if there is none (SWIPER_CHROMIUM names another; the tests fail
# without one unless SWIPER_SKIP_BROWSER=1).
need_chromium() {
  if [ -n "${SWIPER_CHROMIUM:-}" ] || [ "${SWIPER_SKIP_BROWSER:-}" = 1 ]; then
    return
  fi
  if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    log "the browser tests need Chromium; there is none"
    apt_install chromium
  fi
}

# admin_token: the dev admin token make run gives swiperd, made once.
admin_token() {
  mkdir -p "$dev"
  if [ ! -s "$dev/admin-token" ]; then
    (umask 077 && head -c 24 /dev/urandom | base64 | tr '+/' '-_' > "$dev/admin-token")
  fi
  cat "$dev/admin-token"
}

case "${1:-}" in
  up)
    shift
    case "${1:-}" in
      '' | --etcd) up "$@" ;;
      *) echo "usage: $0 up [--etcd]" >&2; exit 2 ;;
    esac
    ;;
  down | stop) down ;;
  around)
    shift
    if [ $# = 0 ] || [ "$*" = --etcd ]; then echo "usage: $0 around [--etcd] CMD..." >&2; exit 2; fi
    around "$@"
    ;;
  cc) need_cc ;;
  chromium) need_chromium ;;
  admin-token) admin_token ;;
  *) echo "usage: $0 up [--etcd]|down|around [--etcd] CMD...|cc|admin-token" >&2; exit 2 ;;
esac
