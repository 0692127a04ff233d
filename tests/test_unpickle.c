/* Tests for unpickle: the restricted unpickler on hostile and hand-made
 * pickles (forbidden globals, bad opcodes, bounds, shapes, offsets). The
 * same unpickler on torch.save fixtures is tested in test_torchbin.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fileio.h"
#include "test.h"
#include "unpickle.h"

#define FIX "tests/data/io/"

static int unpickle(const void *p, size_t len, struct err *e)
{
	struct pickled_tensor *t = NULL;
	size_t n = 0;
	err_clear(e);
	int rc = unpickle_state_dict(p, len, "p.pkl", &t, &n, e);
	unpickle_free(t, n);
	return rc;
}

#define UNPICKLE(lit, e) unpickle(lit, sizeof(lit) - 1, e)

static void test_pickles(void)
{
	struct err e;
	char *buf;
	size_t len;
	if (file_read_all(FIX "forbidden.pkl", 1 << 20, &buf, &len, &e) == 0) {
		struct pickled_tensor *t = NULL;
		size_t n = 0;
		CHECK_ERR(unpickle_state_dict(buf, len, "x.bin", &t, &n, &e), e,
			  ERR_UNSUPPORTED,
			  "'x.bin': pickle asks for forbidden global "
			  "'os.system'");
		CHECK(t == NULL && n == 0);
		free(buf);
	} else {
		SKIP("%s", e.msg);
	}
	CHECK_ERR(UNPICKLE("\x80\x04\x8c\x08" "builtins\x8c\x04" "eval\x93.",
			   &e),
		  e, ERR_UNSUPPORTED, "forbidden global 'builtins.eval'");
	CHECK_ERR(UNPICKLE("\x80\x02K\x01)R.", &e), e, ERR_UNSUPPORTED,
		  "REDUCE on something not callable");
	CHECK_ERR(UNPICKLE("\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R.",
			   &e),
		  e, ERR_UNSUPPORTED, "OrderedDict with arguments");
	CHECK_ERR(UNPICKLE("\x80\x02]}b.", &e), e, ERR_UNSUPPORTED,
		  "BUILD on a list");
	CHECK_ERR(UNPICKLE("\x80\x02i.", &e), e, ERR_UNSUPPORTED,
		  "opcode 0x69 ('i') is not supported");
	CHECK_ERR(UNPICKLE("\x80\x02.", &e), e, ERR_FORMAT,
		  "'p.pkl': pickle stack underflow at offset 2");
	CHECK_ERR(UNPICKLE("\x80\x02}", &e), e, ERR_FORMAT,
		  "ends without STOP");
	CHECK_ERR(UNPICKLE("\x80\x02h\x05.", &e), e, ERR_FORMAT,
		  "reads an unset memo slot");
	CHECK_ERR(UNPICKLE("\x80\x02X\xff\x00\x00\x00" "ab.", &e), e,
		  ERR_FORMAT, "is truncated");
	CHECK_ERR(UNPICKLE("\x80\x02]q\x00.", &e), e, ERR_UNSUPPORTED,
		  "pickle holds a list, not a state dict");
	CHECK_ERR(UNPICKLE("\x80\x02}X\x01\x00\x00\x00" "aK\x01s.", &e), e,
		  ERR_UNSUPPORTED, "state dict entry 'a' is a int, not a tensor");
	CHECK_ERR(UNPICKLE("\x80\x02Nr\xff\xff\xff\xff.", &e), e, ERR_FORMAT,
		  "memo index leaps too far");
	/* Many memo slots, each within reach: the memory budget stops it. */
	{
		size_t n = 10000, plen = 2 + 1 + n * 5 + 1;
		unsigned char *p = malloc(plen), *q = p;
		*q++ = 0x80;
		*q++ = 2;
		*q++ = 'N';
		for (size_t i = 0; i < n; i++) {
			uint32_t idx = (uint32_t)((i + 1) * 60000);
			*q++ = 'r';
			for (int k = 0; k < 4; k++)
				*q++ = (unsigned char)(idx >> (8 * k));
		}
		*q++ = '.';
		CHECK_ERR(unpickle(p, plen, &e), e, ERR_NOMEM,
			  "pickle needs more than 256 MB");
		free(p);
	}
	CHECK_ERR(UNPICKLE("\x80\x09}.", &e), e, ERR_UNSUPPORTED,
		  "protocol is not 2-5");
	CHECK_ERR(UNPICKLE("\x80\x02(((((t.", &e), e, ERR_UNSUPPORTED,
		  "pickle holds a tuple");
	CHECK_ERR(UNPICKLE("\x80\x02}K\x01Q.", &e), e, ERR_UNSUPPORTED,
		  "persistent id is not a storage");
	/* An empty state dict is fine, protocol 4 framing included. */
	CHECK_EQ_INT(UNPICKLE("\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00"
			      "}\x94.",
			      &e),
		     0);

	/* A hand-made tensor with LONG1 storage size and offset (beyond 32
	 * bits): storage of 2^32 floats, offset 2^32 - 12, shape (2, 3). */
