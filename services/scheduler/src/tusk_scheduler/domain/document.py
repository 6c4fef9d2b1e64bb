"""Reading spec documents: JSON (one object or a stream of them) or YAML (one or more documents).

Both loaders refuse duplicate keys (JSON and YAML libraries silently keep the last one), and the YAML
loader keeps timestamps as strings so every scalar a spec holds is a str, int, float, bool or null.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml

from tusk_common.errors import Invalid

Format = Literal["json", "yaml"]


def load_documents(text: str | bytes, *, fmt: Format | None = None) -> list[Any]:
    """Every document in `text`; `fmt=None` picks JSON when the text starts with `{`, YAML otherwise."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise Invalid(f"the spec is not UTF-8 text: {exc}") from None
    if not isinstance(text, str):
        raise Invalid("the spec must be text")
    if fmt is None:
        fmt = "json" if text.lstrip().startswith("{") else "yaml"
    if fmt == "json":
        docs = _load_json(text)
    elif fmt == "yaml":
        docs = _load_yaml(text)
    else:
        raise Invalid(f"unknown spec format {fmt!r}: use 'json' or 'yaml'", field="format")
    if not docs:
        raise Invalid("the spec is empty")
    return docs


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(ValueError):
    def __init__(self, key: object) -> None:
        super().__init__(f"the key {key!r} appears twice in one object")


def _load_json(text: str) -> list[Any]:
    decoder = json.JSONDecoder(object_pairs_hook=_reject_duplicates)
    docs: list[Any] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            return docs
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except _DuplicateKey as exc:
            raise Invalid(f"the spec is not valid: {exc}") from None
        except json.JSONDecodeError as exc:
            raise Invalid(
                f"the spec is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        docs.append(doc)


class _Loader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]  # when PyYAML has no stubs
    """SafeLoader without implicit timestamps and with duplicate-key detection."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key; the constructor reports it
                continue
            if duplicate:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears twice in one mapping", mark
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load_yaml(text: str) -> list[Any]:
    try:
        return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1} column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise Invalid(f"the spec is not valid YAML: {problem}{where}") from None
