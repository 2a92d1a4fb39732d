"""`kairos k8s SCENARIO`: the generated manifests validate against the Flink Kubernetes Operator CRDs
(../shared/reference/), run the scenario from a ConfigMap in application mode (or as a FlinkSessionJob),
take credentials from Kubernetes Secrets as files (never values, never the environment), and carry the
cluster settings of flink-conf/cluster (RocksDB, incremental checkpoints, restart strategy)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.unit.test_k8s_manifests import crd_schema

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "telco_topup_offer" / "telco_topup_offer.yaml"  # with a reference table file


def generate(tmp_path: Path, *extra: str) -> list[dict]:
    out = tmp_path / "k8s.yaml"
    done = subprocess.run([sys.executable, "-m", "jobs.cli", "k8s", str(SCENARIO), "--kafka", "kafka.svc:9093",
                           "--es", "https://es.svc:9200", "-o", str(out), *extra], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return list(yaml.safe_load_all(out.read_text()))


def validate(doc: dict) -> None:
    group, version = doc["apiVersion"].split("/")
    schema = crd_schema(doc["kind"], version)
    jsonschema.Draft7Validator(schema).validate(doc)
    spec_props = schema["properties"]["spec"]["properties"]
    assert set(doc["spec"]) <= set(spec_props)  # no typo passes as an unknown key
    assert set(doc["spec"]["job"]) <= set(spec_props["job"]["properties"])


def test_application_mode(tmp_path):
    configmap, deployment = generate(tmp_path, "--from-savepoint", "s3://kairos-checkpoints/savepoints/sp-1")
    validate(deployment)
    assert deployment["kind"] == "FlinkDeployment" and deployment["spec"]["job"]["upgradeMode"] == "savepoint"
    job = deployment["spec"]["job"]
    assert job["initialSavepointPath"] == "s3://kairos-checkpoints/savepoints/sp-1"
    assert job["args"][job["args"].index("--scenario") + 1] == "/etc/kairos/scenario/telco_topup_offer.yaml"
    # the ConfigMap holds the scenario as written and the reference table it names
    assert configmap["data"]["telco_topup_offer.yaml"] == SCENARIO.read_text()
    assert configmap["data"]["tariffs.csv"] == (SCENARIO.parent / "tariffs.csv").read_text()
    conf = deployment["spec"]["flinkConfiguration"]
    assert conf["state.backend.type"] == "rocksdb" and conf["execution.checkpointing.incremental"] == "true"
    assert conf["restart-strategy.type"] == "exponential-delay"
    assert conf["classloader.parent-first-patterns.additional"] == "pemja."
    assert all(isinstance(v, str) and "@" not in v for v in conf.values())


def volumes(deployment: dict, role: str) -> dict[str, str]:
    pod = deployment["spec"][role]["podTemplate"]["spec"]
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    return {secrets[name]: mounts[name] for name in secrets}


def test_secrets_are_mounted_files_where_they_are_read(tmp_path):
    _, deployment = generate(tmp_path, "--kafka-secret", "prod-kafka", "--es-secret", "prod-es")
    assert volumes(deployment, "jobManager") == {"prod-kafka": "/etc/kairos/kafka", "kairos-tls": "/etc/kairos/tls"}
    assert volumes(deployment, "taskManager") == {"prod-kafka": "/etc/kairos/kafka", "prod-es": "/etc/kairos/es",
                                                  "kairos-tls": "/etc/kairos/tls"}
    args = deployment["spec"]["job"]["args"]
    assert [args[i + 1] for i, a in enumerate(args) if a == "--secrets"] == [
        "/etc/kairos/kafka/kafka.secrets", "/etc/kairos/es/es.secrets"]
    text = yaml.safe_dump(deployment).lower()
    assert "password" not in text and "secretkeyref" not in text and "envfrom" not in text


@pytest.mark.parametrize("exactly_once", [False, True])
def test_session_mode(tmp_path, exactly_once):
    extra = ["--session", "kairos-session"] + (["--exactly-once"] if exactly_once else [])
    configmap, session_job = generate(tmp_path, *extra)
    validate(session_job)
    assert session_job["kind"] == "FlinkSessionJob" and session_job["spec"]["deploymentName"] == "kairos-session"
    assert ("--exactly-once" in session_job["spec"]["job"]["args"]) is exactly_once
    assert configmap["metadata"]["name"] == "telco-topup-offer-scenario"
