"""Connection settings and secrets for Kafka and Elasticsearch.

Secrets come from environment variables or secrets files (`--secrets FILE`, lines `KEY=VALUE`, `#` comments;
several files: later ones win), never from scenario files or command-line values (those show up in `ps` and in
Flink's logs). Environment variables win over files. Anything printed goes through `masked()`, and `repr()` of
the settings masks too. The job graph never holds a secret: only where the running job finds it
(jobs/config/secrets.py, decision 0011).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from jobs.config.secrets import (
    SecretRef,
    SettingsError,
    ephemeral_secrets_file,
    flag,
    jaas_quote,
    kafka_secret,
    mask_url,
    merged_secrets,
    provider_properties,
    read_secrets_file,
    secrets_paths,
    split_url_credentials,
)

__all__ = ["Connections", "EsSettings", "KafkaSettings", "SecretRef", "SettingsError", "load_connections",
           "masked", "masked_value", "read_secrets_file"]

SECRET_NAMES = ("password", "api_key", "truststore_password")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# the Kafka connector jar shades kafka-clients, so JAAS login modules carry the shaded package name
_SHADED = "org.apache.flink.kafka.shaded."
_LOGIN_MODULES = {"PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
                  "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
                  "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule"}
_KAFKA_KEYS = {"password": "KAIROS_KAFKA_PASSWORD", "truststore_password": "KAIROS_KAFKA_TRUSTSTORE_PASSWORD"}


class _Masked:
    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in masked(self).items())
        return f"{type(self).__name__}({inner})"


@dataclass(repr=False)
class KafkaSettings(_Masked):
    bootstrap: str
    username: str | None = None
    password: str | None = None
    mechanism: str = "PLAIN"
    tls: bool = False
    ca_file: str | None = None  # PEM; used by both the JVM (truststore type PEM) and kafka-python
    truststore: str | None = None  # JKS / PKCS12 for the JVM, instead of ca_file
    truststore_password: str | None = None
    truststore_type: str = "PKCS12"
    refs: dict[str, SecretRef] = field(default_factory=dict)  # field name -> where the running job reads it

    @property
    def protocol(self) -> str:
        return ("SASL_SSL" if self.tls else "SASL_PLAINTEXT") if self.username else ("SSL" if self.tls else "PLAINTEXT")

    def _secret(self, name: str, used: list[SecretRef], jaas: bool = False) -> str:
        ref = self.refs.get(name)
        if ref is None:
            raise SettingsError(f"{_KAFKA_KEYS[name]} has no place a running job can read it from "
                                "(set it in the environment or a --secrets file)")
        used.append(ref)
        return kafka_secret(ref, getattr(self, name), jaas)

    def java_properties(self, shaded: bool = True) -> dict[str, str]:
        """Kafka client properties for the Flink connector (KafkaSource/KafkaSink builders, Table options).

        Secrets appear as config-provider placeholders, resolved by the Kafka client where it runs."""
        props = {"bootstrap.servers": self.bootstrap, "security.protocol": self.protocol}
        used: list[SecretRef] = []
        if self.username:
            module = (_SHADED if shaded else "") + _LOGIN_MODULES[self.mechanism]
            password = self._secret("password", used, jaas=True) if self.password is not None or \
                "password" in self.refs else ""
            props["sasl.mechanism"] = self.mechanism
            props["sasl.jaas.config"] = (f'{module} required username="{jaas_quote(self.username)}" '
                                         f'password="{password}";')
        if self.tls and self.truststore:
            props.update({"ssl.truststore.location": self.truststore, "ssl.truststore.type": self.truststore_type})
            if self.truststore_password or "truststore_password" in self.refs:
                props["ssl.truststore.password"] = self._secret("truststore_password", used)
        elif self.tls and self.ca_file:
            props.update({"ssl.truststore.location": self.ca_file, "ssl.truststore.type": "PEM"})
        props.update(provider_properties(used, shaded))
        return props

    def python_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python clients (produce, tail, admin) in this process."""
        kwargs: dict[str, Any] = {"bootstrap_servers": self.bootstrap.split(","), "security_protocol": self.protocol}
        if self.username:
            kwargs.update(sasl_mechanism=self.mechanism, sasl_plain_username=self.username,
                          sasl_plain_password=self.password or "")
        if self.tls:
            kwargs["ssl_cafile"] = self.ca_file
            if not self.ca_file:
                raise SettingsError("kafka-python needs a PEM CA file: set KAIROS_KAFKA_CA_FILE")
        return kwargs

    def for_job(self, embedded: bool) -> KafkaSettings:
        """A copy whose secrets all have a runtime place (an ephemeral file for embedded runs if needed)."""
        missing = {n: getattr(self, n) for n in _KAFKA_KEYS if getattr(self, n) and n not in self.refs}
        if not missing:
            return self
        if not embedded:
            raise SettingsError(f"{', '.join(_KAFKA_KEYS[n] for n in missing)}: a cluster job reads its secrets "
                                "from the environment or a --secrets file on its machines")
        path = ephemeral_secrets_file({_KAFKA_KEYS[n]: v for n, v in missing.items()})
        return dataclasses.replace(self, refs={**self.refs, **{n: SecretRef(_KAFKA_KEYS[n], path) for n in missing}})


