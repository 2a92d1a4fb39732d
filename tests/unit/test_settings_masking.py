"""Settings print no secret (repr, masked, URLs) and give the job references instead of values (decision 0011).
No services: the Kafka placeholders are resolved for real in tests/integration/test_secrets_*.py."""

from __future__ import annotations

import json
import os
import stat

import pytest

from jobs.config.secrets import SecretRef, mask_url, split_url_credentials
from jobs.config.settings import EsSettings, KafkaSettings, SettingsError, load_connections, masked

PW = "Pa55-unit-" + "x7q"  # never printed


def secrets_file(tmp_path, **values) -> str:
    path = tmp_path / "kairos.secrets"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return str(path)


def test_repr_masks_every_secret():
    kafka = KafkaSettings("b:9093", "u", PW, truststore="/t.p12", truststore_password=PW, tls=True)
    es = EsSettings("https://es:9200", "elastic", PW, api_key=PW)
    for text in (repr(kafka), repr(es), str(kafka), repr(load_connections("b:1", "http://u:" + PW + "@es:1",
                                                                          environ={}))):
        assert PW not in text and "***" in text, text
    assert "username='u'" in repr(kafka)


@pytest.mark.parametrize("url, clean, user, password", [
    ("https://elastic:" + PW + "@es.example:9200/base", "https://es.example:9200/base", "elastic", PW),
    ("https://us%40r:p%3Aw%2F@es:9200", "https://es:9200", "us@r", "p:w/"),
    ("https://token@es:9200", "https://es:9200", "token", None),
    ("http://es:9200", "http://es:9200", None, None),
])
def test_url_credentials_are_split_off(url, clean, user, password):
    assert split_url_credentials(url) == (clean, user, password)
    assert PW not in mask_url(url) and mask_url(url).endswith(clean.split("://", 1)[1])


def test_url_credentials_never_stay_in_settings():
    conns = load_connections(None, "https://elastic:" + PW + "@es:9200/", environ={})
    assert conns.es.url == "https://es:9200" and conns.es.password == PW and conns.es.username == "elastic"
    assert PW not in json.dumps(masked(conns))
    # explicit KAIROS_ES_* credentials win over the URL's
    conns = load_connections(None, "https://a:b@es:9200", environ={"KAIROS_ES_API_KEY": "k"})
    assert (conns.es.username, conns.es.password, conns.es.api_key) == (None, None, "k")


def test_kafka_properties_hold_placeholders_not_values(tmp_path):
    path = secrets_file(tmp_path, KAIROS_KAFKA_USERNAME="kairos", KAIROS_KAFKA_PASSWORD=PW,
                        KAIROS_KAFKA_TRUSTSTORE="/etc/t.p12", KAIROS_KAFKA_CA_FILE="/etc/ca.pem")
    conns = load_connections("b:9093", None, path, environ={"KAIROS_KAFKA_TRUSTSTORE_PASSWORD": PW})
    props = conns.kafka.java_properties()
    text = json.dumps(props)
    assert PW not in text
    assert f'password="${{file:{path}:KAIROS_KAFKA_PASSWORD}}"' in props["sasl.jaas.config"]
    assert props["ssl.truststore.password"] == "${env:KAIROS_KAFKA_TRUSTSTORE_PASSWORD}"
    assert props["config.providers"] == "env,file"
    assert props["config.providers.file.class"].endswith("kafka.common.config.provider.FileConfigProvider")
    assert props["config.providers.file.class"].startswith("org.apache.flink.kafka.shaded.")
    assert props["config.providers.file.param.allowed.paths"] == str(tmp_path)
    assert props["config.providers.env.param.allowlist.pattern"] == "^KAIROS_.*"
    assert props["ssl.truststore.location"] == "/etc/t.p12"
    assert conns.kafka.python_kwargs()["sasl_plain_password"] == PW  # this process's own clients get the value
    assert "allowed" not in json.dumps(KafkaSettings("b:9092").java_properties())  # nothing secret: no providers


