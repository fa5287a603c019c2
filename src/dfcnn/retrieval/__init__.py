"""Retrieval (SPEC §2.5): index backends, fused DF-CNN descriptors, Eq. 14 re-ranking, αQE/DBA,
the self-contained index directory and the ``Retriever`` API (``Retriever.from_index(dir).search(...)``)."""


def __getattr__(name):
    if name == "Retriever":  # lazy: keeps ``import dfcnn.retrieval.exact`` light
        from dfcnn.retrieval.retriever import Retriever

        return Retriever
    raise AttributeError(name)
