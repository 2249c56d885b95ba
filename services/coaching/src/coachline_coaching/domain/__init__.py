"""The coaching domain: periods, goals on the goal triangle, sessions, agreed actions, suggestions, effect."""
