"""The entry of a scenario with live parameters on Kafka: the control topic broadcast into it (decision 0023).

    Kafka sources --(union)--> EntryFunction ----> envelopes stamped with the current values --> key_by ...
    <prefix>kairos.control --broadcast--/  (MapState "kairos.parameters": name -> JSON value)

Only this operator holds the values, in Flink broadcast state: every parallel subtask receives every change,
in the same order, and a checkpoint carries them (a restore brings back the last accepted values). It stamps
them on each event it decodes (`ctx["param"]`), so every node downstream reads the same values for one event,
and a change applies from the first event this subtask decodes after it. The Python dict in front of the
state is a write-through cache: filled from the state on the first input after (re)start, replaced (never
mutated) on each accepted change, so events already stamped keep their values.

Such a plan is not fused into one keyed operator (decision 0022): PyFlink 2.2's keyed broadcast operation
calls `on_timer` without routing side outputs (operations.py, KEYED_CO_BROADCAST_PROCESS: `yield from
on_timer(...)`, no `process_func`), so actions released by timers would be lost. Scenarios without
`parameters:` keep the fused path and pay nothing.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from pyflink.common import Types
from pyflink.datastream import DataStream
from pyflink.datastream.functions import BroadcastProcessFunction
from pyflink.datastream.state import MapStateDescriptor

from jobs.compiler.plan import Plan
from jobs.compiler.program import SegmentProgram
from jobs.flink.control import CONTROL_TOPIC, control_source
from jobs.flink.operators import EntryFunction
from jobs.lang.parameters import Parameter, check_value
from jobs.runtime.live_params import CONTROL_INPUT as CONTROL
from jobs.runtime.live_params import LiveParameters

PARAM_STATE = MapStateDescriptor("kairos.parameters", Types.STRING(), Types.STRING())


def live(plan: Plan, inputs) -> str | None:
    """How the job reads parameter changes: "broadcast" (Kafka: the control topic), "inline" (a file run's
    `--control FILE`, merged into the ordered input), None (no parameters, or nothing to change them)."""
    if not plan.scenario.parameters:
        return None
    if getattr(inputs, "reads_control", False):
        return "broadcast"
    return "inline" if getattr(inputs, "control", None) else None


def control_topic(naming) -> str:
    return naming.source_topic(CONTROL_TOPIC)


def control_lines(inputs, env, plan: Plan) -> DataStream:
    """KafkaInputs: the control topic as "_control<TAB>message" lines, timed so it never holds the job's
    watermark back for long (control.control_source: idle after 1 s)."""
    one = SimpleNamespace(scenario=SimpleNamespace(name=plan.scenario.name, sources={CONTROL: control_source()}))
    return inputs.raw_stream(env, one)


class _Clock:
    """A broadcast context as the FlinkRuntime reads one (`ctx.timer_service().current_watermark()`)."""

    def __init__(self, ctx):
        self.ctx = ctx

    def timer_service(self):
        return self.ctx


class ParamEntryFunction(EntryFunction, BroadcastProcessFunction):
    def __init__(self, program: SegmentProgram, declared: dict[str, Parameter], counts_dir: str | None = None,
                 timed: bool = False, stamped: bool = False):
        super().__init__(program, counts_dir, timed, stamped)
        self.declared = declared

    def open(self, runtime_context) -> None:
        super().open(runtime_context)
        self.live = LiveParameters(self.program.scenario, self.declared)
        self.loaded = False
        self.clock = _Clock(None)

    def _load(self, ctx) -> None:
        """After a (re)start: the values the broadcast state restored, over the declared defaults. A value the
        scenario no longer accepts (an upgrade changed the declaration; a removed parameter) is not restored."""
        values = dict(self.executor.params)
        for name, text in ctx.get_broadcast_state(PARAM_STATE).items():
            if name in self.declared:
                value, error = check_value(self.declared[name], json.loads(text))
                if not error:
                    values[name] = value
        self.executor.params = values
        self.loaded = True

    def process_element(self, value, ctx):
        if not self.loaded:
            self._load(ctx)
        self.clock.ctx = ctx
        yield from EntryFunction.process_element(self, value, self.clock)

    def process_broadcast_element(self, value, ctx):
        if not self.loaded:
            self._load(ctx)
        _, _, line = value.partition("\t")
        values, name, outputs = self.live.apply(self.executor.params, line)
        if values is not None:
            ctx.get_broadcast_state(PARAM_STATE).put(name, json.dumps(values[name]))
            self.executor.params = values
        for kind, record in outputs:
            yield self._output(kind, record, self.node_counts, self.metrics, None)


class InlineParamEntryFunction(EntryFunction):
    """File runs with `--control FILE`: the changes arrive in the one ordered input, each at its place by time,
    so a run is a pure function of its files. No broadcast state: a file run is never restored (it starts over
    from its files), and at parallelism 1 the one entry sees every line."""

    def __init__(self, program: SegmentProgram, declared: dict[str, Parameter], counts_dir: str | None = None,
                 timed: bool = False, stamped: bool = False):
        super().__init__(program, counts_dir, timed, stamped)
        self.declared = declared

    def open(self, runtime_context) -> None:
        super().open(runtime_context)
        self.live = LiveParameters(self.program.scenario, self.declared)
        self.prefix = CONTROL + "\t"

    def process_element(self, value, ctx):
        if not value.startswith(self.prefix):
            yield from EntryFunction.process_element(self, value, ctx)
            return
        line = value.split("\t", 2)[-1]
        values, _, outputs = self.live.apply(self.executor.params, line, now_ms=0)
        if values is not None:
            self.executor.params = values
        for kind, record in outputs:
            yield self._output(kind, record, self.node_counts, self.metrics, None)
