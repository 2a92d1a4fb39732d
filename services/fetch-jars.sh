#!/usr/bin/env bash
# Fetch the JVM artifacts declared in pom.xml from Maven Central into .cache/.
set -euo pipefail
SERVICE_NAME=fetch-jars
# shellcheck source=services/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<USAGE
usage: services/fetch-jars.sh [--force]

Copies (via mvn dependency:copy-dependencies, profiles in pom.xml):
  -P flink-jars -> .cache/jars/flink/          jars for pipeline.jars / flink run -j
  -P kafka      -> .cache/kafka/libs/          Kafka broker classpath
  -P es         -> .cache/elasticsearch/dist/  Elasticsearch integ-test-zip
Idempotent: a folder whose stamp matches the pom.xml hash is skipped (no mvn run).
--force re-copies everything. Maven's own cache is ~/.m2.
USAGE
}

force=0
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --force) force=1 ;;
  "") ;;
  *) usage; exit 2 ;;
esac
command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"

pom_hash="$(sha256sum "$REPO_ROOT/pom.xml" | cut -c1-16)"
fetch() {
  local profile="$1" dir="$2"
  local stamp="$dir/.fetched-$pom_hash"
  if ((!force)) && [[ -f "$stamp" ]]; then log "$profile: up to date ($dir)"; return; fi
  log "$profile: fetching into $dir"
  rm -rf "$dir"; mkdir -p "$dir"
  mvn -B -q -Dstyle.color=never -f "$REPO_ROOT/pom.xml" -P "$profile" dependency:copy-dependencies \
    -DoutputDirectory="$dir" -Dmdep.useRepositoryLayout=false
  touch "$stamp"
}

fetch flink-jars "$CACHE_DIR/jars/flink"
fetch kafka "$CACHE_DIR/kafka/libs"
fetch es "$CACHE_DIR/elasticsearch/dist"
log "done: $(ls "$CACHE_DIR/jars/flink" | tr '\n' ' ')"
