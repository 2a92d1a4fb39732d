"""Streaming runs with one Python operator per event (decision 0022): Kafka decoded, keyed and timed in Java.

Each topic is a Table API `kafka` source with the `raw` format (value as BYTES: never fails, a record without
a value is a row with a NULL column, so nothing is dropped or altered). Computed in Java, per record:

* the key: `JSON_VALUE` of the source's key field over the value decoded as UTF-8;
* the event time: the same rules as `decode.parse_time_value` for the two forms producers write (epoch-ms
  digits, ISO-8601 `YYYY-MM-DD[T ]HH:MM[:SS[.f]][Z|+HH:MM]`), then `check_event_time`'s range and
  future bound; anything else gets no time (the record moves no watermark, as `_LineTime` did);
* the watermark: `WATERMARK FOR rt AS rt - (out_of_orderness + 1 ms)` per source (a Java watermark assigner
  after the source, as `source_watermarks` was), with the source's `idleness` as its idle timeout.

The rows, `Row(key, "<key>\\t<source>\\t<value as ISO-8859-1>")`, are unioned, keyed in Java and handed to
`StreamFusedFunction`: the entry and the keyed segment in one operator (Plan.fused_entry). The entry decodes
the value again in Python, as always (schema, dead letters with the exact bytes); the Java key only places
the record, and a record whose decoded key differs from it is a dead letter, never processed under the wrong
key. Changelog topics are read the same way (record key + value): a tombstone is a delete of the record key.
"""

from __future__ import annotations

import json
import re

from pyflink.common import Types
from pyflink.datastream import DataStream, StreamExecutionEnvironment

from jobs.compiler.plan import Plan
from jobs.flink.metrics import now_ms
from jobs.flink.operators import FusedFunction
from jobs.lang.model import SourceKind
from jobs.lang.types import STRING
from jobs.runtime.decode import MAX_EVENT_MS, MAX_FUTURE_SKEW_MS
from jobs.runtime.rawline import wrap_latin1

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# the ISO forms Java parses; Python accepts more (date only, +HHMM, ...): those lines move no watermark
_ISO = (r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([0-9]{2}:[0-9]{2})(:[0-5][0-9])?(\.[0-9]{1,9})?"
        r"(Z|z|[+-][0-9]{2}:[0-9]{2})?$")
# a changelog that no event-time join reads stops holding back event time this soon after its last update:
# its times decide nothing (enrich `mode: latest` takes the newest version on arrival), and with the 60 s
# default idleness every quiet spell of a reference topic held delayed actions back for up to a minute
CHANGELOG_IDLENESS_CAP_MS = 1_000
NULL_VALUE, NULL_VALUE_NO_KEY = "-", "="  # before the source name: the record had no value (and no key)


def fusable(plan: Plan) -> bool:
    """Whether the Kafka inputs can feed the fused operator: one keyed segment keyed by the event key
    (Plan.fused_entry), string keys (JSON_VALUE gives exactly the decoded text; numbers would not: 42.0 vs
    42) and plain field names for the JSON paths."""
    if plan.fused_entry() is None:
        return False
    for source in plan.scenario.sources.values():
        if source.schema.fields.get(source.key) != STRING:
            return False
        if not (_NAME.fullmatch(source.key) and _NAME.fullmatch(source.time)):
            return False
    return True


