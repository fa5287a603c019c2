"""The HTTP API gives the same searches as the Python API, plus ids, images, thumbnails and stats."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.serve.conftest import jpeg_bytes

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


def search(client, path, **fields):
    return client.post("/search", files={"file": ("q.jpg", jpeg_bytes(path), "image/jpeg")},
                       data={k: str(v) for k, v in fields.items()})


def test_search_matches_the_python_api(client, tiny_index, retriever):
    _, paths = tiny_index
    response = search(client, paths[6], top_k=5)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"query", "results", "top_k", "image_size", "timings"}  # no box, no objects asked
    assert body["query"] == "q.jpg" and body["top_k"] == 5 and body["image_size"] == [120, 96]
    expected = retriever.search(paths[6], 5)
    assert [{k: h[k] for k in ("rank", "path", "score")} for h in body["results"]] == expected
    order = [r.path for r in retriever.records]
    assert [h["id"] for h in body["results"]] == [order.index(h["path"]) for h in expected]  # id = record position
    assert {h["path"].split("/")[-2] for h in body["results"][:3]} == {"bars"}
    assert paths[6] in [h["path"] for h in body["results"][:2]]
    t = body["timings"]
    assert 0 < t["describe_ms"] < t["total_ms"] and 0 <= t["search_ms"] < t["total_ms"] and t["decode_ms"] > 0


def test_crop_box_searches_the_crop(client, tiny_index, retriever):
    _, paths = tiny_index
    response = search(client, paths[9], top_k=3, box="[10, 5, 90, 70]")
    assert response.status_code == 200 and response.json()["box"] == [10.0, 5.0, 90.0, 70.0]
    expected = retriever.search(paths[9], 3, box=[10, 5, 90, 70])
    assert [h["path"] for h in response.json()["results"]] == [h["path"] for h in expected]
    assert expected != retriever.search(paths[9], 3)  # the crop really changed the query
    clipped = search(client, paths[9], top_k=3, box="-20 -20 500 500").json()
    assert clipped["box"] == [0.0, 0.0, 120.0, 96.0]
    assert [h["path"] for h in clipped["results"]] == [h["path"] for h in retriever.search(paths[9], 3)]


def test_objects_come_back_one_ranking_per_box(make_app, tiny_index, retriever):
    """Per-object results (issue 9) plug in as a callable; here two real crop searches stand in for a detector."""
    from fastapi.testclient import TestClient

    _, paths = tiny_index
    halves = ([0, 0, 60, 96], [60, 0, 120, 96])

    def two_halves(image, top_k):
        return [{"box": box, "results": retriever.search(image, top_k, box=box)} for box in halves]

    with TestClient(make_app(object_search=two_halves)) as c:
        body = search(c, paths[1], top_k=2).json()
    assert [o["box"] for o in body["objects"]] == [list(map(float, b)) for b in halves]
    for obj, box in zip(body["objects"], halves):
        assert [h["path"] for h in obj["results"]] == [h["path"] for h in retriever.search(paths[1], 2, box=box)]
        assert all(retriever.records[h["id"]].path == h["path"] for h in obj["results"])


def test_images_and_cached_thumbnails_by_id(client, retriever, make_app):
    original = client.get("/images/3")
    assert original.status_code == 200 and original.headers["content-type"] == "image/jpeg"
    assert original.content == jpeg_bytes(retriever.records[3].path) and original.headers["x-content-type-options"] == "nosniff"
    first = client.get("/thumbs/3")
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    thumb = Image.open(io.BytesIO(first.content))
    assert thumb.format == "JPEG" and thumb.size == (120, 96)  # already smaller than 256: kept as is
    assert client.get("/stats").json()["thumbnails_cached"] == 1
    assert client.get("/thumbs/3").content == first.content
    assert client.get("/stats").json()["thumbnails_cached"] == 1
    from fastapi.testclient import TestClient

    with TestClient(make_app(thumb_size=48)) as small:
        assert Image.open(io.BytesIO(small.get("/thumbs/3").content)).size == (48, 38)


def test_health_stats_openapi_and_page(client, retriever):
    assert client.get("/health").json() == {"status": "ok", "ntotal": 12}
    stats = client.get("/stats").json()
    assert stats["ntotal"] == 12 and stats["method"] == "cnn" and stats["dim"] == retriever.engine.dim
    assert stats["describer"]["backbone"] == "efficientnet_lite0" and stats["versions"]["torch"]
    assert stats["retrieval"]["fuzzy_k"] == 3 and stats["limits"]["max_upload_bytes"] == 2 * 2**20
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {"/search", "/health", "/stats", "/images/{image_id}", "/thumbs/{image_id}"}
    form = schema["components"]["schemas"]["Body_search_search_post"]["properties"]
    assert set(form) == {"file", "top_k", "box"}
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/static/app.js" in page.text and "script-src 'self'" in page.headers["content-security-policy"]
    for asset, kind in (("/static/app.js", "javascript"), ("/static/style.css", "text/css")):
        response = client.get(asset)
        assert response.status_code == 200 and kind in response.headers["content-type"]
