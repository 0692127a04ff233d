/*
 * torch_plan — hand a heal over to PyTorch (assets/torch/heal.py under
 * torchrun) when this machine is not enough: the training text as a token
 * file in heal.py's --ids format, made with the student's tokenizer
 * exactly as `punguza heal` tokenizes it, and the torchrun command that
 * continues with the same objective, data order, schedule and settings.
 *
 * The token file (DIR/train.ids) is a safetensors file: one tensor
 * "tokens" (I32, [N]) holding the stream `punguza heal` trains on (the
 * corpus files' ids one after another: per non-empty line BOS, the line,
 * EOS — eval_encode_lines — or, whole_text, each file as one text with the
 * tokenizer's specials), and "__metadata__" (strings): "format"
 * "punguza-ids", "version" "1", "vocab_size", "documents", "mode" ("lines"
 * | "whole"), "bos", "eos", "sources" (a JSON array of {"name", "bytes",
 * "checksum" fnv1a64 of the file} as heal's recipe records them). Any
 * safetensors reader opens it; heal.py checks format and vocab_size.
 *
 * DIR/torchrun.sh holds the command (executable, `set -e`, one line), and
 * torch_plan_write returns it. Every setting is written out, so the
 * command is the plan, whatever heal.py's defaults become.
 *
 * `punguza heal ... --plan-torch DIR` fills a struct torch_plan from
 * heal's parsed options (torch_plan_hp_from_heal: steps resolved from
 * --tokens; warmup < 0 = heal's default, 5% of the steps, 1..100), calls
 * torch_plan_write and prints the result. Headless: nothing is printed.
 *
 * Ownership: everything in the plan is borrowed.
 */
#ifndef PUNGUZA_TORCH_PLAN_H
#define PUNGUZA_TORCH_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "progress.h"

struct tokenizer;

/* heal's settings (prune/heal.h, prune/recipe.h's struct recipe_heal). */
struct torch_plan_hp {
	uint64_t steps; /* >= 1 */
	int batch, ctx, warmup; /* warmup < 0: 5% of steps, 1..100 */
	double lr, min_lr_ratio, beta1, beta2, eps, weight_decay, clip;
	double temperature, kd_weight;
	uint64_t seed;
	bool whole_text;
};

struct torch_plan {
	const char *student_dir; /* the cut (heal.py --student) */
	const char *teacher_dir; /* NULL only with kd_weight 0 */
	const struct tokenizer *tok; /* the student's tokenizer */
	const char *const *corpus;   /* n_corpus >= 1 text files */
	int n_corpus;
	struct torch_plan_hp hp;
	const char *plan_dir; /* created when missing: train.ids, torchrun.sh */
	const char *out_dir;  /* where heal.py writes the healed model */
	int nproc;	      /* processes per node, >= 1 */
	const char *script;   /* heal.py; NULL: not found in the assets
			       * (torch_plan_write fails with ERR_NOTFOUND
			       * once the options are checked) */
};

struct torch_plan_result {
	uint64_t tokens;     /* in the stream */
	uint64_t documents;  /* lines (or files, whole_text) */
	uint64_t bytes;      /* of the corpus files */
	char ids_path[4096]; /* plan_dir/train.ids */
	char command[16384]; /* the torchrun command line */
};

/* Writes plan_dir/train.ids and plan_dir/torchrun.sh; fills *r. */
int torch_plan_write(const struct torch_plan *p, struct torch_plan_result *r,
		     const struct progress *prog, struct err *e);

/* heal's settings hp into *h; with a token budget (tokens > 0) the steps
 * are the batches of batch * ctx tokens that cover it. */
struct recipe_heal;
void torch_plan_hp_from_heal(struct torch_plan_hp *h,
			     const struct recipe_heal *hp, uint64_t tokens);

#endif