def idleness_ms(plan: Plan, source) -> int:
    """The idleness a streaming run gives a source: its own, capped for changelogs without event-time joins."""
    graph = getattr(plan, "graph", None)  # a many-campaigns reader (jobs/connect/multi_runner.py) has no one graph:
    # it keeps the source's own idleness, the safe side (an event-time join must not see a changelog go idle early)
    holds_time = graph is None or any(c.changelog == source.name and c.uses_time for c in graph.compiled.values())
    if source.kind == SourceKind.CHANGELOG and not holds_time:
        return min(source.idleness_ms or CHANGELOG_IDLENESS_CAP_MS, CHANGELOG_IDLENESS_CAP_MS)
    return source.idleness_ms


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def time_ms_sql(text: str) -> str:
    """SQL: epoch ms of a JSON scalar's text (`text`, may be NULL), or NULL where decode.parse_timestamp would
    not give exactly this value. Feb 30 and the like: Java's parser moves them to a valid day, so the
    result must print back as its input."""
    def part(i: int) -> str:
        return f"REGEXP_EXTRACT({text}, {_q(_ISO)}, {i})"

    minute = f"TO_TIMESTAMP(CONCAT({part(1)}, ' ', {part(2)}, ':00'))"
    offset = (f"CASE WHEN {part(5)} IS NULL OR UPPER({part(5)}) = 'Z' THEN 0 "
              f"ELSE (CASE WHEN SUBSTR({part(5)}, 1, 1) = '-' THEN -1 ELSE 1 END) * "
              f"(CAST(SUBSTR({part(5)}, 2, 2) AS BIGINT) * 60 + CAST(SUBSTR({part(5)}, 5, 2) AS BIGINT)) * 60000 END")
    iso = (f"CAST(TIMESTAMPDIFF(MINUTE, TIMESTAMP '1970-01-01 00:00:00', {minute}) AS BIGINT) * 60000"
           f" + COALESCE(CAST(SUBSTR({part(3)}, 2, 2) AS BIGINT), 0) * 1000"
           f" + COALESCE(CAST(RPAD(SUBSTR({part(4)}, 2, 3), 3, '0') AS BIGINT), 0) - ({offset})")
    ms = (f"CASE WHEN REGEXP({text}, '^[0-9]{{1,16}}$') THEN CAST({text} AS BIGINT) "
          f"WHEN REGEXP({text}, {_q(_ISO)}) AND SUBSTR({text}, 1, 4) BETWEEN '1970' AND '2262' "
          f"AND DATE_FORMAT({minute}, 'yyyy-MM-dd HH:mm') = CONCAT({part(1)}, ' ', {part(2)}) THEN {iso} END")
    # decode.check_event_time: in range, and not more than the skew ahead of the clock (seconds: never later)
    return (f"CASE WHEN ({ms}) BETWEEN 0 AND LEAST({MAX_EVENT_MS}, UNIX_TIMESTAMP() * 1000 + {MAX_FUTURE_SKEW_MS}) "
            f"THEN ({ms}) END")


def _escape(sql: str) -> str:
    """The key inside the payload, split on tabs in Python: backslash and tab escaped (`_unescape`)."""
    return f"REPLACE(REPLACE({sql}, '\\', '\\\\'), '\t', '\\t')"


_ESCAPED = re.compile(r"\\(.)", re.S)


def _unescape(key: str) -> str:
    return _ESCAPED.sub(lambda m: "\t" if m.group(1) == "t" else m.group(1), key) if "\\" in key else key


