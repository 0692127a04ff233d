/* tasks_prompt — the prompt template and the candidate labels (see
 * tasks.h). */
#include "tasks.h"

#include <stdlib.h>
#include <string.h>

static const char prompt_head[] =
    "Below is an instruction that describes a task, paired with an input "
    "that provides further context. Write a response that appropriately "
    "completes the request.\n\n ### Instruction: ";

int tasks_prompt(const char *instruction, const char *input, char **out,
		 struct err *e)
{
	static const char mid[] = "\n", tail[] = "\n\n ### Response: ";
	size_t a = strlen(prompt_head), b = strlen(instruction),
	       c = strlen(input);
	size_t n = a + b + 1 + c + strlen(tail);
	char *p = malloc(n + 1);
	if (!p)
		return err_set(e, ERR_NOMEM, "out of memory");
	memcpy(p, prompt_head, a);
	memcpy(p + a, instruction, b);
	memcpy(p + a + b, mid, 1);
	memcpy(p + a + b + 1, input, c);
	strcpy(p + a + b + 1 + c, tail);
	*out = p;
	return 0;
}

const char *tasks_label(enum score_task task, enum score_lang lang, int c)
{
	static const char *const sent[2][3] = {
	    {"Kyakkyawa", "Tsaka-tsaki", "Korau"},
	    {"Chanya", "Wastani", "Hasi"},
	};
	static const char *const xnli[3] = {"True", "Neither", "False"};
	if (c < 0 || c > 2 || (unsigned)lang >= SCORE_N_LANGS)
		return NULL;
	if (task == SCORE_SENTIMENT)
		return sent[lang][c];
	if (task == SCORE_XNLI)
		return xnli[c];
	return NULL;
}
