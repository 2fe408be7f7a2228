-- weir ClickHouse schema, production dialect (ClickHouse 24.x): spec dedup-job.md §5.4, §8,
-- Appendix A and session-job.md §9. Timestamps are DateTime64(3, 'UTC'); the job sends them as
-- 'yyyy-MM-dd HH:mm:ss.SSS' UTC text (§7.1). Applied by `weir schema apply` (statements split at
-- ';' at the end of a line; the database name livepeer_analytics is replaced by --database).
-- See docs/clickhouse.md.

CREATE DATABASE IF NOT EXISTS livepeer_analytics;

-- §6.1; event_hour materialized. start_time is Nullable here: the job writes JSON null when the event has none (§14.7).
CREATE TABLE IF NOT EXISTS livepeer_analytics.ai_stream_status
(
    event_timestamp DateTime64(3, 'UTC'),
    stream_id String,
    request_id String,
    gateway String,
    orchestrator_address String,
    orchestrator_url String,
    pipeline LowCardinality(String),
    pipeline_id String,
    output_fps Float32,
    input_fps Float32,
    state LowCardinality(String),
    restart_count UInt32,
    last_error Nullable(String),
    prompt_text Nullable(String),
    prompt_width UInt16,
    prompt_height UInt16,
    params_hash String,
    start_time Nullable(DateTime64(3, 'UTC')),
    raw_json String,
    event_date Date MATERIALIZED toDate(event_timestamp),
    event_hour UInt8 MATERIALIZED toHour(event_timestamp),
    ingestion_timestamp DateTime DEFAULT now(),
    INDEX idx_orchestrator_address orchestrator_address TYPE bloom_filter GRANULARITY 4,
    INDEX idx_pipeline pipeline TYPE bloom_filter GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, orchestrator_address, pipeline, stream_id, event_timestamp)
TTL event_date + INTERVAL 90 DAY
SETTINGS index_granularity = 8192;

-- §6.2
CREATE TABLE IF NOT EXISTS livepeer_analytics.stream_ingest_metrics
(
    event_timestamp DateTime64(3, 'UTC'),
    stream_id String,
    request_id String,
    pipeline_id String,
    connection_quality LowCardinality(String),
    video_jitter Float32,
    video_packets_received UInt32,
    video_packets_lost UInt32,
    video_packet_loss_pct Float32,
    video_rtt Float32,
    video_last_input_ts Float32,
    video_latency Float32,
    audio_jitter Float32,
    audio_packets_received UInt32,
    audio_packets_lost UInt32,
    audio_packet_loss_pct Float32,
    audio_rtt Float32,
    audio_last_input_ts Float32,
    audio_latency Float32,
    bytes_received UInt64,
    bytes_sent UInt64,
    raw_json String,
    event_date Date MATERIALIZED toDate(event_timestamp),
    ingestion_timestamp DateTime DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, stream_id, event_timestamp)
TTL event_date + INTERVAL 90 DAY
SETTINGS index_granularity = 8192;

-- §6.3
CREATE TABLE IF NOT EXISTS livepeer_analytics.stream_trace_events
(
    event_timestamp DateTime64(3, 'UTC'),
    stream_id String,
    request_id String,
    pipeline_id String,
    orchestrator_address String,
    orchestrator_url String,
    trace_type LowCardinality(String),
    data_timestamp DateTime64(3, 'UTC'),
    raw_json String,
    event_date Date MATERIALIZED toDate(event_timestamp),
    ingestion_timestamp DateTime DEFAULT now(),
    INDEX idx_request_id request_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, request_id, trace_type, data_timestamp)
TTL event_date + INTERVAL 90 DAY
SETTINGS index_granularity = 8192;