class KafkaTableSources:
    """`Row(key, payload)` of every source, timed and watermarked in Java (see the module docstring)."""

    def __init__(self, inputs):
        self.inputs = inputs  # kafka_io.KafkaInputs: settings, naming, start, bounded, the TableEnv

    def _options(self, topic: str, changelog: bool) -> dict[str, str]:
        from jobs.flink.kafka_io import _client_options

        inputs = self.inputs
        options = {"connector": "kafka", "topic": topic, "value.format": "raw",
                   "properties.group.id": inputs.naming.group_id,
                   "properties.client.id.prefix": f"{inputs.naming.group_id}-{topic}",
                   **_client_options(inputs.kafka)}
        if changelog:
            options.update({"key.format": "raw", "key.fields": "rk", "value.fields-include": "EXCEPT_KEY"})
        options["scan.startup.mode"] = {"earliest": "earliest-offset", "latest": "latest-offset"}.get(
            inputs.start, "group-offsets")
        if options["scan.startup.mode"] == "group-offsets":
            options["properties.auto.offset.reset"] = "earliest"
        if inputs.bounded:
            options["scan.bounded.mode"] = "latest-offset"
        return options

    def stream(self, env: StreamExecutionEnvironment, plan: Plan) -> DataStream:
        """Per source: the Kafka table -> (key, payload, time text) -> event time and watermarks -> union.

        Two table stages because SQL has no `let`: each mention of an expression is computed again, and the
        time rules mention the time text ~20 times; in the second stage it is a column, parsed once."""
        from pyflink.table import DataTypes, Schema

        from jobs.flink.files_io import sql_minus_ms
        from jobs.flink.kafka_io import _with

        t_env = self.inputs.tables.t_env
        config = t_env.get_config()
        idle_before = config.get("table.exec.source.idle-timeout", "0 ms")
        row_type = Types.ROW_NAMED(["k", "line"], [Types.STRING(), Types.STRING()])
        streams = []
        for name, source in plan.scenario.sources.items():
            table = f"kairos_src_{plan.scenario.name}_{name}"
            changelog = source.kind == SourceKind.CHANGELOG
            topic = self.inputs.naming.source_topic(source.topic)
            t_env.execute_sql(f"CREATE TEMPORARY TABLE `{table}` ({'rk STRING, ' if changelog else ''}v BYTES) "
                              f"WITH ({_with(self._options(topic, changelog))})")
            text = "DECODE(v, 'UTF-8')"
            key = f"COALESCE(JSON_VALUE({text}, '$.{source.key}'), '')"
            if changelog:  # a tombstone deletes its record key
                key = f"CASE WHEN v IS NULL THEN COALESCE(rk, '') ELSE {key} END"
                null_marker = f"CASE WHEN rk IS NULL THEN '{NULL_VALUE_NO_KEY}' ELSE '{NULL_VALUE}' END"
            else:
                null_marker = f"'{NULL_VALUE}'"
            payload = (f"CASE WHEN v IS NULL THEN CONCAT({_escape(key)}, '\t', {null_marker}, {_q(name)}, '\t') "
                       f"ELSE CONCAT({_escape(key)}, '\t', {_q(name)}, '\t', DECODE(v, 'ISO-8859-1')) END")
            decoded = t_env.to_data_stream(t_env.sql_query(
                f"SELECT {key} AS k, {payload} AS line, JSON_VALUE({text}, '$.{source.time}') AS s FROM `{table}`"))
            schema = (Schema.new_builder().column("k", DataTypes.STRING()).column("line", DataTypes.STRING())
                      .column("s", DataTypes.STRING())
                      .column_by_expression("rt", f"TO_TIMESTAMP_LTZ(COALESCE({time_ms_sql('s')}, 0), 3)")
                      # DataStream's rule (max - D - 1 ms), as the file-run stamps and _LineTime follow
                      .watermark("rt", sql_minus_ms("rt", source.out_of_orderness_ms + 1)).build())
            # the idle timeout of a table's watermark assigner is read when the table is translated, which
            # to_append_stream does at once: so each source gets its own
            config.set("table.exec.source.idle-timeout", f"{idleness_ms(plan, source)} ms")
            timed = t_env.from_data_stream(decoded, schema)
            streams.append(t_env.to_append_stream(timed.select(timed.k, timed.line), row_type))
        config.set("table.exec.source.idle-timeout", idle_before)
        return streams[0].union(*streams[1:]) if len(streams) > 1 else streams[0]


class StreamFusedFunction(FusedFunction):
    """The fused entry + keyed segment of a streaming run: input `"<escaped key>\\t<source>\\t<latin-1 value>"`
    keyed in Java by the raw key; no stamp (lateness from Flink's watermark, as in every streaming run)."""

    def open(self, runtime_context) -> None:
        super().open(runtime_context)
        self.rt.escaped_keys = False  # Flink keys by the key itself (field 0); only the payload escapes it
        self.changelog_keys = {name: source.key for name, source in self.entry.p.sources.items()
                               if source.kind == SourceKind.CHANGELOG}

    def process_element(self, value, ctx):
        key, source, line = value.split("\t", 2)
        self.rt.ctx, self.rt.key = ctx, _unescape(key)
        self._arrived(now_ms(), ctx)  # publishes the counters (every REPORT_EVERY inputs, or on its timer)
        marker = source[:1]
        if marker in (NULL_VALUE, NULL_VALUE_NO_KEY):
            source = source[1:]
            if source in self.changelog_keys:  # a tombstone: {"<key>": key, "_deleted": true}, as kafka_io does
                deleted = {self.changelog_keys[source]: None if marker == NULL_VALUE_NO_KEY else self.rt.key,
                           "_deleted": True}
                line = json.dumps(deleted)
            else:
                line = wrap_latin1(None)  # rawline's "no value": the entry's dead letter says so
        else:
            line = wrap_latin1(line)
        self.entry.accept_raw(source, line, self.rt)
        yield from self._flush()
