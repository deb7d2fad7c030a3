#!/usr/bin/env bash
# stack.sh — local PostgreSQL + Redis for boxoffice.
#
# Usage: scripts/stack.sh {up|down|status|env|purge} [dev|test|load|chaos]   (default: dev)
#
#   dev : PostgreSQL 127.0.0.1:15432 (./var/dev/pg), Redis 127.0.0.1:16379 (./var/dev/redis),
#         SMTP sink 127.0.0.1:16025 (booking mails land in ./var/dev/mail/new)
#   test: PostgreSQL 127.0.0.1:25432 (./var/test/pg), Redis 127.0.0.1:26379 (./var/test/redis),
#         SMTP sink 127.0.0.1:26025 (./var/test/mail)
#         throwaway: `up` wipes and recreates it, `down` deletes ./var/test.
#   load: PostgreSQL 127.0.0.1:17432 (./var/load/pg), Redis 127.0.0.1:17379 (./var/load/redis)
#         durable commits like dev, its own ports: loadtest/run.sh measures on it.
#   chaos: PostgreSQL 127.0.0.1:21080 (the single node `make chaos` compares the HA topology with),
#         Redis 127.0.0.1:21070 (no persistence), SMTP sink 127.0.0.1:21071 (./var/chaos/mail).
#
#   up     install missing packages (apt), init/start the servers, wait until ready;
#          idempotent (reuses a server already answering on the port).
#   down   stop the profile's servers (only the ones this script started).
#   status show what is running; exit 0 if both services answer, 3 otherwise.
#   env    print `export BOXOFFICE_...` lines: eval "$(scripts/stack.sh env dev)"
#   purge  down + delete the profile's data (used by `make clean-var`).
#
# A pre-set BOXOFFICE_DATABASE_URL / BOXOFFICE_REDIS_URL (dev) or
# BOXOFFICE_TEST_DATABASE_URL / BOXOFFICE_TEST_REDIS_URL (test) means "use that
# server": it is neither installed, started nor stopped here, and `env` echoes it
# (unless it is exactly the URL `env` prints for the profile's own server).
#
# PostgreSQL refuses to run as root, so when run as root the server runs as the
# `postgres` OS user (created by the Debian package). Auth is `trust` on
# 127.0.0.1 and the unix socket: this is a local dev/test server only.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
READY_TIMEOUT="${BOXOFFICE_STACK_TIMEOUT:-30}" # seconds

log() { printf 'stack: %s\n' "$*" >&2; }
die() {
  printf 'stack: error: %s\n' "$*" >&2
  exit 1
}
usage() {
  sed -n '3,18s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}
is_root() { [[ $(id -u) -eq 0 ]]; }

# ---------------------------------------------------------------------------
# Profile
# ---------------------------------------------------------------------------
load_profile() {
  PROFILE="$1"
  case "$PROFILE" in
    dev)
      PG_PORT=15432
      REDIS_PORT=16379
      SMTP_PORT=16025
      SMTP_VAR=BOXOFFICE_SMTP_URL
      PG_DBNAME=boxoffice
      DB_VAR=BOXOFFICE_DATABASE_URL
      REDIS_VAR=BOXOFFICE_REDIS_URL
      ;;
    test)
      PG_PORT=25432
      REDIS_PORT=26379
      SMTP_PORT=26025
      SMTP_VAR=BOXOFFICE_TEST_SMTP_URL
      PG_DBNAME=postgres
      DB_VAR=BOXOFFICE_TEST_DATABASE_URL
      REDIS_VAR=BOXOFFICE_TEST_REDIS_URL
      ;;
    load)
      PG_PORT=17432
      REDIS_PORT=17379
      SMTP_PORT=""
      SMTP_VAR=""
      PG_DBNAME=boxoffice_load
      DB_VAR=BOXOFFICE_LOAD_DATABASE_URL
      REDIS_VAR=BOXOFFICE_LOAD_REDIS_URL
      ;;
    chaos)
      # chaos/: the single node the cost of HA is measured against (durable, like load), and the Redis and SMTP
      # sink that the Patroni topology's pods share. Patroni's nodes take this profile's settings (chaos/README.md).
      PG_PORT=21080
      REDIS_PORT=21070
      SMTP_PORT=21071
      SMTP_VAR=BOXOFFICE_CHAOS_SMTP_URL
      PG_DBNAME=boxoffice_single
      DB_VAR=BOXOFFICE_CHAOS_DATABASE_URL
      REDIS_VAR=BOXOFFICE_CHAOS_REDIS_URL
      ;;
    *) die "unknown profile '$PROFILE' (expected dev, test, load or chaos)" ;;
  esac
  VAR_DIR="$ROOT_DIR/var/$PROFILE"
  REDIS_DIR="$VAR_DIR/redis"
  REDIS_PIDFILE="$REDIS_DIR/redis.pid"
  REDIS_LOG="$REDIS_DIR/redis.log"
  MAIL_DIR="$VAR_DIR/mail"
  SMTP_PIDFILE="$VAR_DIR/mailsink.pid"
  SMTP_LOG="$VAR_DIR/mailsink.log"
  LOCAL_DB_URL="postgres://postgres@127.0.0.1:$PG_PORT/$PG_DBNAME"
  LOCAL_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  # A URL that merely points at this profile's own server (left over from an
  # earlier `eval "$(scripts/stack.sh env ...)"`) does not count as external.
  EXTERNAL_DB_URL="${!DB_VAR:-}"
  EXTERNAL_REDIS_URL="${!REDIS_VAR:-}"
  [[ $EXTERNAL_DB_URL != "$LOCAL_DB_URL" ]] || EXTERNAL_DB_URL=""
  [[ $EXTERNAL_REDIS_URL != "$LOCAL_REDIS_URL" ]] || EXTERNAL_REDIS_URL=""
  resolve_pg_data
}

