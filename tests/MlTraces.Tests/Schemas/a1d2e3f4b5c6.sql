-- MLflow's tracking-store schema for SQLite at alembic revision a1d2e3f4b5c6 ("add links column to spans table"),
-- the newest columns the module reads: the schema of b7e4c1a90f23 (the module's embedded schema, which already has
-- db_payload_generation, workspaces with trace_archival_location, span_metrics and spans.dimension_attributes),
-- plus what that migration adds, as alembic's batch_alter_table adds it on SQLite.
-- Statements are separated by lines holding only ';'.
-- base: b7e4c1a90f23
ALTER TABLE spans ADD COLUMN links JSON
;
