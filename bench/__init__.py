"""`make bench`: Tusk against reference tools (disk, DVC, restic, git-lfs), measured in one run.

The harness only reports: it never asserts on a timing. See docs/bench.md.
"""
