"""What every baseline shares: a thread-mode PyFlink environment set up like kairos's file runs, file sinks,
the output shapes kairos writes (so outputs compare record for record) and reading the sinks back.

Nothing here imports `jobs`: the baselines are an independent oracle for the compiled scenarios.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import site
import sys
import tempfile
import time
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the same Python bundle settings and checkpoint interval as kairos file runs (jobs/flink/embedded.py), so the
# comparison is about the job's code, not its configuration
BUNDLE_SIZE, BUNDLE_TIME_MS, CHECKPOINT_MS = 1000, 100, 1000


def environment(parallelism: int = 1):
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment

    paths = [str(ROOT), *site.getsitepackages()]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(
        paths + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    conf = Configuration()
    for key, value in {
        "python.executable": sys.executable, "python.client.executable": sys.executable,
        "python.pythonpath": os.pathsep.join(paths), "python.execution-mode": "thread",
        "python.fn-execution.bundle.size": str(BUNDLE_SIZE), "python.fn-execution.bundle.time": str(BUNDLE_TIME_MS),
        "execution.checkpointing.interval": f"{CHECKPOINT_MS} ms",
        "execution.checkpointing.checkpoints-after-tasks-finish": "true",
        "restart-strategy.type": "none", "state.backend.type": "hashmap", "rest.port": "0",
        "rest.address": "127.0.0.1", "rest.bind-address": "127.0.0.1",
        "pipeline.auto-watermark-interval": "50 ms", "taskmanager.numberOfTaskSlots": "2",
        # the SQL OVER window keeps every row of the last 10 minutes (~6 MB at 20k rows): more than the 5 MB a
        # JobManager-memory checkpoint may hold
        "execution.checkpointing.storage": "filesystem",
        "execution.checkpointing.dir": f"file://{tempfile.gettempdir()}/kairos-bench-checkpoints",
    }.items():
        conf.set_string(key, value)
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(parallelism)
    return env


def file_sink(stream, directory: str, name: str) -> None:
    from pyflink.common.serialization import Encoder
    from pyflink.datastream.connectors.file_system import FileSink

    sink = FileSink.for_row_format(directory, Encoder.simple_string_encoder()).build()
    stream.sink_to(sink).name(name).set_parallelism(1)


def execute(env, name: str) -> float:
    """Run to the end; seconds from submission to the end, measured like kairos's `RunSummary.seconds`."""
    started = time.monotonic()
    client = env.execute_async(name)
    result = client.get_job_execution_result()
    while not result.done():
        time.sleep(0.2)
    result.result()  # raises with Flink's error when the job failed
    return time.monotonic() - started


def read_parts(directory: str) -> list[dict]:
    records = []
    for part in sorted(glob.glob(os.path.join(directory, "**", "*"), recursive=True)):
        if os.path.isfile(part) and not os.path.basename(part).startswith("."):
            records.extend(json.loads(line) for line in Path(part).read_text(encoding="utf-8").splitlines() if line)
    return records


def fresh(directory: str) -> str:
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    return directory


def iso_ms(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_ts(value) -> int:
    """Epoch ms from a number or ISO-8601 text (no zone: UTC), as the scenarios' `timestamp` type reads it."""
    if isinstance(value, bool):
        raise ValueError("a timestamp cannot be true/false")
    if isinstance(value, (int, float)):
        return int(value)
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


def round_half_up(x: float, digits: int = 0) -> float:
    """SQL-style rounding (half away from zero) in decimal, so 2.675 gives 2.68 like the scenario language."""
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


OUTPUT_KINDS = ("actions", "detected", "dead_letter")


def attach_sinks(parsed, detected, action_tag, dead_tag, out_dir: str) -> None:
    """The three file sinks every DataStream baseline writes: detections (main output), actions (a side output
    of the keyed function) and dead letters (side outputs of the parser and of the keyed function)."""
    file_sink(detected, os.path.join(out_dir, "detected"), "detected-file")
    file_sink(detected.get_side_output(action_tag), os.path.join(out_dir, "actions"), "actions-file")
    file_sink(parsed.get_side_output(dead_tag).union(detected.get_side_output(dead_tag)),
              os.path.join(out_dir, "dead_letter"), "dead-letter-file")


def run_baseline(build, input_path: str, out_dir: str, name: str) -> dict:
    """{seconds, outputs: {actions, detected, dead_letter}}: one job on a fresh MiniCluster in this JVM."""
    fresh(out_dir)
    env = environment(parallelism=1)
    build(env, input_path, out_dir)
    seconds = execute(env, name)
    return {"seconds": seconds, "outputs": {kind: read_parts(os.path.join(out_dir, kind)) for kind in OUTPUT_KINDS}}
