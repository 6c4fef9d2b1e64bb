"""Wire formats: the frozen pydantic models every service exchanges (the bus contract as code)."""
