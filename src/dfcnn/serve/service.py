"""One loaded index behind a lock: decode an upload, search it, answer in dfcnn-search's schema plus ids."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

from PIL import Image

from dfcnn.serve.uploads import ServeError, decode_upload, parse_box

log = logging.getLogger(__name__)

#: optional per-object search (issue 9): (image, top_k) -> [{"box": [x0, y0, x1, y1], "results": hits}, ...]
ObjectSearch = Callable[[Image.Image, int], list]


@dataclass
class ServeSettings:
    """What create_app needs besides the retriever (the Hydra ``serve`` config maps onto it)."""

    api_key: Optional[str] = None
    max_upload_bytes: int = 20 * 2**20
    max_pixels: int = 40_000_000
    default_top_k: int = 10
    max_top_k: int = 100
    thumb_size: int = 256
    thumbs_dir: str = "outputs/serve/thumbs"
    max_pending: int = 16


class SearchService:
    """Searches one ``Retriever``; maps result paths back to index ids for /images and /thumbs."""

    def __init__(self, retriever, settings: ServeSettings, object_search: ObjectSearch | None = None):
        self.retriever = retriever
        self.settings = settings
        self.object_search = object_search
        self.ids: dict[str, int] = {}
        for i, record in enumerate(retriever.records):
            self.ids.setdefault(record.path, i)
        self._lock = threading.Lock()  # one model, one search at a time; torch threads do the parallel work
        self._pending = 0
        self._pending_lock = threading.Lock()
        self.searches = 0
        self.refused = 0

    def _with_ids(self, hits: list[dict]) -> list[dict]:
        return [{**hit, "id": self.ids[hit["path"]]} for hit in hits]

    def _enter(self) -> None:
        with self._pending_lock:
            if self._pending >= self.settings.max_pending:
                raise ServeError(503, "busy", f"the server is busy ({self._pending} searches waiting); retry shortly")
            self._pending += 1

    def _leave(self) -> None:
        with self._pending_lock:
            self._pending -= 1

    def search(self, data: bytes, query: str, top_k: int, box_text: str | None) -> dict:
        """The /search response body for uploaded bytes; ``ServeError`` for anything refused."""
        started = time.perf_counter()
        try:
            self._enter()
        except ServeError:
            self.refused += 1
            raise
        try:
            image = decode_upload(data, self.settings.max_pixels)
            box = parse_box(box_text, image.size)
            decoded = time.perf_counter()
            with self._lock:
                hits, describe_ms, search_ms = self.retriever.timed_search(image, top_k, box)
                objects = self.object_search(image, top_k) if self.object_search is not None and box is None else None
        except ServeError:
            self.refused += 1
            raise
        finally:
            self._leave()
        self.searches += 1
        body = {"query": query, "results": self._with_ids(hits), "top_k": int(top_k), "box": box,
                "image_size": list(image.size)}
        if objects:
            body["objects"] = [{"box": [float(v) for v in o["box"]], "results": self._with_ids(o["results"])}
                               for o in objects]
        body["timings"] = {"decode_ms": 1000 * (decoded - started), "describe_ms": describe_ms, "search_ms": search_ms,
                           "total_ms": 1000 * (time.perf_counter() - started)}
        return body
