-- MLflow's tracking-store schema for SQLite at alembic revision 6f8d9c3b2a1e ("add experiment FK cascades"), the
-- layout of MLflow 3.15/3.16 for the trace tables: the schema of a1d2e3f4b5c6 (b7e4c1a90f23 + spans.links) plus
-- what the revisions between b7e4c1a90f23 and 6f8d9c3b2a1e do to trace tables, as alembic's batch_alter_table does
-- it on SQLite:
--   c1d2e3f4a5b6 (mlflow/store/db_migrations/versions/c1d2e3f4a5b6_add_span_experiment_and_start_time_index.py):
--     index_spans_experiment_id replaced by index_spans_experiment_id_start_time;
--   c8f5a2d1e9b4: review_queues.dataset_id;
--   6f8d9c3b2a1e (…_add_experiment_fk_cascades.py): fk_trace_info_experiment_id gains ON DELETE CASCADE (the
--     table is recreated as batch_alter_table recreates it, and its index with it).
-- Tables no trace hangs on (MCP registry, budget policies, endpoints, secrets) are left as b7e4c1a90f23 has them.
-- Statements are separated by lines holding only ';'.
-- base: a1d2e3f4b5c6
DROP INDEX index_spans_experiment_id
;
CREATE INDEX index_spans_experiment_id_start_time ON spans (experiment_id, start_time_unix_nano)
;
ALTER TABLE review_queues ADD COLUMN dataset_id VARCHAR(36)
;
CREATE TABLE _alembic_tmp_trace_info (
	request_id VARCHAR(50) NOT NULL, 
	experiment_id INTEGER NOT NULL, 
	timestamp_ms BIGINT NOT NULL, 
	execution_time_ms BIGINT, 
	status VARCHAR(50) NOT NULL, 
	client_request_id VARCHAR(50), 
	request_preview VARCHAR(1000), 
	response_preview VARCHAR(1000), 
	db_payload_generation INTEGER DEFAULT '0' NOT NULL, 
	CONSTRAINT trace_info_pk PRIMARY KEY (request_id), 
	CONSTRAINT fk_trace_info_experiment_id FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id) ON DELETE CASCADE
)
;
INSERT INTO _alembic_tmp_trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status, client_request_id, request_preview, response_preview, db_payload_generation) SELECT request_id, experiment_id, timestamp_ms, execution_time_ms, status, client_request_id, request_preview, response_preview, db_payload_generation FROM trace_info
;
DROP TABLE trace_info
;
ALTER TABLE _alembic_tmp_trace_info RENAME TO trace_info
;
CREATE INDEX index_trace_info_experiment_id_timestamp_ms ON trace_info (experiment_id, timestamp_ms)
;
