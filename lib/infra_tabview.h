/* infra_tabview.h - an ncurses viewer of several tables (tabs) with a selected row
 * and its detail text; for views of recorded state (infra_tui.h is the live,
 * single-table view).
 *
 * A view is a set of tabs; each tab is a table of strings with a header row and
 * a status per row (colours: ok green, warn yellow, bad red; none without colour
 * or with NO_COLOR).  The selected row's detail text is shown in full at the
 * bottom.  Keys: Tab / Right / Left or 1-9 switch tabs; Up/Down, j/k, PgUp/PgDn,
 * Home/End move; q or Esc quits.  Works from 80x24 up; narrower terminals
 * truncate columns.  Needs a terminal on stdin and stdout (-ENOTTY otherwise).
 *
 * Ownership: tables copy every string given to them; infra_tabview_table_free frees.
 */
#ifndef INFRA_TABVIEW_H
#define INFRA_TABVIEW_H

#include <stddef.h>

#include "infra_err.h"

enum infra_tabview_attr { INFRA_TABVIEW_NONE = 0, INFRA_TABVIEW_OK, INFRA_TABVIEW_WARN, INFRA_TABVIEW_BAD };

struct infra_tabview_table;

struct infra_tabview_table *infra_tabview_table_new(const char *title, size_t ncols, const char *const *headers);
/* Add a row of ncols cells (NULL cells print as ""); detail may be NULL. */
int infra_tabview_table_add(struct infra_tabview_table *t, int attr, const char *const *cells, const char *detail);
/* Text shown when the table has no rows. */
int infra_tabview_table_empty_text(struct infra_tabview_table *t, const char *text);
size_t infra_tabview_table_rows(const struct infra_tabview_table *t);
void infra_tabview_table_free(struct infra_tabview_table *t);

/* Run the viewer until the user quits.  title is the first line. */
int infra_tabview_run(const char *title, struct infra_tabview_table *const *tabs, size_t ntabs,
		  struct infra_err *err);

#endif
