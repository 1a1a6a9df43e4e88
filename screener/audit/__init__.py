"""Auditing a rule set: lint, human-readable report, diff, and the screening audit trail."""
