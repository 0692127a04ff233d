#include "dtype.h"

#include <math.h>
#include <string.h>
#include <strings.h>

size_t dtype_size(enum dtype t)
{
	return t == DTYPE_F32 ? 4 : 2;
}

const char *dtype_name(enum dtype t)
{
	switch (t) {
	case DTYPE_F32: return "F32";
	case DTYPE_F16: return "F16";
	case DTYPE_BF16: return "BF16";
	}
	return "?";
}

int dtype_parse(const char *s, enum dtype *out)
{
	static const struct {
		const char *name;
		enum dtype t;
	} names[] = {
		{"f32", DTYPE_F32},   {"float32", DTYPE_F32}, {"f16", DTYPE_F16},
		{"float16", DTYPE_F16}, {"bf16", DTYPE_BF16}, {"bfloat16", DTYPE_BF16},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].t;
			return 0;
		}
	return -1;
}

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

float dtype_bf16_to_f32(uint16_t h)
{
	return bits_f32((uint32_t)h << 16);
}

uint16_t dtype_f32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it quiet and NaN */
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
	return (uint16_t)(u >> 16);
}

float dtype_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t man = h & 0x3ffu;
	if (exp == 0) { /* zero or subnormal: man * 2^-24 */
		float v = ldexpf((float)man, -24);
		return sign ? -v : v;
	}
	if (exp == 31)
		return bits_f32(sign | 0x7f800000u | (man << 13));
	return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t dtype_f32_to_f16(float f)
{
	uint32_t u = f32_bits(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
	uint32_t au = u & 0x7fffffffu;
	if (au > 0x7f800000u)
		return sign | 0x7e00u;
	if (au >= 0x477ff000u) /* rounds to >= 65520: infinity */
		return sign | 0x7c00u;
	if (au < 0x38800000u) { /* below the smallest normal f16: subnormal */
		/* Adding 0.5 makes the FPU do the round-to-nearest-even shift. */
		float v = bits_f32(au) + 0.5f;
		return sign | (uint16_t)(f32_bits(v) - f32_bits(0.5f));
	}
	uint32_t odd = (au >> 13) & 1u;
	au += 0xc8000fffu + odd; /* rebias exponent (-112 << 23) and round */
	return sign | (uint16_t)(au >> 13);
}

void dtype_to_f32(float *dst, const void *src, enum dtype from, size_t n)
{
	const unsigned char *p = src;
	if (from == DTYPE_F32) {
		memcpy(dst, src, n * 4);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
		dst[i] = from == DTYPE_BF16 ? dtype_bf16_to_f32(h)
					    : dtype_f16_to_f32(h);
	}
}

void dtype_from_f32(void *dst, const float *src, enum dtype to, size_t n)
{
	unsigned char *p = dst;
	if (to == DTYPE_F32) {
		memcpy(dst, src, n * 4);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint16_t h = to == DTYPE_BF16 ? dtype_f32_to_bf16(src[i])
					      : dtype_f32_to_f16(src[i]);
		p[2 * i] = (unsigned char)(h & 0xff);
		p[2 * i + 1] = (unsigned char)(h >> 8);
	}
}
