"""Pure rules of lineage: the graph, its walks and renderings, the facts it is built from (no I/O)."""
