"""`vreg benchmark`: cases (sources, cases), metrics, the run with its append-only log, and the reports."""

__all__: list[str] = []
