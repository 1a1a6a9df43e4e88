"""Exit codes are part of the CLI's contract (as in ruff and opa).

A patient being ineligible is a result, not an error: ``screen`` exits 0.
"""

OK = 0
FINDINGS = 1  # lint findings, failing fixture cases, broken audit chain
INPUT_ERROR = 2  # unusable rule or patient file, bad usage
INTERRUPTED = 130
