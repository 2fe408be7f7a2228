/*
 * tools/schema_cmd.c - `weir schema print|apply`: the ClickHouse DDL of every table the jobs write
 * (deploy/clickhouse/schema-24.sql, the production dialect, and schema-18.sql, the dialect of
 * Debian's ClickHouse 18.16 used by the tests; docs/clickhouse.md).
 *
 * The SQL files are embedded at build time (cmake/embed.cmake → weir_schema_sql_24/_18), so the
 * binary needs no source tree. `apply` removes comment lines, splits the text at ';' ending a
 * line, replaces the database name `livepeer_analytics` by --database, and POSTs each statement
 * to the HTTP interface (ClickHouse runs one statement per request). Statements are
 * `CREATE ... IF NOT EXISTS`, so applying twice is harmless.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "weir/buf.h"
#include "weir/error.h"

extern const char weir_schema_sql_24[];
extern const unsigned long weir_schema_sql_24_len;
extern const char weir_schema_sql_18[];
extern const unsigned long weir_schema_sql_18_len;

/** The embedded schema text for @p dialect (24 or 18), NUL-terminated, static; NULL otherwise. */
const char *weir_schema_sql(int dialect);

/**
 * Applies the schema of @p dialect (24 or 18) to the ClickHouse HTTP endpoint @p url, creating
 * database @p database (NULL → livepeer_analytics) and every table. @p user may be NULL (no
 * authentication). Blocking (libcurl easy, 30 s per statement). Returns WEIR_OK, WEIR_EINVAL
 * (bad dialect), WEIR_EIO with the server's message in @p err for the first failing statement.
 * Not thread-safe with respect to curl_global_init (call from the main thread).
 */
weir_err weir_schema_apply(const char *url, int dialect, const char *database, const char *user,
                           const char *password, weir_error *err);

const char *weir_schema_sql(int dialect) {
    if (dialect == 24) return weir_schema_sql_24;
    if (dialect == 18) return weir_schema_sql_18;
    return NULL;
}

static size_t collect(char *p, size_t sz, size_t n, void *ud) {
    weir_buf_append(ud, p, sz * n);
    return sz * n;
}

/* Replaces every `livepeer_analytics` by @p db into @p out. */
static void subst_db(const char *s, size_t n, const char *db, weir_buf *out) {
    static const char name[] = "livepeer_analytics";
    const size_t nl = sizeof name - 1;
    for (size_t i = 0; i < n;) {
        if (i + nl <= n && !memcmp(s + i, name, nl)) {
            weir_buf_puts(out, db);
            i += nl;
        } else {
            weir_buf_putc(out, s[i++]);
        }
    }
}

static weir_err post(CURL *c, const char *url, const char *user, const char *password,
                     const weir_buf *sql, weir_error *err) {
    weir_buf resp = {0};
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, sql->data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)sql->len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (user && *user) {
        curl_easy_setopt(c, CURLOPT_USERNAME, user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, password ? password : "");
    }
    CURLcode cc = curl_easy_perform(c);
    long http = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
    weir_err rc = WEIR_OK;
    if (cc != CURLE_OK)
        rc = weir_error_set(err, WEIR_EIO, 1, "%s: %s", url, curl_easy_strerror(cc));
    else if (http != 200)
        rc = weir_error_set(err, WEIR_EIO, 0, "HTTP %ld: %.400s (statement: %.80s...)", http,
                            resp.data ? resp.data : "", sql->data);
    weir_buf_free(&resp);
    return rc;
}

