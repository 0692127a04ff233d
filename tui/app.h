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
#include "widgets.h"
#include "workbench.h"

struct prompt_set;

enum app_reaction {
	APP_OK = 0,
	APP_REDRAW = 1 << 0, /* draw the screen again */
	APP_QUIT = 1 << 1,
	APP_UNHANDLED = 1 << 2, /* the screen did not want the key */
};

/* Screen indices (the order of the tabs; the digit keys 1..N_SCREENS
 * choose them). */
enum app_screen {
	APP_SCREEN_HOME = 0,
	APP_SCREEN_VOCAB,
	APP_SCREEN_RUN,
	APP_SCREEN_QUALITY,
	APP_SCREEN_EXPORT,
	APP_SCREEN_HEAL,
	APP_SCREEN_PLANS,
};

/* A question the user must answer (y / n) before anything else. */
enum app_confirm {
	APP_CONFIRM_NONE = 0,
	APP_CONFIRM_REPLACE, /* replace a previous export (Export) */
	APP_CONFIRM_QUIT,    /* quit while a job runs */
};

/* What the line editor is editing. */
enum app_edit {
	APP_EDIT_NONE = 0,
	APP_EDIT_PROMPT,     /* Run: the prompt */
	APP_EDIT_EXPORT_DIR, /* Export: the folder */
	APP_EDIT_KNOB,       /* Knobs: a typed value */
	APP_EDIT_SAVE,       /* Knobs: where to save the recipe */
	APP_EDIT_LOAD,       /* Knobs: which recipe to load */
};

/* What to do once the running task (apply, ...) has finished. */
enum app_pending {
	APP_PENDING_NONE = 0,
	APP_PENDING_GENERATE, /* Run: generate on both sides */
	APP_PENDING_QUALITY,  /* Quality: measure */
	APP_PENDING_EXPORT,   /* Export: write */
	APP_PENDING_HEAL,     /* Heal: start */
	APP_PENDING_HEAL_RESUME, /* Heal: resume */
};

struct app {
	struct workbench *wb;
	struct prompt_set *prompts; /* sample prompts (may be NULL) */
	int screen;      /* index into the screen table */
	bool help;       /* the help overlay is open */
	int help_scroll; /* its first line shown */
	enum app_confirm confirm;  /* a question is open */
	char confirm_text[1024];   /* ... and its text */
	int exit_status; /* 0, or 128 + the signal that asked us to quit */
	int home_row;    /* the knob under the cursor on the home screen */
	int preset_next; /* which preset 'p' applies next */
	int ref_next;    /* which published result 'b' compares against */
	char status[256];
	enum term_role status_role;
	enum app_pending pending;

	/* Run screen */
	int run_sel;      /* the sample prompt shown */
	int run_row;      /* 0 the prompt, 1.. the sampler settings */
	bool typing;      /* the line editor has the keys (any screen) */
	enum app_edit editing;
	struct line_edit edit;
	int edit_y, edit_x; /* where the drawn editor's cursor is (-1 none) */
	bool custom;      /* the typed prompt is in use */
	char input[1024];
	struct gen_opts gen;
	int out_scroll;   /* Run: lines scrolled back in the outputs */

	/* Vocabulary screen */
	int vocab_sample;
	bool count_failed;

	/* Quality screen */
	int heldout_sel;
	char **heldout;   /* held-out files to choose from (n_heldout) */
	int n_heldout;

	/* Knobs screen: the typed value */
	char knob_input[64];
	char recipe_path[512];

	/* Export screen */
	char export_dir[512];     /* the typed folder (export_custom) */
	char export_default[512]; /* the default, following the plan */
	bool export_custom; /* typed; else the default, following the plan */
	int export_formats; /* bit 0: hf, bit 1: gguf */
	int export_row;     /* 0 folder, 1 HF, 2 GGUF, 3 dtype */
	bool export_replace; /* confirmed: the next export may replace */
	int recipe_scroll;  /* lines scrolled in the recipe */

	/* Plans screen */
	int plans_sel;      /* the row under the cursor */
	int plans_sort;     /* enum history_sort */
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

/* The folder an export goes to: the typed one or the default. */
const char *app_export_dir(struct app *a);

/* Starts the line editor on buf for `what`. */
void app_edit_begin(struct app *a, enum app_edit what, char *buf, size_t cap);

/* Sets the status line (a printf-style message) with a role. It stays
 * until the next key press. */
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
void export_confirmed(struct app *a); /* the user said yes: replace */
int home_click(struct app *a, int y, int x);
void quality_draw(struct app *a, int top, int height);
int quality_key(struct app *a, int ch);
int quality_tick(struct app *a);
void heal_draw(struct app *a, int top, int height);
int heal_key(struct app *a, int ch);
int heal_tick(struct app *a);
void plans_draw(struct app *a, int top, int height);
int plans_key(struct app *a, int ch);

#endif
