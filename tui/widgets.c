#include "widgets.h"

#include <curses.h>
#include <langinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

int widgets_utf8(void)
{
	static int cached = -1;
	if (cached < 0) {
		const char *cs = nl_langinfo(CODESET);
		cached = cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"));
	}
	return cached;
}

/* Decodes one character at s (n bytes left): its length in bytes and its
 * display width; invalid bytes are one byte, one column. */
static size_t next_char(const char *s, size_t n, int *width)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t len = utf8proc_iterate((const utf8proc_uint8_t *)s,
						(utf8proc_ssize_t)n, &cp);
	if (len <= 0 || cp < 0x20 || cp == 0x7f) {
		*width = 1;
		return len > 0 ? (size_t)len : 1;
	}
	int w = utf8proc_charwidth(cp);
	*width = w < 0 ? 1 : w;
	return (size_t)len;
}

int text_width(const char *s, size_t n)
{
	int cols = 0, w;
	for (size_t i = 0; i < n;) {
		i += next_char(s + i, n - i, &w);
		cols += w;
	}
	return cols;
}

size_t text_fit(const char *s, size_t n, int cols)
{
	size_t i = 0;
	int used = 0, w;
	while (i < n) {
		size_t len = next_char(s + i, n - i, &w);
		if (used + w > cols)
			break;
		used += w;
		i += len;
	}
	return i;
}

/* Draws bytes [s, s+n) that are known to fit, replacing control and invalid
 * bytes by '?' so the terminal never receives escape sequences. */
static void put_clean(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		int w;
		size_t len = next_char(s + i, n - i, &w);
		utf8proc_int32_t cp;
		utf8proc_ssize_t ok = utf8proc_iterate(
			(const utf8proc_uint8_t *)s + i,
			(utf8proc_ssize_t)(n - i), &cp);
		if (ok > 0 && cp == '\t')
			addch(' ');
		else if (ok <= 0 || cp < 0x20 || cp == 0x7f)
			addch('?');
		else
			addnstr(s + i, (int)len);
		i += len;
	}
}

int draw_text(int y, int x, int w, enum term_role role, int pad,
	      const char *s)
{
	if (w <= 0 || y < 0 || y >= LINES || x >= COLS)
		return 0;
	if (x + w > COLS)
		w = COLS - x;
	size_t n = strlen(s);
	int total = text_width(s, n);
	attrset(term_attr(role));
	move(y, x);
	int drawn;
	if (total <= w) {
		put_clean(s, n);
		drawn = total;
	} else {
		const char *ell = widgets_utf8() ? "\u2026" : ">";
		size_t fit = text_fit(s, n, w - 1);
		put_clean(s, fit);
		addstr(ell);
		drawn = text_width(s, fit) + 1;
	}
	if (pad)
		for (; drawn < w; drawn++)
			addch(' ');
	attrset(A_NORMAL);
	return drawn;
}

int draw_fmt(int y, int x, int w, enum term_role role, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return draw_text(y, x, w, role, 0, buf);
}

void draw_right(int y, int x, int w, enum term_role role, const char *s)
{
	int tw = text_width(s, strlen(s));
	if (tw >= w)
		draw_text(y, x, w, role, 0, s);
	else
		draw_text(y, x + w - tw, tw, role, 0, s);
}

void draw_bar(int y, int x, int w, double fraction, enum term_role role)
{
	static const char *eighths[] = {"", "\u258f", "\u258e", "\u258d",
					"\u258c", "\u258b", "\u258a", "\u2589"};
	if (w <= 0 || y < 0 || y >= LINES || x >= COLS)
		return;
	if (x + w > COLS)
		w = COLS - x;
	if (!(fraction > 0))
		fraction = 0;
	if (fraction > 1)
		fraction = 1;
	int units = (int)(fraction * w * 8 + 0.5);
	attrset(term_attr(role));
	move(y, x);
	int col = 0;
	if (widgets_utf8()) {
		for (; col < units / 8; col++)
			addstr("\u2588");
		if (units % 8 && col < w) {
			addstr(eighths[units % 8]);
			col++;
		}
	} else {
		for (; col < (units + 4) / 8; col++)
			addch('#');
	}
	attrset(term_attr(ROLE_DIM));
	for (; col < w; col++)
		addch(widgets_utf8() ? ' ' : '.');
	attrset(A_NORMAL);
}

