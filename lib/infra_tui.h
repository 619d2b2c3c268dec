/* infra_tui.h - the ncurses view every --tui shares (katapulse-scrape's live
 * table, osmon-run's recorded state).
 *
 * A view shows one or more tables ("views", switched with Tab or 1..N); each is
 * a header row that never scrolls away, rows with a status mark (colour: good
 * green, warn yellow, bad red, dim blue; bold for bad without colour), one
 * selected row whose detail text is shown in full at the bottom, an optional
 * status line and a footer listing the keys that do something right now.
 *
 * Layout, screen row by row: title; the views (only when there are several);
 * header; rows; two detail lines; the status line (when given); the footer.
 *
 * Column widths come from the content and the terminal width:
 *  - every column is as wide as its widest cell or header;
 *  - when the table is wider than the screen, text columns shrink, the
 *    rightmost first, down to max(header, 10 characters); a shrunk cell ends in
 *    '~' (the detail line has the whole text);
 *  - numeric columns (INFRA_TUI_NUM, right-aligned) and key columns
 *    (INFRA_TUI_KEY) are never cut: a value such as "1006.4 MiB/2.0 GiB" is
 *    shown whole or not at all;
 *  - when that is still too wide, the first column stays and Left/Right scroll
 *    the others one column at a time; only whole columns are drawn (a text
 *    column at the right edge may be cut, with '~', to what is left).
 *
 * Keys: q, Q, Esc or ^C quit; Up/Down, j/k, PgUp/PgDn, Home/End (g/G) move the
 * selection; Left/Right (h/l) scroll columns; Tab, Shift-Tab and 1..N switch
 * views; r refreshes (live views only).  A resize redraws the whole screen.
 * Colour only when the terminal has it and NO_COLOR is unset or empty.  Needs a
 * terminal on stdin and stdout (-ENOTTY otherwise).
 *
 * Use:
 *     ui = infra_tui_new(live, &err);
 *     for (;;) { build tables; infra_tui_show(ui, title, status, tabs, n);
 *                key = infra_tui_wait(ui, seconds); free the tables after the
 *                next show; if (key == 'q') break; }
 *     infra_tui_free(ui);
 * or, for a view that does not change, infra_tui_run(title, tabs, n, &err).
 *
 * Ownership: tables copy every string given to them and are freed with
 * infra_tui_table_free; infra_tui_show borrows the tables until the next
 * infra_tui_show or infra_tui_free.  The selection (by the first cell's text)
 * and the scroll position of each view survive a new infra_tui_show.
 */
#ifndef INFRA_TUI_H
#define INFRA_TUI_H

#include <stddef.h>

#include "infra_err.h"

enum infra_tui_mark {
	INFRA_TUI_NORMAL = 0,
	INFRA_TUI_GOOD,
	INFRA_TUI_WARN,
	INFRA_TUI_BAD,
	INFRA_TUI_DIM,
};

/* column flags */
#define INFRA_TUI_NUM 1u /* right-aligned, never cut */
#define INFRA_TUI_KEY 2u /* left-aligned, never cut */

struct infra_tui_table;

struct infra_tui_table *infra_tui_table_new(const char *title, size_t ncols, const char *const *headers);
/* flags (INFRA_TUI_NUM, INFRA_TUI_KEY) of column col; -EINVAL past the last column */
int infra_tui_table_col(struct infra_tui_table *t, size_t col, unsigned flags);
/* Add a row of ncols cells (NULL cells print as ""); detail may be NULL. */
int infra_tui_table_add(struct infra_tui_table *t, enum infra_tui_mark mark, const char *const *cells,
			const char *detail);
/* Text shown when the table has no rows. */
int infra_tui_table_empty_text(struct infra_tui_table *t, const char *text);
size_t infra_tui_table_rows(const struct infra_tui_table *t);
void infra_tui_table_free(struct infra_tui_table *t);

struct infra_tui;

/* live: the caller refreshes on 'r' and on time-outs (the footer says "r refresh") */
struct infra_tui *infra_tui_new(int live, struct infra_err *err);
/* Replace what is shown and draw it.  status may be NULL. */
int infra_tui_show(struct infra_tui *ui, const char *title, const char *status,
		   struct infra_tui_table *const *tabs, size_t ntabs);
/* Handle keys for up to seconds (< 0: no limit).  Returns 'q' to quit, 'r' for
 * a refresh (live views only), 0 when the time is up. */
int infra_tui_wait(struct infra_tui *ui, double seconds);
void infra_tui_free(struct infra_tui *ui);

/* new + show + wait until q + free */
int infra_tui_run(const char *title, struct infra_tui_table *const *tabs, size_t ntabs, struct infra_err *err);

#endif
