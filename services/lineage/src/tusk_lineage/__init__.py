"""Tusk's lineage service: the provenance graph down to files, its queries, and OpenLineage export."""
