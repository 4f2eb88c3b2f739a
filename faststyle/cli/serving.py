"""`faststyle serve`: the web page and HTTP API (faststyle.serve), its bounds as options."""

from __future__ import annotations

import os

from faststyle.argtypes import float_where, int_between, pixels

TOKEN_ENV = "FASTSTYLE_TOKEN"


def _add_serve(sub) -> None:
    from faststyle.cli.paint import DEVICE_CHOICES

    p = sub.add_parser("serve", help="a web page and HTTP API on this computer (needs the [serve] extra)",
                       description="Serves the web page at / and the API (docs at /docs). Loopback only "
                                   "unless --host says otherwise.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every network)")
    p.add_argument("--port", type=int_between(0, 65535), default=8000, help="port to listen on")
    p.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                   help=f"require 'Authorization: Bearer TOKEN' for the API (default: ${TOKEN_ENV})")
    p.add_argument("--painters", type=int_between(1, 64), help="pictures painted at once (default: cores / 2)")
    p.add_argument("--queue", type=int_between(0, 1000), default=8,
                   help="requests that may wait for a painter; more are answered 503")
    p.add_argument("--max-upload-mb", type=float_where(lambda v: 0 < v <= 1024, "between 0 and 1024"), default=25.0,
                   help="largest request body; larger is answered 413 before it is read")
    p.add_argument("--max-megapixels", type=float_where(lambda v: 0 < v <= 178, "between 0 and 178"), default=50.0,
                   help="largest photo, from its header; larger is answered 413")
    p.add_argument("--max-side", type=pixels(), default=2048, help="largest long side a client may ask for")
    p.add_argument("--timeout", type=float_where(lambda v: 0 < v <= 3600, "between 0 and 3600"), default=60.0,
                   help="seconds a request may wait and paint")
    p.add_argument("--device", default=DEVICE_CHOICES[0], choices=DEVICE_CHOICES,
                   help="where styles run: auto (a GPU when ONNX Runtime has one), cpu, ...")


def run_serve(args) -> int:
    from faststyle.serve import ServeSettings, run

    settings = ServeSettings(host=args.host, port=args.port, token=args.token or None, queue=args.queue,
                             max_upload_mb=args.max_upload_mb, max_megapixels=args.max_megapixels,
                             max_side=args.max_side, timeout_s=args.timeout,
                             **({"painters": args.painters} if args.painters else {}))
    return run(settings, args.device)
