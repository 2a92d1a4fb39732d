"""File runs of many scenarios in one job: one merged input per input group, one output folder per scenario.

    OUT/<scenario>/actions.jsonl, detected.jsonl, dead_letter.jsonl, counts.json

A source name means one file for every scenario of the run (`--events atm=FILE` feeds each scenario that has a
source `atm`); scenarios reading the same source name must agree on its kind, key and time fields (the merged
order and the watermark stamps depend on them). Each line carries one watermark stamp per distinct
out-of-orderness of the group's scenarios, computed over exactly the lines that scenario reads, so every
scenario decides lateness as it would alone (executor.Stamps, docs/time.md).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass

from pyflink.common import Types, WatermarkStrategy
from pyflink.common.serialization import Encoder
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.file_system import FileSink, FileSource, StreamFormat

from jobs.compiler.plan import Plan
from jobs.flink.files_io import MAX_SQL_MS, MIN_SQL_MS, OUTPUT_FILES, _record, sql_minus_ms, write_jsonl
from jobs.flink.multi import InputGroup, MultiPlanError, plan_many
from jobs.lang.model import Source
from jobs.runtime.executor import Stamps, escape_key, merge_counts
from jobs.runtime.files import InputError, canonical, timed_inputs

MIN_TS = -(2**63)


def file_input_id(files: dict[str, str]):
    """input_id for plan_many: the source name, checked for agreement between scenarios."""
    seen: dict[str, tuple] = {}

    def input_id(name: str, source: Source) -> str:
        facts = (source.kind, source.key, source.time, str(source.schema.fields.get(source.key)))
        if seen.setdefault(name, facts) != facts:
            raise MultiPlanError(f"source '{name}' is declared differently by two scenarios (kind, key, time "
                                 "or key type): in one run a source name is one input")
        return name

    return input_id


def scenario_files(plan: Plan, events: dict[str, str], changelogs: dict[str, str]) -> dict[str, str]:
    """The files of one scenario's sources among the run's `--events` / `--changelog` options."""
    files = {}
    for name, source in plan.scenario.sources.items():
        given = (changelogs if source.kind == "changelog" else events).get(name)
        if given is None:
            raise InputError(f"scenario '{plan.scenario.name}': no {source.kind} file for source '{name}' "
                             f"(use --{'changelog' if source.kind == 'changelog' else 'events'} {name}=FILE)")
        files[name] = given
    return files


class MultiFileInputs:
    stamped = True

    def __init__(self, files: dict[str, str], work_dir: str):
        self.files, self.work_dir = files, work_dir
        self.lines = 0

    def _lines(self, group: InputGroup):
        stamps = [Stamps(ooo) for ooo in group.stamp_ooo_ms]
        for source, line, ts, key in timed_inputs(group.sources, {i: self.files[i] for i in group.inputs}):
            self.lines += 1
            yield source, line, ts, key, [s.next(ts) for s in stamps]

    def raw_stream(self, env: StreamExecutionEnvironment, group: InputGroup) -> DataStream:
        os.makedirs(self.work_dir, exist_ok=True)
        path = os.path.join(self.work_dir, f"input-{group.slots[0].slot}.tsv")
        with open(path, "w", encoding="utf-8") as handle:
            for source, line, _, _, stamps in self._lines(group):
                handle.write(f"{source}\t{','.join(map(str, stamps))}\t{line}\n")
        source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), path).build()
        return env.from_source(source, WatermarkStrategy.no_watermarks(), f"files-{group.slots[0].slot}")

    def keyed_raw_stream(self, env: StreamExecutionEnvironment, group: InputGroup) -> DataStream:
        """As FileInputs.keyed_raw_stream: key and time split off in Java; the SQL watermark trails the
        largest out-of-orderness, so Flink's watermark never passes any scenario's stamp."""
        from pyflink.table import StreamTableEnvironment

        os.makedirs(self.work_dir, exist_ok=True)
        path = os.path.join(self.work_dir, f"input-keyed-{group.slots[0].slot}.tsv")
        with open(path, "w", encoding="utf-8") as handle:
            for source, line, ts, key, stamps in self._lines(group):
                row_ts = min(max(ts if ts != MIN_TS else max(min(stamps), 0), MIN_SQL_MS), MAX_SQL_MS)
                handle.write(f"{escape_key(key)}\t{row_ts}\t{source}\t{','.join(map(str, stamps))}\t{line}\n")
        t_env = StreamTableEnvironment.create(env)
        table = f"kairos_multi_input_{abs(hash(path))}"
        delay_ms = max(group.stamp_ooo_ms, default=0) + 1
        t_env.execute_sql(
            f"CREATE TEMPORARY TABLE {table} (line STRING, "
            f"rt AS TO_TIMESTAMP_LTZ(CAST(SPLIT_INDEX(line, '\t', 1) AS BIGINT), 3), "
            f"WATERMARK FOR rt AS {sql_minus_ms('rt', delay_ms)}) "
            f"WITH ('connector' = 'filesystem', 'path' = '{path.replace(chr(39), chr(39) * 2)}', "
            f"'format' = 'raw')")
        keyed = t_env.sql_query(f"SELECT SPLIT_INDEX(line, '\t', 0) AS k, line FROM {table}")
        return t_env.to_append_stream(keyed, Types.ROW_NAMED(["k", "line"], [Types.STRING(), Types.STRING()]))


class MultiFileOutputs:
    """One FileSink per output kind for all scenarios; `collect` splits by each record's scenario."""

    joined = True  # records are newline-joined JSON lines: written as lines (multi_ops._Slot)

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.parts = os.path.join(out_dir, ".parts")

    def attach_all(self, plans: list[Plan], sides) -> None:
        for kind in OUTPUT_FILES:
            streams = [per[kind] for per in sides.values() if per[kind] is not None]
            stream = streams[0].union(*streams[1:]) if len(streams) > 1 else streams[0]
            sink = FileSink.for_row_format(os.path.join(self.parts, kind), Encoder.simple_string_encoder()).build()
            stream.sink_to(sink).name(f"campaigns/{kind}-file").set_parallelism(1)

    def collect(self, names: list[str]) -> dict[str, dict[str, list[dict]]]:
        results: dict[str, dict[str, list[dict]]] = {n: {k: [] for k in OUTPUT_FILES} for n in names}
        for kind in OUTPUT_FILES:
            for part in sorted(glob.glob(os.path.join(self.parts, kind, "**", "*"), recursive=True)):
                if os.path.isfile(part) and not os.path.basename(part).startswith("."):
                    with open(part, "rb") as handle:
                        for line in handle.read().split(b"\n"):
                            if line:
                                record = _record(line)
                                owner = record.get("scenario")
                                # an unreadable line names no scenario: kept by the first, never dropped
                                results.get(owner, results[names[0]])[kind].append(record)
        for name, per in results.items():
            os.makedirs(os.path.join(self.out_dir, name), exist_ok=True)
            for kind, file_name in OUTPUT_FILES.items():
                per[kind] = canonical(per[kind])
                write_jsonl(os.path.join(self.out_dir, name, file_name), per[kind])
        return results


