"""OpenLineage checks: a local HTTP receiver, and a RunEvent rebuilt with `openlineage-python`'s models.

`openlineage-python` ships the spec as generated classes (its wheel carries no JSON Schema files): each
event we post is rebuilt from those classes, whose validators run (run id a UUID, event time ISO 8601,
...), serialized back with the package's `Serde`, and must come out equal to what was posted. Our custom
`tusk_files` facet is checked against the JSON Schema we ship.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import attr
import jsonschema
from aiohttp import web
from openlineage.client import event_v2 as ev
from openlineage.client.generated import base
from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet
from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
from openlineage.client.generated.job_type_job import JobTypeJobFacet
from openlineage.client.serde import Serde

from tusk_lineage.domain import openlineage as tol


class Receiver:
    """Collects POSTed events; answers 503 to the first `fail_first` requests."""

    def __init__(self, fail_first: int = 0) -> None:
        self.events: list[dict[str, Any]] = []
        self.refused = 0
        self.fail_first = fail_first
        self.changed = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        if self.refused < self.fail_first:
            self.refused += 1
            return web.Response(status=503)
        self.events.append(await request.json())
        self.changed.set()
        return web.json_response({}, status=201)

    async def wait_for(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not done(self.events):
                self.changed.clear()
                await self.changed.wait()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v1/lineage", self.handle)
        return app


@attr.define
class _Custom(base.BaseFacet):
    fields: dict[str, Any] = attr.field(factory=dict)


def _custom(kind: type, payload: dict[str, Any]) -> Any:
    """A custom facet as an attrs subclass of the right facet base, carrying its own fields."""
    names = [k for k in payload if not k.startswith("_")]
    cls = attr.make_class(f"Custom{kind.__name__}", {n: attr.ib(default=None) for n in names}, bases=(kind,),
                          kw_only=True)  # fmt: skip
    schema = payload["_schemaURL"]
    cls._get_schema = staticmethod(lambda: schema)
    return cls(producer=payload["_producer"], **{n: payload[n] for n in names})


_KNOWN = {"version": DatasetVersionDatasetFacet, "jobType": JobTypeJobFacet, "errorMessage": ErrorMessageRunFacet}


def _facets(raw: dict[str, Any], kind: type) -> dict[str, Any]:
    out = {}
    for name, payload in raw.items():
        fields = {k: v for k, v in payload.items() if not k.startswith("_")}
        if name in _KNOWN:
            facet = _KNOWN[name](producer=payload["_producer"], **fields)
            assert facet._schemaURL == payload["_schemaURL"], name
        else:
            assert name.startswith("tusk_"), f"custom facet {name} must carry our prefix"
            facet = _custom(kind, payload)
        out[name] = facet
    return out


def rebuild_event(event: dict[str, Any]) -> ev.RunEvent:
    """`event` made again with the spec's classes (their validators run)."""
    return ev.RunEvent(
        eventType=ev.RunState(event["eventType"]), eventTime=event["eventTime"], producer=event["producer"],
        run=ev.Run(runId=event["run"]["runId"], facets=_facets(event["run"].get("facets", {}), base.RunFacet)),
        job=ev.Job(namespace=event["job"]["namespace"], name=event["job"]["name"],
                   facets=_facets(event["job"].get("facets", {}), base.JobFacet)),
        inputs=[ev.InputDataset(namespace=d["namespace"], name=d["name"],
                                facets=_facets(d.get("facets", {}), base.DatasetFacet)) for d in event["inputs"]],
        outputs=[ev.OutputDataset(namespace=d["namespace"], name=d["name"],
                                  facets=_facets(d.get("facets", {}), base.DatasetFacet)) for d in event["outputs"]],
    )  # fmt: skip


def check_event(event: dict[str, Any]) -> None:
    """Valid against the spec as `openlineage-python` models it, and against our facet's schema."""
    made = rebuild_event(event)
    assert made.schemaURL == event["schemaURL"] == tol.RUN_EVENT_SCHEMA
    again = json.loads(Serde.to_json(made))
    for d in (*again["inputs"], *again["outputs"]):  # the models add these empty maps
        for key in ("inputFacets", "outputFacets"):
            if d.get(key) == {}:
                del d[key]
    assert again == Serde.remove_nulls_and_enums(event)
    schema = json.loads(resources.files("tusk_lineage.domain").joinpath("tusk_files.schema.json").read_text())
    for d in event["outputs"]:
        if "tusk_files" in d["facets"]:
            jsonschema.validate(d["facets"]["tusk_files"], schema)
