"""Pachyderm glob patterns over tree paths (pure; the pipelines service reuses these semantics).

    `*`       any run of characters except `/`          `?`      one character except `/`
    `**`      any run of characters, `/` included       `[a-z]`  a class (`[!x]`/`[^x]` negate)
    `{a,b}`   either alternative (nestable)              `(...)`  a capture group (for join/group)
    `\\x`     the character x literally

A pattern is matched against whole absolute paths of files *and* directories. `/` matches the root
directory and nothing else; no other pattern matches the root. A missing leading `/` is implied and
a trailing `/` is ignored, so `*.csv` is `/*.csv`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tusk_common.errors import Invalid

_OPEN = None  # a segment holding `**`: anything deeper may match


@dataclass(frozen=True)
class Glob:
    pattern: str
    regex: re.Pattern[str]
    # One matcher per `/`-separated component, ending at the first `**` component (`_OPEN`);
    # None when the pattern cannot be split (a `/` inside braces): then nothing is pruned.
    segments: tuple[re.Pattern[str] | None, ...] | None

    @property
    def is_root(self) -> bool:
        return self.pattern == "/"

    def match(self, path: str) -> bool:
        if path == "/":
            return self.is_root
        return not self.is_root and self.regex.fullmatch(path) is not None

    def captures(self, path: str) -> tuple[str, ...] | None:
        """The text of each `(...)` group when `path` matches, else None."""
        m = None if self.is_root or path == "/" else self.regex.fullmatch(path)
        return None if m is None else tuple(g or "" for g in m.groups())

    def may_descend(self, parts: tuple[str, ...]) -> bool:
        """Whether anything strictly below the directory `parts` can match."""
        if self.is_root:
            return False
        if self.segments is None:
            return True
        for i, name in enumerate(parts):
            if i >= len(self.segments):
                return False
            seg = self.segments[i]
            if seg is _OPEN:
                return True
            if seg.fullmatch(name) is None:
                return False
        return len(self.segments) > len(parts)


def compile_glob(pattern: str, *, field: str = "pattern") -> Glob:
    """Parse a glob; a malformed one raises `Invalid` naming `field`."""
    if not isinstance(pattern, str) or not pattern.strip() or "\x00" in pattern:
        raise Invalid(f"{field} {pattern!r} is not a glob pattern", field=field)
    p = pattern.strip()
    if not p.startswith("/"):
        p = "/" + p
    while len(p) > 1 and p.endswith("/") and not p.endswith("\\/"):
        p = p[:-1]
    try:
        body, _end = _Parser(p).parse(0, stop="")
        regex = re.compile(body, re.DOTALL)
    except (_Malformed, re.error) as e:
        raise Invalid(f"{field} {pattern!r} is malformed: {e}", field=field) from None
    return Glob(p, regex, _segments(p))


class _Malformed(ValueError):
    pass


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text

    def parse(self, i: int, stop: str) -> tuple[str, int]:
        """Translate from i until a character in `stop` (at this nesting level) or the end."""
        s, out = self.s, []  # type: str, list[str]
        while i < len(s):
            c = s[i]
            if c in stop:
                return "".join(out), i
            if c == "\\":
                if i + 1 >= len(s):
                    raise _Malformed("trailing backslash")
                out.append(re.escape(s[i + 1]))
                i += 2
            elif c == "*":
                if i + 1 < len(s) and s[i + 1] == "*":
                    out.append(".*")
                    i += 2
                    while i < len(s) and s[i] == "*":
                        i += 1
                else:
                    out.append("[^/]*")
                    i += 1
            elif c == "?":
                out.append("[^/]")
                i += 1
            elif c == "[":
                cls, i = self._cls(i)
                out.append(cls)
            elif c == "{":
                alts, i = [], i + 1
                while True:
                    alt, i = self.parse(i, stop=",}")
                    alts.append(alt)
                    if i >= len(s):
                        raise _Malformed("unclosed '{'")
                    i += 1
                    if s[i - 1] == "}":
                        break
                out.append("(?:" + "|".join(alts) + ")")
            elif c == "(":
                inner, i = self.parse(i + 1, stop=")")
                if i >= len(s):
                    raise _Malformed("unclosed '('")
                out.append("(" + inner + ")")
                i += 1
            elif c in ")}" and not stop:
                raise _Malformed(f"unbalanced {c!r}")
            else:
                out.append(re.escape(c))
                i += 1
        if stop:
            return "".join(out), i
        return "".join(out), i

    def _cls(self, i: int) -> tuple[str, int]:
        s, j = self.s, i + 1
        negate = j < len(s) and s[j] in "!^"
        if negate:
            j += 1
        body = []
        first = True
        while j < len(s) and (s[j] != "]" or first):
            c = s[j]
            if c == "\\" and j + 1 < len(s):
                body.append(re.escape(s[j + 1]))
                j += 2
            else:
                body.append("-" if c == "-" and not first else re.escape(c))
                j += 1
            first = False
        if j >= len(s):
            raise _Malformed("unclosed '['")
        inner = "".join(body)
        return ("[^/" + inner + "]" if negate else "(?![/])[" + inner + "]"), j + 1


def _segments(p: str) -> tuple[re.Pattern[str] | None, ...] | None:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for c in p[1:]:
        if c in "{[(":
            depth += 1
        elif c in "}])":
            depth -= 1
        elif c == "/" and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        elif c == "/" and depth > 0:
            return None
        cur.append(c)
    parts.append("".join(cur))
    segs: list[re.Pattern[str] | None] = []
    for part in parts:
        if "**" in part:
            segs.append(_OPEN)
            break
        try:
            segs.append(re.compile(_Parser(part).parse(0, stop="")[0], re.DOTALL))
        except (_Malformed, re.error):
            return None
    return tuple(segs)
