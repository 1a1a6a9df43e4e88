"""One module per ``screener`` command; each exposes ``register(subparsers)``."""
