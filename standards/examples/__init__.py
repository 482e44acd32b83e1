"""Valid example instances of every shipped standard (JSON arrays)."""
