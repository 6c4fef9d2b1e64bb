"""Thin drivers of the reference tools, each used the way its manual says, timed from the outside."""
