"""Plain data: patients and rule sets, parsed and checked, with no engine in sight."""
