"""Bad requests get a 4xx with a message that says what was wrong, and the server keeps serving."""

from __future__ import annotations

import io
import struct
import zlib

import httpx
import pytest
from PIL import Image

from tests.serve.conftest import LiveServer, jpeg_bytes

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


def png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A valid-looking PNG header declaring ``width`` x ``height`` pixels over a few bytes of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b"")


def png_of(path: str) -> bytes:
    buffer = io.BytesIO()
    Image.open(path).save(buffer, format="PNG")
    return buffer.getvalue()


def post(client, data: bytes, name="photo.jpg", content_type="image/jpeg", **fields):
    return client.post("/search", files={"file": (name, data, content_type)}, data={k: str(v) for k, v in fields.items()})


def assert_refused(response, status: int, reason: str, words: str):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["reason"] == reason and words in body["detail"], body


def strip_ids(hits):
    return [{k: v for k, v in hit.items() if k != "id"} for hit in hits]


def test_bad_uploads_are_refused_clearly_and_service_continues(client, tiny_index, retriever):
    _, paths = tiny_index
    good = jpeg_bytes(paths[0])
    assert_refused(post(client, b"x" * (2 * 2**20 + 10)), 413, "too_large", "larger than the limit of 2.0 MiB")
    assert_refused(post(client, b"hello, I am text\n" * 10, "photo.jpg"), 415, "not_an_image", "not a JPEG, PNG")
    assert_refused(post(client, b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "a.jpg"), 415, "not_an_image", "")
    assert_refused(post(client, b""), 400, "empty_file", "empty")
    assert_refused(post(client, good[: len(good) // 3]), 422, "truncated", "truncated")
    assert_refused(post(client, b"\xff\xd8\xff\xe0" + b"\x00" * 200), 422, "corrupt", "corrupt")
    assert_refused(post(client, png_bomb(), "bomb.png", "image/png"), 413, "too_many_pixels", "decompression-bomb")
    assert_refused(post(client, good, top_k="ten"), 422, "invalid_request", "top_k")
    assert_refused(post(client, good, top_k=0), 422, "invalid_request", "top_k")
    assert_refused(post(client, good, top_k=10_000), 422, "invalid_request", "less than or equal to 100")
    assert_refused(post(client, good, box="1,2,3"), 422, "invalid_request", "box: must be four numbers")
    assert_refused(post(client, good, box="nan,0,10,10"), 422, "invalid_request", "box")
    assert_refused(post(client, good, box="500,500,900,900"), 422, "bad_box", "holds no pixels of the 120x96 image")
    assert_refused(post(client, good, box="30,30,10,10"), 422, "bad_box", "need x0 < x1")
    assert_refused(client.post("/search", data={"top_k": "3"}), 422, "invalid_request", "file")
    assert_refused(client.post("/search", data={"file": "not a file"}), 422, "invalid_request", "file")
    assert_refused(client.post("/search", json={"file": "photo.jpg"}), 422, "invalid_request", "file")
    assert client.get("/search").status_code == 405
    # still serving, and the counters saw the refusals
    hit = post(client, good, top_k=2)
    assert hit.status_code == 200 and strip_ids(hit.json()["results"]) == retriever.search(paths[0], 2)
    stats = client.get("/stats").json()
    assert stats["searches"] == 1 and stats["refused"] >= 7


def test_content_is_sniffed_not_the_name_or_type(client, tiny_index, retriever):
    _, paths = tiny_index
    as_text = post(client, png_of(paths[5]), name="notes.txt", content_type="text/plain", top_k=3)
    assert as_text.status_code == 200
    assert strip_ids(as_text.json()["results"]) == retriever.search(Image.open(paths[5]).convert("RGB"), 3)
    assert post(client, b"#!/bin/sh\nrm -rf /\n", name="photo.png", content_type="image/png").status_code == 415


def test_no_path_from_the_request_is_ever_read(client, tiny_index, tmp_path):
    _, paths = tiny_index
    # the upload's file name is display text only
    named = post(client, jpeg_bytes(paths[4]), name="../../../../etc/passwd", top_k=1)
    assert named.status_code == 200 and named.json()["query"] == "passwd"
    for url in ("/images/-1", "/images/1.5", "/images/0x1", "/thumbs/1e3", "/thumbs/passwd", "/images/%00"):
        response = client.get(url)
        assert response.status_code == 422 and "image_id" in response.json()["detail"], (url, response.text)
    for url in ("/images/../../etc/passwd", "/images/..%2F..%2F..%2Fetc%2Fpasswd", "/thumbs/..%2f..%2fetc%2fpasswd",
                "/images/%2Fetc%2Fpasswd", "/static/../../pyproject.toml", "/static/..%2F..%2F..%2Fpyproject.toml",
                "/static/%2e%2e/%2e%2e/conf/serve.yaml", "/static/%2Fetc%2Fpasswd"):
        response = client.get(url)
        assert response.status_code in (404, 422), (url, response.status_code)
        assert "root:" not in response.text and "[project]" not in response.text and "defaults" not in response.text
    missing = client.get("/images/12")
    assert missing.status_code == 422 and missing.json() == {
        "detail": "image_id: Input should be less than or equal to 11", "reason": "invalid_request"}


def test_chunked_bodies_are_capped_too(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app(max_upload_bytes=50_000)) as c:
        def body():
            for _ in range(40):
                yield b"-" * 10_000

        response = c.post("/search", content=body(), headers={"content-type": "multipart/form-data; boundary=x"})
        assert response.status_code == 413 and response.json()["reason"] == "too_large"
        assert c.get("/health").json()["status"] == "ok"


def test_api_key(make_app, tiny_index):
    from fastapi.testclient import TestClient

    _, paths = tiny_index
    with TestClient(make_app(api_key="s3cret")) as c:
        assert c.get("/health").status_code == 200
        for response in (c.get("/stats"), c.get("/thumbs/0"), c.get("/images/0", headers={"X-API-Key": "wrong"}),
                         post(c, jpeg_bytes(paths[0]))):
            assert_refused(response, 401, "unauthorized", "X-API-Key")
        keyed = c.post("/search", files={"file": ("a.jpg", jpeg_bytes(paths[0]), "image/jpeg")},
                       headers={"X-API-Key": "s3cret"})
        assert keyed.status_code == 200
        assert c.get("/thumbs/0", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert "APIKeyHeader" in c.get("/openapi.json").text


@pytest.mark.slow
def test_live_server_survives_bad_requests(make_app, tiny_index, retriever):
    """The same abuse over real sockets (uvicorn): errors come back as 4xx JSON and the next search works."""
    _, paths = tiny_index
    good = jpeg_bytes(paths[8])
    with LiveServer(make_app(max_upload_bytes=300_000)) as live, httpx.Client(base_url=live.url, timeout=30) as c:
        big = c.post("/search", files={"file": ("big.jpg", b"\xff\xd8\xff" + b"0" * 400_000, "image/jpeg")})
        assert big.status_code == 413 and big.json()["reason"] == "too_large"
        assert post(c, b"GIF89a" + b"\x00" * 50, "x.gif", "image/gif").status_code == 422
        assert post(c, good[:200]).json()["reason"] == "truncated"
        assert post(c, b"plain text").status_code == 415
        assert c.get("/images/..%2F..%2Fetc%2Fpasswd").status_code == 404
        assert c.get("/thumbs/-3").status_code == 422
        response = post(c, good, top_k=3)
        assert response.status_code == 200 and strip_ids(response.json()["results"]) == retriever.search(paths[8], 3)
        assert c.get("/health").json() == {"status": "ok", "ntotal": 12}
