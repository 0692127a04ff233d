/*
 * prompts — sample prompts for the explorer's Run screen, read from a
 * "punguza-prompts" JSON file (format documented in assets/prompts/
 * README.md): plain text prompts to continue, and task prompts that are
 * filled into the challenge's template (DESIGN §1.3).
 *
 * Ownership: struct prompt_set owns every string; prompts_free() frees it.
 */
#ifndef PUNGUZA_PROMPTS_H
#define PUNGUZA_PROMPTS_H

#include <stddef.h>

#include "err.h"

struct prompt {
	char *id;
	char *kind;   /* "text" or "task" */
	char *lang;   /* "swh", "hau", "eng" */
	char *task;   /* "sentiment", "xnli", "mt"; NULL for text */
	char *text;   /* what the model is given: the text, or the filled
			 template */
	char *target; /* reference response; NULL when none */
	char *source;
};

struct prompt_set {
	struct prompt *items; /* (n) */
	size_t n;
	char *template_text;  /* the template with {instruction}/{input} */
};

/* Loads and validates a prompts file; errors name the file and the entry
 * ("'p.json': prompts[3]: \"text\" is missing"). */
int prompts_load(const char *path, struct prompt_set **out, struct err *e);

/* The challenge's template with instruction and input filled in
 * (malloc'd; NULL when out of memory). */
char *prompts_fill(const char *template_text, const char *instruction,
		   const char *input);

/* The template of DESIGN §1.3, as the starter code has it. */
extern const char prompts_challenge_template[];

void prompts_free(struct prompt_set *s); /* NULL is a no-op */

#endif