# The data dir is ./var/<profile>/pg. If it is a symlink (see relocate_pg_data)
# the server is pointed at the real path.
resolve_pg_data() {
  PG_DATA="$VAR_DIR/pg"
  if [[ -L $PG_DATA ]]; then
    PG_DATA="$(readlink -f "$PG_DATA")"
  fi
  PG_LOG="$PG_DATA/server.log"
}

# Hide passwords when printing URLs.
redact() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }

# ---------------------------------------------------------------------------
# Tools and installation
# ---------------------------------------------------------------------------
SUDO=()
if ! is_root; then SUDO=(sudo); fi

# Newest PostgreSQL bin dir, preferring 15. Empty if none is installed.
find_pg_bin() {
  local dir best=""
  if [[ -x /usr/lib/postgresql/15/bin/pg_ctl ]]; then
    echo /usr/lib/postgresql/15/bin
    return
  fi
  while IFS= read -r dir; do
    [[ -x $dir/pg_ctl ]] && best="$dir"
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V)
  echo "$best"
}

APT_UPDATED=0
apt_get() {
  ((${#SUDO[@]} == 0)) || command -v sudo >/dev/null || die "need root or sudo to run apt-get"
  command -v apt-get >/dev/null || die "apt-get not found; install PostgreSQL and Redis manually"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get -q -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 "$@" >&2 9>&-
}

apt_update_once() {
  ((APT_UPDATED)) && return 0
  log "apt-get update"
  apt_get update
  APT_UPDATED=1
}

# Not `apt-cache ... | grep -q`: grep -q quits at the first match and, under pipefail, apt-cache's SIGPIPE
# would make the pipeline fail.
has_candidate() { grep -q 'Candidate: [^(]' <<<"$(LC_ALL=C apt-cache policy "$1" 2>/dev/null)"; }

# Stop the Debian package from creating (and starting) its default 'main'
# cluster on port 5432: we only want the binaries. Drop-in file, so the
# ucf-managed createcluster.conf is left alone.
disable_default_cluster() {
  local dropin=/etc/postgresql-common/createcluster.d/boxoffice-no-main-cluster.conf
  [[ -e $dropin ]] && return 0
  "${SUDO[@]}" mkdir -p "$(dirname "$dropin")"
  echo 'create_main_cluster = false' | "${SUDO[@]}" tee "$dropin" >/dev/null
}

ensure_installed() {
  local need_pg="$1" need_redis="$2" pkgs=()
  if [[ $need_pg == 1 && -z $(find_pg_bin) ]]; then
    disable_default_cluster
    pkgs+=(postgresql-15)
  fi
  if [[ $need_redis == 1 ]] && ! command -v redis-server >/dev/null; then
    pkgs+=(redis-server)
  fi
  if [[ -n $SMTP_PORT ]] && ! smtp_installed; then
    pkgs+=(python3-aiosmtpd)
  fi
  ((${#pkgs[@]})) || return 0

  if [[ " ${pkgs[*]} " == *" postgresql-15 "* ]]; then
    # Update first so we can fall back to the distro's default major version.
    apt_update_once
    if ! has_candidate postgresql-15; then
      log "postgresql-15 not available from apt; installing the distro's 'postgresql'"
      pkgs=("${pkgs[@]/#postgresql-15/postgresql}")
    fi
  fi
  local t0=$SECONDS
  apt_update_once
  log "apt-get install ${pkgs[*]}"
  apt_get install -y --no-install-recommends "${pkgs[@]}"
  log "installed ${pkgs[*]} in $((SECONDS - t0))s"
  if [[ $need_pg == 1 && -z $(find_pg_bin) ]]; then
    die "PostgreSQL binaries still not found under /usr/lib/postgresql/*/bin"
  fi
  if [[ $need_redis == 1 ]] && ! command -v redis-server >/dev/null; then
    die "redis-server still not on PATH after install"
  fi
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------
# Run a command as the PostgreSQL server owner (postgres when we are root).
# `cd /` so a cwd the postgres user cannot read does not cause warnings.
as_pg() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

pg_tool() { echo "$PG_BIN/$1"; }

# 0 = accepting connections, 1 = rejecting (starting/stopping), 2 = no response.
pg_probe() {
  local rc=0
  "$(pg_tool pg_isready)" -q -h 127.0.0.1 -p "$PG_PORT" -t 2 >/dev/null 2>&1 || rc=$?
  return "$rc"
}

# Is the server for OUR data dir running?
pg_ours_running() {
  [[ -f $PG_DATA/PG_VERSION ]] || return 1
  as_pg "$(pg_tool pg_ctl)" status -D "$PG_DATA" >/dev/null 2>&1
}

pg_require_user() {
  if is_root; then
    getent passwd postgres >/dev/null ||
      die "OS user 'postgres' does not exist (it comes with the postgresql package)"
  fi
}

# Root-run PostgreSQL needs the postgres user to traverse every directory down
# to ./var/<profile>. If the checkout lives somewhere it cannot reach (e.g. under
# /root, mode 700), keep the cluster in /var/tmp and leave a symlink in ./var.
relocate_pg_data_if_needed() {
  is_root || return 0
  [[ -e $VAR_DIR/pg ]] && return 0
  if as_pg test -x "$VAR_DIR"; then return 0; fi
  local hash target
  hash="$(printf '%s' "$ROOT_DIR" | cksum | cut -d' ' -f1)"
  target="/var/tmp/boxoffice-$hash/$PROFILE/pg"
  mkdir -p "$(dirname "$target")"
  chmod 0755 "$(dirname "$(dirname "$target")")" "$(dirname "$target")"
  ln -sfn "$target" "$VAR_DIR/pg"
  log "user postgres cannot reach $VAR_DIR; cluster lives in $target (symlinked from var/$PROFILE/pg)"
  resolve_pg_data
}

# Unix socket dir: the data dir, unless the socket path would exceed the
# ~107-byte sun_path limit.
pg_socket_dir() {
  local sock="$PG_DATA/.s.PGSQL.$PG_PORT"
  if ((${#sock} < 100)); then echo "$PG_DATA"; else echo /tmp; fi
}

# Settings we own; regenerated at every start, included from postgresql.conf.
write_pg_conf() {
  {
    echo "# Written by scripts/stack.sh ($PROFILE profile) at every start. Do not edit."
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $PG_PORT"
    echo "unix_socket_directories = '$(pg_socket_dir)'"
    echo "max_connections = 300"
    echo "shared_buffers = 256MB"
    echo "log_timezone = 'UTC'"
    echo "timezone = 'UTC'"
    if [[ $PROFILE == test ]]; then
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
    fi
    # SERIALIZABLE's predicate locks (every profile: the tests and `make run` see what the load run sees).
    # - A transaction that has read 3 rows of one heap page (max_pred_locks_per_page, default 2) has its row locks
    #   promoted to a lock on the whole page. A payment reads its booking and its claims and writes their new
    #   versions, which lands on the page where concurrent holds insert theirs. k6 booking on a load database of
    #   107,696 bookings: 2.9 retries a payment (finalize_start), p95 281 ms; at 64 rows a page, 0.8 and 62 ms.
    #   On the full run's younger database (few bookings, so a small id index) only 2.2 -> 1.9: what is left there
    #   is page locks on the bookings id index, where a payment's non-HOT update inserts next to its own read.
    # - Committed transactions keep their locks while overlapping ones run; row locks take more entries than page
    #   locks, and sustained load exhausts the default table (64 per connection): "out of shared memory".
    echo "max_pred_locks_per_page = 64"
    echo "max_pred_locks_per_transaction = 256"
  } >"$PG_DATA/boxoffice.conf"
  if is_root; then chown postgres:postgres "$PG_DATA/boxoffice.conf"; fi
}

pg_initdb() {
  log "initdb $PG_DATA"
  mkdir -p "$PG_DATA"
  chmod 0700 "$PG_DATA"
  if is_root; then chown postgres:postgres "$PG_DATA"; fi
  as_pg "$(pg_tool initdb)" -D "$PG_DATA" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C >"$VAR_DIR/initdb.log" 2>&1 || {
    tail -n 30 "$VAR_DIR/initdb.log" >&2
    die "initdb failed (full log: $VAR_DIR/initdb.log)"
  }
  # Overwrite/append in place: the files keep their owner.
  cat >"$PG_DATA/pg_hba.conf" <<'EOF'
# Written by scripts/stack.sh: local dev/test server, trust local connections.
local all all trust
host  all all 127.0.0.1/32 trust
EOF
  echo "include 'boxoffice.conf'" >>"$PG_DATA/postgresql.conf"
}

pg_wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) started=$SECONDS
  while ((SECONDS < deadline)); do
    pg_probe && return 0
    # Fail fast if the postmaster died (e.g. port in use, bad config).
    if ((SECONDS - started >= 2)) && [[ -n ${1:-} ]] && ! pg_ours_running; then
      break
    fi
    sleep 0.2
  done
  [[ -f $PG_LOG ]] && {
    log "--- last lines of $PG_LOG ---"
    tail -n 30 "$PG_LOG" >&2
  }
  die "PostgreSQL not ready on 127.0.0.1:$PG_PORT after $((SECONDS - started))s"
}

pg_start() {
  pg_require_user
  write_pg_conf
  if is_root; then
    local owner
    owner="$(stat -c %U "$PG_DATA")"
    [[ $owner == postgres ]] || chown -R postgres:postgres "$PG_DATA"
  fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT (data $PG_DATA)"
  as_pg "$(pg_tool pg_ctl)" start -W -D "$PG_DATA" -l "$PG_LOG" >/dev/null 9>&-
  pg_wait_ready ours
}

pg_stop() {
  if pg_ours_running; then
    log "stopping PostgreSQL ($PROFILE, port $PG_PORT)"
    as_pg "$(pg_tool pg_ctl)" stop -D "$PG_DATA" -m fast -w -t "$READY_TIMEOUT" >/dev/null
  fi
}

psql_local() {
  "$(pg_tool psql)" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"
}

pg_ensure_db() {
  local exists
  exists="$(psql_local -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DBNAME'")" ||
    die "cannot query PostgreSQL on 127.0.0.1:$PG_PORT as user postgres"
  if [[ $exists != 1 ]]; then
    log "creating database $PG_DBNAME"
    psql_local -d postgres -c "CREATE DATABASE \"$PG_DBNAME\""
  fi
}

pg_up() {
  if [[ -n $EXTERNAL_DB_URL ]]; then
    log "postgres: using $DB_VAR=$(redact "$EXTERNAL_DB_URL") (not managed here)"
    return 0
  fi
  ensure_installed 1 0
  PG_BIN="$(find_pg_bin)"
  pg_require_user

  if [[ $PROFILE == test ]]; then
    pg_stop
    pg_wipe
  fi

  local rc=0
  pg_probe || rc=$?
  if ((rc == 0)); then
    log "postgres: already running on 127.0.0.1:$PG_PORT, reusing it"
  elif ((rc == 1)); then
    log "postgres: server on 127.0.0.1:$PG_PORT is starting, waiting"
    pg_wait_ready
  else
    mkdir -p "$VAR_DIR"
    chmod 0755 "$ROOT_DIR/var" "$VAR_DIR"
    relocate_pg_data_if_needed
    [[ -f $PG_DATA/PG_VERSION ]] || pg_initdb
    pg_start
  fi
  if [[ $PROFILE != test ]]; then pg_ensure_db; fi
  log "postgres: ready at $LOCAL_DB_URL"
}

pg_wipe() {
  if [[ -L $VAR_DIR/pg ]]; then
    local target
    target="$(readlink -f "$VAR_DIR/pg")"
    rm -rf "$target"
    rmdir "$(dirname "$target")" "$(dirname "$(dirname "$target")")" 2>/dev/null || true
  fi
  rm -rf "$VAR_DIR/pg"
  resolve_pg_data
}

# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------
# `timeout`: redis-cli waits forever if something else holds the port and never answers.
redis_cli() { timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
redis_probe() { [[ $(redis_cli ping 2>/dev/null) == PONG ]]; }

# PID of the redis-server this script started for the profile, if alive.
redis_our_pid() {
  [[ -f $REDIS_PIDFILE ]] || return 1
  local pid
  pid="$(<"$REDIS_PIDFILE")"
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/comm ]] || return 1
  [[ $(<"/proc/$pid/comm") == redis-server* ]] || return 1
  echo "$pid"
}

redis_start() {
  mkdir -p "$REDIS_DIR"
  rm -f "$REDIS_PIDFILE"
  local args=(
    --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes
    --daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG"
    --dir "$REDIS_DIR" --dbfilename dump.rdb
  )
  if [[ $PROFILE == test || $PROFILE == chaos ]]; then
    # chaos: a Redis killed in a drill comes back empty.
    args+=(--save '' --appendonly no)
  fi
  log "starting Redis on 127.0.0.1:$REDIS_PORT (dir $REDIS_DIR)"
  redis-server "${args[@]}" >/dev/null 9>&- || die "redis-server failed to start (see $REDIS_LOG)"
  redis_wait_ready
}

redis_wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) started=$SECONDS
  while ((SECONDS < deadline)); do
    redis_probe && return 0
    # The pidfile is written right after the port is bound: fail fast when
    # the server died or never got that far.
    if ((SECONDS - started >= 3)) && ! redis_our_pid >/dev/null; then
      break
    fi
    sleep 0.2
  done
  [[ -f $REDIS_LOG ]] && {
    log "--- last lines of $REDIS_LOG ---"
    tail -n 30 "$REDIS_LOG" >&2
  }
  die "Redis not ready on 127.0.0.1:$REDIS_PORT after $((SECONDS - started))s"
}

redis_stop() {
  local pid
  pid="$(redis_our_pid)" || {
    rm -f "$REDIS_PIDFILE"
    return 0
  }
  log "stopping Redis ($PROFILE, port $REDIS_PORT, pid $pid)"
  redis_cli shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + READY_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || die "Redis (pid $pid) did not stop within ${READY_TIMEOUT}s"
    sleep 0.1
  done
  rm -f "$REDIS_PIDFILE"
}

redis_up() {
  if [[ -n $EXTERNAL_REDIS_URL ]]; then
    log "redis: using $REDIS_VAR=$(redact "$EXTERNAL_REDIS_URL") (not managed here)"
    return 0
  fi
  ensure_installed 0 1
  if [[ $PROFILE == test ]]; then
    redis_stop
    rm -rf "$REDIS_DIR"
  fi
  if redis_probe; then
    log "redis: already running on 127.0.0.1:$REDIS_PORT, reusing it"
  else
    redis_start
  fi
  log "redis: ready at $LOCAL_REDIS_URL"
}

# ---------------------------------------------------------------------------
# SMTP sink (dev and test profiles): aiosmtpd with scripts/mailsink.py, Debian's
# python3 (the system interpreter: the apt package installs the module there)
# ---------------------------------------------------------------------------
SYSTEM_PYTHON=/usr/bin/python3
smtp_installed() { [[ -x $SYSTEM_PYTHON ]] && "$SYSTEM_PYTHON" -c 'import aiosmtpd' 2>/dev/null; }
smtp_probe() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SMTP_PORT && head -c 3 <&3 | grep -q 220" 2>/dev/null; }

smtp_our_pid() {
  [[ -f $SMTP_PIDFILE ]] || return 1
  local pid
  pid="$(<"$SMTP_PIDFILE")"
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  grep -qa aiosmtpd "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

smtp_up() {
  [[ -n $SMTP_PORT ]] || return 0
  if [[ $PROFILE == test ]]; then
    smtp_stop
    rm -rf "$MAIL_DIR"
  fi
  mkdir -p "$MAIL_DIR"
  if smtp_probe; then
    log "smtp: already running on 127.0.0.1:$SMTP_PORT, reusing it"
    return 0
  fi
  smtp_installed || die "python3-aiosmtpd is not installed"
  log "starting the SMTP sink on 127.0.0.1:$SMTP_PORT (mail in $MAIL_DIR/new)"
  PYTHONPATH="$ROOT_DIR/scripts" nohup "$SYSTEM_PYTHON" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" \
    -c mailsink.Sink "$MAIL_DIR" >"$SMTP_LOG" 2>&1 9>&- &
  local pid=$!
  echo "$pid" >"$SMTP_PIDFILE"
  local deadline=$((SECONDS + READY_TIMEOUT))
  until smtp_probe; do
    # Only "is it alive", not smtp_our_pid: until the forked shell has exec'd python, its cmdline
    # does not name aiosmtpd yet, and that check failed a CI run with an empty log.
    if ((SECONDS >= deadline)) || ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$SMTP_LOG" >&2 || true
      die "SMTP sink not ready on 127.0.0.1:$SMTP_PORT"
    fi
    sleep 0.2
  done
  log "smtp: ready at smtp://127.0.0.1:$SMTP_PORT"
}

smtp_stop() {
  [[ -n $SMTP_PORT ]] || return 0
  local pid
  if pid="$(smtp_our_pid)"; then
    log "stopping the SMTP sink ($PROFILE, port $SMTP_PORT, pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$SMTP_PIDFILE"
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------
# Serialise up/down/purge per profile (e.g. `make -j`). Anything that may leave
# a daemon behind is started with `9>&-` so it does not inherit the lock.
take_lock() {
  mkdir -p "$ROOT_DIR/var"
  exec 9>"$ROOT_DIR/var/.stack-$PROFILE.lock"
  flock 9
}

cmd_up() {
  take_lock
  # Install everything missing in one apt transaction.
  local need_pg=0 need_redis=0
  [[ -n $EXTERNAL_DB_URL ]] || need_pg=1
  [[ -n $EXTERNAL_REDIS_URL ]] || need_redis=1
  ensure_installed "$need_pg" "$need_redis"
  pg_up
  redis_up
  smtp_up
  log "$PROFILE stack is up; load its environment with: eval \"\$(scripts/stack.sh env $PROFILE)\""
}

cmd_down() {
  take_lock
  if [[ -z $EXTERNAL_DB_URL ]]; then
    PG_BIN="$(find_pg_bin)"
    if [[ -n $PG_BIN ]]; then pg_stop; fi
  fi
  if [[ -z $EXTERNAL_REDIS_URL ]]; then redis_stop; fi
  smtp_stop
  if [[ $PROFILE == test ]]; then
    pg_wipe
    rm -rf "$VAR_DIR"
  fi
  log "$PROFILE stack is down"
}

cmd_purge() {
  cmd_down
  pg_wipe
  rm -rf "$VAR_DIR"
  log "$PROFILE data deleted"
}

cmd_status() {
  local ok=1 state
  echo "profile: $PROFILE"
  if [[ -n $EXTERNAL_DB_URL ]]; then
    state=unknown
    PG_BIN="$(find_pg_bin)"
    if [[ -n $PG_BIN ]]; then
      if "$(pg_tool pg_isready)" -q -d "$EXTERNAL_DB_URL" -t 3; then state=reachable; else
        state=unreachable
        ok=0
      fi
    fi
    echo "postgres: external ($DB_VAR=$(redact "$EXTERNAL_DB_URL")): $state"
  else
    PG_BIN="$(find_pg_bin)"
    if [[ -z $PG_BIN ]]; then
      echo "postgres: not installed"
      ok=0
    elif pg_probe; then
      if pg_ours_running; then state="running, data $PG_DATA"; else state="running (not started from $PG_DATA)"; fi
      echo "postgres: 127.0.0.1:$PG_PORT $state"
    else
      echo "postgres: 127.0.0.1:$PG_PORT not running"
      ok=0
    fi
  fi
  if [[ -n $EXTERNAL_REDIS_URL ]]; then
    state=unknown
    if command -v redis-cli >/dev/null; then
      if [[ $(timeout 5 redis-cli -u "$EXTERNAL_REDIS_URL" ping 2>/dev/null) == PONG ]]; then state=reachable; else
        state=unreachable
        ok=0
      fi
    fi
    echo "redis:    external ($REDIS_VAR=$(redact "$EXTERNAL_REDIS_URL")): $state"
  elif ! command -v redis-cli >/dev/null; then
    echo "redis:    not installed"
    ok=0
  elif redis_probe; then
    local pid
    if pid="$(redis_our_pid)"; then state="running, dir $REDIS_DIR, pid $pid"; else state="running (not started from $REDIS_DIR)"; fi
    echo "redis:    127.0.0.1:$REDIS_PORT $state"
  else
    echo "redis:    127.0.0.1:$REDIS_PORT not running"
    ok=0
  fi
  if [[ -n $SMTP_PORT ]]; then
    if smtp_probe; then echo "smtp:     127.0.0.1:$SMTP_PORT running, mail in $MAIL_DIR/new"; else
      echo "smtp:     127.0.0.1:$SMTP_PORT not running"
    fi
  fi
  ((ok)) || exit 3
}

# The dev profile's token key: `serve` refuses to start without BOXOFFICE_JWT_SECRET, and `make run` should just
# work. Random per checkout, made on first use and kept in ./var/dev, so tokens survive a restart of `make run`.
dev_jwt_secret() {
  local file="$VAR_DIR/jwt-secret"
  if [[ ! -s $file ]]; then
    mkdir -p "$VAR_DIR"
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$file")
  fi
  cat "$file"
}

# The dev profile's ticket signing key (BOXOFFICE_TICKET_KEYS, kid:64 hex digits): like the token key, random per
# checkout, made on first use and kept in ./var/dev, so the tickets of earlier bookings keep verifying.
dev_ticket_keys() {
  local file="$VAR_DIR/ticket-keys"
  if [[ ! -s $file ]]; then
    mkdir -p "$VAR_DIR"
    (umask 077 && printf 'dev1:%s' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$file")
  fi
  cat "$file"
}

cmd_env() {
  printf 'export %s=%q\n' "$DB_VAR" "${EXTERNAL_DB_URL:-$LOCAL_DB_URL}"
  [[ $PROFILE != dev ]] || printf 'export BOXOFFICE_JWT_SECRET=%q\n' "${BOXOFFICE_JWT_SECRET:-$(dev_jwt_secret)}"
  printf 'export BOXOFFICE_TICKET_KEYS=%q\n' "${BOXOFFICE_TICKET_KEYS:-$(dev_ticket_keys)}"
  printf 'export %s=%q\n' "$REDIS_VAR" "${EXTERNAL_REDIS_URL:-$LOCAL_REDIS_URL}"
  if [[ -n $SMTP_PORT ]]; then
    local smtp_url="${!SMTP_VAR:-smtp://127.0.0.1:$SMTP_PORT}"
    printf 'export %s=%q\n' "$SMTP_VAR" "$smtp_url"
    [[ $PROFILE != test ]] || printf 'export BOXOFFICE_TEST_MAILDIR=%q\n' "$MAIL_DIR"
  fi
}

main() {
  (($# >= 1 && $# <= 2)) || usage
  local cmd="$1"
  load_profile "${2:-dev}"
  case "$cmd" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    purge) cmd_purge ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