@dataclass(repr=False)
class EsSettings(_Masked):
    url: str
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    ca_file: str | None = None
    verify: bool = True
    secret_files: tuple[str, ...] = ()  # where the running job looks for KAIROS_ES_* (then its environment)
    authenticated: bool = False  # credentials were found when the job was built: the job must find them too

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

    def client(self, **overrides: Any):
        from elasticsearch import Elasticsearch

        return Elasticsearch(self.url, **{**self.client_kwargs(), **overrides})

    def for_job(self, embedded: bool) -> EsSettings:
        """What the job graph carries: no password, no API key; the writer calls `resolved()` in open()."""
        files = self.secret_files
        if (self.password or self.api_key) and not self._found_at_runtime():
            if not embedded:
                raise SettingsError("Elasticsearch credentials in the --es URL (or set in code) cannot reach a "
                                    "cluster's TaskManagers: use KAIROS_ES_* variables or a --secrets file")
            values = {"KAIROS_ES_API_KEY": self.api_key} if self.api_key else {
                "KAIROS_ES_USERNAME": self.username or "", "KAIROS_ES_PASSWORD": self.password or ""}
            files = (ephemeral_secrets_file(values), *files)  # first: files and variables still win over it
        return dataclasses.replace(self, password=None, api_key=None, secret_files=files,
                                   authenticated=bool(self.password or self.api_key or self.username))

    def _found_at_runtime(self) -> bool:
        try:
            again = _es_credentials(list(self.secret_files), None)
        except SettingsError:
            return False
        return (again.get("KAIROS_ES_API_KEY"), again.get("KAIROS_ES_PASSWORD")) == (self.api_key, self.password)

    def resolved(self, environ: Mapping[str, str] | None = None) -> EsSettings:
        """On the TaskManager: credentials from the secrets files and the environment, as on the client."""
        if not self.secret_files and not self.authenticated:
            return self
        found = _es_credentials(list(self.secret_files), environ)
        es = dataclasses.replace(self, username=found.get("KAIROS_ES_USERNAME", self.username),
                                 password=found.get("KAIROS_ES_PASSWORD"), api_key=found.get("KAIROS_ES_API_KEY"))
        if self.authenticated and not (es.api_key or es.password):
            raise SettingsError("no Elasticsearch credentials (KAIROS_ES_PASSWORD / KAIROS_ES_API_KEY) in "
                                f"{', '.join(self.secret_files) or 'no secrets file'} or the environment here")
        return es


def _es_credentials(files: list[str], environ: Mapping[str, str] | None) -> dict[str, str]:
    env, _ = merged_secrets(files, environ)
    return {k: v for k, v in env.items() if k in ("KAIROS_ES_USERNAME", "KAIROS_ES_PASSWORD", "KAIROS_ES_API_KEY")}


