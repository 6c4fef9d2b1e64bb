"""Transform output lines go to the scheduler (RPC `logs.append`) in batches, secret values redacted.

Lines wait in a bounded buffer while the scheduler cannot be reached; past the bound the oldest are
dropped and a `system` line says how many. `flush()` is awaited before a datum's result is published,
so its lines are stored before anyone sees the datum finish.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

import structlog

from tusk_common.bus import Bus
from tusk_common.errors import TuskError
from tusk_common.wire.pipelines import AppendLogs, LogLine

log = structlog.get_logger(__name__)
REDACTED = "[redacted]"


class Redactor:
    """Replaces every secret value (longer than 3 characters) in a line."""

    def __init__(self, values: Iterable[str]) -> None:
        self._values = sorted({v for v in values if len(v) > 3}, key=len, reverse=True)
        # Multi-line values leak line by line: redact each of their lines too.
        extra = {part for v in self._values for part in v.splitlines() if len(part) > 3}
        self._values = sorted(set(self._values) | extra, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for v in self._values:
            if v in text:
                text = text.replace(v, REDACTED)
        return text


class LogShipper:
    def __init__(self, bus: Bus, *, batch: int, buffer: int, interval: float) -> None:
        self._bus = bus
        self._batch = batch
        self._interval = interval
        self._lines: deque[LogLine] = deque(maxlen=buffer)
        self._dropped = 0
        self._lock = asyncio.Lock()

    def add(self, line: LogLine) -> None:
        if len(self._lines) == self._lines.maxlen:
            self._dropped += 1
        self._lines.append(line)

    async def flush(self) -> bool:
        """Send what is buffered; False if the scheduler could not be reached (lines are kept)."""
        async with self._lock:
            while self._lines:
                batch = [self._lines[i] for i in range(min(self._batch, len(self._lines)))]
                if self._dropped:
                    first = batch[0]
                    batch.insert(0, first.model_copy(update={
                        "stream": "system", "message": f"{self._dropped} log lines were dropped (buffer full)"}))
                try:
                    await self._bus.request(AppendLogs(lines=batch), timeout=10.0)
                except TuskError as exc:
                    log.warning("logs.not_shipped", error=exc.message, buffered=len(self._lines))
                    return False
                if self._dropped:
                    batch.pop(0)
                    self._dropped = 0
                for _ in batch:
                    self._lines.popleft()
        return True

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self._interval)
            except TimeoutError:
                pass
            await self.flush()
        await self.flush()
