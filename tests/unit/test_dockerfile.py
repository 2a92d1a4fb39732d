"""The Dockerfile, without a Docker engine: parsed instruction by instruction, every file it copies from the
build context exists (and is not excluded by .dockerignore), and every version it pins agrees with pom.xml and
pyproject.toml; the paths the Kubernetes manifests use exist in the image it describes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from jobs.connect import k8s

REPO = Path(__file__).resolve().parents[2]
POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out, pending = [], ""
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            word, _, rest = pending.partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def args() -> dict[str, str]:
    return dict(a.split("=", 1) for i, a in instructions() if i == "ARG" and "=" in a)


def pom_property(name: str) -> str:
    root = ET.parse(REPO / "pom.xml").getroot()
    return root.find(f"m:properties/m:{name}", POM_NS).text


def pyproject() -> dict:
    """The two pyproject.toml fields compared here (tomllib is not in Python 3.10)."""
    text = (REPO / "pyproject.toml").read_text()
    deps = re.search(r"^dependencies = \[(.*?)\]", text, re.S | re.M).group(1)
    return {"project": {"dependencies": re.findall(r'"([^"]+)"', deps),
                        "requires-python": re.search(r'^requires-python = "([^"]+)"', text, re.M).group(1)}}


def test_versions_match_pom_and_pyproject():
    a = args()
    assert a["FLINK_VERSION"] == pom_property("flink.version")
    assert f"apache-flink=={a['FLINK_VERSION']}" in pyproject()["project"]["dependencies"]
    assert a["KAFKA_CONNECTOR_VERSION"] == pom_property("flink.kafka.connector.version")
    low, high = re.match(r">=(\d+\.\d+),<(\d+\.\d+)", pyproject()["project"]["requires-python"]).groups()
    as_tuple = tuple(int(x) for x in a["PYTHON_VERSION"].split("."))
    assert tuple(int(x) for x in low.split(".")) <= as_tuple < tuple(int(x) for x in high.split("."))
    # the python in the image is the one python.pythonpath names in the manifests
    assert f"python{a['PYTHON_VERSION']}/site-packages" in k8s.flink_configuration("s3://x")["python.pythonpath"]
    assert a["FLINK_VERSION"] == k8s.FLINK_VERSION
    assert k8s.KAFKA_JAR.endswith(f"flink-sql-connector-kafka-{a['KAFKA_CONNECTOR_VERSION']}.jar")


def test_the_runtime_is_the_official_flink_image_at_that_version():
    froms = [rest.split()[0] for i, rest in instructions() if i == "FROM"]
    assert froms[-1] == "flink:${FLINK_VERSION}-scala_2.12-java17"
    assert all(":" in f and not f.endswith(":latest") for f in froms)  # every base image has a tag


def test_every_copied_file_exists_and_is_not_ignored():
    ignored = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines() if p.strip()]
    copies = [rest for i, rest in instructions() if i == "COPY" and not rest.startswith("--from")]
    assert copies
    for rest in copies:
        *sources, _target = rest.split()
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the build context"
            assert not any(Path(source).match(p) or source.startswith(p.rstrip("/") + "/") for p in ignored), source
    multi = [rest for i, rest in instructions() if i == "COPY" and rest.startswith("--from")]
    assert any("flink-sql-connector-kafka-${KAFKA_CONNECTOR_VERSION}.jar /opt/flink/lib/" in m for m in multi)


def test_image_paths_used_by_the_manifests():
    text = (REPO / "Dockerfile").read_text()
    assert "WORKDIR /opt/kairos" in text and "-m venv /opt/kairos/.venv" in text
    assert "COPY jobs ./jobs" in text and "COPY udfs ./udfs" in text
    assert "cp /opt/flink/opt/flink-python-${FLINK_VERSION}.jar /opt/flink/lib/" in text
    for path in sorted((REPO / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            spec = doc.get("spec", {})
            job = spec.get("job", {})
            if "jarURI" in job:
                assert job["jarURI"] == f"local:///opt/flink/lib/flink-python-{args()['FLINK_VERSION']}.jar"
                scenario = job["args"][job["args"].index("--scenario") + 1]
                assert (REPO / scenario.removeprefix("/opt/kairos/")).is_file()  # COPY scenarios ./scenarios
