/*
 * jobs/dedup/tables.c - names of the dedup job's output tables (spec dedup-job.md §1, §5.4,
 * Appendix A). The names are the baseline names; the configured QUALITY_TABLE_PREFIX (e.g.
 * "raw_") is prepended by the sink wiring, not here.
 *
 * Data structure: one static array indexed by dd_table; its order must match the enum.
 */
#include "jobs/dedup/dedup.h"

static const char *const table_names[DD_T__COUNT] = {
    [DD_T_AI_STREAM_STATUS] = "ai_stream_status",
    [DD_T_STREAM_INGEST_METRICS] = "stream_ingest_metrics",
    [DD_T_STREAM_TRACE_EVENTS] = "stream_trace_events",
    [DD_T_NETWORK_CAPABILITIES] = "network_capabilities",
    [DD_T_NETWORK_CAPABILITIES_ADVERTISED] = "network_capabilities_advertised",
    [DD_T_NETWORK_CAPABILITIES_MODEL_CONSTRAINTS] = "network_capabilities_model_constraints",
    [DD_T_NETWORK_CAPABILITIES_PRICES] = "network_capabilities_prices",
    [DD_T_AI_STREAM_EVENTS] = "ai_stream_events",
    [DD_T_DISCOVERY_RESULTS] = "discovery_results",
    [DD_T_PAYMENT_EVENTS] = "payment_events",
    [DD_T_DLQ] = "streaming_events_dlq",
    [DD_T_QUARANTINE] = "streaming_events_quarantine",
};

const char *dd_table_name(dd_table t) {
    if ((int)t < 0 || (int)t >= DD_T__COUNT) return NULL;
    return table_names[t];
}
