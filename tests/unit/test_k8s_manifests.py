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
MANIFESTS = sorted((REPO / "k8s").glob("*.yaml"))
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
    for path in MANIFESTS:
        text = path.read_text().lower()
        assert "password=" not in text and "password:" not in text and "api_key" not in text
