/* infra_tui.h - the ncurses table view every --tui shares.
 *
 * A title line, a header, rows of cells (scrollable) and a status line.  The
 * tool redraws on its own rhythm and waits for keys in between:
 *     t = infra_tui_new(cols, n, &err);
 *     for (;;) { ...; infra_tui_draw(t, title, status, cells, nrows);
 *                key = infra_tui_wait(t, interval); if (key == 'q') break; }
 *     infra_tui_free(t);
 * infra_tui_wait() handles scrolling (arrows, PgUp/PgDn, Home/End) and
 * resizing itself, and returns 'q' (also for Q, ESC and ^C), 'r' for a refresh
 * request, or 0 when the time is up.  Colour only when the terminal has it and
 * NO_COLOR is unset.  Needs a terminal on stdin/stdout (-ENOTTY otherwise).
 * Ownership: cells are borrowed for the call.
 */
#ifndef INFRA_TUI_H
#define INFRA_TUI_H

#include <stddef.h>

#include "infra_err.h"

struct infra_tui_col {
	const char *title;
	int width;  /* columns; the last column takes what is left */
	int right;  /* right-aligned (numbers) */
};

enum infra_tui_mark {
	INFRA_TUI_NORMAL = 0,
	INFRA_TUI_GOOD,
	INFRA_TUI_BAD,
	INFRA_TUI_DIM,
};

struct infra_tui;

struct infra_tui *infra_tui_new(const struct infra_tui_col *cols, size_t ncols, struct infra_err *err);
/* cells: nrows * ncols strings, row-major; marks: one per row (may be NULL). */
int infra_tui_draw(struct infra_tui *t, const char *title, const char *status, const char *const *cells,
		   const enum infra_tui_mark *marks, size_t nrows);
int infra_tui_wait(struct infra_tui *t, double seconds);
void infra_tui_free(struct infra_tui *t);

#endif
