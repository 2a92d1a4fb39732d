"""k8s/ manifests validate against the Flink Kubernetes Operator CRD schemas (../shared/reference/...)."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# beside the checkout; a git worktree under /work/wt/NAME finds it one level further up
CRDS = next((d for d in (REPO.parent / "shared" / "reference" / "flink-kubernetes-operator",
                         REPO.parent.parent / "shared" / "reference" / "flink-kubernetes-operator") if d.is_dir()),
            REPO.parent / "shared" / "reference" / "flink-kubernetes-operator")
ALL = sorted((REPO / "k8s").glob("*.yaml"))
MANIFESTS = [p for p in ALL if yaml.safe_load(p.read_text())["apiVersion"].startswith("flink.apache.org/")]
KINDS = {"FlinkDeployment": "flinkdeployments.flink.apache.org-v1.yml",
         "FlinkSessionJob": "flinksessionjobs.flink.apache.org-v1.yml"}


def crd_schema(kind: str, version: str) -> dict:
    path = CRDS / KINDS[kind]
    if not path.is_file():
        pytest.fail(f"CRD reference missing: {path}")
    crd = yaml.safe_load(path.read_text())
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return v["schema"]["openAPIV3Schema"]
    pytest.fail(f"{kind} has no version {version}")


def test_there_are_manifests():
    assert {yaml.safe_load(p.read_text())["kind"] for p in MANIFESTS} == set(KINDS)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_matches_crd_schema(path: Path):
    doc = yaml.safe_load(path.read_text())
    group, version = doc["apiVersion"].split("/")
    assert group == "flink.apache.org"
    schema = crd_schema(doc["kind"], version)
    jsonschema.Draft7Validator(schema).validate(doc)
    # typos in spec keys would pass a schema without additionalProperties=false: check names explicitly
    assert set(doc["spec"]) <= set(schema["properties"]["spec"]["properties"])
    if "job" in doc["spec"]:
        assert set(doc["spec"]["job"]) <= set(schema["properties"]["spec"]["properties"]["job"]["properties"])


def test_session_job_points_at_the_session_cluster():
    docs = {yaml.safe_load(p.read_text())["kind"]: yaml.safe_load(p.read_text()) for p in MANIFESTS}
    assert docs["FlinkSessionJob"]["spec"]["deploymentName"] == docs["FlinkDeployment"]["metadata"]["name"]


def test_no_secrets_in_manifests():
    for path in ALL:
        text = path.read_text().lower()
        assert "password=" not in text and "password:" not in text and "api_key" not in text
        assert "envfrom" not in text and "secretkeyref" not in text  # secrets are files, never the environment


def _pod(spec: dict) -> tuple[dict[str, str], list[str]]:
    """Secret name -> mount path of a pod spec, and its containers' arguments."""
    secrets = {v["name"]: v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    mounts, args = {}, []
    for container in spec["containers"]:
        args += container.get("command", []) + container.get("args", [])
        for mount in container.get("volumeMounts", []):
            assert mount.get("readOnly") is True
            if mount["name"] in secrets:
                mounts[secrets[mount["name"]]] = mount["mountPath"]
    return mounts, args


def _secrets_args(args: list[str]) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == "--secrets"]


def test_each_pod_gets_only_the_secrets_it_reads():
    docs = {yaml.safe_load(p.read_text())["kind"]: yaml.safe_load(p.read_text()) for p in ALL}
    cluster, job, prepare = docs["FlinkDeployment"]["spec"], docs["FlinkSessionJob"]["spec"]["job"], docs["Job"]
    assert "podTemplate" not in cluster  # one template for every pod would give all of them everything
    jm, _ = _pod(cluster["jobManager"]["podTemplate"]["spec"])
    tm, _ = _pod(cluster["taskManager"]["podTemplate"]["spec"])
    # the JobManager runs the Kafka source enumerator and builds the job graph: Kafka only
    assert jm == {"kairos-kafka": "/etc/kairos/kafka", "kairos-tls": "/etc/kairos/tls"}
    # TaskManagers read and write Kafka and write the detections to Elasticsearch
    assert tm == {**jm, "kairos-es": "/etc/kairos/es"}
    # the job names the files by path (where the pods mount them) and leaves template and topics to the Job
    assert _secrets_args(job["args"]) == ["/etc/kairos/kafka/kafka.secrets", "/etc/kairos/es/es.secrets"]
    assert "--no-prepare" in job["args"]
    pods, args = _pod(prepare["spec"]["template"]["spec"])
    assert set(pods) == {"kairos-kafka-admin", "kairos-es-admin", "kairos-tls"}  # admin rights: no Flink pod
    assert args[2:4] == ["jobs.cli", "prepare"] and _secrets_args(args) == _secrets_args(job["args"])
    for spec in (cluster["jobManager"], cluster["taskManager"]):
        for volume in spec["podTemplate"]["spec"]["volumes"]:
            if volume["secret"]["secretName"] != "kairos-tls":
                assert volume["secret"]["defaultMode"] == 0o400
