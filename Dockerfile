# kairos image: the official Flink image + Python 3.11 + kairos (pinned dependencies) + the Kafka connector.
# Build (no Docker engine on the development machine: tests/unit/test_dockerfile.py checks this file instead):
#   docker build -t registry.example.com/kairos:0.1.0 .
# Used by `kairos k8s` (application mode), k8s/session-cluster.yaml and k8s/prepare-job.yaml. Versions must
# match pom.xml (Flink, connector) and pyproject.toml (apache-flink wheel, Python): the test compares them.
ARG FLINK_VERSION=2.2.1
ARG KAFKA_CONNECTOR_VERSION=5.0.0-2.2
ARG PYTHON_VERSION=3.11

# 1. the connector jar, resolved from Maven Central exactly as `make jars` does (pom.xml, profile flink-jars)
FROM maven:3.9.9-eclipse-temurin-17 AS jars
WORKDIR /build
COPY pom.xml ./
RUN mvn -B -q -P flink-jars dependency:copy-dependencies -DoutputDirectory=/jars -Dmdep.useRepositoryLayout=false

# 2. the runtime: Flink's own image (Ubuntu, Java 17); Python from deadsnakes (the image's python3 is not 3.11)
FROM flink:${FLINK_VERSION}-scala_2.12-java17
ARG FLINK_VERSION
ARG KAFKA_CONNECTOR_VERSION
ARG PYTHON_VERSION
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends software-properties-common gpg-agent \
 && add-apt-repository -y ppa:deadsnakes/ppa && apt-get update \
 && apt-get install -y --no-install-recommends python${PYTHON_VERSION} python${PYTHON_VERSION}-venv \
      python${PYTHON_VERSION}-dev build-essential \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/kairos
COPY pyproject.toml README.md ./
COPY jobs ./jobs
COPY udfs ./udfs
# the pinned dependencies of pyproject.toml (apache-flink == the image's Flink) and kairos itself
RUN python${PYTHON_VERSION} -m venv /opt/kairos/.venv \
 && /opt/kairos/.venv/bin/pip install --no-cache-dir /opt/kairos \
 && /opt/kairos/.venv/bin/python -c "import pyflink, jobs.cli"
COPY scenarios ./scenarios
COPY flink-conf/cluster ./flink-conf/cluster
COPY dashboards ./dashboards

# Flink's lib/: the Kafka connector (jobs use it via pipeline.jars or lib/), and flink-python moved from opt/
# so pemja resolves from the parent classloader (classloader.parent-first-patterns: pemja., decision 0004)
COPY --from=jars /jars/flink-sql-connector-kafka-${KAFKA_CONNECTOR_VERSION}.jar /opt/flink/lib/
RUN cp /opt/flink/opt/flink-python-${FLINK_VERSION}.jar /opt/flink/lib/ \
 && mkdir -p /opt/flink/plugins/metrics-prometheus \
 && (ls /opt/flink/plugins/metrics-prometheus/*.jar >/dev/null 2>&1 \
     || cp /opt/flink/opt/flink-metrics-prometheus-${FLINK_VERSION}.jar /opt/flink/plugins/metrics-prometheus/) \
 && chown -R flink:flink /opt/kairos

ENV KAIROS_HOME=/opt/kairos PATH=/opt/kairos/.venv/bin:$PATH PYTHONPATH=/opt/kairos
USER flink
