"""The evaluation domain: the sampling pool and submitted evaluations, as pydantic models and pure functions."""
