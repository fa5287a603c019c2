"""The search service: a FastAPI app over one loaded index, and its static search page (SPEC §7)."""
