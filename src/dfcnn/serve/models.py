"""Response bodies of the service, as pydantic models: they are what /openapi.json publishes."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field


class Hit(BaseModel):
    rank: int = Field(ge=1)
    path: str = Field(description="database image path exactly as indexed (as dfcnn-search writes it)")
    score: float
    id: int = Field(ge=0, description="index id: fetch it with GET /images/{id} and GET /thumbs/{id}")


class ObjectResult(BaseModel):
    box: list[float] = Field(min_length=4, max_length=4, description="[x0, y0, x1, y1] in query pixels")
    results: list[Hit]


class Timings(BaseModel):
    decode_ms: float = Field(description="upload sniffed and decoded")
    describe_ms: float = Field(description="query descriptor computed")
    search_ms: float = Field(description="index searched and re-ranked")
    total_ms: float = Field(description="from the parsed request to the response body")


class SearchResponse(BaseModel):
    """dfcnn-search's line schema (SPEC §7) plus ids, the request's settings and timings."""

    query: str = Field(description="the uploaded file's name, for display only")
    results: list[Hit] = Field(description="the merged ranking")
    objects: Optional[list[ObjectResult]] = Field(default=None, description="per-object rankings, when objects were found")
    top_k: int
    box: Optional[list[float]] = Field(default=None, description="the crop searched, clipped to the image")
    image_size: list[int] = Field(min_length=2, max_length=2, description="[width, height] after EXIF rotation")
    timings: Timings


class ErrorResponse(BaseModel):
    detail: str = Field(description="what was wrong, for people")
    reason: str = Field(description="a short machine-friendly tag")


class Health(BaseModel):
    status: str
    ntotal: int


class Stats(BaseModel):
    ntotal: int
    dim: int
    method: str
    describer_kind: Optional[str] = None
    describer: dict[str, Any] = Field(default_factory=dict, description="what the describer is (backbone, weights, dims)")
    versions: dict[str, str] = Field(default_factory=dict, description="package versions the index was built with")
    created: Optional[str] = None
    updated: Optional[str] = None
    retrieval: dict[str, Any] = Field(default_factory=dict, description="retrieval settings in force")
    limits: dict[str, Any]
    uptime_s: float
    searches: int
    refused: int
    thumbnails_cached: int
