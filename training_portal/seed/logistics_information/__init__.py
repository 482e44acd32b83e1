"""Seed course data (course.json, module markdown, questions.json)."""
