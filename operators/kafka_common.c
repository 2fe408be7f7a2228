/*
 * kafka_common.c - helpers shared by the Kafka source and sink (see kafka_common.h).
 */
#include "operators/kafka_common.h"

#include <stdio.h>

typedef struct prop_ud {
    rd_kafka_conf_t *conf;
    char *err;
    size_t err_len;
    int failed;
} prop_ud;

static void prop_set(void *ud, const char *k, const char *v) {
    prop_ud *p = ud;
    char errstr[256];
    if (p->failed) return;
    if (rd_kafka_conf_set(p->conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        snprintf(p->err, p->err_len, "Kafka property %s=%s: %s", k, v, errstr);
        p->failed = 1;
    }
}

int weir_kafka_conf_apply(rd_kafka_conf_t *conf, const weir_config *props, char *err,
                          size_t err_len) {
    if (!props) return 0;
    prop_ud pu = {conf, err, err_len, 0};
    weir_config_foreach(props, prop_set, &pu);
    return pu.failed ? -1 : 0;
}

weir_log_level weir_kafka_log_level(int level) {
    return level <= 2   ? WEIR_LOG_ERROR
           : level <= 4 ? WEIR_LOG_WARN
           : level <= 6 ? WEIR_LOG_INFO
                        : WEIR_LOG_DEBUG;
}
