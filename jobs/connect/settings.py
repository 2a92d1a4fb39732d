"""Connection settings and secrets for Kafka and Elasticsearch.

Secrets come from environment variables or a secrets file (`--secrets FILE`, lines `KEY=VALUE`, `#` comments),
never from scenario files or command-line values (those show up in `ps` and in Flink's logs).
Environment variables win over the file. Anything printed goes through `masked()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

SECRET_NAMES = ("password", "api_key", "truststore_password")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# the Kafka connector jar shades kafka-clients, so JAAS login modules carry the shaded package name
_SHADED = "org.apache.flink.kafka.shaded."
_LOGIN_MODULES = {"PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
                  "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
                  "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule"}


class SettingsError(Exception):
    pass


@dataclass
class KafkaSettings:
    bootstrap: str
    username: str | None = None
    password: str | None = None
    mechanism: str = "PLAIN"
    tls: bool = False
    ca_file: str | None = None  # PEM; used by both the JVM (truststore type PEM) and kafka-python
    truststore: str | None = None  # JKS / PKCS12 for the JVM, instead of ca_file
    truststore_password: str | None = None
    truststore_type: str = "PKCS12"

    @property
    def protocol(self) -> str:
        return ("SASL_SSL" if self.tls else "SASL_PLAINTEXT") if self.username else ("SSL" if self.tls else "PLAINTEXT")

    def java_properties(self, shaded: bool = True) -> dict[str, str]:
        """Kafka client properties for the Flink connector (KafkaSource/KafkaSink builders, Table options)."""
        props = {"bootstrap.servers": self.bootstrap, "security.protocol": self.protocol}
        if self.username:
            module = (_SHADED if shaded else "") + _LOGIN_MODULES[self.mechanism]
            props["sasl.mechanism"] = self.mechanism
            props["sasl.jaas.config"] = (f'{module} required username="{_jaas(self.username)}" '
                                         f'password="{_jaas(self.password or "")}";')
        if self.tls and self.truststore:
            props.update({"ssl.truststore.location": self.truststore, "ssl.truststore.type": self.truststore_type})
            if self.truststore_password:
                props["ssl.truststore.password"] = self.truststore_password
        elif self.tls and self.ca_file:
            props.update({"ssl.truststore.location": self.ca_file, "ssl.truststore.type": "PEM"})
        return props

    def python_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python clients (produce, tail, admin)."""
        kwargs: dict[str, Any] = {"bootstrap_servers": self.bootstrap.split(","), "security_protocol": self.protocol}
        if self.username:
            kwargs.update(sasl_mechanism=self.mechanism, sasl_plain_username=self.username,
                          sasl_plain_password=self.password or "")
        if self.tls:
            kwargs["ssl_cafile"] = self.ca_file
            if not self.ca_file:
                raise SettingsError("kafka-python needs a PEM CA file: set KAIROS_KAFKA_CA_FILE")
        return kwargs


@dataclass
class EsSettings:
    url: str
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    ca_file: str | None = None
    verify: bool = True

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"request_timeout": 30, "retry_on_timeout": True, "max_retries": 5}
        if self.api_key:
            kwargs["api_key"] = self.api_key
        elif self.username:
            kwargs["basic_auth"] = (self.username, self.password or "")
        if self.url.startswith("https"):
            kwargs["verify_certs"] = self.verify
            if self.ca_file:
                kwargs["ca_certs"] = self.ca_file
        return kwargs

    def client(self):
        from elasticsearch import Elasticsearch

        return Elasticsearch(self.url, **self.client_kwargs())


@dataclass
class Connections:
    kafka: KafkaSettings | None = None
    es: EsSettings | None = None
    sources: dict[str, str] = field(default_factory=dict)  # setting name -> "env" / "file" (for --dry-run output)


def _jaas(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def read_secrets_file(path: str) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        text = open(path, encoding="utf-8").read()  # noqa: SIM115 - small file, read at once
    except OSError as exc:
        raise SettingsError(f"cannot read secrets file {path}: {exc.strerror}") from None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep:
            raise SettingsError(f"{path}:{number}: expected KEY=VALUE")  # never echo the line: it may be a secret
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _flag(value: str | None, default: bool) -> bool:
    return default if value in (None, "") else value.lower() in ("1", "true", "yes", "on")


def load_connections(kafka: str | None, es: str | None, secrets_file: str | None = None,
                     environ: Mapping[str, str] | None = None) -> Connections:
    """Settings for the given endpoints; credentials from KAIROS_* variables (environment over secrets file)."""
    env = dict(read_secrets_file(secrets_file)) if secrets_file else {}
    origin = dict.fromkeys(env, "file")
    for key, value in (os.environ if environ is None else environ).items():
        if key.startswith("KAIROS_"):
            env[key], origin[key] = value, "env"
    get = env.get
    conns = Connections(sources={k: v for k, v in origin.items() if k.startswith("KAIROS_")})
    if kafka:
        mechanism = get("KAIROS_KAFKA_SASL_MECHANISM", "PLAIN").upper()
        if mechanism not in SASL_MECHANISMS:
            raise SettingsError(f"KAIROS_KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}")
        ca, store = get("KAIROS_KAFKA_CA_FILE"), get("KAIROS_KAFKA_TRUSTSTORE")
        conns.kafka = KafkaSettings(
            bootstrap=kafka, username=get("KAIROS_KAFKA_USERNAME"), password=get("KAIROS_KAFKA_PASSWORD"),
            mechanism=mechanism, tls=_flag(get("KAIROS_KAFKA_TLS"), bool(ca or store)), ca_file=ca,
            truststore=store, truststore_password=get("KAIROS_KAFKA_TRUSTSTORE_PASSWORD"),
            truststore_type=get("KAIROS_KAFKA_TRUSTSTORE_TYPE", "PKCS12"))
        if conns.kafka.username and not conns.kafka.password:
            raise SettingsError("KAIROS_KAFKA_USERNAME is set but KAIROS_KAFKA_PASSWORD is not")
    if es:
        conns.es = EsSettings(url=es.rstrip("/"), username=get("KAIROS_ES_USERNAME"),
                              password=get("KAIROS_ES_PASSWORD"), api_key=get("KAIROS_ES_API_KEY"),
                              ca_file=get("KAIROS_ES_CA_FILE"), verify=_flag(get("KAIROS_ES_VERIFY_CERTS"), True))
    return conns


def masked(obj: Any) -> Any:
    """A printable copy: secret fields and JAAS configs become '***'."""
    if isinstance(obj, (KafkaSettings, EsSettings)):
        return {f.name: masked_value(f.name, getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Connections):
        return {"kafka": masked(obj.kafka) if obj.kafka else None, "es": masked(obj.es) if obj.es else None}
    if isinstance(obj, Mapping):
        return {k: masked_value(str(k), v) for k, v in obj.items()}
    return obj


def masked_value(name: str, value: Any) -> Any:
    lowered = name.lower()
    secret = any(s in lowered for s in (*SECRET_NAMES, "jaas", "secret", "token", "basic_auth"))
    return "***" if secret and value not in (None, "") else value
