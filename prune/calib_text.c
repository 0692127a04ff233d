/* calib_text — calibration text as token ids (see calib_text.h). */
#include "calib_text.h"

#include <stdlib.h>
#include <string.h>

#include "fileio.h"

#define TEXT_MAX (1u << 30) /* bytes per file */

int calib_text_encode(const struct tokenizer *t, const char *const *files,
		       int n, size_t max_tokens, int **ids, size_t *n_ids,
		       struct err *e)
{
	int *all = NULL;
	size_t cnt = 0;
	*ids = NULL;
	*n_ids = 0;
	for (int i = 0; i < n && cnt < max_tokens; i++) {
		char *text;
		size_t len, k;
		int *v, rc;
		if ((rc = file_read_all(files[i], TEXT_MAX, &text, &len, e)))
			goto fail;
		rc = tok_encode(t, text, len, true, &v, &k, e);
		free(text);
		if (rc)
			goto fail;
		if (k > max_tokens - cnt)
			k = max_tokens - cnt;
		int *na = realloc(all, (cnt + k + 1) * sizeof *na);
		if (!na) {
			free(v);
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto fail;
		}
		all = na;
		memcpy(all + cnt, v, k * sizeof *v);
		cnt += k;
		free(v);
		continue;
	fail:
		free(all);
		return rc;
	}
	*ids = all;
	*n_ids = cnt;
	return 0;
}
