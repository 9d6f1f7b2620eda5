"""How large the next photo chunk is: small at first, larger while chunks get through, smaller
after a cut.

A fixed 1 MiB chunk never gets through a link that drops every connection after ~200 KB (each
try is cut before its end, and a checksummed chunk that did not arrive whole is discarded); a
fixed 64 KiB chunk spends a good link on round trips. So the size adapts, for the whole run: it
starts at 256 KiB and doubles after each chunk the server confirms, up to a ceiling; a cut halves
it and lowers the ceiling to that size. After a run of good chunks at the ceiling it tries twice
as much again, so a link that recovers is used fully again (up to 8 MiB).
"""

from __future__ import annotations

START = 256 * 1024
SMALLEST = 16 * 1024
LARGEST = 8 * 1024 * 1024
PROBE_AFTER = 8  # good chunks at the ceiling before trying a larger one


class ChunkSizer:
    """The chunk size of one sync run; `fixed` keeps one size whatever happens (`--chunk-size`)."""

    def __init__(self, fixed: int | None = None):
        self.fixed = fixed
        self.size = fixed or START
        self.ceiling = fixed or LARGEST
        self.good_at_ceiling = 0

    def delivered(self) -> None:
        """A chunk arrived whole: the next may be larger."""
        if self.fixed:
            return
        if self.size >= self.ceiling:
            self.good_at_ceiling += 1
            if self.good_at_ceiling >= PROBE_AFTER and self.ceiling < LARGEST:
                self.ceiling = min(LARGEST, self.ceiling * 2)
                self.good_at_ceiling = 0
        self.size = min(self.ceiling, self.size * 2)

    def cut(self) -> None:
        """The connection died during a chunk: this size does not get through now."""
        if self.fixed:
            return
        self.ceiling = max(SMALLEST, self.size // 2)
        self.size = self.ceiling
        self.good_at_ceiling = 0