#define REBUILD "ctorch._utils\n_rebuild_tensor_v2\n"
#define STORAGE(numel) "((X\x07\x00\x00\x00storagectorch\nFloatStorage\n" \
	"X\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpu" numel "tQ"
	static const char good[] =
		"\x80\x02}X\x01\x00\x00\x00t" REBUILD
		STORAGE("\x8a\x05\x00\x00\x00\x00\x01")
		"\x8a\x05\xf4\xff\xff\xff\x00" "K\x02K\x03\x86K\x03K\x01\x86"
		"\x89}tRs.";
	struct pickled_tensor *t = NULL;
	size_t n = 0;
	err_clear(&e);
	CHECK_EQ_INT(unpickle_state_dict(good, sizeof good - 1, "h", &t, &n, &e),
		     0);
	if (n == 1) {
		CHECK_STR(t[0].name, "t");
		CHECK_STR(t[0].key, "0");
		CHECK_EQ_INT(t[0].storage_numel, 4294967296LL);
		CHECK_EQ_INT(t[0].offset, 4294967284LL);
		CHECK_EQ_INT(t[0].ndim, 2);
		CHECK_EQ_INT(t[0].shape[1], 3);
		CHECK_EQ_INT(t[0].numel, 6);
		CHECK_EQ_INT(t[0].dtype, DTYPE_F32);
	} else {
		CHECK_MSG(0, "%s", e.msg);
	}
	unpickle_free(t, n);
	static const char past[] =
		"\x80\x02}X\x01\x00\x00\x00t" REBUILD
		STORAGE("\x8a\x05\x00\x00\x00\x00\x01")
		"\x8a\x05\xfb\xff\xff\xff\x00" "K\x02K\x03\x86K\x03K\x01\x86"
		"\x89}tRs.";
	CHECK_ERR(unpickle(past, sizeof past - 1, &e), e, ERR_FORMAT,
		  "tensor of 6 elements at offset 4294967291 exceeds its "
		  "storage '0' of 4294967296");
	static const char neg[] =
		"\x80\x02}X\x01\x00\x00\x00t" REBUILD STORAGE("K\x09")
		"\x8a\x01\xff" "K\x02K\x03\x86K\x03K\x01\x86\x89}tRs.";
	CHECK_ERR(unpickle(neg, sizeof neg - 1, &e), e, ERR_FORMAT,
		  "negative offset");
	static const char strided[] =
		"\x80\x02}X\x01\x00\x00\x00t" REBUILD STORAGE("K\x09")
		"K\x00K\x02K\x03\x86K\x01K\x02\x86\x89}tRs.";
	CHECK_ERR(unpickle(strided, sizeof strided - 1, &e), e,
		  ERR_UNSUPPORTED, "not contiguous (dim 1 has stride 2");
}

int main(void)
{
	test_pickles();
	return TEST_SUMMARY();
}
