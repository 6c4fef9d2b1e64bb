"""What every command shares: the server URL, the `--json` choice, and one lazily made client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from tusk import uri
from tusk.client import Client
from tusk_common.errors import Invalid

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    url: str | None = None
    json: bool = False
    _client: Client | None = field(default=None, repr=False)

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.url)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def want_json(self, flag: bool) -> bool:
        return flag or self.json


pass_state = click.make_pass_decorator(CliState, ensure=True)


def json_option(f: F) -> F:
    """`--json`: print one machine-readable JSON document instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(f)


class AddressType(click.ParamType):
    """A `repo@ref:/path` argument; a malformed one is a usage error (exit 2)."""

    name = "address"

    def __init__(self, metavar: str, **rules: bool) -> None:
        self.metavar = metavar
        self.rules = rules

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return self.metavar

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> uri.Address:
        if isinstance(value, uri.Address):
            return value
        try:
            return uri.parse(str(value), **self.rules)
        except Invalid as exc:
            self.fail(exc.message, param, ctx)


REPO = AddressType("REPO", allow_path=False)
REPO_AT_REF = AddressType("REPO@REF", need_ref=True, allow_path=False)
REPO_OPT_REF = AddressType("REPO[@BRANCH]", allow_path=False)
FILE = AddressType("REPO@REF:/PATH", need_ref=True, need_path=True)
FILE_OPT_PATH = AddressType("REPO@REF[:/PATH]", need_ref=True)
GLOB = AddressType("REPO@REF:PATTERN", need_ref=True, need_path=True, pattern=True)
