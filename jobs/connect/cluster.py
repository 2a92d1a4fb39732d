"""Flink session cluster: submit through the wheel's `flink run -py`, list and cancel through the REST API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass

from jobs.config.project import PROJECT_ROOT

JOB_ID = re.compile(r"JobID ([0-9a-f]{32})")


class ClusterError(Exception):
    pass


def rest_url(cluster: str) -> str:
    return cluster.rstrip("/") if "://" in cluster else f"http://{cluster}"


def _request(cluster: str, path: str, method: str = "GET") -> dict:
    request = urllib.request.Request(rest_url(cluster) + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise ClusterError(f"{method} {path}: HTTP {exc.code} {detail}") from None
    except OSError as exc:
        raise ClusterError(f"cannot reach the Flink cluster at {rest_url(cluster)}: {exc}") from None
    return json.loads(body) if body else {}


@dataclass
class JobInfo:
    id: str
    name: str
    state: str
    start_time: int
    duration_ms: int


def list_jobs(cluster: str) -> list[JobInfo]:
    jobs = _request(cluster, "/jobs/overview").get("jobs", [])
    return sorted((JobInfo(j["jid"], j["name"], j["state"], j.get("start-time", 0), j.get("duration", 0))
                   for j in jobs), key=lambda j: -j.start_time)


def job_state(cluster: str, job_id: str) -> str:
    return _request(cluster, f"/jobs/{job_id}").get("state", "UNKNOWN")


def cancel_job(cluster: str, job_id: str) -> None:
    _request(cluster, f"/jobs/{job_id}?mode=cancel", method="PATCH")


def flink_bin() -> str:
    """The `flink` launcher of the installed PyFlink wheel (same Flink version as the job)."""
    import pyflink

    return os.path.join(os.path.dirname(os.path.abspath(pyflink.__file__)), "bin", "flink")


def submit(cluster: str, job_args: list[str], kafka_jar: str, timeout_s: float = 300,
           savepoint: str | None = None, allow_non_restored: bool = False) -> str:
    """`flink run -d` the scenario job; returns the job id. Secrets travel by environment or secrets file only.
    `savepoint`: start from this savepoint (or retained checkpoint) directory."""
    address = cluster.split("://", 1)[-1].rstrip("/")
    restore = (["-s", savepoint] if savepoint else []) + (["--allowNonRestoredState"] if allow_non_restored else [])
    command = [flink_bin(), "run", "-m", address, "-d", *restore, "-j", kafka_jar,
               "-pyclientexec", sys.executable, "-pyexec", sys.executable,
               "-py", os.path.join(PROJECT_ROOT, "jobs", "scenario_job.py"),
               "--pyFiles", ",".join(os.path.join(PROJECT_ROOT, d) for d in ("jobs", "udfs")), *job_args]
    env = dict(os.environ, PYFLINK_CLIENT_EXECUTABLE=sys.executable)
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"flink run did not finish within {timeout_s:.0f}s") from None
    found = JOB_ID.search(done.stdout + done.stderr)
    if done.returncode != 0 or not found:
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        causes = [line for line in lines if "Caused by" in line or "Error" in line or "error" in line]
        raise ClusterError("flink run failed: " + " | ".join((causes or lines)[-3:])[:1500])
    return found.group(1)
