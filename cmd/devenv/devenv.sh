#!/usr/bin/env bash
# devenv.sh — the PostgreSQL and Redis that `make run` and `make test` use.
#
#   devenv.sh up     use SWIPER_DATABASE_URL / SWIPER_REDIS_URL (or API.md's
#                    defaults) if they answer; otherwise install PostgreSQL
#                    and/or Redis from the distribution's packages if missing
#                    and start private instances under .dev/ on ports 55432
#                    and 56379. Writes .dev/env.sh for the Makefile to source.
#                    Running it again is harmless.
#   devenv.sh down   stop the private instances (their data stays in .dev/).
#
# It needs swiperctl (SWIPERCTL, built by the Makefile) to tell whether a
# server answers.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
dev="$root/.dev"
ctl=${SWIPERCTL:-"$root/bin/swiperctl"}
pg_port=${SWIPER_DEV_PG_PORT:-55432}
redis_port=${SWIPER_DEV_REDIS_PORT:-56379}
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

pg_bindir() { # the newest installed server's bin/, or nothing
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then echo "$d"; fi
  done | sort -V | tail -n 1
}

# PostgreSQL refuses to run as root, so root runs it as the postgres user
# (the package creates it), in a folder that user owns.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_base() { # holds data/, sock/ and postgres.log
  if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$dev"; then
    # The checkout is not reachable by the postgres user (under /root, say).
    echo "/var/tmp/swiper-dev-$(printf '%s' "$root" | sha1sum | cut -c1-12)/postgres"
  else
    echo "$dev/postgres"
  fi
}

start_pg() {
  local bindir; bindir=$(pg_bindir)
  if [ -z "$bindir" ]; then
    apt_install postgresql
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

stop_pg() {
  local bindir base; bindir=$(pg_bindir); base=$(pg_base)
  if [ -z "$bindir" ] || [ ! -s "$base/data/PG_VERSION" ]; then return 0; fi
  if as_pg "$bindir/pg_ctl" -D "$base/data" status >/dev/null 2>&1; then
    log "stopping private PostgreSQL"
    as_pg "$bindir/pg_ctl" -D "$base/data" -m fast -w stop >/dev/null
  fi
}

redis_pid() { # the private Redis's pid, if it runs
  if [ -s "$dev/redis.pid" ] && kill -0 "$(cat "$dev/redis.pid")" 2>/dev/null; then cat "$dev/redis.pid"; fi
}

start_redis() {
  if ! command -v redis-server >/dev/null; then apt_install redis-server; fi
  mkdir -p "$dev/redis"
  if [ -z "$(redis_pid)" ]; then
    log "starting private Redis on 127.0.0.1:$redis_port"
    redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes \
      --pidfile "$dev/redis.pid" --logfile "$dev/redis.log" --dir "$dev/redis" \
      --save "" --appendonly no >/dev/null
  fi
  wait_for redis "$private_redis"
}

stop_redis() {
  local pid; pid=$(redis_pid)
  if [ -z "$pid" ]; then return 0; fi
  log "stopping private Redis"
  kill "$pid"
  local deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  rm -f "$dev/redis.pid"
}

up() {
  mkdir -p "$dev"
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
  printf 'export SWIPER_DATABASE_URL=%q\nexport SWIPER_REDIS_URL=%q\n' "$db" "$rd" > "$dev/env.sh"
}

case "${1:-}" in
  up) up ;;
  down) stop_pg; stop_redis; rm -f "$dev/env.sh" ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
