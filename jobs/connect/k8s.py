"""Kubernetes manifests for one scenario (`kairos k8s`), for the Flink Kubernetes Operator.

Application mode (default): a ConfigMap with the scenario file (and the reference tables it names) and a
FlinkDeployment whose `job` runs jobs/scenario_job.py from the image (Dockerfile): one cluster per scenario,
upgraded by the operator with a savepoint (`upgradeMode: savepoint`). Session mode (`session=NAME`): the
ConfigMap and a FlinkSessionJob on an existing session FlinkDeployment (k8s/session-cluster.yaml) - the
session cluster must then mount the ConfigMap itself, so application mode is what `kairos k8s` recommends.
Credentials: files from Kubernetes Secrets, mounted read-only into the pods that read them (decision 0011):
the Kafka one into JobManager (builds the job, enumerates partitions) and TaskManagers, the Elasticsearch one
into the TaskManagers only; the manifests hold Secret names and paths, never values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from jobs.compiler.plan import Plan
from jobs.config.project import PROJECT_ROOT

FLINK_VERSION = "2.2.1"  # the image's Flink (Dockerfile, pom.xml, pyproject.toml)
KAFKA_JAR = "/opt/flink/lib/flink-sql-connector-kafka-5.0.0-2.2.jar"
HOME = "/opt/kairos"
SCENARIO_DIR = "/etc/kairos/scenario"
KAFKA_SECRETS, ES_SECRETS, TLS = "/etc/kairos/kafka", "/etc/kairos/es", "/etc/kairos/tls"
CLUSTER_CONF = Path(PROJECT_ROOT) / "flink-conf" / "cluster" / "config.yaml"
# the cluster settings of flink-conf/cluster/config.yaml that a Kubernetes deployment keeps (ports, hosts and
# local paths are the operator's business)
KEEP = ("execution.checkpointing.", "restart-strategy.", "state.backend.", "python.execution-mode",
        "python.fn-execution.", "classloader.", "metrics.reporter", "taskmanager.memory.managed.")


@dataclass
class K8sOptions:
    kafka: str
    es: str | None = None
    image: str = "registry.example.com/kairos:0.1.0"
    parallelism: int = 2
    kafka_secret: str = "kairos-kafka"
    es_secret: str = "kairos-es"
    tls_secret: str | None = "kairos-tls"
    exactly_once: bool = False
    prefix: str = ""
    session: str | None = None  # a session FlinkDeployment's name: a FlinkSessionJob instead
    from_savepoint: str | None = None
    checkpoint_dir: str = "s3://kairos-checkpoints"
    service_account: str = "flink"


def resource_name(scenario: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", scenario.lower()).strip("-")[:52] or "scenario"


def cluster_settings() -> dict[str, str]:
    """flink-conf/cluster/config.yaml as flat settings; its @PLACEHOLDER@ values (ports, local paths, filled in
    by services/flink-cluster.sh) are not YAML until quoted, and are left out."""
    text = re.sub(r"(@[A-Z_]+@)", r'"\1"', CLUSTER_CONF.read_text(encoding="utf-8"))

    def flatten(prefix: str, value) -> list[tuple[str, str]]:
        if isinstance(value, dict):
            return [kv for k, v in value.items() for kv in flatten(f"{prefix}.{k}" if prefix else str(k), v)]
        if isinstance(value, list):  # Flink's list syntax
            return [(prefix, ";".join(str(v) for v in value))]
        return [(prefix, str(value).lower() if isinstance(value, bool) else str(value))]

    return {k: v for k, v in flatten("", yaml.safe_load(text)) if "@" not in v}


def flink_configuration(checkpoint_dir: str) -> dict[str, str]:
    conf = {k: v for k, v in cluster_settings().items() if k.startswith(KEEP)}
    conf.update({
        "execution.checkpointing.dir": f"{checkpoint_dir}/checkpoints",
        "execution.checkpointing.savepoint-dir": f"{checkpoint_dir}/savepoints",
        "metrics.reporter.prom.port": "9249",
        "taskmanager.numberOfTaskSlots": "2",
        "python.executable": f"{HOME}/.venv/bin/python",
        "python.client.executable": f"{HOME}/.venv/bin/python",
        "python.pythonpath": f"{HOME}:{HOME}/.venv/lib/python3.11/site-packages",
    })
    return dict(sorted(conf.items()))


def _files(plan: Plan) -> dict[str, str]:
    """ConfigMap data: the scenario file and the reference files it names (by base name: one flat folder)."""
    scenario = Path(plan.scenario.file)
    data = {scenario.name: scenario.read_text(encoding="utf-8")}
    for reference in plan.scenario.references.values():
        if reference.file:
            path = plan.scenario.reference_file(reference)
            data[path.name] = path.read_text(encoding="utf-8")
    return data


def _volumes(opts: K8sOptions, with_es: bool) -> tuple[list[dict], list[dict]]:
    mounts = [{"name": "scenario", "mountPath": SCENARIO_DIR, "readOnly": True},
              {"name": "kafka-secrets", "mountPath": KAFKA_SECRETS, "readOnly": True}]
    volumes = [{"name": "kafka-secrets", "secret": {"secretName": opts.kafka_secret, "defaultMode": 0o400}}]
    if with_es:
        mounts.append({"name": "es-secrets", "mountPath": ES_SECRETS, "readOnly": True})
        volumes.append({"name": "es-secrets", "secret": {"secretName": opts.es_secret, "defaultMode": 0o400}})
    if opts.tls_secret:
        mounts.append({"name": "tls", "mountPath": TLS, "readOnly": True})
        volumes.append({"name": "tls", "secret": {"secretName": opts.tls_secret}})
    return mounts, volumes


def _pod(name: str, mounts: list[dict], volumes: list[dict], configmap: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "flink-main-container", "volumeMounts": mounts}],
                     "volumes": [{"name": "scenario", "configMap": {"name": configmap}}, *volumes]}}


def job_args(plan: Plan, opts: K8sOptions) -> list[str]:
    args = ["-py", f"{HOME}/jobs/scenario_job.py", "--scenario", f"{SCENARIO_DIR}/{Path(plan.scenario.file).name}",
            "--kafka", opts.kafka, "--secrets", f"{KAFKA_SECRETS}/kafka.secrets"]
    if opts.es:
        args += ["--es", opts.es, "--secrets", f"{ES_SECRETS}/es.secrets"]
    args += ["--no-prepare", "--kafka-jar", KAFKA_JAR, "--parallelism", str(opts.parallelism)]
    if opts.prefix:
        args += ["--prefix", opts.prefix]
    return args + (["--exactly-once"] if opts.exactly_once else [])


def manifests(plan: Plan, opts: K8sOptions) -> list[dict]:
    name = resource_name(plan.scenario.name)
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": f"{name}-scenario", "labels": {"app.kubernetes.io/part-of": "kairos"}},
                 "data": _files(plan)}
    job = {"jarURI": f"local:///opt/flink/lib/flink-python-{FLINK_VERSION}.jar",
           "entryClass": "org.apache.flink.client.python.PythonDriver", "args": job_args(plan, opts),
           "parallelism": opts.parallelism, "upgradeMode": "savepoint", "state": "running"}
    if opts.from_savepoint:
        job["initialSavepointPath"] = opts.from_savepoint
    if opts.session:
        session_job = {"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkSessionJob",
                       "metadata": {"name": name}, "spec": {"deploymentName": opts.session, "job": job}}
        return [configmap, session_job]
    jm_mounts, jm_volumes = _volumes(opts, with_es=False)  # the JobManager never writes detections
    tm_mounts, tm_volumes = _volumes(opts, with_es=bool(opts.es))
    deployment = {
        "apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "kairos", "kairos/scenario": name}},
        "spec": {
            "image": opts.image, "imagePullPolicy": "IfNotPresent", "flinkVersion": "v2_2", "mode": "native",
            "serviceAccount": opts.service_account, "flinkConfiguration": flink_configuration(opts.checkpoint_dir),
            "jobManager": {"replicas": 1, "resource": {"memory": "2048m", "cpu": 1},
                           "podTemplate": _pod(f"{name}-jobmanager", jm_mounts, jm_volumes, f"{name}-scenario")},
            "taskManager": {"resource": {"memory": "4096m", "cpu": 2},
                            "podTemplate": _pod(f"{name}-taskmanager", tm_mounts, tm_volumes, f"{name}-scenario")},
            "job": job,
        },
    }
    return [configmap, deployment]