void draw_hline(int y, int x, int w)
{
	if (y < 0 || y >= LINES)
		return;
	attrset(term_attr(ROLE_DIM));
	move(y, x);
	for (int i = 0; i < w && x + i < COLS; i++)
		addstr(widgets_utf8() ? "\u2500" : "-");
	attrset(A_NORMAL);
}

void draw_section(int y, int x, int w, const char *title)
{
	draw_hline(y, x, w);
	char buf[128];
	snprintf(buf, sizeof buf, " %s ", title);
	draw_text(y, x + 1, w - 2, ROLE_LABEL, 0, buf);
}

void fmt_count(char *buf, size_t cap, uint64_t n)
{
	char digits[32];
	int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
	size_t o = 0;
	for (int i = 0; i < len && o + 2 < cap; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
}

void fmt_short(char *buf, size_t cap, uint64_t n)
{
	if (n >= 1000000000ull)
		snprintf(buf, cap, "%.2fB", (double)n / 1e9);
	else if (n >= 1000000ull)
		snprintf(buf, cap, "%.1fM", (double)n / 1e6);
	else if (n >= 100000ull)
		snprintf(buf, cap, "%.0fk", (double)n / 1e3);
	else
		fmt_count(buf, cap, n);
}

void fmt_bytes(char *buf, size_t cap, uint64_t n)
{
	const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, cap, "%.2f %s", v, unit[u]);
}

/* Splits text into display lines of at most w columns; calls emit(line
 * index, start, length) for each. Returns the number of lines. */
static int wrap_lines(const char *text, int w,
		      void (*emit)(void *ctx, int i, const char *s, size_t n),
		      void *ctx)
{
	int lines = 0;
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t seg = nl ? (size_t)(nl - p) : strlen(p);
		const char *s = p;
		size_t left = seg;
		do {
			size_t fit = text_fit(s, left, w);
			if (fit < left) { /* break at the last space if any */
				size_t sp = fit;
				while (sp > 0 && s[sp] != ' ')
					sp--;
				if (sp > 0)
					fit = sp;
				if (fit == 0)
					fit = 1;
			}
			if (emit)
				emit(ctx, lines, s, fit);
			lines++;
			s += fit;
			left -= fit;
			while (left > 0 && *s == ' ') {
				s++;
				left--;
			}
		} while (left > 0);
		p += seg;
		if (*p == '\n')
			p++;
	}
	return lines;
}

struct wrap_draw {
	int y, x, w, first, h;
	enum term_role role;
};

static void wrap_emit(void *ctx, int i, const char *s, size_t n)
{
	struct wrap_draw *d = ctx;
	if (i < d->first || i >= d->first + d->h)
		return;
	char buf[1024];
	if (n >= sizeof buf)
		n = sizeof buf - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	draw_text(d->y + i - d->first, d->x, d->w, d->role, 0, buf);
}

int draw_wrapped(int y, int x, int w, int h, enum term_role role, int tail,
		 const char *text)
{
	if (w <= 0 || h <= 0)
		return 0;
	int total = wrap_lines(text, w, NULL, NULL);
	struct wrap_draw d = {y, x, w, tail && total > h ? total - h : 0, h,
			      role};
	wrap_lines(text, w, wrap_emit, &d);
	return total;
}

int text_lines(int w, const char *text)
{
	return w > 0 ? wrap_lines(text, w, NULL, NULL) : 0;
}

int draw_wrapped_from(int y, int x, int w, int h, enum term_role role,
		      int first, const char *text)
{
	if (w <= 0 || h <= 0)
		return 0;
	struct wrap_draw d = {y, x, w, first < 0 ? 0 : first, h, role};
	return wrap_lines(text, w, wrap_emit, &d);
}

void draw_progress(int y, int x, int w, double done, const char *stage)
{
	if (w < 12)
		return;
	int bw = w / 3 < 40 ? w / 3 : 40;
	draw_bar(y, x, bw, done, ROLE_ACCENT);
	draw_fmt(y, x + bw + 1, w - bw - 1, ROLE_NORMAL, "%3.0f%% %s",
		 done * 100, stage);
}

/* --- the line editor ------------------------------------------------- */

