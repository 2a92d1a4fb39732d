#!/usr/bin/env bash
# Flink session cluster (1 JobManager + 1 TaskManager) from the venv's PyFlink wheel.
set -euo pipefail
SERVICE_NAME=flink-cluster
# shellcheck source=services/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<USAGE
usage: services/flink-cluster.sh start | stop | status | wait [TIMEOUT_S]

  start   render flink-conf/cluster/config.yaml (free ports, paths) into
          .cache/services/flink-cluster/conf, start JobManager and TaskManager in
          one process group, wait until REST /overview shows >= 1 TaskManager
  stop    TERM the process group, wait, KILL leftovers
  status  print state; exit 0 iff REST answers with >= 1 TaskManager
  wait    wait until ready (default 240 s; KAIROS_SERVICES_TIMEOUT_S)

  FLINK_TASKMANAGERS=N (default 1) starts N TaskManagers, FLINK_TASK_SLOTS=S (default: the
  config's 2) gives each S slots: in thread mode a TaskManager runs all its Python in one
  interpreter (one GIL), so parallel Python needs TaskManagers, not slots (bench/scaling.py)

Submit a job:
  source $SERVICES_ENV_DIR/flink-cluster.env
  FLINK_CONF_DIR=\$FLINK_CONF_DIR \$FLINK_BIN/flink run -m \$FLINK_REST_ADDRESS \\
      -j .cache/jars/flink/flink-sql-connector-kafka-*.jar -py job.py

State for tests: $SERVICES_ENV_DIR/flink-cluster.env
  FLINK_REST=http://127.0.0.1:PORT, FLINK_REST_ADDRESS=127.0.0.1:PORT, FLINK_REST_PORT,
  FLINK_CONF_DIR, FLINK_HOME, FLINK_BIN, FLINK_PROM_PORTS, FLINK_CLUSTER_PID
Logs: $LOG_DIR/flink-cluster.log (+ flink-cluster-jobmanager.log, flink-cluster-taskmanager.log)
Python: \$KAIROS_VENV (default .venv) must have apache-flink installed.
USAGE
}

STATE="$SERVICES_ENV_DIR/flink-cluster"
TEMPLATE="$REPO_ROOT/flink-conf/cluster/config.yaml"

flink_home() {
  local py="$VENV_DIR/bin/python"
  [[ -x "$py" ]] || die "no venv python at $py (set KAIROS_VENV)"
  "$py" -c 'import os, pyflink; print(os.path.dirname(os.path.abspath(pyflink.__file__)))' \
    || die "apache-flink is not installed in $VENV_DIR"
}

ready() {
  [[ -f "$(env_file flink-cluster)" ]] || return 1
  # shellcheck disable=SC1090
  source "$(env_file flink-cluster)"
  curl -fsS --max-time 3 "$FLINK_REST/overview" \
    | "$PY" -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("taskmanagers",0) >= int(sys.argv[1]) else 1)' \
      "${FLINK_TASKMANAGERS:-1}"
}

