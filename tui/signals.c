/* signals — SIGINT/SIGTERM/SIGHUP as a cancel request. See signals.h. */
#include "signals.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t caught;
static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
#define NSIGS (sizeof sigs / sizeof sigs[0])
static struct sigaction saved[NSIGS];
static int installed;

static void on_signal(int sig)
{
	caught = sig;
}

void signals_catch(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND; /* a second signal: default action */
	caught = 0;
	for (size_t i = 0; i < NSIGS; i++) {
		sigaction(sigs[i], NULL, &saved[i]);
		/* an ignored signal stays ignored (nohup, a background job of
		 * a non-interactive shell) */
		if (saved[i].sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
	}
	installed = 1;
}

int signals_caught(void)
{
	return caught;
}

int signals_progress(void *ctx, double done, const char *stage)
{
	(void)ctx;
	(void)done;
	(void)stage;
	return caught != 0;
}

void signals_finish(void)
{
	int sig = caught;
	if (installed) {
		for (size_t i = 0; i < NSIGS; i++)
			sigaction(sigs[i], &saved[i], NULL);
		installed = 0;
	}
	if (!sig)
		return;
	fprintf(stderr, "punguza: interrupted by %s\n",
		sig == SIGINT    ? "SIGINT"
		: sig == SIGTERM ? "SIGTERM"
				 : "SIGHUP");
	fflush(stderr);
	signal(sig, SIG_DFL);
	raise(sig);
}
