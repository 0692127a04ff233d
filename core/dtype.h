/*
 * dtype — the element types punguza reads and writes, and conversions to and
 * from f32 (all computation is f32).
 *
 * Conversions round to nearest even (f32 -> bf16/f16), as PyTorch does, so an
 * export in bf16 matches `tensor.to(torch.bfloat16)` bit for bit. NaN stays
 * NaN; f16 overflow becomes infinity.
 */
#ifndef PUNGUZA_DTYPE_H
#define PUNGUZA_DTYPE_H

#include <stddef.h>
#include <stdint.h>

enum dtype {
	DTYPE_F32 = 0,
	DTYPE_F16 = 1,
	DTYPE_BF16 = 2,
};

/* Bytes per element: 4, 2, 2. */
size_t dtype_size(enum dtype t);

/* Safetensors spelling: "F32", "F16", "BF16". */
const char *dtype_name(enum dtype t);

/* Parses "F32"/"f32"/"float32", "F16"/"f16"/"float16", "BF16"/"bf16"/
 * "bfloat16" (case-insensitive). Returns 0, or -1 when unknown. */
int dtype_parse(const char *s, enum dtype *out);

float dtype_bf16_to_f32(uint16_t h);
uint16_t dtype_f32_to_bf16(float f);
float dtype_f16_to_f32(uint16_t h);
uint16_t dtype_f32_to_f16(float f);

/* Converts n elements of type `from` at src (any alignment, little-endian)
 * to f32 at dst. */
void dtype_to_f32(float *dst, const void *src, enum dtype from, size_t n);

/* Converts n f32 values to type `to` at dst (little-endian). */
void dtype_from_f32(void *dst, const float *src, enum dtype to, size_t n);

#endif
