"""The HTTP API and the web page: a thin shell over the Python API (faststyle.api).

    GET  /                 the web page (faststyle/serve/page/: plain HTML, CSS and JS, no CDN)
    GET  /healthz          200 when ready
    GET  /styles           the styles, with title, artist, year and whether each has a lite network
    GET  /styles/NAME/swatch.jpg   a small sample painted in the style
    POST /stylize?style=NAME       the photo (multipart field `image`, or the raw body) -> the painting

Bad input is a 4xx with {"error": "..."}; a full server is 503 with Retry-After. Bounds: settings.py.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import threading
from importlib import resources
from pathlib import Path
from typing import Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from faststyle import __version__
from faststyle.api import as_model, stylize, swatch
from faststyle.errors import FaststyleError
from faststyle.image_io import decode_image, encode_image
from faststyle.serve.painters import Busy, PainterPool, TimedOut
from faststyle.serve.settings import ServeSettings
from faststyle.styles import available_styles, describe

PAGE_DIR = Path(str(resources.files("faststyle.serve") / "page"))
FORMATS = {"jpeg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png"), "webp": ("WEBP", "image/webp")}
RAW_TYPES = ("image/", "application/octet-stream")  # a body that is the photo itself (curl --data-binary)
SWATCH_SIZE = 128


class BodyLimit:
    """ASGI middleware: a request body over the limit is answered 413 without being read: at once
    when its Content-Length says so, else as soon as the bytes received pass the limit."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await _send_json(send, 413, self._message())
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, self._message())
            return message

        await self.app(scope, counted, send)

    def _message(self) -> str:
        return f"upload larger than {self.max_bytes / 2**20:g} MB; send a smaller photo"


async def _send_json(send, status: int, error: str) -> None:
    response = JSONResponse({"error": error}, status, headers={"Connection": "close"})
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


def create_app(settings: ServeSettings | None = None, device: str = "auto"):
    """The ASGI app (FastAPI wrapped in the upload limit), for uvicorn or any ASGI server."""
    settings = settings or ServeSettings()
    settings.check()
    pool = PainterPool(settings.painters, settings.queue, settings.timeout_s)
    def model(name: str, fast: bool):  # one session per style, shared by the painters (api's cache)
        return as_model(name, fast=fast, device=device, threads=settings.threads_per_painter)

    swatches: dict[tuple[str, int], bytes] = {}
    swatch_lock = threading.Lock()
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        pool.shutdown()  # after uvicorn's drain: lets a painter still running finish

    api = FastAPI(title="faststyle", version=__version__, summary="Fast neural style transfer over HTTP",
                  lifespan=lifespan)
    api.state.settings, api.state.pool = settings, pool

    # 1. Errors: one JSON shape for every refusal.
    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)

    @api.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"}, 422)

    @api.exception_handler(Busy)
    async def busy(request: Request, exc: Busy):
        return JSONResponse({"error": "the server is busy; try again in a few seconds"}, 503,
                            headers={"Retry-After": "2"})

    @api.exception_handler(TimedOut)
    async def timed_out(request: Request, exc: TimedOut):
        return JSONResponse({"error": f"painting took longer than the server's limit of {settings.timeout_s:g} s; "
                                      "try a smaller max_size or fast=true"}, 503, headers={"Retry-After": "5"})

    def authorized(request: Request) -> None:
        if settings.token is None:
            return
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {settings.token}".encode()):
            raise HTTPException(401, "missing or wrong token: send 'Authorization: Bearer TOKEN'",
                                headers={"WWW-Authenticate": "Bearer"})

    def style_named(name: str):
        for style in available_styles():
            if style.name == name:
                return style
        raise HTTPException(404, f"unknown style {name!r}; GET /styles lists them")

    # 2. The page and the state of the server.
    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse((PAGE_DIR / "index.html").read_text(encoding="utf-8"))

    api.mount("/page", StaticFiles(directory=PAGE_DIR), name="page")

    @api.get("/healthz")
    async def healthz():
        return {"status": "ok", "version": __version__, "auth": settings.token is not None,
                "painters": settings.painters, "in_progress": pool.admitted, "painted": pool.painted}

    @api.get("/styles", dependencies=[Depends(authorized)])
    async def styles():
        return [{**describe(style), "swatch": f"/styles/{style.name}/swatch.jpg"} for style in available_styles()]

    @api.get("/styles/{name}/swatch.jpg", dependencies=[Depends(authorized)],
             responses={200: {"content": {"image/jpeg": {}}}})
    async def style_swatch(name: str):
        # Made once per style file, one at a time, outside the painters' pool: a page asks for all
        # of them at once, and there are only as many as there are styles.
        style = style_named(name)
        key = (str(style.path), style.path.stat().st_mtime_ns)

        def make() -> bytes:
            with swatch_lock:
                if key not in swatches:
                    out = io.BytesIO()
                    swatch(model(name, True), SWATCH_SIZE).save(out, "JPEG", quality=88)
                    swatches[key] = out.getvalue()
                return swatches[key]
        data = swatches.get(key) or await run_in_threadpool(make)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    # 3. Painting: admitted first (before the upload is read), then read, decoded, painted, encoded.
    @api.post("/stylize", dependencies=[Depends(authorized)],
              responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}})
    async def stylize_photo(request: Request,
                            style: str = Query(..., description="a name from GET /styles"),
                            strength: float = Query(1.0, ge=0.0, le=1.0, allow_inf_nan=False),
                            preserve_colors: bool = False,
                            fast: bool = Query(False, description="the style's lite network: faster"),
                            max_size: int | None = Query(None, ge=16, description="long side of the painting"),
                            format: Literal["jpeg", "png", "webp"] = "jpeg"):
        style_named(style)
        long_side = min(max_size or settings.default_side, settings.max_side)
        if max_size and max_size > settings.max_side:
            raise HTTPException(422, f"max_size: at most {settings.max_side} on this server")
        ticket = pool.admit()
        try:
            upload, name = await _read_upload(request)
        except BaseException:
            ticket.close()
            raise
        fmt, media = FORMATS[format]

        def job(cancel) -> bytes:
            photo = decode_image(upload, f"upload {name!r}", settings.max_pixels, long_side)
            painted = stylize(photo, model(style, fast), strength=strength, preserve_colors=preserve_colors,
                              max_size=long_side, cancel=cancel)
            painted.info.pop("exif", None)  # camera and GPS stay private; the colour profile stays
            out = io.BytesIO()
            encode_image(painted, out, fmt)
            return out.getvalue()

        try:
            data = await ticket.run(job)
        except FaststyleError as exc:
            too_big = "megapixels" in str(exc)
            raise HTTPException(413 if too_big else 422, str(exc)) from None
        finally:
            upload.close()
        return Response(data, media_type=media,
                        headers={"Content-Disposition": f'inline; filename="{Path(name).stem}.{style}.{format}"'})

    return BodyLimit(api, settings.max_upload_bytes)


async def _read_upload(request: Request):
    """(a readable binary file, its name) from a multipart field `image` or from a raw image body."""
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=16)
        upload = form.get("image")
        if not isinstance(upload, UploadFile):
            await form.close()
            raise HTTPException(422, "no photo: send it as the multipart file field 'image'")
        return upload.file, upload.filename or "photo"
    if kind.startswith(RAW_TYPES):
        body = await request.body()
        return io.BytesIO(body), "photo"
    raise HTTPException(415, "send the photo as multipart/form-data (field 'image') or as an image/* body")
