"""Pure rules of the versioning engine: Merkle trees, paging, diff, glob, refs. No I/O imports."""
