/*
 * tools/control.h - the local control plane of a running job (issue #3 item 6): how
 * `weir savepoint|stop|cancel|list` reach a job that `weir run` runs in another process.
 *
 * Each `weir run` listens on a Unix-domain stream socket `<control dir>/<job-id>.<pid>.sock`
 * (control dir: $WEIR_CONTROL_DIR, default /tmp/weir-control-<uid>, mode 0700, so only the
 * same user can talk to it). Clients find a job by id; sockets of dead processes are removed;
 * two live processes with the same job id make requests fail with a message. Protocol: the client sends one request line, the server answers
 * one JSON line and closes:
 *     info                      → {"job_id","job_name","pid","state","last_checkpoint",...}
 *     savepoint <dir>           → {"ok":true,"path":"..."} | {"ok":false,"error":"..."}
 *     stop <dir>                → stop-with-savepoint, same answer; the job then ends
 *     cancel                    → {"ok":true}; the job is cancelled
 * One request at a time; a savepoint request blocks its client until the savepoint is done.
 * Thread-safety: the server runs on its own thread; weir_control_set_job may be called from any
 * thread.
 */
#ifndef WEIR_TOOLS_CONTROL_H
#define WEIR_TOOLS_CONTROL_H

#include <stddef.h>

#include "weir/weir.h"

typedef struct weir_control weir_control;

/** The control directory (from $WEIR_CONTROL_DIR or the default) into @p out. */
void weir_control_dir(char *out, size_t cap);
/** Starts the server for job @p job_id / @p job_name. NULL with @p err set (directory not
 *  writable, path too long). */
weir_control *weir_control_start(const char *job_id, const char *job_name, weir_error *err);
/** Sets the job requests act on (NULL while the job restarts: requests then fail cleanly). */
void weir_control_set_job(weir_control *c, weir_job *job);
/** The directory used when a savepoint/stop request names none (state.savepoints.dir); copied.
 *  NULL = such requests fail with a message. */
void weir_control_set_savepoint_dir(weir_control *c, const char *dir);
/** Stops the server and removes the socket (NULL accepted). */
void weir_control_stop(weir_control *c);
/**
 * Client: sends @p request to the job @p job_id and stores the one-line answer (NUL-terminated,
 * without newline) in @p out. WEIR_ENOTFOUND if no such job runs, WEIR_EIO on other errors.
 * @p timeout_ms bounds the wait for the answer (savepoints can take a while).
 */
weir_err weir_control_request(const char *job_id, const char *request, char *out, size_t cap,
                              int timeout_ms, weir_error *err);

#endif
