/* punguza heal STUDENT_DIR [--teacher DIR] -o OUT [options] — trains a
 * pruned model back towards the original (prune/heal.h): distillation,
 * plain fine-tuning, or data-free distillation; checkpoints, resume,
 * Ctrl-C saves a checkpoint. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cliopts.h"
#include "commands.h"
#include "export.h"
#include "fileio.h"
#include "heal.h"
#include "heal_data.h"
#include "healcli.h"
#include "model.h"
#include "paths.h"
#include "planopts.h"
#include "recipe.h"
#include "tokenizer.h"
#include "torch_plan.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: punguza heal STUDENT_DIR [--teacher ORIGINAL_DIR] -o OUT\n"
	    "                    [--corpus FILE]... [--heldout FILE]...\n"
	    "                    [--steps N | --tokens N | --minutes M] "
	    "[options]\n\n"
	    "Trains the (pruned) model in STUDENT_DIR back towards the "
	    "original:\ndistillation KL(teacher||student) at a temperature, "
	    "mixed with next-token\ncross-entropy; without a teacher, plain "
	    "fine-tuning (--kd-weight 0); without\na corpus, data-free "
	    "distillation on sequences sampled from the teacher.\nWhen "
	    "STUDENT_DIR has a vocab_map.json (a cut vocabulary), the "
	    "teacher is\nread through it: its logits at the kept pieces "
	    "only. Neither directory is\never written.\n\n"
	    "  -o, --out OUT      checkpoints and the result (a Hugging Face "
	    "directory,\n"
	    "                     heal_log.tsv, heal_state.json)\n"
	    "  --resume           continue OUT's checkpoint (its settings; "
	    "same data)\n"
	    "  --force            replace a non-empty OUT\n"
	    "  --teacher DIR      the original model\n"
	    "  --corpus FILE      training text, one document per line "
	    "(repeatable)\n"
	    "  --whole-text       each corpus file as one text instead\n"
	    "  --heldout FILE     evaluate bits per byte (and KL, top-1 vs "
	    "the teacher)\n"
	    "                     on this text (repeatable)\n"
	    "  --steps N | --tokens N | --minutes M\n"
	    "                     the budget (one of them); --minutes "
	    "measures the speed\n"
	    "                     first and records the steps it chose\n"
	    "  --lr X             peak learning rate (1e-3); warm-up then "
	    "cosine to 10%%\n"
	    "  --warmup N         warm-up steps (5%% of the steps, 1..100)\n"
	    "  --batch B          sequences per step (16)\n"
	    "  --ctx T            tokens per sequence (128)\n"
	    "  --temperature X    distillation temperature (1)\n"
	    "  --kd-weight W      1 pure KL (default with a teacher), 0 pure "
	    "CE\n"
	    "  --weight-decay X   AdamW decoupled weight decay (0.01), none "
	    "on norms\n"
	    "  --clip X           gradient-norm clip (1; 0 off)\n"
	    "  --seed N           batches and samples (1)\n"
	    "  --pool N           data-free: distinct sampled sequences "
	    "(4096)\n"
	    "  --eval-every N     evaluation cadence (steps/10)\n"
	    "  --eval-ctx C       evaluation window (512 or the context)\n"
	    "  --ckpt-every N     checkpoint cadence (500)\n"
	    "  --threads N        BLAS threads (same count = same bytes)\n"
	    "  --format LIST      final result: hf (default), gguf, hf,gguf\n"
	    "  --dtype T          final weights: F32 (default), BF16, F16\n"
	    "  --json             the summary as one JSON object\n"
	    "  --plan-torch DIR   train nothing: write DIR/train.ids and "
	    "DIR/torchrun.sh and\n"
	    "                     print the torchrun command that runs this "
	    "heal in PyTorch\n"
	    "                     (assets/torch/heal.py) and writes OUT\n"
	    "  --nproc N          with --plan-torch: processes per node (1)\n\n"
	    "Ctrl-C or SIGTERM writes a checkpoint and exits 130 / 143; "
	    "--resume continues\nit to the same bytes as an uninterrupted "
	    "run.\n");
}

#define MAX_FILES RECIPE_HEAL_MAX_DATA

static int parse_u64(const char *v, unsigned long long *out)
{
	char *end;
	unsigned long long x = strtoull(v, &end, 10);
	if (end == v || *end || v[0] == '-' || x == 0)
		return -1;
	*out = x;
	return 0;
}

/* `--plan-torch DIR`: instead of healing, writes the token file and the
 * torchrun command (torch_plan.h) for heal's parsed options (hp as parsed,
 * steps 0 with a token budget; out_dir = heal's -o, heal.py's output).
 * Prints the summary to stderr and the command (or, json, one object) to
 * stdout. Returns the process exit status (0, 1, 2 usage). */
