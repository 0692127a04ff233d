/* apply — plan x model -> pruned model. See apply.h. */
#include "apply.h"

#include "tokenizer.h"
#include "vocab.h"

int prune_apply(const struct model *src, const struct tokenizer *tok,
		const struct prune_plan *plan, const struct apply_inputs *in,
		struct model **out, struct tokenizer **out_tok,
		struct apply_report *report, const struct progress *prog,
		struct err *e)
{
	struct prune_index ix;
	int rc;
	*out = NULL;
	if (out_tok)
		*out_tok = NULL;
	if ((rc = prune_select(src, plan, in, &ix, report, prog, e)))
		return rc;
	rc = prune_build(src, &ix, out, report, prog, e);
	prune_index_free(&ix);
	if (rc || !tok || !out_tok || !in || !in->keep || in->vocab_tok ||
	    plan->vocab_mode == PLAN_VOCAB_NONE)
		return rc;
	if ((rc = vocab_rewrite(tok, in->keep, out_tok, e))) {
		model_free(*out);
		*out = NULL;
		return err_wrap(e, "rewriting the tokenizer");
	}
	if (tok_vocab_size(*out_tok) != (*out)->cfg.vocab_size) {
		rc = err_set(e, ERR_INVALID,
			     "vocab: the rewritten tokenizer has %d pieces, "
			     "the model %d",
			     tok_vocab_size(*out_tok), (*out)->cfg.vocab_size);
		tok_free(*out_tok);
		*out_tok = NULL;
		model_free(*out);
		*out = NULL;
	}
	return rc;
}
