"""One blueprint per area of work; each view calls the Python API and renders."""

__all__: list[str] = []
