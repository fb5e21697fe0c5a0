"""Loading a spec: bytes → positioned YAML → JSON Schema → checks → the frozen model, with a cache."""
