-- The platform's sequence of an agent's state changes: orders two marks at the same moment.
ALTER TABLE agent_marks ADD COLUMN sequence bigint;
