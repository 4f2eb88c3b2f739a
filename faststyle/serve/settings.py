"""Every bound the server keeps, in one place: what a client may ask for and what it is answered.

The command line's `faststyle serve` options map one to one onto these fields.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field


def _default_painters() -> int:
    """One painter per two cores (each runs ONNX Runtime on two threads), 1 to 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None             # when set, the API wants "Authorization: Bearer TOKEN"
    painters: int = field(default_factory=_default_painters)  # pictures painted at once
    queue: int = 8                        # requests that may wait for a painter; more get 503
    max_upload_mb: float = 25.0           # request body; larger gets 413 before it is read
    max_megapixels: float = 50.0          # decoded photo; larger gets 413 from the header alone
    max_side: int = 2048                  # largest long side a client may ask to be painted at
    default_side: int = 1024              # the long side when the client does not say
    timeout_s: float = 60.0               # waiting plus painting; past it, 503
    drain_s: float = 30.0                 # on SIGTERM: how long requests in progress may finish

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1_000_000)

    @property
    def threads_per_painter(self) -> int:
        return max(1, (os.cpu_count() or 2) // self.painters)

    @property
    def loopback_only(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"

    def check(self) -> None:
        """Refuses settings that would leave the server unbounded or unusable."""
        from faststyle.errors import FaststyleError

        problems = [what for what, bad in [
            ("--painters must be 1 to 64", not 1 <= self.painters <= 64),
            ("--queue must be 0 to 1000", not 0 <= self.queue <= 1000),
            ("--max-upload-mb must be more than 0 and at most 1024", not 0 < self.max_upload_mb <= 1024),
            ("--max-megapixels must be more than 0 and at most 178", not 0 < self.max_megapixels <= 178),
            ("--max-side must be 16 to 8192", not 16 <= self.max_side <= 8192),
            ("--timeout must be more than 0 and at most 3600 s", not 0 < self.timeout_s <= 3600),
            ("--port must be 0 to 65535", not 0 <= self.port <= 65535),
        ] if bad]
        if problems:
            raise FaststyleError("; ".join(problems))
