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
Idempotent: a folder whose stamp matches the pom.xml hash is skipped (no mvn run). A folder is
replaced only by a complete, verified copy; failed downloads are retried 3 times; one fetch at a time.
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

# Two fetches at once (two checkouts sharing .cache, or `make test` while `make jars` runs) would delete each
# other's folders: one at a time.
mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/.fetch-jars.lock"
flock -w 900 9 || die "another fetch-jars.sh holds $CACHE_DIR/.fetch-jars.lock"

# verify DIR GLOB: the artifact is there and is a readable archive (a truncated download is not)
verify() {
  local dir="$1" glob="$2" f found=0
  for f in "$dir"/$glob; do
    [[ -f "$f" ]] || continue
    found=1
    unzip -tq "$f" >/dev/null 2>&1 || { log "corrupt archive: $f"; return 1; }
  done
  ((found)) || { log "missing in $dir: $glob"; return 1; }
}

fetch() {
  local profile="$1" dir="$2" want="$3"
  local stamp="$dir/.fetched-$pom_hash"
  if ((!force)) && [[ -f "$stamp" ]]; then log "$profile: up to date ($dir)"; return; fi
  log "$profile: fetching into $dir"
  # into a fresh folder first, moved into place only when complete: an interrupted fetch leaves no half folder
  local tmp="$dir.tmp.$$" attempt
  for attempt in 1 2 3; do
    rm -rf "$tmp"; mkdir -p "$tmp"
    # -C: a checksum mismatch (a download cut off in ~/.m2) fails instead of being copied
    if mvn -B -q -C -Dstyle.color=never -f "$REPO_ROOT/pom.xml" -P "$profile" dependency:copy-dependencies \
        -DoutputDirectory="$tmp" -Dmdep.useRepositoryLayout=false && verify "$tmp" "$want"; then
      touch "$tmp/.fetched-$pom_hash"
      rm -rf "$dir"; mv "$tmp" "$dir"
      return
    fi
    log "$profile: attempt $attempt failed; retrying in $((attempt * 10)) s"
    # a corrupt artifact in ~/.m2 would fail again: let Maven fetch this profile's artifacts anew
    mvn -B -q -Dstyle.color=never -f "$REPO_ROOT/pom.xml" -P "$profile" dependency:purge-local-repository \
      -DreResolve=false -DactTransitively=false >/dev/null 2>&1 || true
    sleep $((attempt * 10))
  done
  rm -rf "$tmp"
  die "$profile: could not fetch (network? see mvn output above)"
}

fetch flink-jars "$CACHE_DIR/jars/flink" "flink-sql-connector-kafka-*.jar"
fetch kafka "$CACHE_DIR/kafka/libs" "kafka_2.13-*.jar"
fetch es "$CACHE_DIR/elasticsearch/dist" "elasticsearch-*.zip"
log "done: $(ls "$CACHE_DIR/jars/flink" | tr '\n' ' ')"
