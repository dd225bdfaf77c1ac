"""The home page and cross-cutting request hooks."""
