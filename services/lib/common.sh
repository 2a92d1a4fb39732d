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

# free_port: ask the kernel for an unused TCP port on 127.0.0.1.
free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# free_port_range N: a base port B such that B..B+N-1 are all free right now.
free_port_range() {
  "$PY" - "$1" <<'PYEOF'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randint(20000, 60000 - n)
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

# is_running NAME: the recorded process group still has a live leader.
is_running() {
  local pf; pf="$(pid_file "$1")"
  [[ -f "$pf" ]] || return 1
  local pid; pid="$(cat "$pf")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# group_alive PGID: any process left in the process group?
group_alive() { pgrep -g "$1" >/dev/null 2>&1; }

# start_detached NAME LOGFILE CMD...: run CMD in its own session/process group.
# Its pid (== pgid) goes to .cache/services/NAME.pid.
start_detached() {
  local name="$1" logf="$2"; shift 2
  mkdir -p "$(dirname "$logf")"
  setsid "$@" >>"$logf" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid" > "$(pid_file "$name")"
  echo "$pid"
}

# stop_group NAME [TIMEOUT]: TERM the process group, wait, KILL what is left.
stop_group() {
  local name="$1" timeout="${2:-30}" pf pid
  pf="$(pid_file "$name")"
  if [[ ! -f "$pf" ]]; then log "not running (no pid file)"; rm -f "$(env_file "$name")"; return 0; fi
  pid="$(cat "$pf")"
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

require_java() { command -v java >/dev/null || die "java not found (need Java 17)"; }
