#include "infra_tabview.h"

#include <curses.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct row {
	char **cells;
	char *detail;
	int attr;
};

struct infra_tabview_table {
	char *title;
	size_t ncols;
	char **headers;
	struct row *rows;
	size_t nrows, alloc;
	char *empty;
	size_t sel, top;
};

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

struct infra_tabview_table *infra_tabview_table_new(const char *title, size_t ncols, const char *const *headers)
{
	struct infra_tabview_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->title = dup_or_empty(title);
	t->ncols = ncols;
	t->headers = calloc(ncols ? ncols : 1, sizeof(char *));
	if (!t->title || !t->headers) {
		infra_tabview_table_free(t);
		return NULL;
	}
	for (size_t i = 0; i < ncols; i++)
		if (!(t->headers[i] = dup_or_empty(headers ? headers[i] : NULL))) {
			infra_tabview_table_free(t);
			return NULL;
		}
	return t;
}

int infra_tabview_table_add(struct infra_tabview_table *t, int attr, const char *const *cells, const char *detail)
{
	struct row *r;

	if (t->nrows == t->alloc) {
		size_t na = t->alloc ? t->alloc * 2 : 32;
		struct row *nr = realloc(t->rows, na * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		t->rows = nr;
		t->alloc = na;
	}
	r = &t->rows[t->nrows];
	memset(r, 0, sizeof(*r));
	r->attr = attr;
	r->cells = calloc(t->ncols ? t->ncols : 1, sizeof(char *));
	if (!r->cells)
		return -ENOMEM;
	for (size_t i = 0; i < t->ncols; i++)
		if (!(r->cells[i] = dup_or_empty(cells ? cells[i] : NULL)))
			goto fail;
	if (detail && !(r->detail = strdup(detail)))
		goto fail;
	t->nrows++;
	return 0;
fail:
	for (size_t i = 0; i < t->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
	return -ENOMEM;
}

int infra_tabview_table_empty_text(struct infra_tabview_table *t, const char *text)
{
	free(t->empty);
	t->empty = strdup(text ? text : "");
	return t->empty ? 0 : -ENOMEM;
}

size_t infra_tabview_table_rows(const struct infra_tabview_table *t)
{
	return t->nrows;
}

void infra_tabview_table_free(struct infra_tabview_table *t)
{
	if (!t)
		return;
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++)
			free(t->rows[r].cells[i]);
		free(t->rows[r].cells);
		free(t->rows[r].detail);
	}
	for (size_t i = 0; t->headers && i < t->ncols; i++)
		free(t->headers[i]);
	free(t->headers);
	free(t->rows);
	free(t->title);
	free(t->empty);
	free(t);
}

