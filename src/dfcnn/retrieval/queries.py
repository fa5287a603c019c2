"""What ``query=`` may name: one image, a folder of images, or a text file listing image paths."""

from __future__ import annotations

import os

from dfcnn.data.listing import IMAGE_EXTENSIONS, walk_images

LIST_EXTENSIONS = (".txt", ".lst", ".list")


class QueryError(ValueError):
    """The query argument names nothing searchable."""


def list_queries(query: str, skip_log=None) -> list[str]:
    """Absolute image paths named by ``query``, in order.

    A folder is walked (sorted, recursively); a ``.txt``/``.lst`` file lists one path per line
    (relative paths are relative to the list's folder; blank lines and ``#`` comments ignored).
    Anything else is taken as a single image; whether it decodes is checked when it is described.
    """
    if not query:
        raise QueryError("query= is empty: give an image file, a folder of images, or a .txt list of paths")
    path = os.path.abspath(os.path.expanduser(str(query)))
    if not os.path.exists(path):
        raise QueryError(f"query {query!r} does not exist")
    if os.path.isdir(path):
        paths = list(walk_images(path, skip_log))
        if not paths:
            raise QueryError(f"query folder {query!r} holds no image files ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        return paths
    if os.path.splitext(path)[1].lower() in LIST_EXTENSIONS:
        base = os.path.dirname(path)
        with open(path, encoding="utf-8") as fh:
            lines = [line.strip() for line in fh]
        paths = [os.path.abspath(os.path.join(base, os.path.expanduser(line)))
                 for line in lines if line and not line.startswith("#")]
        if not paths:
            raise QueryError(f"query list {query!r} names no image")
        return paths
    return [path]
