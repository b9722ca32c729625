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

answers() { # answers pg|redis URL
  if [ "$1" = pg ]; then
    SWIPER_DATABASE_URL=$2 "$ctl" check -quiet -only postgres 2>/dev/null
  else
    SWIPER_REDIS_URL=$2 "$ctl" check -quiet -only redis 2>/dev/null
  fi
}

wait_for() { # wait_for pg|redis URL: poll until it answers, for up to 30 s
  for _ in $(seq 1 60); do
    answers "$1" "$2" && return 0
    sleep 0.5
  done
  log "$1 at $2 did not come up; see the logs in $dev"
  return 1
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  command -v apt-get >/dev/null || { log "no apt-get: install $* yourself, or set SWIPER_DATABASE_URL / SWIPER_REDIS_URL"; exit 1; }
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
# (the package creates it) with the data where that user can reach it.
pg_user() {
  if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_datadir() {
  local d="$dev/pg"
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$dev" 2>/dev/null; then
    # The checkout is not reachable by the postgres user (under /root, say).
    d="/var/tmp/swiper-dev-$(printf '%s' "$root" | sha1sum | cut -c1-12)/pg"
  fi
  echo "$d"
}

start_pg() {
  local bindir; bindir=$(pg_bindir)
  if [ -z "$bindir" ]; then
    apt_install postgresql
    bindir=$(pg_bindir)
    [ -n "$bindir" ] || { log "PostgreSQL was installed but no server binaries were found under /usr/lib/postgresql"; exit 1; }
  fi
  local data; data=$(pg_datadir)
  local sock="$data/../pgsock"
  if [ ! -s "$data/PG_VERSION" ]; then
    log "creating a private PostgreSQL cluster in $data"
    mkdir -p "$data" "$sock"
    [ "$(id -u)" = 0 ] && chown -R postgres "$(dirname "$data")"
    as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "starting private PostgreSQL on 127.0.0.1:$pg_port"
    as_pg "$bindir/pg_ctl" -D "$data" -l "$data/../postgres.log" -w -t 60 start \
      -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $sock -c max_connections=300 -c shared_buffers=256MB" >/dev/null
  fi
  wait_for pg "$private_db"
}

stop_pg() {
  local bindir data; bindir=$(pg_bindir); data=$(pg_datadir)
  [ -n "$bindir" ] && [ -s "$data/PG_VERSION" ] || return 0
  if as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "stopping private PostgreSQL"
    as_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  fi
}

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p "$dev/redis"
  if [ -s "$dev/redis.pid" ] && kill -0 "$(cat "$dev/redis.pid")" 2>/dev/null; then
    wait_for redis "$private_redis"
    return
  fi
  log "starting private Redis on 127.0.0.1:$redis_port"
  redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes \
    --pidfile "$dev/redis.pid" --logfile "$dev/redis.log" --dir "$dev/redis" \
    --save "" --appendonly no >/dev/null
  wait_for redis "$private_redis"
}

stop_redis() {
  if [ -s "$dev/redis.pid" ] && kill -0 "$(cat "$dev/redis.pid")" 2>/dev/null; then
    log "stopping private Redis"
    kill "$(cat "$dev/redis.pid")"
    rm -f "$dev/redis.pid"
  fi
}

up() {
  mkdir -p "$dev"
  [ -x "$ctl" ] || { log "$ctl is missing: run make build"; exit 1; }
  local db=${SWIPER_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/swiper?sslmode=disable}
  local rd=${SWIPER_REDIS_URL:-redis://127.0.0.1:6379/0}
  if answers pg "$db"; then
    log "using PostgreSQL at ${db%%\?*}"
  else
    [ -n "${SWIPER_DATABASE_URL:-}" ] && log "SWIPER_DATABASE_URL does not answer; using a private instance"
    start_pg
    db=$private_db
  fi
  if answers redis "$rd"; then
    log "using Redis at $rd"
  else
    [ -n "${SWIPER_REDIS_URL:-}" ] && log "SWIPER_REDIS_URL does not answer; using a private instance"
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
