"""The REST API `/api/v1`: a declarative route table, thin handlers, one error mapper."""