@dataclass(repr=False)
class Connections(_Masked):
    kafka: KafkaSettings | None = None
    es: EsSettings | None = None
    sources: dict[str, str] = field(default_factory=dict)  # setting name -> "env" / "file" (for --dry-run output)

    def for_job(self, embedded: bool) -> Connections:
        return dataclasses.replace(self, kafka=self.kafka.for_job(embedded) if self.kafka else None,
                                   es=self.es.for_job(embedded) if self.es else None)


def load_connections(kafka: str | None, es: str | None, secrets_file: str | Sequence[str] | None = None,
                     environ: Mapping[str, str] | None = None, skip_unreadable: bool = False) -> Connections:
    """Settings for the given endpoints; credentials from KAIROS_* variables (environment over secrets files).

    `skip_unreadable`: a secrets file this machine cannot read is left to the machines that run the job."""
    files = secrets_paths(secrets_file)
    env, refs = merged_secrets(files, environ, skip_unreadable)
    get = env.get
    conns = Connections(sources={k: r.provider for k, r in refs.items() if k.startswith("KAIROS_")})
    if kafka:
        mechanism = get("KAIROS_KAFKA_SASL_MECHANISM", "PLAIN").upper()
        if mechanism not in SASL_MECHANISMS:
            raise SettingsError(f"KAIROS_KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}")
        ca, store = get("KAIROS_KAFKA_CA_FILE"), get("KAIROS_KAFKA_TRUSTSTORE")
        conns.kafka = KafkaSettings(
            bootstrap=kafka, username=get("KAIROS_KAFKA_USERNAME"), password=get("KAIROS_KAFKA_PASSWORD"),
            mechanism=mechanism, tls=flag(get("KAIROS_KAFKA_TLS"), bool(ca or store)), ca_file=ca,
            truststore=store, truststore_password=get("KAIROS_KAFKA_TRUSTSTORE_PASSWORD"),
            truststore_type=get("KAIROS_KAFKA_TRUSTSTORE_TYPE", "PKCS12"),
            refs={n: refs[k] for n, k in _KAFKA_KEYS.items() if k in refs})
        if conns.kafka.username and not conns.kafka.password:
            raise SettingsError("KAIROS_KAFKA_USERNAME is set but KAIROS_KAFKA_PASSWORD is not")
    if es:
        url, url_user, url_password = split_url_credentials(es.rstrip("/"))
        username, password = get("KAIROS_ES_USERNAME"), get("KAIROS_ES_PASSWORD")
        if url_user is not None and not (username or get("KAIROS_ES_API_KEY")):
            username, password = url_user, url_password  # the URL's credentials, if nothing else was given
        conns.es = EsSettings(url=url, username=username, password=password, api_key=get("KAIROS_ES_API_KEY"),
                              ca_file=get("KAIROS_ES_CA_FILE"), verify=flag(get("KAIROS_ES_VERIFY_CERTS"), True),
                              secret_files=tuple(files))
    return conns


def masked(obj: Any) -> Any:
    """A printable copy: secret fields and JAAS configs become '***', credentials in URLs too."""
    if isinstance(obj, (KafkaSettings, EsSettings)):
        return {f.name: masked_value(f.name, getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Connections):
        return {"kafka": masked(obj.kafka) if obj.kafka else None, "es": masked(obj.es) if obj.es else None}
    if isinstance(obj, Mapping):
        return {k: masked_value(str(k), v) for k, v in obj.items()}
    return obj


def masked_value(name: str, value: Any) -> Any:
    lowered = name.lower()
    if lowered == "refs" and isinstance(value, Mapping):  # where secrets are read: names and paths, no values
        return {k: str(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return list(value)
    secret = any(s in lowered for s in (*SECRET_NAMES, "jaas", "secret", "token", "basic_auth"))
    if secret and value not in (None, "") and not isinstance(value, (bool, list)):
        return "***"
    return mask_url(value) if isinstance(value, str) and "://" in value else value
