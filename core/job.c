#include "job.h"

#include <stdio.h>
#include <string.h>

static int job_report(void *ctx, double done, const char *stage)
{
	struct job *j = ctx;
	pthread_mutex_lock(&j->lock);
	j->done = done;
	snprintf(j->stage, sizeof j->stage, "%s", stage ? stage : "");
	int stop = j->cancel;
	pthread_mutex_unlock(&j->lock);
	return stop;
}

static void *job_main(void *arg)
{
	struct job *j = arg;
	struct err e = {0};
	int rc = j->fn(j->arg, &j->prog, &e);
	pthread_mutex_lock(&j->lock);
	j->rc = rc;
	j->err = e;
	j->state = JOB_DONE;
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

int job_start(struct job *j, job_fn fn, void *arg, struct err *e)
{
	if (!j->lock_ready) {
		if (pthread_mutex_init(&j->lock, NULL))
			return err_set(e, ERR_NOMEM, "job: cannot create a lock");
		j->lock_ready = true;
	}
	pthread_mutex_lock(&j->lock);
	enum job_state st = j->state;
	pthread_mutex_unlock(&j->lock);
	if (st != JOB_IDLE)
		return err_set(e, ERR_INVALID, "job: already running");
	j->fn = fn;
	j->arg = arg;
	j->cancel = false;
	j->done = 0;
	j->stage[0] = '\0';
	j->rc = 0;
	err_clear(&j->err);
	j->prog.fn = job_report;
	j->prog.ctx = j;
	j->state = JOB_RUNNING;
	if (pthread_create(&j->thread, NULL, job_main, j)) {
		j->state = JOB_IDLE;
		return err_set(e, ERR_NOMEM, "job: cannot start a thread");
	}
	return 0;
}

enum job_state job_poll(struct job *j, double *done, char *stage, int cap)
{
	if (!j->lock_ready)
		return JOB_IDLE;
	pthread_mutex_lock(&j->lock);
	enum job_state st = j->state;
	if (done)
		*done = j->done;
	if (stage && cap > 0)
		snprintf(stage, (size_t)cap, "%s", j->stage);
	pthread_mutex_unlock(&j->lock);
	return st;
}

void job_cancel(struct job *j)
{
	if (!j->lock_ready)
		return;
	pthread_mutex_lock(&j->lock);
	j->cancel = true;
	pthread_mutex_unlock(&j->lock);
}

int job_wait(struct job *j, struct err *e)
{
	if (!j->lock_ready)
		return 0;
	pthread_mutex_lock(&j->lock);
	enum job_state st = j->state;
	pthread_mutex_unlock(&j->lock);
	if (st == JOB_IDLE)
		return 0;
	pthread_join(j->thread, NULL);
	pthread_mutex_lock(&j->lock);
	int rc = j->rc;
	if (rc && e)
		*e = j->err;
	j->state = JOB_IDLE;
	pthread_mutex_unlock(&j->lock);
	return rc;
}

void job_destroy(struct job *j)
{
	if (!j->lock_ready)
		return;
	job_cancel(j);
	job_wait(j, NULL);
	pthread_mutex_destroy(&j->lock);
	j->lock_ready = false;
}
