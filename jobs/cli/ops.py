"""kairos operations commands (docs/operations.md).

  kairos stop JOB_ID --cluster HOST:PORT [--savepoint DIR] [--drain]   stop with a savepoint, print its path
  kairos savepoint JOB_ID --cluster HOST:PORT [--dir DIR]              a savepoint of a running job
  kairos metrics --prometheus HOST:PORTS [--job JOB_ID]                 the kairos metrics of the TaskManagers
  kairos submit SCENARIO ... --from-savepoint DIR [--against OLD.yaml]  (options added to `submit`)
  kairos k8s SCENARIO --kafka HOST:PORT [--es URL] [--session NAME] [-o FILE]  Kubernetes manifests
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from jobs.cli.registry import command, print_errors
from jobs.lang.errors import ScenarioError


@contextlib.contextmanager
def line_progress(console):
    """A rich progress bar for a file run: lines read of the total, events per second, elapsed time.
    Yields the `on_lines(read, total, seconds)` callback of jobs.flink.embedded.run_files."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("starting the embedded Flink engine", total=None, rate="")
        state = {"first": None}

        def on_lines(read: int, total: int, seconds: float) -> None:
            if read and state["first"] is None:  # events/s from the first line read, not from the JVM start
                state["first"] = (read, seconds)
            first_read, first_s = state["first"] or (0, seconds)
            rate = (read - first_read) / (seconds - first_s) if seconds > first_s else 0.0
            progress.update(task, description="events" if read else "starting the embedded Flink engine",
                            completed=read, total=total, rate=f"{rate:,.0f} events/s" if rate else "")

        yield on_lines


def add_restore_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("upgrade from a savepoint")
    g.add_argument("--from-savepoint", metavar="DIR", help="start from this savepoint (or retained checkpoint)")
    g.add_argument("--allow-non-restored-state", action="store_true",
                   help="drop savepoint state no operator of the new job claims (a removed stateful node)")
    g.add_argument("--against", metavar="OLD.yaml",
                   help="refuse to submit unless the job can continue the state of a job of OLD.yaml")


def check_restore(args: argparse.Namespace, plan) -> int:
    """`submit --against OLD.yaml`: 1 after printing file:line:col problems, else 0."""
    if not getattr(args, "against", None):
        return 0
    from jobs.compiler.compat import require_upgrade
    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load

    try:
        require_upgrade(make_plan(load(args.against)), plan)
    except ScenarioError as exc:
        print_errors(exc)
        return 1
    return 0


def _stop_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("--cluster", required=True, metavar="HOST:PORT")
    p.add_argument("--savepoint", metavar="DIR", help="savepoint directory (default: the cluster's savepoint-dir)")
    p.add_argument("--drain", action="store_true",
                   help="advance event time to the end first: open windows and pending actions FIRE (only for "
                        "a job that is retired for good, never before an upgrade)")
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for the savepoint")


def _stop(args: argparse.Namespace) -> int:
    import os

    from jobs.connect.cluster import ClusterError
    from jobs.connect.savepoints import stop_with_savepoint

    directory = args.savepoint
    if directory and "://" not in directory:
        directory = "file://" + os.path.abspath(directory)
    try:
        location = stop_with_savepoint(args.cluster, args.job_id, directory, drain=args.drain,
                                       timeout_s=args.timeout)
    except ClusterError as exc:
        print(f"kairos stop: {exc}", file=sys.stderr)
        return 3
    print(location)
    return 0


def _savepoint_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("--cluster", required=True, metavar="HOST:PORT")
    p.add_argument("--dir", metavar="DIR", help="savepoint directory (default: the cluster's savepoint-dir)")


def _savepoint(args: argparse.Namespace) -> int:
    import os

    from jobs.connect.cluster import ClusterError
    from jobs.connect.savepoints import trigger_savepoint

    directory = args.dir
    if directory and "://" not in directory:
        directory = "file://" + os.path.abspath(directory)
    try:
        print(trigger_savepoint(args.cluster, args.job_id, directory))
    except ClusterError as exc:
        print(f"kairos savepoint: {exc}", file=sys.stderr)
        return 3
    return 0


