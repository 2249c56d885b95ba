"""The coaching domain: evaluations as evidence per agent, and recorded coaching sessions."""