cmd_start() {
  (($#)) && { usage; exit 2; }
  if is_running flink-cluster; then log "already running"; cmd_wait "$(timeout_s 240)"; return; fi
  require_java
  local home; home="$(flink_home)"
  local py="$VENV_DIR/bin/python"
  local site; site="$("$py" -c 'import site; print(site.getsitepackages()[0])')"
  mkdir -p "$STATE/conf" "$STATE/state" "$STATE/tmp" "$LOG_DIR"

  # ports are free when chosen, not reserved: a start that dies of a bind error is tried again with new ones
  local attempt rc
  for attempt in 1 2 3; do
    rc=0
    launch || rc=$?
    ((rc == 0)) && return 0
    ((rc == 3)) || die "cluster not ready"
    log "a port was taken before the cluster bound it (attempt $attempt); new ports"
  done
  die "the cluster could not bind free ports 3 times"
}

# launch: render the config with new ports, start JobManager + TaskManager, wait; 3 = died of a bind clash.
launch() {
  local rest rpc prom
  { read -r rest; read -r rpc; } < <(free_ports 2)
  prom="$(free_port_range 4)"
  local prom_ports="$prom-$((prom + 3))"

  sed -e "s|@REST_PORT@|$rest|g" -e "s|@JM_RPC_PORT@|$rpc|g" -e "s|@PROM_PORTS@|$prom_ports|g" \
      -e "s|@PYTHON@|$py|g" -e "s|@PYTHONPATH@|$site|g" -e "s|@STATE_DIR@|$STATE/state|g" \
      "$TEMPLATE" > "$STATE/conf/config.yaml"
  printf '\nio:\n  tmp:\n    dirs: %s\n' "$STATE/tmp" >> "$STATE/conf/config.yaml"
  if [[ -n "${FLINK_TASK_SLOTS:-}" ]]; then
    sed -i "s|numberOfTaskSlots: [0-9]*|numberOfTaskSlots: $FLINK_TASK_SLOTS|" "$STATE/conf/config.yaml"
  fi
  cp "$home/conf/log4j-console.properties" "$home/conf/log4j-cli.properties" "$STATE/conf/"
  cp "$home/conf/log4j.properties" "$STATE/conf/"
  # lib/ = the wheel's lib/ + opt/flink-python (see classloader comment in the config)
  rm -rf "$STATE/lib"; mkdir -p "$STATE/lib"
  ln -s "$home"/lib/*.jar "$home"/opt/flink-python-*.jar "$STATE/lib/"

  log "starting JobManager + TaskManager (REST 127.0.0.1:$rest, Prometheus $prom_ports)"
  local jm_log="$LOG_DIR/flink-cluster-jobmanager.log" tm_log="$LOG_DIR/flink-cluster-taskmanager.log"
  : > "$jm_log"; : > "$tm_log"
  local pid
  pid="$(start_detached flink-cluster "$(log_file flink-cluster)" \
    env FLINK_HOME="$home" FLINK_LIB_DIR="$STATE/lib" FLINK_CONF_DIR="$STATE/conf" FLINK_LOG_DIR="$STATE/log" PYTHONPATH="$site" \
    bash -c '"$0/bin/jobmanager.sh" start-foreground >"$1" 2>&1 &
             "$0/bin/taskmanager.sh" start-foreground >"$2" 2>&1 &
             for ((i = 2; i <= $3; i++)); do "$0/bin/taskmanager.sh" start-foreground >"$2.$i" 2>&1 & done
             wait' "$home" "$jm_log" "$tm_log" "${FLINK_TASKMANAGERS:-1}")"
  write_env flink-cluster FLINK_REST="http://127.0.0.1:$rest" FLINK_REST_ADDRESS="127.0.0.1:$rest" \
    FLINK_REST_PORT="$rest" FLINK_JM_RPC_PORT="$rpc" FLINK_PROM_PORTS="$prom_ports" \
    FLINK_CONF_DIR="$STATE/conf" FLINK_HOME="$home" FLINK_BIN="$home/bin" \
    FLINK_CLUSTER_PID="$pid" FLINK_CLUSTER_LOG="$(log_file flink-cluster)"
  # not wait_until: a JobManager that lost its port exits while the TaskManager keeps the group alive
  local deadline=$((SECONDS + $(timeout_s 240)))
  until ready >/dev/null 2>&1; do
    if bind_clash "$jm_log" 0; then stop_group flink-cluster 30 >/dev/null 2>&1 || true; return 3; fi
    if ! is_running flink-cluster || ((SECONDS >= deadline)); then
      log "not ready; last log lines:"; tail -n 20 "$jm_log" "$tm_log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
  log "ready at http://127.0.0.1:$rest"
}

cmd_wait() {
  local timeout="${1:-$(timeout_s 240)}"
  is_running flink-cluster || die "not running"
  wait_until "$timeout" flink-cluster ready || {
    tail -n 20 "$LOG_DIR/flink-cluster-jobmanager.log" "$LOG_DIR/flink-cluster-taskmanager.log" >&2 || true
    die "cluster not ready"; }
  log "ready at $(source "$(env_file flink-cluster)"; echo "$FLINK_REST")"
}

cmd_status() { service_status flink-cluster ready; }

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) stop_group flink-cluster 30 ;;
  status) cmd_status ;;
  wait) shift; cmd_wait "${1:-$(timeout_s 240)}" ;;
  -h|--help|help) usage ;;
  *) usage; exit 2 ;;
esac
