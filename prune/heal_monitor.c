/* heal_monitor — what the heal loop tells other threads (heal.h,
 * heal_impl.h). */
#include "heal_impl.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

int heal_monitor_init(struct heal_monitor *m, struct err *e)
{
	memset(m, 0, sizeof *m);
	if (pthread_mutex_init(&m->lock, NULL))
		return err_set(e, ERR_NOMEM, "heal: cannot create a lock");
	m->ready = true;
	return 0;
}

void heal_monitor_destroy(struct heal_monitor *m)
{
	if (!m || !m->ready)
		return;
	pthread_mutex_destroy(&m->lock);
	m->ready = false;
}

void heal_monitor_snapshot(struct heal_monitor *m, struct heal_snapshot *out)
{
	if (!m || !m->ready) {
		memset(out, 0, sizeof *out);
		return;
	}
	pthread_mutex_lock(&m->lock);
	*out = m->s;
	pthread_mutex_unlock(&m->lock);
}

void heal_mon_phase(struct heal_monitor *m, const char *phase, int running)
{
	if (!m || !m->ready)
		return;
	pthread_mutex_lock(&m->lock);
	snprintf(m->s.phase, sizeof m->s.phase, "%s", phase);
	if (running >= 0)
		m->s.running = running;
	pthread_mutex_unlock(&m->lock);
}

void heal_mon_point(struct heal_monitor *m, const struct heal_point *p)
{
	if (!m || !m->ready)
		return;
	pthread_mutex_lock(&m->lock);
	m->s.last = *p;
	m->s.have_point = true;
	pthread_mutex_unlock(&m->lock);
}

void heal_mon_eval(struct heal_monitor *m, const struct heal_eval *v)
{
	if (!m || !m->ready)
		return;
	pthread_mutex_lock(&m->lock);
	struct heal_snapshot *s = &m->s;
	if (s->n_evals == HEAL_MAX_EVALS) /* keep the first, drop the 2nd */
		memmove(s->evals + 1, s->evals + 2,
			(HEAL_MAX_EVALS - 2) * sizeof *s->evals),
		    s->n_evals--;
	s->evals[s->n_evals++] = *v;
	pthread_mutex_unlock(&m->lock);
}
