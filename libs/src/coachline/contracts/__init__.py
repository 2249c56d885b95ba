"""Pydantic models of every v1 event payload, and the registry of event types and topics.

The models here are the source of truth: ``make contracts`` derives JSON Schema and AsyncAPI from them.
"""

from coachline.contracts.registry import EVENT_TYPES, TOPICS, EventType, Topic, event_type, topic

__all__ = ["EVENT_TYPES", "TOPICS", "EventType", "Topic", "event_type", "topic"]
