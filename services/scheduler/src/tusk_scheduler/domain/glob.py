"""Pachyderm's glob patterns, compiled once to a regular expression.

One grammar, applied to absolute paths of files and directories (no trailing `/`; the root is `/`):

    *        any run of characters except `/` (also empty)
    **       any run of characters including `/` (also empty): `/**` is every path below the root
    ?        one character except `/`
    [a-z0-9] one character of a class; `[!...]` or `[^...]` negates it; a class never matches `/`
    {a,b}    one of the comma-separated alternatives (each a pattern itself; they nest)
    (...)    a capture group, numbered from 1 by its opening parenthesis; `|` separates alternatives
    \\x      the character x, literally

Only `/` matches the root directory, and `/` matches nothing else. This is the grammar of
pachyderm/ohmyglob (the `/`-separated mode Pachyderm compiles globs with) without its extglob
operators (`@(..)`, `!(..)`); the versioning service's glob has the same semantics. A spec's glob must
start with `/`.
As there, `**` is plain "anything", so `/a/**/b` needs at least one directory between `a` and `b`.
Captures feed `join_on`/`group_by` templates such as `"$1"` or `"${2}-$1"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from tusk_common.errors import Invalid

_TEMPLATE_RE = re.compile(r"\$(?:\{(\d+)\}|(\d+)|(\$))")


@dataclass(frozen=True)
class Glob:
    """A compiled glob: `match(path)` returns the captures, or None when the path does not match."""

    pattern: str
    regex: re.Pattern[str]
    groups: int
    literal_prefix: str  # every matching path starts with it (lets a listing be range-scanned)

    def match(self, path: str) -> tuple[str, ...] | None:
        if path.endswith("/"):
            path = path.rstrip("/") or "/"
        if path == "/" or self.pattern == "/":  # only `/` matches the root, and nothing else
            return () if path == self.pattern else None
        m = self.regex.fullmatch(path)
        if m is None:
            return None
        return tuple(g or "" for g in m.groups())


def compile_glob(pattern: str, *, field: str = "glob") -> Glob:
    """Compile `pattern`, raising `Invalid(field=field)` with the reason when it is malformed."""
    if not isinstance(pattern, str):
        raise Invalid(f"{field} must be a string", field=field)
    try:
        return _compile(pattern)
    except _GlobSyntaxError as exc:
        raise Invalid(f"{field} {pattern!r} is invalid: {exc}", field=field) from None


def match(pattern: str, path: str) -> tuple[str, ...] | None:
    """Captures of `pattern` on `path` (an empty tuple when it has no groups), or None."""
    return compile_glob(pattern).match(path)


def template_groups(template: str) -> list[int]:
    """The capture-group numbers a `join_on`/`group_by` template refers to, in order."""
    return [int(m.group(1) or m.group(2)) for m in _TEMPLATE_RE.finditer(template) if not m.group(3)]


def expand_template(template: str, captures: tuple[str, ...]) -> str:
    """`"$1-$2"` with captures ("a", "b") -> `"a-b"`; `$$` is a literal `$`."""

    def sub(m: re.Match[str]) -> str:
        if m.group(3):
            return "$"
        n = int(m.group(1) or m.group(2))
        return captures[n - 1] if 0 < n <= len(captures) else ""

    return _TEMPLATE_RE.sub(sub, template)


class _GlobSyntaxError(ValueError):
    pass


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> Glob:
    if not pattern.startswith("/"):
        raise _GlobSyntaxError(f"it must start with '/' (e.g. '/{pattern}')")
    if "\x00" in pattern:
        raise _GlobSyntaxError("it must not contain a NUL byte")
    if len(pattern) > 1 and pattern.endswith("/") and not pattern.endswith("\\/"):
        pattern = pattern.rstrip("/") or "/"
    parser = _Parser(pattern)
    body = parser.parse()
    try:
        regex = re.compile(body, re.DOTALL)
    except re.error as exc:  # pragma: no cover - the parser emits only valid regex syntax
        raise _GlobSyntaxError(str(exc)) from None
    return Glob(pattern=pattern, regex=regex, groups=regex.groups, literal_prefix=parser.literal_prefix)


class _Parser:
    """Recursive descent over the pattern; emits a regex string."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.literal_prefix = ""
        self._prefix_open = True

    def parse(self) -> str:
        out = self._sequence(stop="")
        if self.i < len(self.p):  # pragma: no cover - _sequence consumes to the end at top level
            raise _GlobSyntaxError(f"unexpected {self.p[self.i]!r} at offset {self.i}")
        self._check_components()
        return out

    def _check_components(self) -> None:
        for part in self.p.split("/")[1:]:
            if part in (".", ".."):
                raise _GlobSyntaxError("'.' and '..' components never match a path")
        if "//" in self.p:
            raise _GlobSyntaxError("an empty path component ('//') never matches a path")

    def _literal(self, ch: str) -> str:
        if self._prefix_open:
            self.literal_prefix += ch
        return re.escape(ch)

    def _sequence(self, stop: str) -> str:
        """Parse until one of the characters in `stop` (at this nesting level) or the end."""
        out: list[str] = []
        p = self.p
        while self.i < len(p):
            ch = p[self.i]
            if ch in stop:
                return "".join(out)
            if ch == "\\":
                if self.i + 1 >= len(p):
                    raise _GlobSyntaxError("it ends with a lone '\\'")
                out.append(self._literal(p[self.i + 1]))
                self.i += 2
                continue
            if ch in "*?[{(":
                self._prefix_open = False
            if ch == "*":
                if p.startswith("**", self.i):
                    out.append(".*")
                    self.i += 2
                    while self.i < len(p) and p[self.i] == "*":
                        self.i += 1
                else:
                    out.append("[^/]*")
                    self.i += 1
            elif ch == "?":
                out.append("[^/]")
                self.i += 1
            elif ch == "[":
                out.append(self._char_class())
            elif ch == "{":
                out.append(self._alternatives())
            elif ch == "(":
                out.append(self._group())
            elif ch in "})":
                raise _GlobSyntaxError(f"unbalanced {ch!r} at offset {self.i}")
            elif ch == "]":
                raise _GlobSyntaxError(f"unbalanced ']' at offset {self.i}")
            else:
                out.append(self._literal(ch))
                self.i += 1
        if stop:
            opener = "{" if "}" in stop else "("
            raise _GlobSyntaxError(f"unclosed {opener!r}")
        return "".join(out)

    def _alternatives(self) -> str:
        start = self.i
        self.i += 1  # "{"
        alts = [self._sequence(stop=",}")]
        while self.i < len(self.p) and self.p[self.i] == ",":
            self.i += 1
            alts.append(self._sequence(stop=",}"))
        if self.i >= len(self.p):  # pragma: no cover - _sequence raises first
            raise _GlobSyntaxError(f"unclosed '{{' at offset {start}")
        self.i += 1  # "}"
        return "(?:" + "|".join(alts) + ")"

    def _group(self) -> str:
        self.i += 1  # "("
        alts = [self._sequence(stop="|)")]
        while self.i < len(self.p) and self.p[self.i] == "|":
            self.i += 1
            alts.append(self._sequence(stop="|)"))
        self.i += 1  # ")"
        return "(" + "|".join(alts) + ")"

    def _char_class(self) -> str:
        p = self.p
        start = self.i
        self.i += 1  # "["
        negate = self.i < len(p) and p[self.i] in "!^"
        if negate:
            self.i += 1
        items: list[str] = []
        first = True
        while True:
            if self.i >= len(p):
                raise _GlobSyntaxError(f"unclosed '[' at offset {start}")
            ch = p[self.i]
            if ch == "]" and not first:
                self.i += 1
                break
            first = False
            if ch == "\\" and self.i + 1 < len(p):
                ch = p[self.i + 1]
                self.i += 1
            if ch == "/":
                raise _GlobSyntaxError("a character class cannot match '/'")
            self.i += 1
            if self.i + 1 < len(p) and p[self.i] == "-" and p[self.i + 1] != "]":
                hi = p[self.i + 1]
                if hi == "\\" and self.i + 2 < len(p):
                    hi = p[self.i + 2]
                    self.i += 1
                self.i += 2
                if hi < ch:
                    raise _GlobSyntaxError(f"bad range '{ch}-{hi}' in a character class")
                if ch <= "/" <= hi:
                    raise _GlobSyntaxError("a character class cannot match '/'")
                items.append(f"{re.escape(ch)}-{re.escape(hi)}")
            else:
                items.append(re.escape(ch))
        body = "".join(items)
        return f"[^/{body}]" if negate else f"[{body}]"
