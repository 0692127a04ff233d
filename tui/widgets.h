/*
 * widgets — drawing helpers shared by the screens: UTF-8 text clipped to a
 * number of terminal columns (widths from utf8proc, so ɓ ɗ ƙ ƴ ’ and wide
 * CJK/emoji are measured right), bars, number formatting, boxes.
 *
 * All functions draw on stdscr and never move past the given width.
 */
#ifndef PUNGUZA_WIDGETS_H
#define PUNGUZA_WIDGETS_H

#include <stddef.h>
#include <stdint.h>

#include "term.h"

/* Terminal columns taken by the first n bytes of UTF-8 s (invalid bytes and
 * control characters count as one column: they are drawn as '?'). */
int text_width(const char *s, size_t n);

/* Bytes of s that fit in cols columns (whole characters only). */
size_t text_fit(const char *s, size_t n, int cols);

/* Draws s at (y, x) in at most w columns with role's attribute, padding
 * with spaces to exactly w columns when pad is set. Returns the columns
 * drawn. Text that does not fit ends in "…". */
int draw_text(int y, int x, int w, enum term_role role, int pad,
	      const char *s);

/* printf-style draw_text (no padding). */
int draw_fmt(int y, int x, int w, enum term_role role, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Right-aligned text ending at column x + w - 1. */
void draw_right(int y, int x, int w, enum term_role role, const char *s);

/* A horizontal bar of w columns filled to fraction (0..1) with eighth
 * blocks (or '#' when the locale is not UTF-8). */
void draw_bar(int y, int x, int w, double fraction, enum term_role role);

/* A horizontal rule of w columns. */
void draw_hline(int y, int x, int w);

/* Boxed title line: "─ TITLE ───". */
void draw_section(int y, int x, int w, const char *title);

/* 421939200 -> "421,939,200". */
void fmt_count(char *buf, size_t cap, uint64_t n);
/* 421939200 -> "421.9M", 50480128 -> "50.5M", 8064 -> "8,064". */
void fmt_short(char *buf, size_t cap, uint64_t n);
/* 1610612736 -> "1.50 GiB". */
void fmt_bytes(char *buf, size_t cap, uint64_t n);

/* Draws text wrapped at w columns (at spaces when possible; newlines
 * start a new line; tabs count as spaces) into the box (y, x, w, h). When
 * it needs more than h lines, the first h are shown, or the last h when
 * tail is set (streaming text scrolls). Returns the number of lines the
 * whole text takes. */
int draw_wrapped(int y, int x, int w, int h, enum term_role role, int tail,
		 const char *text);

/* "[#####     ]  42% stage" in w columns. */
void draw_progress(int y, int x, int w, double done, const char *stage);

/* True when the locale's charset is UTF-8 (then bars use block glyphs). */
int widgets_utf8(void);

#endif
