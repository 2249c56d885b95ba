"""One adapter per source: a pure function from one platform record to canonical event drafts.

An adapter raises :class:`~coachline_intake.domain.records.Rejected` for a record it cannot map,
with the reason and the field at fault, and returns an empty list for a record that is valid but
carries nothing the canonical stream holds (a heartbeat, a queue-log line about call recording).
"""