@pytest.mark.parametrize("line, problem", [
    ('KAIROS_KAFKA_PASSWORD="quoted"', "quoted"),
    ("export KAIROS_KAFKA_PASSWORD=x", "export"),
    ("KAIROS_KAFKA_PASSWORD=back\\slash", "backslash"),
    ("KAIROS_KAFKA_PASSWORD=trailing  ", "blanks"),
])
def test_file_lines_java_would_read_differently_are_refused(tmp_path, line, problem):
    path = tmp_path / "s"
    path.write_text(f"KAIROS_KAFKA_USERNAME=u\n{line}\n")
    conns = load_connections("b:9093", None, str(path), environ={})
    with pytest.raises(SettingsError, match=problem) as err:
        conns.kafka.java_properties()
    assert "quoted" not in str(err.value) or problem == "quoted"


def test_jaas_syntax_in_a_password_is_refused_not_passed():
    conns = load_connections("b:9093", None, None, environ={"KAIROS_KAFKA_USERNAME": "u",
                                                            "KAIROS_KAFKA_PASSWORD": 'a"b'})
    with pytest.raises(SettingsError, match="quote"):
        conns.kafka.java_properties()


def test_secrets_without_a_runtime_place(tmp_path):
    kafka = KafkaSettings("b:9093", "u", PW)  # made in code: no file, no variable
    with pytest.raises(SettingsError, match="KAIROS_KAFKA_PASSWORD"):
        kafka.for_job(embedded=False)
    local = kafka.for_job(embedded=True)  # embedded: an ephemeral file only this process can read
    ref = local.refs["password"]
    assert ref.file and ref.resolve() == PW
    assert stat.S_IMODE(os.stat(ref.file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(ref.file)).st_mode) == 0o700
    assert PW not in json.dumps(local.java_properties())

    es = load_connections(None, "https://elastic:" + PW + "@es:9200", environ={}).es
    with pytest.raises(SettingsError, match="URL"):
        es.for_job(embedded=False)
    job = es.for_job(embedded=True)
    assert job.password is None and PW not in repr(job.__dict__)
    assert job.resolved(environ={}).password == PW


def test_es_credentials_resolved_where_the_job_runs(tmp_path):
    path = secrets_file(tmp_path, KAIROS_ES_USERNAME="elastic", KAIROS_ES_PASSWORD=PW)
    job = load_connections(None, "https://es:9200", path, environ={}).es.for_job(embedded=False)
    assert (job.password, job.api_key, job.secret_files) == (None, None, (path,))
    assert job.resolved(environ={}).client_kwargs()["basic_auth"] == ("elastic", PW)
    assert job.resolved(environ={"KAIROS_ES_PASSWORD": "other"}).password == "other"  # environment wins
    os.remove(path)
    with pytest.raises(SettingsError, match="cannot read secrets file"):
        job.resolved(environ={})


def test_secret_ref_resolution(tmp_path):
    path = secrets_file(tmp_path, KAIROS_X="1")
    assert SecretRef("KAIROS_X", path).resolve() == "1"
    assert SecretRef("KAIROS_X").resolve(environ={"KAIROS_X": "2"}) == "2"
    with pytest.raises(SettingsError, match="KAIROS_Y is not set"):
        SecretRef("KAIROS_Y", path).resolve()
    assert str(SecretRef("KAIROS_X", path)) == f"file:{path}:KAIROS_X"


def test_print_config_shows_where_not_what(tmp_path):
    path = secrets_file(tmp_path, KAIROS_KAFKA_USERNAME="kairos", KAIROS_KAFKA_PASSWORD=PW)
    shown = masked(load_connections("b:9093", "https://e:" + PW + "@es:9200", path, environ={}))
    assert shown["kafka"]["refs"] == {"password": f"file:{path}:KAIROS_KAFKA_PASSWORD"}
    assert shown["kafka"]["password"] == "***" and shown["es"]["password"] == "***"
    assert PW not in json.dumps(shown)
