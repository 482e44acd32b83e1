"""The pydantic models behind the shipped standards."""
