"""Training and certification: courses, assessments, verifiable qualification certificates."""

from training_portal import compliance as _compliance  # noqa: F401  (registers its section)