def _metrics_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prometheus", required=True, metavar="HOST:PORT[-PORT]",
                   help="the reporter's address (the TaskManagers' ports of metrics.reporter.prom.port)")
    p.add_argument("--job", metavar="JOB_ID", help="only this job")
    p.add_argument("--json", action="store_true")


def _metrics(args: argparse.Namespace) -> int:
    import json

    from jobs.connect import prometheus as prom

    host, _, ports = args.prometheus.rpartition(":")
    samples = prom.kairos_samples(prom.taskmanager_samples(host or "127.0.0.1", ports), args.job)
    if args.json:
        print(json.dumps([s.__dict__ for s in samples], indent=2))
        return 0
    if not samples:
        print("no kairos metrics at " + args.prometheus, file=sys.stderr)
        return 1
    keep = ("scenario", "node", "channel", "reason", "quantile", "subtask_index")
    for s in sorted(samples, key=lambda s: (s.name, sorted(s.labels.items()))):
        labels = ",".join(f'{k}="{s.labels[k]}"' for k in keep if k in s.labels)
        print(f"{s.name[len(prom.PREFIX):]}{{{labels}}} {s.value:g}")
    return 0


def _k8s_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", metavar="SCENARIO")
    p.add_argument("--kafka", required=True, metavar="HOST:PORT", help="bootstrap servers as seen from the pods")
    p.add_argument("--es", metavar="URL", help="Elasticsearch URL for detections (without: a Kafka topic)")
    p.add_argument("--image", default="registry.example.com/kairos:0.1.0", help="the image built from Dockerfile")
    p.add_argument("--parallelism", type=int, default=2)
    p.add_argument("--session", metavar="NAME", help="a FlinkSessionJob on this session FlinkDeployment instead of "
                   "an application-mode FlinkDeployment")
    p.add_argument("--from-savepoint", metavar="PATH", help="initialSavepointPath of the first deployment")
    p.add_argument("--kafka-secret", default="kairos-kafka", help="Secret with kafka.secrets (KAIROS_KAFKA_*)")
    p.add_argument("--es-secret", default="kairos-es", help="Secret with es.secrets (KAIROS_ES_*)")
    p.add_argument("--tls-secret", default="kairos-tls", help="Secret with CA certificates ('' for none)")
    p.add_argument("--checkpoint-dir", default="s3://kairos-checkpoints", help="checkpoints/ and savepoints/ here")
    p.add_argument("--exactly-once", action="store_true")
    p.add_argument("--prefix", default="")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")


def _k8s(args: argparse.Namespace) -> int:
    import yaml

    from jobs.compiler.plan import make_plan
    from jobs.compiler.validate import load
    from jobs.connect.k8s import K8sOptions, manifests

    try:
        plan = make_plan(load(args.scenario))
    except ScenarioError as exc:
        print_errors(exc)
        return 1
    opts = K8sOptions(kafka=args.kafka, es=args.es, image=args.image, parallelism=args.parallelism,
                      kafka_secret=args.kafka_secret, es_secret=args.es_secret, tls_secret=args.tls_secret or None,
                      exactly_once=args.exactly_once, prefix=args.prefix, session=args.session,
                      from_savepoint=args.from_savepoint, checkpoint_dir=args.checkpoint_dir)
    text = yaml.safe_dump_all(manifests(plan, opts), sort_keys=False, width=120)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


command("k8s", "write Kubernetes manifests for a scenario (FlinkDeployment in application mode, or --session)")(
    (_k8s_args, _k8s))
command("stop", "stop a cluster job with a savepoint (prints the savepoint path)")((_stop_args, _stop))
command("savepoint", "take a savepoint of a running cluster job")((_savepoint_args, _savepoint))
command("metrics", "print the kairos metrics the TaskManagers export to Prometheus")((_metrics_args, _metrics))
