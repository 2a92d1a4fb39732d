"""Savepoints through the Flink REST API: stop a job with one, trigger one, wait for it.

`POST /jobs/:id/stop` takes a savepoint and then stops the job (sources first, so nothing is processed after
the savepoint); without `drain` the watermark is NOT advanced to the end of time: open windows and pending
actions stay in the savepoint instead of firing. The answer is a trigger id, polled at
`GET /jobs/:id/savepoints/:trigger` until the savepoint is COMPLETED (its location) or failed (the cause).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from jobs.connect.cluster import ClusterError, rest_url


def _call(cluster: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(rest_url(cluster) + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode('utf-8', 'replace')[:300]
        raise ClusterError(f"{request.method} {path}: HTTP {exc.code} {detail}") from None
    except OSError as exc:
        raise ClusterError(f"cannot reach the Flink cluster at {rest_url(cluster)}: {exc}") from None


def _wait(cluster: str, job_id: str, trigger: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = _call(cluster, f"/jobs/{job_id}/savepoints/{trigger}")
        if answer.get("status", {}).get("id") == "COMPLETED":
            operation = answer.get("operation", {})
            if "location" in operation:
                return operation["location"]
            cause = operation.get("failure-cause", {})
            raise ClusterError(f"savepoint failed: {cause.get('class', '')}: {cause.get('stack-trace', '')[:600]}")
        time.sleep(0.5)
    raise ClusterError(f"the savepoint did not complete within {timeout_s:.0f}s")


def stop_with_savepoint(cluster: str, job_id: str, directory: str | None, drain: bool = False,
                        timeout_s: float = 300) -> str:
    """Stop `job_id` with a savepoint in `directory` (None: the cluster's savepoint-dir); returns its path."""
    body: dict = {"drain": drain, "formatType": "CANONICAL"}
    if directory:
        body["targetDirectory"] = directory
    trigger = _call(cluster, f"/jobs/{job_id}/stop", body)["request-id"]
    return _wait(cluster, job_id, trigger, timeout_s)


def trigger_savepoint(cluster: str, job_id: str, directory: str | None, timeout_s: float = 300) -> str:
    """A savepoint of a job that keeps running (before an upgrade rehearsal, or as a roll-back point)."""
    body: dict = {"cancel-job": False, "formatType": "CANONICAL"}
    if directory:
        body["target-directory"] = directory
    trigger = _call(cluster, f"/jobs/{job_id}/savepoints", body)["request-id"]
    return _wait(cluster, job_id, trigger, timeout_s)
