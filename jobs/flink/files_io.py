"""File inputs and outputs for embedded runs: one ordered input file, Flink FileSinks for the outputs."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

from pyflink.common import Types, WatermarkStrategy
from pyflink.common.serialization import Encoder
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.file_system import FileSink, FileSource, StreamFormat

from jobs.compiler.plan import Plan
from jobs.nodes.base import Output
from jobs.nodes.outputs import dead_letter, encode_output
from jobs.runtime.decode import MIN_TS
from jobs.runtime.executor import Stamps, escape_key
from jobs.runtime.files import canonical, timed_inputs
from jobs.runtime.live_params import CONTROL_INPUT, with_control

MIN_SQL_MS, MAX_SQL_MS = -62_135_596_800_000, 253_402_300_799_999  # years 1 and 9999
OUTPUT_FILES = {"actions": "actions.jsonl", "detected": "detected.jsonl", "dead_letter": "dead_letter.jsonl"}


class FileInputs:
    """All input files merged into one deterministic order (see runtime.files.merged_inputs), read by a FileSource.

    Each line is `source<TAB>stamp<TAB>raw line`: the stamp is the watermark as of that line (executor.Stamps),
    so the entry decides lateness without keyed state."""

    stamped = True

    def __init__(self, files: dict[str, str], work_dir: str, control: str | None = None):
        self.files, self.work_dir = files, work_dir
        self.control = control  # live parameters: a file of control messages, merged by time (--control)
        self.lines = 0

    def raw_stream(self, env: StreamExecutionEnvironment, plan: Plan) -> DataStream:
        os.makedirs(self.work_dir, exist_ok=True)
        path = os.path.join(self.work_dir, "input.tsv")
        stamps = Stamps(plan.scenario.max_out_of_orderness_ms)
        with open(path, "w", encoding="utf-8") as handle:
            for source, line, ts, _ in with_control(timed_inputs(plan.scenario, self.files),
                                                    self.control if plan.scenario.parameters else None):
                stamp = stamps.watermark if source == CONTROL_INPUT else stamps.next(ts)  # a change moves no time
                handle.write(f"{source}\t{stamp}\t{line}\n")
                self.lines += 1
        source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), path).build()
        return env.from_source(source, WatermarkStrategy.no_watermarks(), f"{plan.scenario.name}/files")

    def keyed_raw_stream(self, env: StreamExecutionEnvironment, plan: Plan) -> DataStream:
        """Row(key, "key<TAB>time<TAB>source<TAB>stamp<TAB>raw line") with event-time watermarks, for an entry
        fused into its keyed segment (Plan.fused_entry): the key and the time are split off in Java (a Table
        API source with a WATERMARK clause), so the first Python call is the fused operator itself."""
        from pyflink.table import StreamTableEnvironment

        os.makedirs(self.work_dir, exist_ok=True)
        path = os.path.join(self.work_dir, "input-keyed.tsv")
        ooo_ms = plan.scenario.max_out_of_orderness_ms
        stamps = Stamps(ooo_ms)
        with open(path, "w", encoding="utf-8") as handle:
            for source, line, ts, key in timed_inputs(plan.scenario, self.files):
                stamp = stamps.next(ts)
                # a line without a time moves no watermark: it gets the stamp's time, clamped to SQL's range
                row_ts = min(max(ts if ts != MIN_TS else max(stamp, 0), MIN_SQL_MS), MAX_SQL_MS)
                handle.write(f"{escape_key(key)}\t{row_ts}\t{source}\t{stamp}\t{line}\n")
                self.lines += 1
        t_env = StreamTableEnvironment.create(env)
        table = f"kairos_input_{abs(hash(path))}"
        # Flink SQL watermarks are `max - delay`; DataStream's bounded out-of-orderness is `max - D - 1` ms, the
        # rule the stamps follow: delay = D + 1 ms keeps Flink's watermark at or behind every stamp
        sql_path = path.replace("'", "''")
        t_env.execute_sql(
            f"CREATE TEMPORARY TABLE {table} (line STRING, "
            f"rt AS TO_TIMESTAMP_LTZ(CAST(SPLIT_INDEX(line, '\t', 1) AS BIGINT), 3), "
            f"WATERMARK FOR rt AS {sql_minus_ms('rt', ooo_ms + 1)}) "
            f"WITH ('connector' = 'filesystem', 'path' = '{sql_path}', 'format' = 'raw')")
        keyed = t_env.sql_query(f"SELECT SPLIT_INDEX(line, '\t', 0) AS k, line FROM {table}")
        return t_env.to_append_stream(keyed, Types.ROW_NAMED(["k", "line"], [Types.STRING(), Types.STRING()]))


def sql_minus_ms(column: str, ms: int) -> str:
    """`column - ms` milliseconds in Flink SQL. Not an INTERVAL literal: `INTERVAL '120.001' SECOND` is refused
    (leading precision 2), and the planner refuses a larger day/second precision (measured: SECOND(9, 3) and
    DAY(6) TO SECOND(3) both fail in code generation); TIMESTAMPADD takes any number of milliseconds."""
    return f"TIMESTAMPADD(MILLISECOND, {-int(ms)}, {column})"


class FileOutputs:
    """Flink FileSinks into DIR/.parts/<kind>/; `collect` turns them into DIR/<kind>.jsonl in canonical order."""

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.parts = os.path.join(out_dir, ".parts")

    def attach(self, plan: Plan, actions: DataStream, detected: DataStream, dead_letter: DataStream) -> None:
        for kind, stream in (("actions", actions), ("detected", detected), ("dead_letter", dead_letter)):
            sink = FileSink.for_row_format(os.path.join(self.parts, kind), Encoder.simple_string_encoder()).build()
            stream.sink_to(sink).name(f"{plan.scenario.name}/{kind}-file").set_parallelism(1)

    def collect(self) -> dict[str, list[dict]]:
        results = {}
        for kind, file_name in OUTPUT_FILES.items():
            records = []
            for part in sorted(glob.glob(os.path.join(self.parts, kind, "**", "*"), recursive=True)):
                if os.path.isfile(part) and not os.path.basename(part).startswith("."):
                    records.extend(_record(line) for line in Path(part).read_bytes().split(b"\n") if line)
            results[kind] = canonical(records)
            write_jsonl(os.path.join(self.out_dir, file_name), results[kind])
        return results


def _record(line: bytes) -> dict:
    """A line of a part file; encode_output only writes valid JSON, this keeps even a broken one."""
    try:
        record = json.loads(line)
        if isinstance(record, dict):
            return record
    except (ValueError, RecursionError):
        pass
    return dead_letter("", "", "unreadable output line", line, None)


def write_jsonl(path: str, records: list[dict]) -> None:
    """UTF-8 JSON lines, written to a temporary file and renamed: a reader never sees half a file. An
    unpaired surrogate is written as its JSON escape (backslashreplace gives exactly `\\ud800`)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as handle:
        for record in records:
            try:
                text = json.dumps(record, ensure_ascii=False, allow_nan=False)
            except (ValueError, TypeError, RecursionError, OverflowError):
                text = encode_output(Output.DEAD_LETTER, record)[1]
            handle.write(text + "\n")
    os.replace(tmp, path)
