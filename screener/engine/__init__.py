"""The forward-chaining engine: rule sets compiled to durable_rules, and their evaluation."""
