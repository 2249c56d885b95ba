"""Shared code of the Coachline services."""
