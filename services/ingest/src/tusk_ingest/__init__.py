"""tusk-ingest: the public HTTP edge of Tusk (REST API `/api/v1`, streaming uploads and downloads)."""
