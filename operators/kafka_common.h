/*
 * operators/kafka_common.h - helpers shared by the Kafka source and sink (internal, not part
 * of the public API): user librdkafka properties and librdkafka log levels.
 */
#ifndef WEIR_OPERATORS_KAFKA_COMMON_H
#define WEIR_OPERATORS_KAFKA_COMMON_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "weir/config.h"
#include "weir/log.h"

/**
 * Sets every key/value of @p props (may be NULL) on @p conf. Returns 0, or -1 with a message
 * naming the property in @p err (@p err_len bytes). Thread-safe for distinct confs.
 */
int weir_kafka_conf_apply(rd_kafka_conf_t *conf, const weir_config *props, char *err,
                          size_t err_len);

/** Maps a librdkafka syslog level (0..7) to a weir log level. */
weir_log_level weir_kafka_log_level(int syslog_level);

#endif
