"""split: send every event down all the branches that read from it (a named fork, for readable graphs)."""

from __future__ import annotations

from jobs.nodes.base import DEFAULT_PORT, CompileContext, Compiled, Env, Family, PassThrough

TYPE = "split"
DOC = "Copies each event to every node that reads from this one. Branches are independent."
PARAMS: list = []
PORTS = (DEFAULT_PORT,)
MULTI_INPUT = False
FAMILY = Family.SPLIT


def compile(spec, params, env: Env, cc: CompileContext) -> Compiled | None:
    return Compiled(PassThrough(spec.id), {DEFAULT_PORT: env})