void edit_begin(struct line_edit *le, char *buf, size_t cap)
{
	le->buf = buf;
	le->cap = cap;
	le->cur = strlen(buf);
	le->scroll = 0;
	snprintf(le->saved, sizeof le->saved, "%s", buf);
}

static size_t char_back(const char *s, size_t i)
{
	if (i == 0)
		return 0;
	i--;
	while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i--;
	return i;
}

static size_t char_fwd(const char *s, size_t i)
{
	size_t n = strlen(s);
	if (i >= n)
		return n;
	i++;
	while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
		i++;
	return i;
}

static void edit_delete(struct line_edit *le, size_t from, size_t to)
{
	size_t n = strlen(le->buf);
	memmove(le->buf + from, le->buf + to, n - to + 1);
	le->cur = from;
}

enum edit_result edit_key(struct line_edit *le, int ch)
{
	char *b = le->buf;
	size_t n = strlen(b);
	switch (ch) {
	case 27:
		snprintf(b, le->cap, "%s", le->saved);
		le->cur = strlen(b);
		return EDIT_CANCELLED;
	case '\r':
	case '\n':
	case KEY_ENTER:
		return EDIT_DONE;
	case KEY_LEFT:
		le->cur = char_back(b, le->cur);
		return EDIT_GOING;
	case KEY_RIGHT:
		le->cur = char_fwd(b, le->cur);
		return EDIT_GOING;
	case KEY_HOME:
	case 1: /* Ctrl-A */
		le->cur = 0;
		return EDIT_GOING;
	case KEY_END:
	case 5: /* Ctrl-E */
		le->cur = n;
		return EDIT_GOING;
	case KEY_BACKSPACE:
	case 127:
	case 8:
		if (le->cur > 0)
			edit_delete(le, char_back(b, le->cur), le->cur);
		return EDIT_GOING;
	case KEY_DC:
	case 4: /* Ctrl-D */
		if (le->cur < n)
			edit_delete(le, le->cur, char_fwd(b, le->cur));
		return EDIT_GOING;
	case 21: /* Ctrl-U */
		edit_delete(le, 0, le->cur);
		return EDIT_GOING;
	case 11: /* Ctrl-K */
		b[le->cur] = '\0';
		return EDIT_GOING;
	case 23: { /* Ctrl-W */
		size_t i = le->cur;
		while (i > 0 && b[i - 1] == ' ')
			i--;
		while (i > 0 && b[i - 1] != ' ' && b[i - 1] != '/')
			i--;
		edit_delete(le, i, le->cur);
		return EDIT_GOING;
	}
	}
	if (ch >= 32 && ch < 256 && ch != 127 && n + 1 < le->cap) {
		memmove(b + le->cur + 1, b + le->cur, n - le->cur + 1);
		b[le->cur++] = (char)ch;
	}
	return EDIT_GOING;
}

int edit_draw(struct line_edit *le, int y, int x, int w, enum term_role role)
{
	if (w < 2)
		return x;
	const char *b = le->buf;
	size_t n = strlen(b);
	int ccol = text_width(b, le->cur);
	if (ccol < le->scroll)
		le->scroll = ccol;
	if (ccol - le->scroll > w - 1)
		le->scroll = ccol - (w - 1);
	/* skip whole characters up to the scroll column */
	size_t start = text_fit(b, n, le->scroll);
	int skipped = text_width(b, start);
	size_t fit = text_fit(b + start, n - start, w);
	char line[2048];
	if (fit >= sizeof line)
		fit = sizeof line - 1;
	memcpy(line, b + start, fit);
	line[fit] = '\0';
	draw_text(y, x, w, role, 1, line);
	int cx = x + ccol - skipped;
	/* the cursor cell, visible even where the terminal hides its
	 * cursor */
	size_t cl = char_fwd(b, le->cur) - le->cur;
	char cell[8] = " ";
	if (cl > 0 && cl < sizeof cell) {
		memcpy(cell, b + le->cur, cl);
		cell[cl] = '\0';
	}
	attrset(term_attr(role) ^ A_REVERSE);
	move(y, cx);
	if (cell[0] == ' ' || (unsigned char)cell[0] >= 0x20)
		addstr(cell);
	attrset(A_NORMAL);
	return cx;
}
