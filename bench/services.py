"""The project's own services for benchmarks: use them when they run, start them when they do not (and stop
only what was started here). The scripts are services/*.sh, the same `make services-up` uses."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_DIR = Path(os.environ.get("SERVICES_ENV_DIR", ROOT / ".cache" / "services"))


def _script(name: str, command: str, timeout_s: float = 300) -> bool:
    env = {**os.environ, "SERVICES_ENV_DIR": str(ENV_DIR)}
    done = subprocess.run([str(ROOT / "services" / f"{name}.sh"), command], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout_s, check=False)
    return done.returncode == 0


def read_env(name: str) -> dict[str, str]:
    values = {}
    path = ENV_DIR / f"{name}.env"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("export ") and "=" in line:
                key, _, value = line[len("export "):].partition("=")
                values[key] = value
    return values


class Service:
    """`with Service("kafka") as env:` the service's .env values; started (and later stopped) if it was down."""

    def __init__(self, name: str):
        self.name, self.started = name, False

    def __enter__(self) -> dict[str, str]:
        if not _script(self.name, "status", 60):
            print(f"{self.name} is not running: starting it (services/{self.name}.sh start)", flush=True)
            if not _script(self.name, "start", 600):
                raise RuntimeError(f"services/{self.name}.sh start failed")
            self.started = True
        return read_env(self.name)

    def __exit__(self, *exc) -> None:
        if self.started:
            print(f"stopping {self.name} (started by this benchmark)", flush=True)
            _script(self.name, "stop", 300)
