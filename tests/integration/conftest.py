"""Fixtures for tests that need the real local services (services/*.sh).

Start them first:  make services-up   (or services/{kafka,elasticsearch,flink-cluster}.sh start)
The scripts write .cache/services/<name>.env; these fixtures read those files.
A missing/unreachable service FAILS the test (never skips): integration tests
that silently skip prove nothing.
"""

from __future__ import annotations

import os
import shlex
import socket
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES_ENV_DIR = Path(os.environ.get("SERVICES_ENV_DIR", REPO_ROOT / ".cache" / "services"))


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: needs the real Kafka/Elasticsearch/Flink services")


def read_service_env(name: str) -> dict[str, str]:
    """Parse .cache/services/<name>.env (lines `export KEY=VALUE`, bash %q quoting)."""
    path = SERVICES_ENV_DIR / f"{name}.env"
    if not path.is_file():
        pytest.fail(
            f"{name} is not running: {path} not found. Start it with `services/{name}.sh start` "
            f"(or `make services-up`).",
            pytrace=False,
        )
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line.startswith("export "):
            continue
        key, _, value = line[len("export "):].partition("=")
        parts = shlex.split(value) if value else [""]
        env[key] = parts[0] if parts else ""
    return env


def _require_tcp(name: str, hostport: str) -> None:
    host, port = hostport.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as e:
        pytest.fail(f"{name} env file exists but {hostport} is unreachable ({e}); "
                    f"restart it with `services/{name}.sh start`", pytrace=False)


@pytest.fixture(scope="session")
def kafka_env() -> dict[str, str]:
    return read_service_env("kafka")


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_env) -> str:
    """PLAINTEXT bootstrap address, e.g. '127.0.0.1:41234'."""
    _require_tcp("kafka", kafka_env["KAFKA_BOOTSTRAP"])
    return kafka_env["KAFKA_BOOTSTRAP"]


@pytest.fixture(scope="session")
def es_env() -> dict[str, str]:
    return read_service_env("elasticsearch")


@pytest.fixture(scope="session")
def es_url(es_env) -> str:
    """Base URL, e.g. 'http://127.0.0.1:43210' (https when started with --secure)."""
    url = es_env["ES_URL"]
    _require_tcp("elasticsearch", url.split("://", 1)[1])
    return url


@pytest.fixture(scope="session")
def flink_env() -> dict[str, str]:
    return read_service_env("flink-cluster")


@pytest.fixture(scope="session")
def flink_rest(flink_env) -> str:
    """REST base URL of the session cluster, e.g. 'http://127.0.0.1:8081'."""
    url = flink_env["FLINK_REST"]
    try:
        urllib.request.urlopen(f"{url}/config", timeout=5).close()
    except OSError as e:
        pytest.fail(f"flink-cluster env file exists but {url} does not answer ({e}); "
                    f"restart it with `services/flink-cluster.sh start`", pytrace=False)
    return url