weir_err weir_schema_apply(const char *url, int dialect, const char *database, const char *user,
                           const char *password, weir_error *err) {
    const char *sql = weir_schema_sql(dialect);
    if (!sql) return weir_error_set(err, WEIR_EINVAL, 0, "unknown dialect %d (24 or 18)", dialect);
    const char *db = database && *database ? database : "livepeer_analytics";
    for (const char *p = db; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return weir_error_set(err, WEIR_EINVAL, 0, "invalid database name '%s'", db);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    if (!c) return weir_error_set(err, WEIR_ENOMEM, 0, "curl_easy_init failed");
    char *ep = NULL;
    size_t ul = strlen(url);
    while (ul && url[ul - 1] == '/')
        ul--;
    if (asprintf(&ep, "%.*s/", (int)ul, url) < 0) {
        curl_easy_cleanup(c);
        return weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
    }
    weir_buf stmt = {0}, out = {0};
    weir_err rc = WEIR_OK;
    const char *line = sql;
    while (*line && !rc) {
        const char *eol = strchr(line, '\n');
        size_t n = eol ? (size_t)(eol - line) : strlen(line);
        const char *t = line;
        while (t < line + n && (*t == ' ' || *t == '\t'))
            t++;
        int comment = (size_t)(line + n - t) >= 2 && t[0] == '-' && t[1] == '-';
        if (!comment) {
            if (n)
                weir_buf_append(&stmt, line, n); /* weir_buf_append(b, p, 0) on an empty
                                                    buffer writes through NULL (buf.h) */
            weir_buf_putc(&stmt, '\n');
            size_t e = n;
            while (e && (line[e - 1] == ' ' || line[e - 1] == '\t' || line[e - 1] == '\r'))
                e--;
            if (e && line[e - 1] == ';') {
                /* drop the final ';' and send */
                while (stmt.len && stmt.data[stmt.len - 1] != ';')
                    stmt.len--;
                if (stmt.len) stmt.data[--stmt.len] = '\0';
                weir_buf_reset(&out);
                subst_db(stmt.data, stmt.len, db, &out);
                rc = post(c, ep, user, password, &out, err);
                weir_buf_reset(&stmt);
            }
        }
        line = eol ? eol + 1 : line + n;
    }
    weir_buf_free(&stmt);
    weir_buf_free(&out);
    free(ep);
    curl_easy_cleanup(c);
    return rc;
}

static const char schema_usage[] =
    "Usage: weir schema print [--dialect 24|18] [--database DB]\n"
    "       weir schema apply --clickhouse URL [--dialect 24|18] [--database DB]\n"
    "                         [--user U] [--password P]\n"
    "Prints or applies the ClickHouse DDL of every table the jobs write (typed tables, DLQ,\n"
    "quarantine, session facts). Dialect 24 (default) is the production one (DateTime64,\n"
    "LowCardinality, TTL); 18 is what Debian's ClickHouse 18.16 accepts (docs/clickhouse.md).\n"
    "The database defaults to livepeer_analytics (env CLICKHOUSE_DATABASE).\n";

int weir_cmd_schema(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(schema_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    int dialect = 24;
    const char *url = NULL, *db = getenv("CLICKHOUSE_DATABASE"), *user = NULL, *pass = NULL;
    static const struct option opts[] = {{"dialect", required_argument, 0, 'd'},
                                         {"clickhouse", required_argument, 0, 'c'},
                                         {"database", required_argument, 0, 'b'},
                                         {"user", required_argument, 0, 'u'},
                                         {"password", required_argument, 0, 'w'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    optind = 1;
    int o;
    while ((o = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        switch (o) {
        case 'd':
            dialect = atoi(optarg);
            break;
        case 'c':
            url = optarg;
            break;
        case 'b':
            db = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'w':
            pass = optarg;
            break;
        case 'h':
            fputs(schema_usage, stdout);
            return 0;
        default:
            fputs(schema_usage, stderr);
            return 2;
        }
    }
    if (dialect != 24 && dialect != 18) {
        fprintf(stderr, "weir schema: --dialect must be 24 or 18\n");
        return 2;
    }
    if (!strcmp(verb, "print")) {
        weir_buf out = {0};
        const char *s = weir_schema_sql(dialect);
        subst_db(s, strlen(s), db && *db ? db : "livepeer_analytics", &out);
        fwrite(out.data, 1, out.len, stdout);
        weir_buf_free(&out);
        return 0;
    }
    if (!strcmp(verb, "apply")) {
        if (!url) {
            fprintf(stderr, "weir schema apply: --clickhouse URL is required\n");
            return 2;
        }
        weir_error err = {0};
        if (weir_schema_apply(url, dialect, db, user, pass, &err)) {
            fprintf(stderr, "weir schema apply: %s\n", err.msg);
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "weir schema: unknown verb '%s'\n%s", verb, schema_usage);
    return 2;
}