/* column widths: the widest cell, the last column takes what is left */
static void widths(const struct infra_tabview_table *t, int cols, int *w)
{
	int used = 0;

	for (size_t c = 0; c < t->ncols; c++) {
		int m = (int)strlen(t->headers[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			int l = (int)strlen(t->rows[r].cells[c]);
			if (l > m)
				m = l;
		}
		if (m > 44)
			m = 44;
		w[c] = m;
		used += m + 1;
	}
	if (t->ncols && used > cols) { /* shrink the widest columns until it fits */
		while (used > cols) {
			size_t wi = 0;
			for (size_t c = 1; c < t->ncols; c++)
				if (w[c] > w[wi])
					wi = c;
			if (w[wi] <= 3)
				break;
			w[wi]--;
			used--;
		}
	}
}

static void put_clipped(int y, int x, const char *s, int width)
{
	if (width <= 0)
		return;
	mvaddnstr(y, x, s, width);
}

static void draw(const char *title, struct infra_tabview_table *const *tabs, size_t ntabs, size_t cur, int color)
{
	const struct infra_tabview_table *t = tabs[cur];
	int rows, cols, x = 0, body, *w;
	char buf[64];

	getmaxyx(stdscr, rows, cols);
	erase();
	attron(A_BOLD);
	put_clipped(0, 0, title, cols);
	attroff(A_BOLD);
	/* tabs */
	for (size_t i = 0; i < ntabs && x < cols; i++) {
		snprintf(buf, sizeof(buf), " %zu:%s ", i + 1, tabs[i]->title);
		if (i == cur)
			attron(A_REVERSE);
		put_clipped(1, x, buf, cols - x);
		if (i == cur)
			attroff(A_REVERSE);
		x += (int)strlen(buf) + 1;
	}
	body = rows - 6; /* title, tabs, header ... detail x2, keys */
	if (body < 1)
		body = 1;
	w = calloc(t->ncols ? t->ncols : 1, sizeof(int));
	if (!w)
		return;
	widths(t, cols, w);
	x = 0;
	attron(A_UNDERLINE);
	for (size_t c = 0; c < t->ncols && x < cols; c++) {
		put_clipped(2, x, t->headers[c], w[c] < cols - x ? w[c] : cols - x);
		x += w[c] + 1;
	}
	attroff(A_UNDERLINE);
	if (t->nrows == 0)
		put_clipped(3, 0, t->empty ? t->empty : "(nothing recorded)", cols);
	for (int i = 0; i < body && t->top + (size_t)i < t->nrows; i++) {
		const struct row *r = &t->rows[t->top + (size_t)i];
		int pair = color && r->attr ? r->attr : 0;
		int sel = t->top + (size_t)i == t->sel;
		if (sel)
			attron(A_REVERSE);
		if (pair)
			attron(COLOR_PAIR(pair));
		x = 0;
		if (sel)
			mvhline(3 + i, 0, ' ', cols);
		for (size_t c = 0; c < t->ncols && x < cols; c++) {
			put_clipped(3 + i, x, r->cells[c], w[c] < cols - x ? w[c] : cols - x);
			x += w[c] + 1;
		}
		if (pair)
			attroff(COLOR_PAIR(pair));
		if (sel)
			attroff(A_REVERSE);
	}
	if (t->nrows && t->rows[t->sel].detail) {
		const char *d = t->rows[t->sel].detail;
		size_t l = strlen(d);
		put_clipped(rows - 3, 0, d, cols);
		if ((int)l > cols)
			put_clipped(rows - 2, 0, d + cols, cols);
	}
	snprintf(buf, sizeof(buf), "%zu/%zu", t->nrows ? t->sel + 1 : 0, t->nrows);
	attron(A_DIM);
	put_clipped(rows - 1, 0, "q quit  Tab/1-9 view  Up/Down/PgUp/PgDn move", cols);
	attroff(A_DIM);
	if ((int)strlen(buf) < cols - 46)
		put_clipped(rows - 1, cols - (int)strlen(buf), buf, (int)strlen(buf));
	free(w);
	refresh();
}

static void move_sel(struct infra_tabview_table *t, long delta, int body)
{
	long s = (long)t->sel + delta;

	if (!t->nrows)
		return;
	if (s < 0)
		s = 0;
	if (s >= (long)t->nrows)
		s = (long)t->nrows - 1;
	t->sel = (size_t)s;
	if (t->sel < t->top)
		t->top = t->sel;
	if (body > 0 && t->sel >= t->top + (size_t)body)
		t->top = t->sel - (size_t)body + 1;
}

int infra_tabview_run(const char *title, struct infra_tabview_table *const *tabs, size_t ntabs,
		  struct infra_err *err)
{
	SCREEN *scr;
	size_t cur = 0;
	int color = 0, quit = 0;

	if (ntabs == 0)
		return infra_err_set(err, -EINVAL, "nothing to show");
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return infra_err_set(err, -ENOTTY, "--tui needs a terminal on stdin and stdout");
	setlocale(LC_CTYPE, "");
	scr = newterm(NULL, stdout, stdin);
	if (!scr)
		return infra_err_set(err, -ENOTTY, "cannot start the terminal view (TERM=%s)",
				     getenv("TERM") ? getenv("TERM") : "unset");
	set_term(scr);
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	set_escdelay(50);
	if (has_colors() && !getenv("NO_COLOR")) {
		start_color();
		use_default_colors();
		init_pair(INFRA_TABVIEW_OK, COLOR_GREEN, -1);
		init_pair(INFRA_TABVIEW_WARN, COLOR_YELLOW, -1);
		init_pair(INFRA_TABVIEW_BAD, COLOR_RED, -1);
		color = 1;
	}
	while (!quit) {
		int rows = LINES, body = rows - 6, ch;
		draw(title, tabs, ntabs, cur, color);
		ch = getch();
		switch (ch) {
		case 'q': case 'Q': case 27: case ERR:
			quit = 1;
			break;
		case '\t': case KEY_RIGHT: case 'l':
			cur = (cur + 1) % ntabs;
			break;
		case KEY_BTAB: case KEY_LEFT: case 'h':
			cur = (cur + ntabs - 1) % ntabs;
			break;
		case KEY_DOWN: case 'j':
			move_sel(tabs[cur], 1, body);
			break;
		case KEY_UP: case 'k':
			move_sel(tabs[cur], -1, body);
			break;
		case KEY_NPAGE: case ' ':
			move_sel(tabs[cur], body > 1 ? body - 1 : 1, body);
			break;
		case KEY_PPAGE:
			move_sel(tabs[cur], -(body > 1 ? body - 1 : 1), body);
			break;
		case KEY_HOME: case 'g':
			move_sel(tabs[cur], -(long)tabs[cur]->nrows, body);
			break;
		case KEY_END: case 'G':
			move_sel(tabs[cur], (long)tabs[cur]->nrows, body);
			break;
		case KEY_RESIZE:
			break;
		default:
			if (ch >= '1' && ch <= '9' && (size_t)(ch - '1') < ntabs)
				cur = (size_t)(ch - '1');
			break;
		}
	}
	endwin();
	delscreen(scr);
	return 0;
}