@dataclass
class ManySummary:
    counts: dict[str, dict[str, dict[str, int]]]  # scenario -> node -> counter
    outputs: dict[str, dict[str, list[dict]]]  # scenario -> kind -> records
    input_lines: int
    seconds: float
    operators: int  # Python operators (slots) in the job


def run_many_files(plans: list[Plan], files: dict[str, str], out_dir: str,
                   on_progress: Callable[[str], None] | None = None, parallelism: int = 1) -> ManySummary:
    """Every scenario in one embedded job: files in (by source name), OUT/<scenario>/ out."""
    from jobs.flink.embedded import FILE_BUNDLE_SIZE, FILE_BUNDLE_TIME_MS, clear_outputs, prepare_python_path
    from jobs.flink.job import JobOptions, make_environment
    from jobs.flink.multi import build_multi_job

    prepare_python_path()
    names = [p.scenario.name for p in plans]
    for name in names:
        clear_outputs(os.path.join(out_dir, name))
    work = os.path.join(out_dir, ".work")
    for stale in (work, os.path.join(out_dir, ".parts")):
        shutil.rmtree(stale, ignore_errors=True)
    counts_dir = os.path.join(work, "counts")
    multi = plan_many(plans, file_input_id(files), fuse=parallelism == 1, counts_dir=counts_dir)
    options = JobOptions(parallelism=parallelism, deterministic=True, counts_dir=counts_dir,
                         checkpoint_interval_ms=1000, extra_config={
                             "restart-strategy.type": "none",
                             # each scenario keeps its own keyed state (e.g. its copy of a changelog): 10 bank
                             # copies' checkpoint is 8 MB, over the JobManager's 5 MB in-memory limit
                             "execution.checkpointing.storage": "filesystem",
                             "execution.checkpointing.dir": f"file://{os.path.abspath(work)}/checkpoints"},
                         bundle_size=FILE_BUNDLE_SIZE, bundle_time_ms=FILE_BUNDLE_TIME_MS)
    env = make_environment(options)
    inputs, outputs = MultiFileInputs(files, work), MultiFileOutputs(out_dir)
    build_multi_job(env, multi, inputs, outputs, options)
    started = time.monotonic()
    client = env.execute_async(f"kairos/campaigns/{len(plans)}")
    result = client.get_job_execution_result()
    while not result.done():
        if on_progress:
            on_progress(f"running: {inputs.lines} input lines, {time.monotonic() - started:.0f}s")
        time.sleep(0.5)
    result.result()
    seconds = time.monotonic() - started
    results = outputs.collect(names)
    counts = {}
    for index, name in enumerate(names):
        parts = []
        for path in sorted(glob.glob(os.path.join(counts_dir, str(index), "*.json"))):
            with open(path, encoding="utf-8") as handle:
                parts.append(json.load(handle))
        counts[name] = merge_counts(parts)
        target = os.path.join(out_dir, name, "counts.json")
        with open(f"{target}.tmp", "w", encoding="utf-8") as handle:
            json.dump(counts[name], handle, indent=2, sort_keys=True)
        os.replace(f"{target}.tmp", target)
    shutil.rmtree(os.path.join(out_dir, ".parts"), ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    return ManySummary(counts, results, inputs.lines, seconds, sum(len(g.slots) for g in multi.groups))
