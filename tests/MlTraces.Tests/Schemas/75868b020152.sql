-- MLflow's tracking-store schema for SQLite at alembic revision 75868b020152 ("add sql trace analytics schema",
-- MLflow 3.17), from mlflow/store/db_migrations/versions/75868b020152_add_sql_trace_analytics_schema.py as shipped
-- (legacy rows deleted, spans.dimension_attributes dropped, BIGINT token columns, rollups without workspace): the
-- schema of 6f8d9c3b2a1e plus _add_analytics_columns (ADD COLUMN, which batch_alter_table issues as such on
-- SQLite), _create_rollup_tables, _create_analytics_indexes and _drop_dimension_attributes (spans recreated without
-- dimension_attributes, duration_ns re-added before content, the two foreign keys and the indexes recreated).
-- The sixth token column, cache_creation_input_tokens_above_1hr, of a later version of the same revision is left
-- out here: MlTraces detects each promoted column by itself, and a test adds it where it matters.
-- Statements are separated by lines holding only ';'.
-- base: 6f8d9c3b2a1e
ALTER TABLE trace_info ADD COLUMN trace_name VARCHAR(8000)
;
ALTER TABLE trace_info ADD COLUMN session_id VARCHAR(8000)
;
ALTER TABLE trace_info ADD COLUMN input_tokens BIGINT
;
ALTER TABLE trace_info ADD COLUMN output_tokens BIGINT
;
ALTER TABLE trace_info ADD COLUMN total_tokens BIGINT
;
ALTER TABLE trace_info ADD COLUMN cache_read_input_tokens BIGINT
;
ALTER TABLE trace_info ADD COLUMN cache_creation_input_tokens BIGINT
;
ALTER TABLE trace_info ADD COLUMN input_cost FLOAT
;
ALTER TABLE trace_info ADD COLUMN output_cost FLOAT
;
ALTER TABLE trace_info ADD COLUMN total_cost FLOAT
;
ALTER TABLE assessments ADD COLUMN experiment_id INTEGER
;
ALTER TABLE assessments ADD COLUMN trace_timestamp_ms BIGINT
;
ALTER TABLE assessments ADD COLUMN aggregate_value FLOAT
;
ALTER TABLE assessments ADD COLUMN is_numeric_value BOOLEAN DEFAULT 0 NOT NULL
;
CREATE TABLE sql_trace_metric_daily_rollups (
	id INTEGER NOT NULL, 
	experiment_id INTEGER NOT NULL, 
	rollup_day DATE NOT NULL, 
	metric_name VARCHAR(250) NOT NULL, 
	grouping_set VARCHAR(50) NOT NULL, 
	trace_status VARCHAR(50), 
	sample_count BIGINT NOT NULL, 
	sum_value FLOAT, 
	min_value FLOAT, 
	max_value FLOAT, 
	p50_value FLOAT, 
	p90_value FLOAT, 
	p99_value FLOAT, 
	CONSTRAINT sql_trace_metric_daily_rollups_pk PRIMARY KEY (id)
)
;
CREATE TABLE sql_span_cost_daily_rollups (
	id INTEGER NOT NULL, 
	experiment_id INTEGER NOT NULL, 
	rollup_day DATE NOT NULL, 
	metric_name VARCHAR(250) NOT NULL, 
	grouping_set VARCHAR(50) NOT NULL, 
	model_name VARCHAR(500), 
	model_provider VARCHAR(500), 
	sample_count BIGINT NOT NULL, 
	sum_value FLOAT, 
	min_value FLOAT, 
	max_value FLOAT, 
	CONSTRAINT sql_span_cost_daily_rollups_pk PRIMARY KEY (id)
)
;
CREATE TABLE sql_assessment_daily_rollups (
	id INTEGER NOT NULL, 
	experiment_id INTEGER NOT NULL, 
	rollup_day DATE NOT NULL, 
	metric_name VARCHAR(250) NOT NULL, 
	grouping_set VARCHAR(50) NOT NULL, 
	sample_count BIGINT NOT NULL, 
	sum_value FLOAT, 
	min_value FLOAT, 
	max_value FLOAT, 
	CONSTRAINT sql_assessment_daily_rollups_pk PRIMARY KEY (id)
)
;
CREATE TABLE sql_trace_rollup_rebuild_queue (
	experiment_id INTEGER NOT NULL, 
	rollup_day DATE NOT NULL, 
	rollup_family VARCHAR(50) NOT NULL, 
	CONSTRAINT sql_trace_rollup_rebuild_queue_pk PRIMARY KEY (experiment_id, rollup_day, rollup_family)
)
;
CREATE INDEX idx_trace_rollups_lookup ON sql_trace_metric_daily_rollups (experiment_id, rollup_day, metric_name, grouping_set, trace_status)
;
CREATE INDEX idx_span_cost_rollups_lookup ON sql_span_cost_daily_rollups (experiment_id, rollup_day, metric_name, grouping_set, model_name, model_provider)
;
CREATE INDEX idx_assessment_rollups_lookup ON sql_assessment_daily_rollups (experiment_id, rollup_day, metric_name, grouping_set)
;
CREATE INDEX idx_assessments_exp_trace_ts ON assessments (experiment_id, trace_timestamp_ms)
;
CREATE INDEX idx_assessments_exp_trace_ts_name ON assessments (experiment_id, trace_timestamp_ms, name)
;
CREATE INDEX idx_assessments_exp_name_valid ON assessments (experiment_id, name, valid)
;
CREATE TABLE _alembic_tmp_spans (
	trace_id VARCHAR(50) NOT NULL, 
	experiment_id INTEGER NOT NULL, 
	span_id VARCHAR(50) NOT NULL, 
	parent_span_id VARCHAR(50), 
	name TEXT, 
	type VARCHAR(500), 
	status VARCHAR(50) NOT NULL, 
	start_time_unix_nano BIGINT NOT NULL, 
	end_time_unix_nano BIGINT, 
	duration_ns BIGINT GENERATED ALWAYS AS (end_time_unix_nano - start_time_unix_nano) STORED, 
	content TEXT NOT NULL, 
	links JSON, 
	input_cost FLOAT, 
	output_cost FLOAT, 
	total_cost FLOAT, 
	model_name VARCHAR(500), 
	model_provider VARCHAR(500), 
	dimension_attributes_state SMALLINT, 
	CONSTRAINT spans_pk PRIMARY KEY (trace_id, span_id), 
	CONSTRAINT fk_spans_experiment_id FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id), 
	CONSTRAINT fk_spans_trace_id FOREIGN KEY(trace_id) REFERENCES trace_info (request_id) ON DELETE CASCADE
)
;
INSERT INTO _alembic_tmp_spans (trace_id, experiment_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content, links) SELECT trace_id, experiment_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content, links FROM spans
;
DROP TABLE spans
;
ALTER TABLE _alembic_tmp_spans RENAME TO spans
;
CREATE INDEX index_spans_experiment_id_start_time ON spans (experiment_id, start_time_unix_nano)
;
CREATE INDEX index_spans_experiment_id_status_type ON spans (experiment_id, status, type)
;
CREATE INDEX index_spans_experiment_id_type_status ON spans (experiment_id, type, status)
;
CREATE INDEX index_spans_experiment_id_duration ON spans (experiment_id, duration_ns)
;
CREATE INDEX idx_spans_cost_trace_time_cover ON spans (trace_id, start_time_unix_nano)
;
CREATE INDEX idx_spans_cost_exp_time_cover ON spans (experiment_id, start_time_unix_nano)
;