static int write_torch_plan(const char *student_dir,
			    const char *teacher_dir, const char *const *corpus,
			    int n_corpus, const struct recipe_heal *hp,
			    uint64_t tokens, double minutes,
			    const char *out_dir, const char *plan_dir,
			    int nproc, bool json)
{
	if (minutes > 0) {
		fprintf(stderr,
			"punguza: heal: --plan-torch needs --steps or --tokens "
			"(--minutes measures this machine)\n");
		return 2;
	}
	if (!n_corpus) {
		fprintf(stderr,
			"punguza: heal: --plan-torch needs --corpus (data-free "
			"healing stays in punguza heal)\n");
		return 2;
	}
	struct torch_plan p = {0};
	struct torch_plan_hp *h = &p.hp;
	torch_plan_hp_from_heal(h, hp, tokens);
	uint64_t BT = (uint64_t)h->batch * (uint64_t)h->ctx;
	char script[4096];
	if (!paths_asset("torch/heal.py", script, sizeof script) &&
	    path_exists(script))
		p.script = script;
	p.student_dir = student_dir;
	p.teacher_dir = teacher_dir;
	p.corpus = corpus;
	p.n_corpus = n_corpus;
	p.plan_dir = plan_dir;
	p.out_dir = out_dir;
	p.nproc = nproc;

	struct err e = {0};
	struct tokenizer *tok = NULL;
	if (tok_load(student_dir, &tok, &e)) {
		fprintf(stderr, "punguza: %s\n", e.msg);
		return 1;
	}
	p.tok = tok;
	struct torch_plan_result *r = malloc(sizeof *r);
	if (!r) {
		tok_free(tok);
		fprintf(stderr, "punguza: heal: out of memory\n");
		return 1;
	}
	struct progress prog = {cliopts_progress, NULL};
	int rc = torch_plan_write(&p, r, isatty(2) ? &prog : NULL, &e);
	cliopts_progress_end();
	tok_free(tok);
	if (rc) {
		fprintf(stderr, "punguza: %s\n", e.msg);
		free(r);
		return rc == ERR_INVALID ? 2 : 1;
	}
	double passes = (double)(h->steps * BT) / (double)r->tokens;
	if (json) {
		cJSON *o = cJSON_CreateObject();
		char *s = NULL;
		if (o && cJSON_AddStringToObject(o, "ids", r->ids_path) &&
		    cJSON_AddNumberToObject(o, "tokens", (double)r->tokens) &&
		    cJSON_AddNumberToObject(o, "documents",
					    (double)r->documents) &&
		    cJSON_AddNumberToObject(o, "bytes", (double)r->bytes) &&
		    cJSON_AddNumberToObject(o, "steps", (double)h->steps) &&
		    cJSON_AddNumberToObject(o, "passes", passes) &&
		    cJSON_AddStringToObject(o, "command", r->command))
			s = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		if (s)
			printf("%s\n", s);
		free(s);
	} else {
		fprintf(stderr,
			"wrote     %s: %llu tokens, %llu documents, %llu bytes "
			"of text\n"
			"plan      %llu steps x %d x %d tokens = %.2f passes "
			"over the data\n"
			"run       this (also %s/torchrun.sh), then punguza "
			"eval/run/prune %s\n",
			r->ids_path, (unsigned long long)r->tokens,
			(unsigned long long)r->documents,
			(unsigned long long)r->bytes,
			(unsigned long long)h->steps, h->batch, h->ctx, passes,
			plan_dir, out_dir);
		printf("%s\n", r->command);
	}
	free(r);
	return fflush(stdout) ? 1 : 0;
}

