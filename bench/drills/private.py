"""Private Kafka / Elasticsearch / Flink session cluster for the fault drills, and the faults themselves.

The drills kill and restart servers, so they never touch the shared ones (.cache/services): every server here
is started by services/*.sh under its own SERVICES_ENV_DIR (free ports, its own data), and `stop()` ends all
of them, also when a drill fails. The faults:
* TaskManager: `kill -9` of its JVM (the Python of thread mode dies with it), and a new TaskManager started
  the way services/flink-cluster.sh starts one, as a supervisor (Kubernetes, systemd) would;
* Kafka broker / Elasticsearch: the scripts' `stop` (TERM, wait), and the same process started again with the
  same command line, environment and user, so it comes back on the same ports with the same data directory
  (the scripts' `start` would pick new ports, and the running job would never find the broker again).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _start_time(pid: int) -> str:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
        return handle.read().rsplit(")", 1)[1].split()[19]


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [part.decode() for part in handle.read().split(b"\0") if part]
    except OSError:
        return []


def _reap(proc: subprocess.Popen) -> None:
    """Wait for a process started here as soon as it ends: unreaped, it stays a zombie in its process group,
    and the scripts' `stop` waits for that group to empty (it hung there until its KILL timeout)."""
    threading.Thread(target=proc.wait, daemon=True).start()


class Private:
    """`with Private(root, ["kafka", "elasticsearch", "flink-cluster"]) as p:` servers of the drill's own."""

    def __init__(self, root: Path, names: list[str]):
        self.root, self.names = root, names
        self.env_dir = root / "services"
        self.started: list[str] = []
        self.extra_taskmanagers: list[subprocess.Popen] = []
        self.timings: dict[str, float] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------
    def script(self, name: str, command: str, timeout_s: float = 600) -> subprocess.CompletedProcess:
        env = {**os.environ, "SERVICES_ENV_DIR": str(self.env_dir)}
        return subprocess.run([str(ROOT / "services" / f"{name}.sh"), command], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout_s, check=False)

    def __enter__(self) -> Private:
        self.env_dir.mkdir(parents=True, exist_ok=True)
        try:
            for name in self.names:
                started = time.monotonic()
                print(f"  starting a private {name} under {self.env_dir}", flush=True)
                self.started.append(name)
                done = self.script(name, "start")
                if done.returncode != 0:
                    raise RuntimeError(f"services/{name}.sh start failed: {done.stderr[-2000:]}")
                self.timings[f"{name}_start_s"] = round(time.monotonic() - started, 1)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        for proc in self.extra_taskmanagers:
            self._kill_group(proc.pid)
        self.extra_taskmanagers.clear()
        for name in reversed(self.started):
            done = self.script(name, "stop", 300)
            if done.returncode != 0:
                print(f"  (services/{name}.sh stop: {done.stderr[-500:]})", flush=True)
        self.started.clear()

    @staticmethod
    def _kill_group(pgid: int) -> None:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)

    def env(self, name: str) -> dict[str, str]:
        values = {}
        path = self.env_dir / f"{name}.env"
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("export ") and "=" in line:
                key, _, value = line[len("export "):].partition("=")
                values[key] = (shlex.split(value) or [""])[0]
        return values

    def _pid(self, name: str) -> int:
        return int((self.env_dir / f"{name}.pid").read_text().split()[0])

    # -- Flink -----------------------------------------------------------------------------------------------
    def rest(self, path: str, method: str = "GET") -> dict:
        url = self.env("flink-cluster")["FLINK_REST"] + path
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=15) as response:
            body = response.read()
        return json.loads(body) if body else {}

    def taskmanager_pids(self) -> list[int]:
        groups = [self._pid("flink-cluster"), *(p.pid for p in self.extra_taskmanagers)]
        return [pid for g in groups for pid in _group_pids(g)
                if any("TaskManagerRunner" in part for part in _cmdline(pid))]

    def kill_taskmanager(self, sig: int = signal.SIGKILL) -> list[int]:
        """kill -9 (or `sig`) every TaskManager JVM of this cluster; returns their pids."""
        pids = self.taskmanager_pids()
        for pid in pids:
            os.kill(pid, sig)
        return pids

    def start_taskmanager(self) -> None:
        """A new TaskManager with the cluster's configuration (what services/flink-cluster.sh starts)."""
        flink = self.env("flink-cluster")
        state = self.env_dir / "flink-cluster"
        site = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c",
                               "import site; print(site.getsitepackages()[0])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        env = {**os.environ, "FLINK_HOME": flink["FLINK_HOME"], "FLINK_LIB_DIR": str(state / "lib"),
               "FLINK_CONF_DIR": flink["FLINK_CONF_DIR"], "FLINK_LOG_DIR": str(state / "log"), "PYTHONPATH": site}
        log = open(self.env_dir / "logs" / f"flink-taskmanager-{len(self.extra_taskmanagers) + 2}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen([f"{flink['FLINK_HOME']}/bin/taskmanager.sh", "start-foreground"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        log.close()
        _reap(proc)
        self.extra_taskmanagers.append(proc)

    def registered_taskmanagers(self) -> int:
        try:
            return len(self.rest("/taskmanagers").get("taskmanagers", []))
        except OSError:
            return -1

    # -- Kafka / Elasticsearch: stop, then the same process again ---------------------------------------------
    def capture(self, name: str) -> dict:
        """What it takes to start service `name` again exactly as it runs now (command, environment, user)."""
        pid = self._pid(name)
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = dict(part.decode().split("=", 1) for part in handle.read().split(b"\0") if b"=" in part)
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        uid = int(next(line for line in status if line.startswith("Uid:")).split()[1])
        gid = int(next(line for line in status if line.startswith("Gid:")).split()[1])
        return {"argv": _cmdline(pid), "env": environ, "cwd": os.readlink(f"/proc/{pid}/cwd"), "uid": uid,
                "gid": gid, "env_file": (self.env_dir / f"{name}.env").read_text(encoding="utf-8")}

    def stop_service(self, name: str) -> dict:
        saved = self.capture(name)
        done = self.script(name, "stop", 300)
        if done.returncode != 0:
            raise RuntimeError(f"services/{name}.sh stop failed: {done.stderr[-1000:]}")
        return saved

    def restart_service(self, name: str, saved: dict, ready_timeout_s: float = 600) -> float:
        """Start the saved process again (same ports, same data dir); returns seconds until it answers."""
        argv = saved["argv"]
        if saved["uid"] != os.getuid():
            argv = ["setpriv", f"--reuid={saved['uid']}", f"--regid={saved['gid']}", "--clear-groups", "--", *argv]
        log = open(self.env_dir / "logs" / f"{name}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(argv, env=saved["env"], cwd=saved["cwd"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        _reap(proc)
        # the scripts' own pid file and env file: `status` and the final `stop` find it as if they had started it
        (self.env_dir / f"{name}.pid").write_text(f"{proc.pid} {_start_time(proc.pid)}\n")
        (self.env_dir / f"{name}.env").write_text(saved["env_file"], encoding="utf-8")
        started = time.monotonic()
        while self.script(name, "status", 60).returncode != 0:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}) when started again; see its log")
            if time.monotonic() - started > ready_timeout_s:
                raise RuntimeError(f"{name} not ready {ready_timeout_s:.0f} s after its restart")
            time.sleep(1)
        return round(time.monotonic() - started, 1)
