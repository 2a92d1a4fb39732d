# shellcheck shell=bash
# Shared helpers for services/*.sh. Sourced, never executed.
#
# Layout (all git-ignored, under the repo's .cache/):
#   .cache/services/<name>.env        state for tests: `source` it
#   .cache/services/<name>.pid        pid == process-group id of the service
#   .cache/services/logs/<name>.log   stdout/stderr of the service
#   .cache/services/<name>/           config + data of the service

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="${KAIROS_CACHE_DIR:-$REPO_ROOT/.cache}"
SERVICES_ENV_DIR="${SERVICES_ENV_DIR:-$CACHE_DIR/services}"
LOG_DIR="$SERVICES_ENV_DIR/logs"
VENV_DIR="${KAIROS_VENV:-$REPO_ROOT/.venv}"
# System python is enough for the helpers (stdlib only).
PY="${PYTHON:-$(command -v python3 || echo "$VENV_DIR/bin/python")}"

log()  { printf '[%s] %s\n' "${SERVICE_NAME:-services}" "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }

# Timeouts of the readiness waits: a JVM service on a loaded 2-core box starts several times slower than on an
# idle one (Elasticsearch took 150 s at load 9). KAIROS_SERVICES_TIMEOUT_S overrides every default.
timeout_s() { echo "${KAIROS_SERVICES_TIMEOUT_S:-$1}"; }

# free_port: an unused TCP port on 127.0.0.1, below the kernel's ephemeral range. A port the kernel hands out
# (bind to 0) is free only until it picks it again for someone's outgoing connection; below the range only an
# explicit bind can take it, and start_retrying() covers that race.
free_port() {
  "$PY" - <<'PYEOF'
import random, socket
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
for _ in range(200):
    port = random.randint(10000, max(10001, low - 1))
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port)); print(port); break
    except OSError:
        pass
    finally:
        s.close()
else:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PYEOF
}

# free_ports N: N distinct free ports, one per line.
free_ports() {
  local n="$1" got=() p
  while ((${#got[@]} < n)); do
    p="$(free_port)"
    [[ " ${got[*]} " == *" $p "* ]] || got+=("$p")
  done
  printf '%s\n' "${got[@]}"
}

# free_port_range N: a base port B such that B..B+N-1 are all free right now.
free_port_range() {
  "$PY" - "$1" <<'PYEOF'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randint(10000, 32000 - n)  # below the ephemeral range, see free_port
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
else:
    sys.exit("no free port range")
PYEOF
}

pid_file()  { echo "$SERVICES_ENV_DIR/$1.pid"; }
env_file()  { echo "$SERVICES_ENV_DIR/$1.env"; }
log_file()  { echo "$LOG_DIR/$1.log"; }

# start_time PID: the process's start time in clock ticks since boot (field 22 of /proc/PID/stat).
start_time() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; }

# recorded_pid NAME: the pid of NAME's pid file if that process is still the one started (a pid file that
# survived a reboot may name a pid the kernel gave to an unrelated process: never "running", never killed).
recorded_pid() {
  local pf; pf="$(pid_file "$1")"
  [[ -f "$pf" ]] || return 1
  local pid started
  read -r pid started < "$pf" || true
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ -z "${started:-}" || "$(start_time "$pid")" == "$started" ]] || return 1
  echo "$pid"
}

# is_running NAME: the recorded process group still has its live leader.
is_running() { recorded_pid "$1" >/dev/null; }

# group_alive PGID: any process left in the process group?
group_alive() { pgrep -g "$1" >/dev/null 2>&1; }

# start_detached NAME LOGFILE CMD...: run CMD in its own session/process group.
# Its pid (== pgid) goes to .cache/services/NAME.pid.
start_detached() {
  local name="$1" logf="$2"; shift 2
  mkdir -p "$(dirname "$logf")"
  setsid "$@" >>"$logf" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid $(start_time "$pid")" > "$(pid_file "$name")"
  echo "$pid"
}

# bind_clash LOGFILE OFFSET: the service died because a port was taken between free_port and its bind.
bind_clash() {
  tail -c "+$(($2 + 1))" "$1" 2>/dev/null | grep -Eq 'Address already in use|BindException|BindHttpException|BindTransportException'
}

# log_size FILE: bytes so far (0 if missing), to look only at what a start attempt wrote.
log_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# stop_group NAME [TIMEOUT]: TERM the process group, wait, KILL what is left.
stop_group() {
  local name="$1" timeout="${2:-30}" pf pid
  pf="$(pid_file "$name")"
  if [[ ! -f "$pf" ]]; then log "not running (no pid file)"; rm -f "$(env_file "$name")"; return 0; fi
  local started
  read -r pid started < "$pf" || true
  if kill -0 "$pid" 2>/dev/null && [[ -n "${started:-}" && "$(start_time "$pid")" != "$started" ]]; then
    log "not running (stale pid file: pid $pid is another process now)"; rm -f "$pf" "$(env_file "$name")"; return 0
  fi
  if group_alive "$pid"; then
    log "stopping process group $pid"
    kill -TERM -- "-$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < timeout * 10; i++)); do
      group_alive "$pid" || break
      sleep 0.1
    done
    if group_alive "$pid"; then
      log "still alive after ${timeout}s, sending KILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  group_alive "$pid" && die "process group $pid survived KILL"
  rm -f "$pf" "$(env_file "$name")"
  log "stopped"
}

# write_env NAME KEY=VALUE...: atomically write the state file tests source.
write_env() {
  local name="$1"; shift
  local f; f="$(env_file "$name")"
  mkdir -p "$SERVICES_ENV_DIR"
  {
    echo "# written by services/$name.sh at $(date -u +%FT%TZ); source me"
    local kv
    for kv in "$@"; do printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"; done
  } > "$f.tmp"
  mv "$f.tmp" "$f"
}

# wait_until TIMEOUT_S NAME CMD...: poll CMD every 0.5s; fail if the service died.
wait_until() {
  local timeout="$1" name="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ! is_running "$name"; then
      log "process died; last log lines:"; tail -n 30 "$(log_file "$name")" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "not ready after ${timeout}s; last log lines:"; tail -n 30 "$(log_file "$name")" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

# service_wait NAME TIMEOUT_S CHECK FAILURE VAR: wait until CHECK passes, then say where the service is ($VAR
# of its env file); FAILURE is the message when it does not come up
service_wait() {
  local name="$1" timeout="$2" check="$3" failure="$4" var="$5"
  is_running "$name" || die "not running"
  wait_until "$timeout" "$name" "$check" || die "$failure"
  log "ready at $(source "$(env_file "$name")"; echo "${!var}")"
}

# service_status NAME CHECK: "running" with the service's env file (passwords left out), or "not running" (rc 1)
service_status() {
  local name="$1" check="$2"
  if is_running "$name" && "$check"; then
    log "running: $(grep -h '^export' "$(env_file "$name")" | grep -v PASSWORD | tr '\n' ' ')"
  else
    log "not running"; return 1
  fi
}

require_java() { command -v java >/dev/null || die "java not found (need Java 17)"; }
