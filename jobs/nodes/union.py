"""union: merge several branches into one; only names present in every branch (with one type) stay visible."""

from __future__ import annotations

from jobs.nodes.base import DEFAULT_PORT, CompileContext, Compiled, Env, Family, PassThrough

TYPE = "union"
DOC = "Merges the events of all its inputs (`from: [a, b]`). Downstream sees the names common to all inputs."
PARAMS: list = []
PORTS = (DEFAULT_PORT,)
MULTI_INPUT = True
FAMILY = Family.SPLIT


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    # env arrives already intersected by the validator (see validate.merge_envs)
    return Compiled(PassThrough(spec.id), {DEFAULT_PORT: env})
