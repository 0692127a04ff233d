/*
 * job — one long operation running on a background thread, so the explorer
 * stays responsive: the UI thread starts a job, polls its progress at every
 * tick, may cancel it, and collects its result when done.
 *
 * The job function receives a struct progress wired to the job: its reports
 * become visible to job_poll(), and after job_cancel() the next report
 * returns ERR_CANCELLED, so every library operation that takes a progress
 * callback stops cleanly.
 *
 * A struct job is owned by its caller; it must not be freed or restarted
 * while running (job_wait first). Zero-initialised means "idle".
 */
#ifndef PUNGUZA_JOB_H
#define PUNGUZA_JOB_H

#include <pthread.h>
#include <stdbool.h>

#include "err.h"
#include "progress.h"

typedef int (*job_fn)(void *arg, const struct progress *prog, struct err *e);

enum job_state { JOB_IDLE = 0, JOB_RUNNING, JOB_DONE };

struct job {
	pthread_mutex_t lock;
	pthread_t thread;
	bool lock_ready;
	enum job_state state;
	bool cancel;
	double done;         /* last reported fraction */
	char stage[64];      /* last reported stage */
	int rc;              /* the function's return, when DONE */
	struct err err;      /* its error, when rc != 0 */
	job_fn fn;
	void *arg;
	struct progress prog;
};

/* Starts fn(arg) on a new thread. ERR_INVALID when the job is running. */
int job_start(struct job *j, job_fn fn, void *arg, struct err *e);

/* A snapshot: state, fraction, stage (copied into stage, cap bytes). */
enum job_state job_poll(struct job *j, double *done, char *stage, int cap);

/* Asks the job to stop at its next progress report. */
void job_cancel(struct job *j);

/* Joins a finished or running job (blocks) and returns its rc (err copied
 * into e); the job becomes IDLE. An idle job returns 0. */
int job_wait(struct job *j, struct err *e);

/* Waits for the job (cancelling it first) and releases its lock. */
void job_destroy(struct job *j);

#endif
