/* Tests for zip: CRC-32 against a bit-at-a-time reference (every length
 * and alignment the folding path and the table tail split differently,
 * chained). The zip reader and writer on torch.save archives are tested in
 * test_torchbin.c (fixtures, truncations, corrupted directories, zip64). */
#include <stddef.h>
#include <stdint.h>

#include "test.h"
#include "zip.h"

static void test_crc32(void)
{
	CHECK_EQ_INT(zip_crc32(0, "123456789", 9), 0xCBF43926u);
	/* every length and alignment the folding path and the table tail
	 * split differently, against a bit-at-a-time reference; chained */
	{
		unsigned char buf[1100];
		uint32_t x = 12345;
		for (size_t i = 0; i < sizeof buf; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (unsigned char)(x >> 16);
		}
		int bad = 0;
		for (size_t off = 0; off < 4; off++)
			for (size_t len = 0; len + off <= 1090; len += 7) {
				uint32_t ref = ~0u;
				for (size_t i = 0; i < len; i++) {
					ref ^= buf[off + i];
					for (int k = 0; k < 8; k++)
						ref = ref & 1 ? 0xedb88320u ^
								    (ref >> 1)
							      : ref >> 1;
				}
				ref = ~ref;
				size_t h = len / 3;
				uint32_t got = zip_crc32(0, buf + off, len);
				uint32_t two =
				    zip_crc32(zip_crc32(0, buf + off, h),
					      buf + off + h, len - h);
				bad += got != ref || two != ref;
			}
		CHECK_EQ_INT(bad, 0);
	}
}

int main(void)
{
	test_crc32();
	return TEST_SUMMARY();
}
