"""The FastAPI app factory: routes, limits, API key, static page. The index is loaded by the caller, once.

    app = create_app(Retriever.from_index("outputs/index"), ServeSettings())
    uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import hmac
import io
import logging
import time
from importlib import resources
from typing import Optional

from fastapi import Depends, FastAPI, File, Form, Path, Request, Security, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles

from dfcnn.data.decode import ImageDecodeError, load_image
from dfcnn.serve.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from dfcnn.serve.models import ErrorResponse, Health, SearchResponse, Stats
from dfcnn.serve.service import ObjectSearch, SearchService, ServeSettings
from dfcnn.serve.thumbs import ThumbnailCache
from dfcnn.serve.uploads import BOX_PATTERN, ServeError, display_name, sniff

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
MULTIPART_SLACK = 64 * 1024  # form fields and part headers around the file
_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 415, 422, 503)}


def static_dir() -> str:
    return str(resources.files("dfcnn.serve") / "static")


def _error(status: int, reason: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"detail": message, "reason": reason}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "path", "query", "header"))
        message = err.get("msg", "invalid")
        if err.get("type") == "string_pattern_mismatch" and where == "box":
            message = "must be four numbers x0,y0,x1,y1 in pixels of the photo"
        parts.append(f"{where or 'request'}: {message}")
    return "; ".join(parts) or "invalid request"


def create_app(retriever, settings: ServeSettings | None = None, object_search: ObjectSearch | None = None) -> FastAPI:
    """A ready app over an already loaded ``Retriever`` (``dfcnn.retrieval.retriever``)."""
    settings = settings or ServeSettings()
    service = SearchService(retriever, settings, object_search)
    thumbs = ThumbnailCache(settings.thumbs_dir, settings.thumb_size, settings.max_pixels)
    started = time.time()
    ntotal = retriever.ntotal

    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="the server's api_key")

    def require_key(key: Optional[str] = Security(header)) -> None:
        if not hmac.compare_digest((key or "").encode(), settings.api_key.encode()):
            raise ServeError(401, "unauthorized", f"missing or wrong API key: send it in the {API_KEY_HEADER} header")

    guarded = [Depends(require_key)] if settings.api_key else []
    app = FastAPI(title="dfcnn search service", version="1",
                  description="Image search over one dfcnn index (SPEC §7). Images are referred to by index id only.")
    app.state.service = service
    app.state.thumbs = thumbs

    @app.exception_handler(ServeError)
    async def refused(request: Request, exc: ServeError):
        headers = {"Retry-After": "1"} if exc.status == 503 else None
        log.info("%s %s -> %d %s", request.method, request.url.path, exc.status, exc.reason)
        return _error(exc.status, exc.reason, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return _error(422, "invalid_request", _validation_message(exc))

    def record(image_id: int) -> str:
        if image_id >= ntotal:
            raise ServeError(404, "no_such_id", f"no image with id {image_id}: the index holds ids 0..{ntotal - 1}")
        return retriever.records[image_id].path

    ImageId = Path(ge=0, le=max(ntotal - 1, 0), description="index id, as returned in search results")

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> dict:
        return {"status": "ok", "ntotal": ntotal}

    @app.get("/stats", response_model=Stats, dependencies=guarded, responses={401: _ERRORS[401]}, tags=["service"])
    def stats() -> dict:
        manifest = retriever.manifest or {}
        engine_settings = getattr(retriever.engine, "settings", None)
        return {"ntotal": ntotal, "dim": int(retriever.engine.dim), "method": retriever.method,
                "describer_kind": manifest.get("describer_kind"), "describer": manifest.get("describer_info") or {},
                "versions": {k: str(v) for k, v in (manifest.get("versions") or {}).items()},
                "created": manifest.get("created"), "updated": manifest.get("updated"),
                "retrieval": dict(vars(engine_settings)) if engine_settings is not None else {},
                "limits": {"max_upload_bytes": settings.max_upload_bytes, "max_pixels": settings.max_pixels,
                           "max_top_k": settings.max_top_k, "default_top_k": settings.default_top_k,
                           "api_key": bool(settings.api_key)},
                "uptime_s": time.time() - started, "searches": service.searches, "refused": service.refused,
                "thumbnails_cached": thumbs.count()}

    @app.post("/search", response_model=SearchResponse, response_model_exclude_none=True, dependencies=guarded,
              responses={k: v for k, v in _ERRORS.items() if k != 404}, tags=["search"])
    def search(
        file: UploadFile = File(description="the query photo (JPEG, PNG, WebP, GIF, BMP or TIFF; content is sniffed)"),
        top_k: int = Form(settings.default_top_k, ge=1, le=settings.max_top_k),
        box: str = Form("", pattern=BOX_PATTERN, max_length=200,
                        description="optional crop x0,y0,x1,y1 in pixels of the (EXIF-rotated) photo; empty: whole photo"),
    ) -> dict:
        data = file.file.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise ServeError(413, "too_large", f"the upload is larger than the limit of "
                              f"{settings.max_upload_bytes / 2**20:.1f} MiB (max_upload_mb)")
        return service.search(data, display_name(file.filename), top_k, box)

    @app.get("/images/{image_id}", dependencies=guarded, tags=["images"], response_class=Response,
             responses={200: {"content": {"image/*": {}}}, 401: _ERRORS[401], 404: _ERRORS[404]})
    def image(image_id: int = ImageId):
        path = record(image_id)
        try:
            with open(path, "rb") as fh:
                kind = sniff(fh.read(16))
        except OSError:
            raise ServeError(404, "unreadable", f"the catalogue image of id {image_id} cannot be read now") from None
        headers = {"Cache-Control": "private, max-age=3600"}
        if kind is not None:
            return FileResponse(path, media_type=kind[1], headers=headers)
        try:  # a format the browser may not show: send a JPEG copy
            buffer = io.BytesIO()
            load_image(path, settings.max_pixels).save(buffer, format="JPEG", quality=92)
        except ImageDecodeError as err:
            raise ServeError(404, "unreadable", f"the catalogue image of id {image_id} cannot be read now: "
                              f"{err.reason}") from None
        return Response(buffer.getvalue(), media_type="image/jpeg", headers=headers)

    @app.get("/thumbs/{image_id}", dependencies=guarded, tags=["images"], response_class=FileResponse,
             responses={200: {"content": {"image/jpeg": {}}}, 401: _ERRORS[401], 404: _ERRORS[404]})
    def thumb(image_id: int = ImageId):
        path = record(image_id)
        try:
            cached = thumbs.path(path)
        except ImageDecodeError as err:
            raise ServeError(404, "unreadable", f"the catalogue image of id {image_id} cannot be read now: "
                              f"{err.reason}") from None
        return FileResponse(cached, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def page():
        return FileResponse(f"{static_dir()}/index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes + MULTIPART_SLACK)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