int cmd_heal(int argc, char **argv)
{
	struct heal_opts o;
	heal_defaults(&o);
	const char *dir = NULL, *teacher_dir = NULL;
	const char *corpus[MAX_FILES], *heldout[MAX_FILES];
	int n_corpus = 0, n_heldout = 0, json = 0;
	bool kd_given = false;
	const char *plan_torch = NULL;
	long nproc = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--json")) {
			json = 1;
			continue;
		}
		if (!strcmp(a, "--resume")) {
			o.resume = true;
			continue;
		}
		if (!strcmp(a, "--force")) {
			o.force = true;
			continue;
		}
		if (!strcmp(a, "--whole-text")) {
			o.hp.whole_text = true;
			continue;
		}
		if (a[0] != '-') {
			if (cliopts_positional("heal", a, &dir))
				return 2;
			continue;
		}
		if (!cliopts_has_value("heal", argc, argv, i))
			return 2;
		const char *v = argv[++i];
		long n;
		double x;
		unsigned long long u;
		if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
			o.out_dir = v;
		} else if (!strcmp(a, "--plan-torch")) {
			plan_torch = v;
		} else if (!strcmp(a, "--nproc")) {
			if (planopts_long(v, 1, 1 << 16, &nproc))
				return cliopts_bad_value("heal", a, v);
		} else if (!strcmp(a, "--teacher")) {
			teacher_dir = v;
		} else if (!strcmp(a, "--corpus") || !strcmp(a, "--heldout")) {
			bool c = !strcmp(a, "--corpus");
			int *cnt = c ? &n_corpus : &n_heldout;
			if (*cnt >= MAX_FILES) {
				fprintf(stderr,
					"punguza: heal: more than %d %s "
					"files\n",
					MAX_FILES, a + 2);
				return 2;
			}
			(c ? corpus : heldout)[(*cnt)++] = v;
		} else if (!strcmp(a, "--steps")) {
			if (parse_u64(v, &u))
				return cliopts_bad_value("heal", a, v);
			o.hp.steps = u;
		} else if (!strcmp(a, "--tokens")) {
			if (parse_u64(v, &u))
				return cliopts_bad_value("heal", a, v);
			o.tokens = u;
		} else if (!strcmp(a, "--minutes")) {
			if (planopts_double(v, &x) || !(x > 0) || x > 1e6)
				return cliopts_bad_value("heal", a, v);
			o.minutes = x;
		} else if (!strcmp(a, "--lr")) {
			if (planopts_double(v, &x) || !(x > 0) || x > 10)
				return cliopts_bad_value("heal", a, v);
			o.hp.lr = x;
		} else if (!strcmp(a, "--temperature")) {
			if (planopts_double(v, &x) || !(x > 0) || x > 1e3)
				return cliopts_bad_value("heal", a, v);
			o.hp.temperature = x;
		} else if (!strcmp(a, "--kd-weight")) {
			if (planopts_double(v, &x) || x < 0 || x > 1)
				return cliopts_bad_value("heal", a, v);
			o.hp.kd_weight = x;
			kd_given = true;
		} else if (!strcmp(a, "--weight-decay")) {
			if (planopts_double(v, &x) || x < 0 || x > 10)
				return cliopts_bad_value("heal", a, v);
			o.hp.weight_decay = x;
		} else if (!strcmp(a, "--clip")) {
			if (planopts_double(v, &x) || x < 0)
				return cliopts_bad_value("heal", a, v);
			o.hp.clip = x;
		} else if (!strcmp(a, "--warmup")) {
			if (planopts_long(v, 0, 1 << 30, &n))
				return cliopts_bad_value("heal", a, v);
			o.hp.warmup = (int)n;
		} else if (!strcmp(a, "--batch")) {
			if (planopts_long(v, 1, 4096, &n))
				return cliopts_bad_value("heal", a, v);
			o.hp.batch = (int)n;
		} else if (!strcmp(a, "--ctx")) {
			if (planopts_long(v, 2, 1 << 16, &n))
				return cliopts_bad_value("heal", a, v);
			o.hp.ctx = (int)n;
		} else if (!strcmp(a, "--seed")) {
			if (planopts_long(v, 0, 1L << 62, &n))
				return cliopts_bad_value("heal", a, v);
			o.hp.seed = (uint64_t)n;
		} else if (!strcmp(a, "--pool")) {
			if (planopts_long(v, 1, 1 << 24, &n))
				return cliopts_bad_value("heal", a, v);
			o.hp.pool = (int)n;
		} else if (!strcmp(a, "--eval-every")) {
			if (parse_u64(v, &u))
				return cliopts_bad_value("heal", a, v);
			o.eval_every = u;
		} else if (!strcmp(a, "--eval-ctx")) {
			if (planopts_long(v, 2, 1 << 16, &n))
				return cliopts_bad_value("heal", a, v);
			o.eval_ctx = (int)n;
		} else if (!strcmp(a, "--ckpt-every")) {
			if (parse_u64(v, &u))
				return cliopts_bad_value("heal", a, v);
			o.ckpt_every = u;
		} else if (!strcmp(a, "--threads")) {
			if (planopts_long(v, 1, 1024, &n))
				return cliopts_bad_value("heal", a, v);
			o.threads = (int)n;
		} else if (!strcmp(a, "--format")) {
			if (export_parse_formats(v, &o.xo.formats))
				return cliopts_bad_value("heal", a, v);
		} else if (!strcmp(a, "--dtype")) {
			if (dtype_parse(v, &o.xo.dtype))
				return cliopts_bad_value("heal", a, v);
		} else {
			return cliopts_unknown("heal", a);
		}
	}
	if (!dir || !o.out_dir) {
		usage(stderr);
		return 2;
	}
	int budgets = (o.hp.steps > 0) + (o.tokens > 0) + (o.minutes > 0);
	if (!o.resume && budgets != 1) {
		fprintf(stderr, "punguza: heal: give one budget: --steps N, "
				"--tokens N or --minutes M\n");
		return 2;
	}
	if (!teacher_dir) {
		if (kd_given && o.hp.kd_weight > 0) {
			fprintf(stderr, "punguza: heal: --kd-weight above 0 "
					"needs --teacher\n");
			return 2;
		}
		if (!n_corpus) {
			fprintf(stderr, "punguza: heal: without --teacher, "
					"give --corpus FILE (plain "
					"fine-tuning)\n");
			return 2;
		}
		o.hp.kd_weight = 0;
	}
	if (plan_torch)
		return write_torch_plan(dir, teacher_dir, corpus, n_corpus,
					&o.hp, o.tokens, o.minutes, o.out_dir,
					plan_torch, (int)nproc, json);
	o.corpus = corpus;
	o.n_corpus = n_corpus;
	o.heldout = heldout;
	o.n_heldout = n_heldout;

	struct err e = {0};
	struct model *student = NULL, *teacher = NULL;
	struct tokenizer *tok = NULL;
	struct recipe rec;
	bool have_rec = false;
	int *keep = NULL, n_keep = 0, n_old = 0, status = 1, rc;
	struct healcli cli;
	struct heal_result res;
	memset(&res, 0, sizeof res);
	recipe_init(&rec);
	if (healcli_init(&cli)) {
		fprintf(stderr, "punguza: heal: cannot set up\n");
		return 1;
	}
	struct progress prog = {healcli_progress, &cli};
	o.monitor = &cli.mon;

	if ((rc = model_load(dir, &student, &prog, &e)) ||
	    (rc = tok_load(dir, &tok, &e)))
		goto done;
	if (teacher_dir && (rc = model_load(teacher_dir, &teacher, &prog, &e)))
		goto done;
	if (cli.tty)
		fprintf(stderr, "\r\033[K");
	rc = heal_vocab_map_load(dir, &keep, &n_keep, &n_old, &e);
	if (rc == ERR_NOTFOUND) {
		rc = 0;
		err_clear(&e);
	} else if (rc) {
		goto done;
	} else if (n_keep != student->cfg.vocab_size ||
		   (teacher && n_old != teacher->cfg.vocab_size)) {
		rc = err_set(&e, ERR_INVALID,
			     "'%s/vocab_map.json' maps %d of %d ids; the "
			     "student has %d%s",
			     dir, n_keep, n_old, student->cfg.vocab_size,
			     teacher ? " and the teacher another count" : "");
		goto done;
	}
	char rp[4096];
	if (!path_join(rp, sizeof rp, dir, "punguza.json", NULL) &&
	    path_exists(rp)) {
		if ((rc = recipe_load(rp, &rec, &e)))
			goto done;
		have_rec = true;
	}
	o.student = student;
	o.student_tok = tok;
	o.teacher = teacher;
	o.vocab_keep = teacher ? keep : NULL;
	o.protect[0] = dir;
	o.protect[1] = teacher_dir;
	o.xo.src_dir = dir;
	o.xo.tok = tok;
	o.xo.recipe = have_rec ? &rec : NULL;
	rc = heal_run(&o, &prog, &res, &e);
	if (cli.tty)
		fprintf(stderr, "\r\033[K");
	if (rc)
		goto done;
	if (json)
		healcli_print_json(&res, o.out_dir);
	else
		healcli_print(&res, o.out_dir);
	status = 0;
done:
	if (status) {
		if (cli.tty)
			fprintf(stderr, "\r\033[K");
		fprintf(stderr, "punguza: %s\n", e.msg);
		int sig = healcli_signal_status();
		status = rc == ERR_CANCELLED && sig ? sig
			 : rc == ERR_INVALID	    ? 2
						    : 1;
	}
	healcli_done(&cli);
	recipe_free(&rec);
	free(keep);
	tok_free(tok);
	model_free(teacher);
	model_free(student);
	return status;
}
