/* healcli — signal flag, progress line and summary of a heal (healcli.h). */
#include "healcli.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

int healcli_init(struct healcli *c)
{
	memset(c, 0, sizeof *c);
	c->tty = isatty(2);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return heal_monitor_init(&c->mon, NULL);
}

void healcli_done(struct healcli *c)
{
	heal_monitor_destroy(&c->mon);
}

int healcli_signal_status(void)
{
	return got_signal == SIGINT ? 130 : got_signal == SIGTERM ? 143 : 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fmt_time(char *buf, size_t cap, double s)
{
	if (s < 0)
		s = 0;
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
	else
		snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
}

int healcli_progress(void *ctx, double done, const char *stage)
{
	struct healcli *c = ctx;
	(void)done;
	if (got_signal)
		return 1;
	struct heal_snapshot s;
	heal_monitor_snapshot(&c->mon, &s);
	double t = now_s();
	if (!s.have_point || strcmp(stage, "healing")) {
		if (c->tty && t - c->last_print > 0.2) {
			fprintf(stderr, "\r\033[K%s", stage);
			c->last_print = t;
		}
		return 0;
	}
	const struct heal_point *p = &s.last;
	unsigned long long every = p->steps / 20 ? p->steps / 20 : 1;
	bool show = c->tty ? t - c->last_print > 0.2
			   : p->step / every != c->last_step / every;
	if (!show)
		return 0;
	char eta[32];
	fmt_time(eta, sizeof eta, p->eta);
	fprintf(stderr,
		"%sstep %llu/%llu  loss %.4f  kl %.4f  ce %.4f  %.0f tok/s  "
		"eta %s",
		c->tty ? "\r\033[K" : "", (unsigned long long)p->step,
		(unsigned long long)p->steps, p->loss, p->kl, p->ce,
		p->tok_per_s, eta);
	if (s.n_evals)
		fprintf(stderr, "  heldout bpb %.4f",
			s.evals[s.n_evals - 1].bpb);
	if (!c->tty)
		fputc('\n', stderr);
	c->last_print = t;
	c->last_step = p->step;
	return 0;
}

static void print_eval(const char *label, const struct heal_eval *v)
{
	printf("%-10s step %-6llu bits/byte %.4f", label,
	       (unsigned long long)v->step, v->bpb);
	if (v->has_ref)
		printf("  KL %.4f  top-1 %.2f%%", v->kl, 100 * v->top1);
	printf("\n");
}

void healcli_print(const struct heal_result *r, const char *out)
{
	const struct recipe_heal *h = &r->hp;
	printf("healed    %llu steps of %d x %d tokens (%llu tokens), lr %g, "
	       "%s\n",
	       (unsigned long long)r->steps, h->batch, h->ctx,
	       (unsigned long long)r->tokens, h->lr,
	       h->kd_weight >= 1   ? "pure KL"
	       : h->kd_weight <= 0 ? "plain fine-tuning (CE)"
				   : "KL + CE");
	if (r->resumed_from)
		printf("resumed   at step %llu\n",
		       (unsigned long long)r->resumed_from);
	printf("data      %s\n", h->n_data ? "corpus" : "data-free (teacher "
						    "samples)");
	if (r->have_before)
		print_eval("before", &r->before);
	if (r->have_after)
		print_eval("after", &r->after);
	printf("time      %.1f s this session\n", r->elapsed);
	printf("wrote     %s (heal_log.tsv, heal_state.json)\n", out);
}

static void add_eval(cJSON *o, const char *key, const struct heal_eval *v)
{
	cJSON *x = cJSON_AddObjectToObject(o, key);
	if (!x)
		return;
	cJSON_AddNumberToObject(x, "step", (double)v->step);
	cJSON_AddNumberToObject(x, "bits_per_byte", v->bpb);
	cJSON_AddNumberToObject(x, "nll_mean", v->nll);
	if (v->has_ref) {
		cJSON_AddNumberToObject(x, "kl_mean", v->kl);
		cJSON_AddNumberToObject(x, "top1", v->top1);
	}
}

void healcli_print_json(const struct heal_result *r, const char *out)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return;
	cJSON_AddStringToObject(o, "out", out);
	cJSON_AddNumberToObject(o, "steps", (double)r->steps);
	cJSON_AddNumberToObject(o, "step", (double)r->step);
	cJSON_AddNumberToObject(o, "resumed_from", (double)r->resumed_from);
	cJSON_AddNumberToObject(o, "tokens", (double)r->tokens);
	cJSON_AddNumberToObject(o, "batch", r->hp.batch);
	cJSON_AddNumberToObject(o, "ctx", r->hp.ctx);
	cJSON_AddNumberToObject(o, "lr", r->hp.lr);
	cJSON_AddNumberToObject(o, "kd_weight", r->hp.kd_weight);
	cJSON_AddNumberToObject(o, "temperature", r->hp.temperature);
	cJSON_AddBoolToObject(o, "data_free", r->hp.n_data == 0);
	cJSON_AddNumberToObject(o, "elapsed", r->elapsed);
	cJSON_AddNumberToObject(o, "loss", r->loss);
	if (r->have_before)
		add_eval(o, "before", &r->before);
	if (r->have_after)
		add_eval(o, "after", &r->after);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (s) {
		printf("%s\n", s);
		free(s);
	}
}
