"""A thin, careful driver for the durable_rules C core.

durable_rules 2.0.28 is unmaintained (last release 2020); it stays behind this
module. The pitfalls listed in ``shared/notes/durable.md`` are handled here:

* We call the C core directly (no ``Host``): no timer threads dispatching
  actions behind our back, and actions run synchronously, one session at a time.
* A fact that matches no rule is normal here (code 1) and is not an error; a
  fact reported as already observed (code 2) means a hash collision or a
  duplicate id, so we raise rather than silently lose it.
* Actions never assert facts from inside the engine (failures there are
  swallowed): they return new facts, and the driver asserts them in the next
  round until nothing new is derived (forward chaining to a fixed point).
* Sessions are never deleted: ``delete_state`` corrupts the heap when a join
  is half-matched (seen here as ``free(): invalid pointer`` aborts, depending on
  heap layout), and crashes with queued actions (notes). Instead one session
  per ruleset is reused, the core's default one (facts carry no ``sid``; each
  ruleset has its own sessions): after each run every fact asserted into it,
  base and derived, is retracted, so the next run starts empty and the
  ~1,024-session cap is never approached.
* No truth maintenance: a session is never edited. Any change to the facts is
  a new session evaluated from scratch.
* Rule sets are registered under a unique name (name + counter), because the
  core refuses to re-register a name; :meth:`close` deletes the old one.
* The C core is not thread-safe: one lock serialises every call in a process.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Callable
from typing import Any, TypeAlias

import durable_rules_engine as dre
import orjson

from screener.errors import EngineError

Action: TypeAlias = Callable[[str, dict[str, dict[str, Any]]], list[dict[str, Any]] | None]

_LOCK = threading.RLock()
_NAMES = itertools.count(1)

_CODE_NOT_HANDLED = 1
_CODE_OBSERVED = 2


class DurableRuleset:
    """One registered ruleset; :meth:`run` evaluates one set of facts in a fresh session."""

    def __init__(self, name: str, rules: dict[str, dict[str, Any]]) -> None:
        definition = {rule: {k: v for k, v in body.items() if k != "run"} for rule, body in rules.items()}
        self.name = f"{name}_{next(_NAMES)}"
        with _LOCK:
            try:
                self._handle = dre.create_ruleset(self.name, json.dumps(definition))
            except Exception as error:  # the core only says "error code N"
                raise EngineError(f"durable_rules refused the compiled rule set: {error}") from error
        self._closed = False

    def _assert(self, text: str) -> int:
        result = dre.assert_facts(self._handle, text)
        code, state = result[0], result[1]
        if code == _CODE_OBSERVED:
            raise EngineError(
                "durable_rules reported a fact as already seen (hash collision or duplicate id); "
                "the patient was not evaluated"
            )
        if code not in (0, _CODE_NOT_HANDLED):
            raise EngineError(f"durable_rules assert failed with code {code}")
        return state

    def run(self, facts: list[dict[str, Any]], action: Action, max_rounds: int = 20) -> None:
        """Assert ``facts`` in a new session, call ``action(rule, matched)`` for every firing.

        ``action`` may return new facts to assert; rounds go on until none are new.
        Facts go in as they are (no copy): they carry no ``sid``, so the core puts
        them in its default session ``"0"``, which is this ruleset's own. Facts
        with an ``id`` are retracted by it alone (less JSON for the core to read).
        """
        if self._closed:
            raise EngineError("rule set already closed")
        handle = self._handle
        asserted: list[Any] = []  # the ids of every fact asserted, retracted afterwards
        loads = orjson.loads
        complete = dre.complete_and_start_action
        with _LOCK:
            state: int | None = None
            message: Any = None  # the firing whose action is running (not yet completed)
            try:
                batch = facts
                for _ in range(max_rounds):
                    if not batch:
                        break
                    asserted.extend({"id": f["id"]} if "id" in f else f for f in batch)
                    state = self._assert(orjson.dumps(batch).decode())
                    batch = []
                    started = dre.start_action_for_state(handle, state)
                    message = started[1] if started else None
                    while message:
                        for rule, matched in loads(message).items():
                            new = action(rule, matched)
                            if new:
                                batch.extend(new)
                        message = complete(handle, state)
                else:
                    raise EngineError(f"derived facts did not settle after {max_rounds} rounds")
            finally:
                if state is not None:
                    # an action that raised is still "running" in the core, which then starts no
                    # other for this state: complete it and every one queued behind it, or the
                    # next run on this rule set fires nothing at all
                    with contextlib.suppress(Exception):
                        if message:
                            while complete(handle, state):
                                pass
                        while dre.start_action_for_state(handle, state):
                            complete(handle, state)
                if asserted:
                    dre.retract_facts(handle, orjson.dumps(asserted).decode())

    def close(self) -> None:
        if not self._closed:
            with _LOCK:
                dre.delete_ruleset(self._handle)
            self._closed = True
