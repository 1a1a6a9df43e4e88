"""Terminal UI for research nurses (``screener tui``).

Only this package imports textual; :mod:`screener.tui.records` and
:mod:`screener.tui.editing` are plain Python so that they can be used and
tested without it. Build the app with :func:`screener.tui.app.make_app`.
"""
