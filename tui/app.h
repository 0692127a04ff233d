/*
 * app — the explorer's event loop and the state its screens share.
 *
 * Input -> action -> reaction (htop's pattern): a screen's _key function
 * turns a key into calls on the workbench and answers with flags; the loop
 * redraws only when something is dirty. Screens draw the workbench; they
 * compute nothing themselves.
 */
#ifndef PUNGUZA_APP_H
#define PUNGUZA_APP_H

#include <stdbool.h>

#include "generate.h"
#include "term.h"
#include "workbench.h"

struct prompt_set;

enum app_reaction {
	APP_OK = 0,
	APP_REDRAW = 1 << 0, /* draw the screen again */
	APP_QUIT = 1 << 1,
	APP_UNHANDLED = 1 << 2, /* the screen did not want the key */
};

/* Screen indices (the order of the tabs). */
enum app_screen {
	APP_SCREEN_HOME = 0,
	APP_SCREEN_VOCAB,
	APP_SCREEN_RUN,
	APP_SCREEN_QUALITY,
	APP_SCREEN_EXPORT,
};

/* What to do once the running task (apply, ...) has finished. */
enum app_pending {
	APP_PENDING_NONE = 0,
	APP_PENDING_GENERATE, /* Run: generate on both sides */
	APP_PENDING_QUALITY,  /* Quality: measure */
	APP_PENDING_EXPORT,   /* Export: write */
};

struct app {
	struct workbench *wb;
	struct prompt_set *prompts; /* sample prompts (may be NULL) */
	int screen;      /* index into the screen table */
	bool help;       /* the help overlay is open */
	int home_row;    /* the knob under the cursor on the home screen */
	int preset_next; /* which preset 'p' applies next */
	int ref_next;    /* which published result 'b' compares against */
	char status[256];
	enum term_role status_role;
	enum app_pending pending;

	/* Run screen */
	int run_sel;      /* the sample prompt shown */
	bool typing;      /* typing a prompt: keys go to the input line */
	bool custom;      /* the typed prompt is in use */
	char input[1024];
	struct gen_opts gen;

	/* Vocabulary screen */
	int vocab_sample;
	bool count_failed;

	/* Quality screen */
	int heldout_sel;
	char **heldout;   /* held-out files to choose from (n_heldout) */
	int n_heldout;

	/* Export screen */
	char export_dir[512];
	int export_formats; /* bit 0: hf, bit 1: gguf */
	bool export_force;
	bool export_editing; /* typing the directory */
};

struct screen {
	const char *name;
	void (*draw)(struct app *a, int top, int height);
	int (*key)(struct app *a, int ch);
	/* one line of key help for the footer */
	const char *keys;
	/* called at every tick (may be NULL): returns APP_REDRAW when the
	 * screen changed */
	int (*tick)(struct app *a);
};

/* Runs the explorer on a (prepared) app until the user quits. Returns the
 * exit status. */
int app_run(struct app *a);

/* Sets the status line (a printf-style message) with a role. */
void app_status(struct app *a, enum term_role role, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Screens. */
void home_draw(struct app *a, int top, int height);
int home_key(struct app *a, int ch);
void run_draw(struct app *a, int top, int height);
int run_key(struct app *a, int ch);
int run_tick(struct app *a);
void vocab_draw(struct app *a, int top, int height);
int vocab_key(struct app *a, int ch);
int vocab_tick(struct app *a);
void export_draw(struct app *a, int top, int height);
int export_key(struct app *a, int ch);
int export_tick(struct app *a);
void quality_draw(struct app *a, int top, int height);
int quality_key(struct app *a, int ch);
int quality_tick(struct app *a);

#endif
