"""Requests the screens send to the app (imperative names; the app owns patient and engine).

The main screen never calls the app's methods: it posts one of these, which bubbles up to
:class:`screener.tui.app.ScreenerApp`. So the screens do not import the app module.
"""

from __future__ import annotations

from textual.message import Message


class EnterFact(Message):
    """Open the fact form, with ``fact`` chosen when given."""

    def __init__(self, fact: str | None = None) -> None:
        super().__init__()
        self.fact = fact


class EditRecord(Message):
    """Open the history form on one record of the patient (``kind`` medication|condition)."""

    def __init__(self, kind: str, index: int, fields: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.kind = kind
        self.index = index
        self.fields = fields  # the fields to fill first


class AddRecord(Message):
    """Open the history form to add a record of ``kind`` (medication|condition), or any."""

    def __init__(self, kind: str | None = None) -> None:
        super().__init__()
        self.kind = kind


class OpenTrial(Message):
    """Show one trial of the portfolio on the main screen (its criteria, explanations, to-do)."""

    def __init__(self, trial: str) -> None:
        super().__init__()
        self.trial = trial
