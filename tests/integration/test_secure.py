"""Credentials: from KAIROS_* variables or a secrets file, masked in everything kairos prints.

TODO (issue 4): a run against `kafka.sh start --secure` + `elasticsearch.sh start --secure` in a separate
SERVICES_ENV_DIR; these tests cover loading and masking without services.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jobs.connect.settings import load_connections, masked

REPO = Path(__file__).resolve().parents[2]
SECRETS = {"KAIROS_KAFKA_USERNAME": "kairos", "KAIROS_KAFKA_PASSWORD": "kafka-s3cret-pw",
           "KAIROS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAIROS_KAFKA_CA_FILE": "/etc/ca.pem",
           "KAIROS_ES_USERNAME": "elastic", "KAIROS_ES_PASSWORD": "es-s3cret-pw"}


def write_secrets(tmp_path: Path) -> Path:
    path = tmp_path / "kairos.secrets"
    path.write_text("# test\n" + "".join(f"{k}={v}\n" for k, v in SECRETS.items()))
    return path


def test_secrets_file_and_environment(tmp_path):
    conns = load_connections("b:9093", "https://es:9200", str(write_secrets(tmp_path)),
                             environ={"KAIROS_ES_PASSWORD": "from-env"})
    props = conns.kafka.java_properties()
    assert props["security.protocol"] == "SASL_SSL" and props["sasl.mechanism"] == "SCRAM-SHA-512"
    assert props["sasl.jaas.config"].startswith("org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram")
    assert props["ssl.truststore.type"] == "PEM"
    assert conns.es.client_kwargs()["basic_auth"] == ("elastic", "from-env")  # environment wins


def test_masked_config_has_no_secret(tmp_path):
    conns = load_connections("b:9093", "https://es:9200", str(write_secrets(tmp_path)), environ={})
    text = json.dumps(masked(conns)) + json.dumps(masked(conns.kafka.java_properties()))
    assert "s3cret" not in text and "***" in text


def test_cli_print_config_masks(tmp_path):
    out = subprocess.run([sys.executable, "-m", "jobs.cli_connect", "run",
                          str(REPO / "scenarios/low_balance_offer/low_balance_offer.yaml"), "--kafka", "b:9093",
                          "--es", "https://es:9200", "--secrets", str(write_secrets(tmp_path)), "--print-config"],
                         cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "s3cret" not in out.stdout + out.stderr
    assert json.loads(out.stdout)["connections"]["kafka"]["password"] == "***"
