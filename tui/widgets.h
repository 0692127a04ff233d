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

/* Lines text takes wrapped at w columns (as draw_wrapped wraps it). */
int text_lines(int w, const char *text);

/* draw_wrapped from wrapped line `first` on (a scrolled pane). */
int draw_wrapped_from(int y, int x, int w, int h, enum term_role role,
		      int first, const char *text);

/* "[#####     ]  42% stage" in w columns. */
void draw_progress(int y, int x, int w, double done, const char *stage);

/* A one-line text editor over a caller's buffer: ←/→, Home/End (Ctrl-A /
 * Ctrl-E), Backspace/Delete, Ctrl-U (delete to the start), Ctrl-K (to the
 * end), Ctrl-W (a word back); Enter keeps the text, Esc restores what it
 * was when editing began. The cursor is a byte offset on a character
 * boundary. */
struct line_edit {
	char *buf;        /* the caller's text (cap bytes, NUL-terminated) */
	size_t cap;
	size_t cur;       /* cursor, bytes */
	char saved[1024]; /* the text when editing began (Esc restores) */
	int scroll;       /* first column shown (edit_draw) */
};

enum edit_result { EDIT_GOING = 0, EDIT_DONE, EDIT_CANCELLED };

/* Starts editing buf with the cursor at its end. */
void edit_begin(struct line_edit *le, char *buf, size_t cap);
/* One key; EDIT_DONE (Enter) or EDIT_CANCELLED (Esc, text restored). */
enum edit_result edit_key(struct line_edit *le, int ch);
/* Draws the text in w columns at (y, x), scrolled so the cursor shows,
 * the cursor's cell in reverse video; returns the cursor's column. */
int edit_draw(struct line_edit *le, int y, int x, int w, enum term_role role);

/* True when the locale's charset is UTF-8 (then bars use block glyphs). */
int widgets_utf8(void);

#endif
