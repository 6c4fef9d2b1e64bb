"""Go-style durations (`"600s"`, `"1h30m"`) and Kubernetes quantities (`"512Mi"`), as pipeline specs use them."""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$")
_QUANTITY_UNITS = {
    None: 1,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def parse_duration(text: str) -> float:
    """`"1h30m"` -> 5400.0 seconds. Raises ValueError on anything Go's time.ParseDuration rejects."""
    if not isinstance(text, str) or not text:
        raise ValueError("must be a duration such as '600s' or '1h30m'")
    body = text[1:] if text[0] in "+-" else text
    if text[0] == "-":
        raise ValueError(f"{text!r} is negative")
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(body):
        m = _DURATION_PART.match(body, pos)
        if m is None:
            raise ValueError(
                f"{text!r} is not a duration such as '600s' or '1h30m' (units: ns, us, ms, s, m, h)"
            )
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos == 0:
        raise ValueError(f"{text!r} is not a duration such as '600s' or '1h30m'")
    return total


def format_duration(seconds: float) -> str:
    """The inverse used when a spec is serialized: 5400.0 -> `"5400s"` (parse_duration reads it back)."""
    return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"


def parse_quantity(text: str) -> int:
    """`"512Mi"` -> 536870912 bytes; `"1G"` -> 10**9. Raises ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("must be a quantity string such as '512Mi' or '2G'")
    m = _QUANTITY.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not a quantity such as '512Mi', '2Gi' or '1G'")
    return int(float(m.group(1)) * _QUANTITY_UNITS[m.group(2)])