-- §6.4 + Appendix A columns. capacity/capacity_in_use widened from the spec's UInt8 to UInt16: real data has 384 (§14.8), which UInt8 stores as 128 without an error.
CREATE TABLE IF NOT EXISTS livepeer_analytics.network_capabilities
(
    event_timestamp DateTime64(3, 'UTC'),
    source_event_id String,
    orchestrator_address String,
    local_address String,
    orch_uri String,
    gpu_id Nullable(String),
    gpu_name Nullable(String),
    gpu_memory_total Nullable(UInt64),
    gpu_memory_free Nullable(UInt64),
    gpu_major Nullable(UInt8),
    gpu_minor Nullable(UInt8),
    pipeline String,
    model_id String,
    capability_id Int32,
    capability_name LowCardinality(String),
    capability_group LowCardinality(String),
    capability_catalog_version LowCardinality(String),
    runner_version Nullable(String),
    capacity Nullable(UInt16),
    capacity_in_use Nullable(UInt16),
    warm Nullable(UInt8),
    price_per_unit Nullable(UInt32),
    pixels_per_unit Nullable(UInt32),
    orchestrator_version String,
    raw_json String,
    event_date Date MATERIALIZED toDate(event_timestamp),
    ingestion_timestamp DateTime DEFAULT now(),
    INDEX idx_orchestrator_address orchestrator_address TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(event_timestamp)
PARTITION BY toYYYYMM(event_date)
ORDER BY (orchestrator_address, orch_uri, model_id, event_timestamp)
TTL event_date + INTERVAL 90 DAY
SETTINGS index_granularity = 8192;

-- Appendix A: one row per capabilities.capacities key
CREATE TABLE IF NOT EXISTS livepeer_analytics.network_capabilities_advertised
(
    event_timestamp DateTime64(3, 'UTC'),
    source_event_id String,
    orchestrator_address String,
    local_address String,
    orch_uri String,
    capability_id Int32,
    capability_name LowCardinality(String),
    capability_group LowCardinality(String),
    capability_catalog_version LowCardinality(String),
    capacity Nullable(UInt32),
    raw_json String,
    event_date Date MATERIALIZED toDate(event_timestamp),
    ingestion_timestamp DateTime DEFAULT now(),
    INDEX idx_orchestrator_address orchestrator_address TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(event_timestamp)
PARTITION BY toYYYYMM(event_date)
ORDER BY (orchestrator_address, orch_uri, capability_id, event_timestamp)
TTL event_date + INTERVAL 90 DAY
SETTINGS index_granularity = 8192;

-- Appendix A: one row per PerCapability.<cap>.models.<model>
CREATE TABLE IF NOT EXISTS livepeer_analytics.network_capabilities_model_constraints
(
    event_timestamp DateTime64(3, 'UTC'),
    source_event_id String,
    orchestrator_address String,
    local_address String,
    orch_uri String,
    capability_id Int32,
    capability_name LowCardinality(String),
    capability_group LowCardinality(String),
    capability_catalog_version LowCardinality(String),
    model_id String,
    runner_version Nullable(String),
    capacity Nullable(UInt16),
    capacity_in_use Nullable(UInt16),
    warm Nullable(UInt8),
    raw_json String,
    event_date Date MATERIALIZED toDate(event_timestamp),
    ingestion_timestamp DateTime DEFAULT now(),
    INDEX idx_orchestrator_address orchestrator_address TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(event_timestamp)
PARTITION BY toYYYYMM(event_date)
ORDER BY (orchestrator_address, orch_uri, capability_id, model_id, event_timestamp)
TTL event_date + INTERVAL 90 DAY
SETTINGS index_granularity = 8192;

-- Appendix A: one row per capabilities_prices element
CREATE TABLE IF NOT EXISTS livepeer_analytics.network_capabilities_prices
(
    event_timestamp DateTime64(3, 'UTC'),
    source_event_id String,
    orchestrator_address String,
    local_address String,
    orch_uri String,
    capability_id Int32,
    capability_name LowCardinality(String),
    capability_group LowCardinality(String),
    capability_catalog_version LowCardinality(String),
    constraint_name String,
    price_per_unit Nullable(UInt32),
    pixels_per_unit Nullable(UInt32),
    raw_json String,
    event_date Date MATERIALIZED toDate(event_timestamp),
    ingestion_timestamp DateTime DEFAULT now(),
    INDEX idx_orchestrator_address orchestrator_address TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(event_timestamp)
PARTITION BY toYYYYMM(event_date)
ORDER BY (orchestrator_address, orch_uri, capability_id, constraint_name, event_timestamp)
TTL event_date + INTERVAL 90 DAY
SETTINGS index_granularity = 8192;

-- §6.5
CREATE TABLE IF NOT EXISTS livepeer_analytics.ai_stream_events
(
    event_timestamp DateTime64(3, 'UTC'),
    stream_id String,
    request_id String,
    pipeline String,
    pipeline_id String,
    event_type LowCardinality(String),
    message String,
    capability String,
    raw_json String,
    event_date Date MATERIALIZED toDate(event_timestamp),
    ingestion_timestamp DateTime DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, stream_id, event_timestamp)
TTL event_date + INTERVAL 90 DAY
SETTINGS index_granularity = 8192;

-- §6.6 + raw_event_uid (Appendix A)
CREATE TABLE IF NOT EXISTS livepeer_analytics.discovery_results
(
    event_timestamp DateTime64(3, 'UTC'),
    orchestrator_address String,
    orchestrator_url String,
    latency_ms UInt32,
    raw_event_uid String,
    raw_json String,
    event_date Date MATERIALIZED toDate(event_timestamp),
    ingestion_timestamp DateTime DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, orchestrator_address, event_timestamp)
TTL event_date + INTERVAL 30 DAY
SETTINGS index_granularity = 8192;

-- §6.7 + raw_event_uid (Appendix A)
CREATE TABLE IF NOT EXISTS livepeer_analytics.payment_events
(
    event_timestamp DateTime64(3, 'UTC'),
    request_id String,
    session_id String,
    manifest_id String,
    sender String,
    recipient String,
    orchestrator String,
    face_value String,
    price String,
    num_tickets String,
    win_prob String,
    client_ip String,
    capability String,
    raw_event_uid String,
    raw_json String,
    event_date Date MATERIALIZED toDate(event_timestamp),
    ingestion_timestamp DateTime DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, recipient, orchestrator, event_timestamp)
TTL event_date + INTERVAL 90 DAY
SETTINGS index_granularity = 8192;

-- §5.4. ingestion_timestamp is sent by the job with milliseconds (§14.19): DateTime64(3) in 24.x, the text itself in 18.16.
CREATE TABLE IF NOT EXISTS livepeer_analytics.streaming_events_dlq
(
    schema_version LowCardinality(String),
    source_topic String,
    source_partition UInt32,
    source_offset UInt64,
    source_record_timestamp DateTime64(3, 'UTC'),
    event_id String,
    event_type LowCardinality(String),
    event_version Nullable(String),
    event_timestamp Nullable(DateTime64(3, 'UTC')),
    dedup_key Nullable(String),
    dedup_strategy Nullable(String),
    replay UInt8,
    failure_stage LowCardinality(String),
    failure_class LowCardinality(String),
    failure_reason String,
    failure_details String,
    orchestrator Nullable(String),
    broadcaster Nullable(String),
    region Nullable(String),
    payload_encoding LowCardinality(String),
    payload_body String,
    payload_canonical_json Nullable(String),
    event_date Date MATERIALIZED toDate(ifNull(event_timestamp, source_record_timestamp)),
    ingestion_timestamp DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, failure_class, event_type, source_topic, source_offset)
TTL event_date + INTERVAL 30 DAY
SETTINGS index_granularity = 8192;

-- §5.4. ingestion_timestamp is sent by the job with milliseconds (§14.19): DateTime64(3) in 24.x, the text itself in 18.16.
CREATE TABLE IF NOT EXISTS livepeer_analytics.streaming_events_quarantine
(
    schema_version LowCardinality(String),
    source_topic String,
    source_partition UInt32,
    source_offset UInt64,
    source_record_timestamp DateTime64(3, 'UTC'),
    event_id String,
    event_type LowCardinality(String),
    event_version Nullable(String),
    event_timestamp Nullable(DateTime64(3, 'UTC')),
    dedup_key Nullable(String),
    dedup_strategy Nullable(String),
    replay UInt8,
    failure_stage LowCardinality(String),
    failure_class LowCardinality(String),
    failure_reason String,
    failure_details String,
    orchestrator Nullable(String),
    broadcaster Nullable(String),
    region Nullable(String),
    payload_encoding LowCardinality(String),
    payload_body String,
    payload_canonical_json Nullable(String),
    event_date Date MATERIALIZED toDate(ifNull(event_timestamp, source_record_timestamp)),
    ingestion_timestamp DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, failure_class, event_type, source_topic, source_offset)
TTL event_date + INTERVAL 7 DAY
SETTINGS index_granularity = 8192;

-- session-job.md §9.1
CREATE TABLE IF NOT EXISTS livepeer_analytics.fact_workflow_sessions
(
    workflow_session_id String,
    workflow_type LowCardinality(String),
    workflow_id String,
    stream_id String,
    request_id String,
    session_id String,
    pipeline String,
    gateway String,
    orchestrator_address String,
    orchestrator_url String,
    model_id Nullable(String),
    gpu_id Nullable(String),
    region Nullable(String),
    has_model_change UInt8 DEFAULT 0,
    has_pipeline_change UInt8 DEFAULT 0,
    gpu_attribution_method LowCardinality(String),
    gpu_attribution_confidence Float32,
    session_start_ts DateTime64(3, 'UTC'),
    session_end_ts Nullable(DateTime64(3, 'UTC')),
    known_stream UInt8,
    startup_success UInt8,
    startup_excused UInt8,
    startup_unexcused UInt8,
    confirmed_swap_count UInt16,
    inferred_orchestrator_change_count UInt16,
    swap_count UInt16,
    error_count UInt32,
    excusable_error_count UInt32,
    last_error_occurred UInt8 DEFAULT 0,
    loading_only_session UInt8 DEFAULT 0,
    zero_output_fps_session UInt8 DEFAULT 0,
    status_sample_count UInt32 DEFAULT 0,
    status_error_sample_count UInt32 DEFAULT 0,
    health_signal_count UInt32 DEFAULT 0,
    health_expected_signal_count UInt32 DEFAULT 0,
    health_completeness_ratio Float32 DEFAULT 1,
    first_stream_request_ts Nullable(DateTime64(3, 'UTC')),
    first_processed_ts Nullable(DateTime64(3, 'UTC')),
    first_playable_ts Nullable(DateTime64(3, 'UTC')),
    event_count UInt32,
    version UInt64,
    source_first_event_uid String,
    source_last_event_uid String,
    session_date Date MATERIALIZED toDate(session_start_ts),
    ingestion_timestamp DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(session_date)
ORDER BY (session_start_ts, workflow_session_id)
TTL session_date + INTERVAL 180 DAY
SETTINGS index_granularity = 8192;

-- session-job.md §9.2
CREATE TABLE IF NOT EXISTS livepeer_analytics.fact_workflow_session_segments
(
    workflow_session_id String,
    segment_index UInt16,
    segment_start_ts DateTime64(3, 'UTC'),
    segment_end_ts Nullable(DateTime64(3, 'UTC')),
    gateway String,
    pipeline String,
    orchestrator_address String,
    orchestrator_url String,
    worker_id Nullable(String),
    gpu_id Nullable(String),
    model_id Nullable(String),
    region Nullable(String),
    gpu_attribution_method LowCardinality(String),
    gpu_attribution_confidence Float32,
    reason LowCardinality(String),
    source_trace_type LowCardinality(String),
    source_event_uid String,
    version UInt64,
    segment_date Date MATERIALIZED toDate(segment_start_ts),
    ingestion_timestamp DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(segment_date)
ORDER BY (segment_start_ts, workflow_session_id, segment_index)
TTL segment_date + INTERVAL 180 DAY
SETTINGS index_granularity = 8192;

-- session-job.md §9.3
CREATE TABLE IF NOT EXISTS livepeer_analytics.fact_workflow_param_updates
(
    update_ts DateTime64(3, 'UTC'),
    workflow_session_id String,
    stream_id String,
    request_id String,
    pipeline String,
    gateway String,
    orchestrator_address String,
    orchestrator_url String,
    model_id Nullable(String),
    gpu_id Nullable(String),
    gpu_attribution_method LowCardinality(String),
    gpu_attribution_confidence Float32,
    update_type LowCardinality(String),
    message String,
    source_event_uid String,
    version UInt64,
    update_date Date MATERIALIZED toDate(update_ts),
    ingestion_timestamp DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(update_date)
ORDER BY (update_date, workflow_session_id, update_ts, source_event_uid)
TTL update_date + INTERVAL 180 DAY
SETTINGS index_granularity = 8192;

-- session-job.md §9.4
CREATE TABLE IF NOT EXISTS livepeer_analytics.fact_lifecycle_edge_coverage
(
    signal_ts DateTime64(3, 'UTC'),
    workflow_session_id String,
    stream_id String,
    request_id String,
    pipeline String,
    model_id Nullable(String),
    gateway String,
    orchestrator_address String,
    trace_type LowCardinality(String),
    source_event_uid String,
    known_stream UInt8,
    has_first_processed_edge UInt8,
    has_first_playable_edge UInt8,
    startup_edge_matched UInt8,
    playable_edge_matched UInt8,
    is_terminal_signal UInt8,
    unmatched_reason LowCardinality(String),
    version UInt64,
    signal_date Date MATERIALIZED toDate(signal_ts),
    ingestion_timestamp DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(signal_date)
ORDER BY (signal_date, workflow_session_id, signal_ts, source_event_uid)
TTL signal_date + INTERVAL 180 DAY
SETTINGS index_granularity = 8192;

-- session-job.md §9.5
CREATE TABLE IF NOT EXISTS livepeer_analytics.fact_workflow_latency_samples
(
    sample_ts DateTime64(3, 'UTC'),
    workflow_session_id String,
    stream_id String,
    request_id String,
    gateway String,
    orchestrator_address String,
    pipeline String,
    model_id Nullable(String),
    gpu_id Nullable(String),
    region Nullable(String),
    prompt_to_first_frame_ms Nullable(Float64),
    startup_time_ms Nullable(Float64),
    e2e_latency_ms Nullable(Float64),
    has_prompt_to_first_frame UInt8,
    has_startup_time UInt8,
    has_e2e_latency UInt8,
    edge_semantics_version LowCardinality(String),
    version UInt64,
    sample_date Date MATERIALIZED toDate(sample_ts),
    ingestion_timestamp DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(sample_date)
ORDER BY (sample_date, workflow_session_id, sample_ts)
TTL sample_date + INTERVAL 180 DAY
SETTINGS index_granularity = 8192;

-- session-job.md §9.6
CREATE TABLE IF NOT EXISTS livepeer_analytics.fact_stream_status_samples
(
    sample_ts DateTime64(3, 'UTC'),
    workflow_session_id String,
    stream_id String,
    request_id String,
    gateway String,
    orchestrator_address String,
    orchestrator_url String,
    pipeline String,
    model_id Nullable(String),
    gpu_id Nullable(String),
    region Nullable(String),
    state LowCardinality(String),
    output_fps Float32,
    input_fps Float32,
    is_attributed UInt8 DEFAULT 0,
    gpu_attribution_method LowCardinality(String),
    gpu_attribution_confidence Float32,
    source_event_uid String,
    sample_date Date MATERIALIZED toDate(sample_ts),
    ingestion_timestamp DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(sample_date)
ORDER BY (sample_date, workflow_session_id, sample_ts)
TTL sample_date + INTERVAL 180 DAY
SETTINGS index_granularity = 8192;

-- session-job.md §9.7
CREATE TABLE IF NOT EXISTS livepeer_analytics.fact_stream_trace_edges
(
    edge_ts DateTime64(3, 'UTC'),
    workflow_session_id String,
    stream_id String,
    request_id String,
    gateway String,
    orchestrator_address String,
    orchestrator_url String,
    pipeline String,
    model_id Nullable(String),
    trace_type LowCardinality(String),
    trace_category LowCardinality(String),
    is_swap_event UInt8,
    is_attributed UInt8 DEFAULT 0,
    source_event_uid String,
    edge_date Date MATERIALIZED toDate(edge_ts),
    ingestion_timestamp DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(edge_date)
ORDER BY (edge_date, workflow_session_id, edge_ts, trace_type)
TTL edge_date + INTERVAL 180 DAY
SETTINGS index_granularity = 8192;
