#include "kernels.h"

#include <math.h>

void kern_rmsnorm(float *out, float *rinv, const float *x, const float *w,
		  int n, int d, double eps)
{
	for (int t = 0; t < n; t++) {
		const float *xr = x + (size_t)t * d;
		float *o = out + (size_t)t * d;
		double ss = 0;
		for (int i = 0; i < d; i++)
			ss += (double)xr[i] * xr[i];
		float var = (float)(ss / d);
		float r = (float)(1.0 / sqrt((double)var + (double)(float)eps));
		if (rinv)
			rinv[t] = r;
		for (int i = 0; i < d; i++)
			o[i] = w[i] * (xr[i] * r);
	}
}

void kern_rope(float *v, int n_heads, int hd, const float *cosv,
	       const float *sinv, int dir)
{
	int half = hd / 2;
	for (int h = 0; h < n_heads; h++) {
		float *x = v + (size_t)h * hd;
		for (int i = 0; i < half; i++) {
			float a = x[i], b = x[i + half];
			float cs = cosv[i], sn = dir > 0 ? sinv[i] : -sinv[i];
			x[i] = a * cs - b * sn;
			x[i + half] = b * cs + a * sn;
		}
	}
}

void kern_swiglu(float *h, const float *gate, const float *up, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float g = gate[i];
		h[i] = g / (1.0f + expf(-g)) * up[i];
	}
}

void kern_softmax_causal(float *a, int len, int width)
{
	float mx = a[0];
	for (int j = 1; j < len; j++)
		if (a[j] > mx)
			mx = a[j];
	float sum = 0;
	for (int j = 0; j < len; j++) {
		a[j] = expf(a[j] - mx);
		sum += a[j];
	}
	for (int j = 0; j < len; j++)
		a[j] /= sum;
	for (int j = len; j < width; j++)
		a[j] = 0;
}
