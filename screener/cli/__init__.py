"""Command-line interface: ``screener <command>``; one module per command in ``commands/``."""
