/*
 * kafka_embedded.c - the embedded Kafka: librdkafka's mock cluster hosted in this process
 * (weir/connectors.h, DESIGN.md §5; traps in ENVIRONMENT.md).
 *
 * Design: a mock cluster needs an rd_kafka_t to live in; we create a dedicated producer handle
 * that is never used to produce, and a cluster of N brokers on random loopback ports on it. Real
 * clients (this process's consumers/producers, other processes, kcat) reach it over TCP through
 * the bootstrap string. Topics are created with rd_kafka_mock_topic_create (the Admin API's
 * CreateTopics times out against the mock cluster in librdkafka 2.0.2); unknown topics are also
 * auto-created by the mock cluster when a client asks for them.
 *
 * Invariants: the struct owns the handle and the cluster; stop() destroys the cluster before
 * the handle (the reverse would leave the cluster's thread running on a freed handle). All
 * clients of the cluster must be destroyed before stop(), otherwise their rd_kafka_destroy()
 * retries connections until their own timeouts. The mock cluster keeps only ~5 MB / 100 000
 * messages per partition: older data is deleted silently (fine for demos and tests only).
 * Thread-safety: create_topic may be called from any thread; start/stop by the owner.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir/connectors.h"

struct weir_embedded_kafka {
    rd_kafka_t *rk; /**< host handle (producer, unused) */
    rd_kafka_mock_cluster_t *mcluster;
    char bootstrap[512];
};

weir_embedded_kafka *weir_embedded_kafka_start(int brokers, weir_error *err) {
    char errstr[512];
    if (brokers < 1 || brokers > 64) {
        weir_error_set(err, WEIR_EINVAL, 0, "embedded kafka: brokers must be 1..64, not %d",
                       brokers);
        return NULL;
    }
    weir_embedded_kafka *k = calloc(1, sizeof *k);
    if (!k) {
        weir_error_set(err, WEIR_ENOMEM, 0, "embedded kafka: out of memory");
        return NULL;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* the host handle has no bootstrap servers and never connects anywhere */
    if (rd_kafka_conf_set(conf, "client.id", "weir-embedded-kafka", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        free(k);
        weir_error_set(err, WEIR_EKAFKA, 0, "embedded kafka: %s", errstr);
        return NULL;
    }
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!k->rk) {
        rd_kafka_conf_destroy(conf);
        free(k);
        weir_error_set(err, WEIR_EKAFKA, 0, "embedded kafka: cannot create host handle: %s",
                       errstr);
        return NULL;
    }
    k->mcluster = rd_kafka_mock_cluster_new(k->rk, brokers);
    if (!k->mcluster) {
        rd_kafka_destroy(k->rk);
        free(k);
        weir_error_set(err, WEIR_EKAFKA, 1, "embedded kafka: cannot start a mock cluster");
        return NULL;
    }
    snprintf(k->bootstrap, sizeof k->bootstrap, "%s",
             rd_kafka_mock_cluster_bootstraps(k->mcluster));
    return k;
}

const char *weir_embedded_kafka_bootstrap(const weir_embedded_kafka *k) {
    return k ? k->bootstrap : "";
}

weir_err weir_embedded_kafka_create_topic(weir_embedded_kafka *k, const char *topic, int partitions,
                                          weir_error *err) {
    if (!k || !topic || !topic[0] || strlen(topic) > 249 || partitions < 1)
        return weir_error_set(err, WEIR_EINVAL, 0,
                              "embedded kafka: bad topic '%s' or partition count %d",
                              topic ? topic : "(null)", partitions);
    for (const char *p = topic; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return weir_error_set(err, WEIR_EINVAL, 0,
                                  "embedded kafka: topic '%s' has characters outside "
                                  "[A-Za-z0-9._-]",
                                  topic);
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(k->mcluster, topic, partitions, 1);
    if (e)
        return weir_error_set(err, WEIR_EKAFKA, 0, "embedded kafka: create topic %s: %s", topic,
                              rd_kafka_err2str(e));
    return WEIR_OK;
}

void weir_embedded_kafka_stop(weir_embedded_kafka *k) {
    if (!k) return;
    if (k->mcluster) rd_kafka_mock_cluster_destroy(k->mcluster);
    if (k->rk) rd_kafka_destroy(k->rk);
    free(k);
}
