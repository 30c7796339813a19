"""The per-candidate retrieval features LTM-T reads; no torch, so recall can use them
without it."""

# Per-candidate features, in this order (built by assistant.memory.recall.candidate_features).
FEATURES = (
    "dense_rr",  # 10 / (10 + dense rank), 0 when the dense search missed it
    "lexical_rr",  # 10 / (10 + BM25 rank), 0 when BM25 missed it
    "has_dense",
    "has_lexical",
    "rrf",  # the hybrid fusion score, scaled to about 0..1
    "dense_score",  # cosine of the search query and the memory
    "lexical_norm",  # BM25 score / best BM25 score among the candidates
    "log_age",  # log1p(days between memory and question) / 5
    "speaker_named",  # the memory's speaker is named in the question
    "kind_turn",
    "kind_chunk",
    "kind_fact",
    "kind_summary",
    "pinned",
    "superseded",
    "date_match",  # the memory's date falls in a time window the question names
)
