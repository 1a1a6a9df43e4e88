"""JSON Schemas shipped with the package, and validation with file:line errors."""
