#include "infra_tui.h"

#include <curses.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infra_report.h"

#define TEXT_MIN 10 /* a text column never shrinks below this (or its header) */

struct row {
	char **cells;
	char *detail;
	enum infra_tui_mark mark;
};

struct infra_tui_table {
	char *title;
	size_t ncols;
	char **headers;
	unsigned *flags;
	struct row *rows;
	size_t nrows, alloc;
	char *empty;
};

/* per view position: what survives a new infra_tui_show */
struct pos {
	size_t sel, top, left; /* left: first scrolled column (>= 1) */
	char *key;             /* first cell of the selected row */
};

struct infra_tui {
	SCREEN *scr;
	int live, color;
	char *title, *status;
	struct infra_tui_table *const *tabs;
	size_t ntabs, cur;
	struct pos *pos;
	size_t npos;
	int more_right; /* the last draw left columns off the right edge */
};

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* ---- tables ---- */

struct infra_tui_table *infra_tui_table_new(const char *title, size_t ncols, const char *const *headers)
{
	struct infra_tui_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->title = dup_or_empty(title);
	t->ncols = ncols;
	t->headers = calloc(ncols ? ncols : 1, sizeof(char *));
	t->flags = calloc(ncols ? ncols : 1, sizeof(unsigned));
	if (!t->title || !t->headers || !t->flags) {
		infra_tui_table_free(t);
		return NULL;
	}
	for (size_t i = 0; i < ncols; i++)
		if (!(t->headers[i] = dup_or_empty(headers ? headers[i] : NULL))) {
			infra_tui_table_free(t);
			return NULL;
		}
	return t;
}

int infra_tui_table_col(struct infra_tui_table *t, size_t col, unsigned flags)
{
	if (col >= t->ncols)
		return -EINVAL;
	t->flags[col] = flags;
	return 0;
}

int infra_tui_table_add(struct infra_tui_table *t, enum infra_tui_mark mark, const char *const *cells,
			const char *detail)
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
	r->mark = mark;
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

int infra_tui_table_empty_text(struct infra_tui_table *t, const char *text)
{
	free(t->empty);
	t->empty = strdup(text ? text : "");
	return t->empty ? 0 : -ENOMEM;
}

size_t infra_tui_table_rows(const struct infra_tui_table *t)
{
	return t->nrows;
}

void infra_tui_table_free(struct infra_tui_table *t)
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
	free(t->flags);
	free(t->rows);
	free(t->title);
	free(t->empty);
	free(t);
}

/* ---- layout ---- */

static int text_min(const struct infra_tui_table *t, size_t c, int natural)
{
	int h = (int)strlen(t->headers[c]), m = natural < TEXT_MIN ? natural : TEXT_MIN;

	if (t->flags[c])
		return natural;
	return h > m ? h : m;
}

/* w[c]: the column widths for a screen cols wide (see the header) */
static void widths(const struct infra_tui_table *t, int cols, int *w)
{
	int used = 0;

	for (size_t c = 0; c < t->ncols; c++) {
		int m = (int)strlen(t->headers[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			int l = (int)strlen(t->rows[r].cells[c]);
			if (l > m)
				m = l;
		}
		w[c] = m;
		used += m + (c ? 1 : 0);
	}
	for (size_t c = t->ncols; c-- > 0 && used > cols;) {
		int lo = text_min(t, c, w[c]), cut = used - cols;
		if (w[c] - lo < cut)
			cut = w[c] - lo;
		w[c] -= cut;
		used -= cut;
	}
}

/* ---- drawing ---- */

static void put(int y, int x, int width, const char *s, int right)
{
	int len = (int)strlen(s), maxx = getmaxx(stdscr);

	if (width > maxx - x)
		width = maxx - x;
	if (width <= 0 || y < 0 || y >= getmaxy(stdscr))
		return;
	if (len > width) { /* only text gets here: cut it visibly */
		mvaddnstr(y, x, s, width - 1);
		mvaddch(y, x + width - 1, '~');
		return;
	}
	mvaddnstr(y, x + (right ? width - len : 0), s, len);
}

static attr_t mark_attr(const struct infra_tui *ui, enum infra_tui_mark m)
{
	if (!ui->color)
		return m == INFRA_TUI_BAD ? A_BOLD : A_NORMAL;
	switch (m) {
	case INFRA_TUI_GOOD: return COLOR_PAIR(1);
	case INFRA_TUI_WARN: return COLOR_PAIR(2);
	case INFRA_TUI_BAD: return COLOR_PAIR(3) | A_BOLD;
	case INFRA_TUI_DIM: return COLOR_PAIR(4);
	default: return A_NORMAL;
	}
}

/* the columns drawn (the first, then left, left + 1, ...): index, x and width
 * of each; returns how many; *more: columns are left off the right edge */
static size_t visible(const struct infra_tui_table *t, const int *w, size_t left, int cols, size_t *vc, int *vx,
		      int *vw, int *more)
{
	size_t n = 0;
	int x = 0;

	*more = 0;
	for (size_t c = 0; c < t->ncols; c = c ? c + 1 : left) {
		int cw = w[c];
		if (n && x >= cols) {
			*more = 1;
			break;
		}
		if (x + cw > cols) {
			/* numbers and keys whole or not at all; text is cut to what is left */
			if (n && (t->flags[c] || cols - x < 4)) {
				*more = 1;
				break;
			}
			cw = cols - x;
			*more = 1;
		}
		vc[n] = c;
		vx[n] = x;
		vw[n] = cw;
		n++;
		x += cw + 1;
	}
	return n;
}

/* rows of the body for the current screen */
static int body_rows(const struct infra_tui *ui, int *first)
{
	int h = getmaxy(stdscr), top = ui->ntabs > 1 ? 3 : 2;
	int bottom = h - 1 - 2 - (ui->status && *ui->status ? 1 : 0);

	*first = top;
	return bottom - top > 1 ? bottom - top : 1;
}

static void footer(struct infra_tui *ui, const struct infra_tui_table *t, int y, int cols)
{
	char keys[160], where[48];
	const struct pos *p = &ui->pos[ui->cur];
	int n;

	n = snprintf(keys, sizeof(keys), "q quit%s", ui->live ? "  r refresh" : "");
	if (ui->ntabs > 1 && n > 0 && (size_t)n < sizeof(keys))
		n += ui->ntabs <= 9 ? snprintf(keys + n, sizeof(keys) - (size_t)n, "  Tab/1-%zu view", ui->ntabs)
				    : snprintf(keys + n, sizeof(keys) - (size_t)n, "  Tab view");
	if (n > 0 && (size_t)n < sizeof(keys) && t->nrows > 1)
		n += snprintf(keys + n, sizeof(keys) - (size_t)n, "  Up/Down select");
	if (n > 0 && (size_t)n < sizeof(keys) && (ui->more_right || p->left > 1))
		snprintf(keys + n, sizeof(keys) - (size_t)n, "  Left/Right columns");
	snprintf(where, sizeof(where), "%zu/%zu", t->nrows ? p->sel + 1 : 0, t->nrows);
	attron(A_DIM);
	put(y, 0, cols, keys, 0);
	attroff(A_DIM);
	if ((int)(strlen(keys) + strlen(where)) + 2 <= cols)
		put(y, cols - (int)strlen(where), (int)strlen(where), where, 0);
}

static void render(struct infra_tui *ui)
{
	const struct infra_tui_table *t = ui->tabs[ui->cur];
	struct pos *p = &ui->pos[ui->cur];
	int rows, cols, x = 0, first, body, *w, *vx, *vw;
	size_t *vc, nv;

	getmaxyx(stdscr, rows, cols);
	erase();
	attron(A_BOLD);
	put(0, 0, cols, ui->title, 0);
	attroff(A_BOLD);
	for (size_t i = 0; ui->ntabs > 1 && i < ui->ntabs && x < cols; i++) {
		char buf[96];
		snprintf(buf, sizeof(buf), " %zu:%s ", i + 1, ui->tabs[i]->title);
		if (i == ui->cur)
			attron(A_REVERSE);
		put(1, x, cols - x, buf, 0);
		if (i == ui->cur)
			attroff(A_REVERSE);
		x += (int)strlen(buf) + 1;
	}
	body = body_rows(ui, &first);
	w = calloc(t->ncols + 1, sizeof(int));
	vx = calloc(t->ncols + 1, sizeof(int));
	vw = calloc(t->ncols + 1, sizeof(int));
	vc = calloc(t->ncols + 1, sizeof(size_t));
	if (!w || !vx || !vw || !vc)
		goto out;
	widths(t, cols, w);
	nv = visible(t, w, p->left, cols, vc, vx, vw, &ui->more_right);
	attron(A_BOLD | A_UNDERLINE);
	for (size_t i = 0; i < nv; i++)
		put(first - 1, vx[i], vw[i], t->headers[vc[i]], t->flags[vc[i]] & INFRA_TUI_NUM);
	attroff(A_BOLD | A_UNDERLINE);
	if (t->nrows == 0)
		put(first, 0, cols, t->empty ? t->empty : "(nothing recorded)", 0);
	if (p->sel >= t->nrows)
		p->sel = t->nrows ? t->nrows - 1 : 0;
	if (p->sel < p->top)
		p->top = p->sel;
	if (p->sel >= p->top + (size_t)body)
		p->top = p->sel - (size_t)body + 1;
	for (int i = 0; i < body && p->top + (size_t)i < t->nrows; i++) {
		const struct row *r = &t->rows[p->top + (size_t)i];
		attr_t a = mark_attr(ui, r->mark) | (p->top + (size_t)i == p->sel ? A_REVERSE : 0);
		attron(a);
		if (a & A_REVERSE)
			mvhline(first + i, 0, ' ', cols);
		for (size_t k = 0; k < nv; k++)
			put(first + i, vx[k], vw[k], r->cells[vc[k]], t->flags[vc[k]] & INFRA_TUI_NUM);
		attroff(a);
	}
	if (t->nrows && t->rows[p->sel].detail) {
		const char *d = t->rows[p->sel].detail;
		int y = first + body;
		/* two lines: the second continues the first and is cut ('~') if still too long */
		mvaddnstr(y, 0, d, cols);
		if ((int)strlen(d) > cols)
			put(y + 1, 0, cols, d + cols, 0);
	}
	if (ui->status && *ui->status)
		put(rows - 2, 0, cols, ui->status, 0);
	footer(ui, t, rows - 1, cols);
out:
	free(w);
	free(vx);
	free(vw);
	free(vc);
	refresh();
}

/* ---- the terminal ---- */

struct infra_tui *infra_tui_new(int live, struct infra_err *err)
{
	struct infra_tui *ui;
	const char *nc = getenv("NO_COLOR");

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		infra_err_set(err, -ENOTTY, "--tui needs a terminal on stdin and stdout");
		return NULL;
	}
	ui = calloc(1, sizeof(*ui));
	if (!ui) {
		infra_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	setlocale(LC_CTYPE, "");
	ui->scr = newterm(NULL, stdout, stdin);
	if (!ui->scr) {
		infra_err_set(err, -ENOTTY, "cannot start the terminal view (TERM=%s)",
			      getenv("TERM") ? getenv("TERM") : "unset");
		free(ui);
		return NULL;
	}
	set_term(ui->scr);
	ui->live = live;
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	set_escdelay(50);
	if (has_colors() && !(nc && *nc)) {
		start_color();
		use_default_colors();
		init_pair(1, COLOR_GREEN, -1);
		init_pair(2, COLOR_YELLOW, -1);
		init_pair(3, COLOR_RED, -1);
		init_pair(4, COLOR_BLUE, -1);
		ui->color = 1;
	}
	return ui;
}

static const char *sel_key(const struct infra_tui_table *t, size_t sel)
{
	return sel < t->nrows && t->ncols ? t->rows[sel].cells[0] : NULL;
}

int infra_tui_show(struct infra_tui *ui, const char *title, const char *status,
		   struct infra_tui_table *const *tabs, size_t ntabs)
{
	char *nt = dup_or_empty(title), *ns = dup_or_empty(status);

	if (!nt || !ns || !ntabs) {
		free(nt);
		free(ns);
		return ntabs ? -ENOMEM : -EINVAL;
	}
	if (ntabs > ui->npos) {
		struct pos *np = realloc(ui->pos, ntabs * sizeof(*np));
		if (!np) {
			free(nt);
			free(ns);
			return -ENOMEM;
		}
		memset(np + ui->npos, 0, (ntabs - ui->npos) * sizeof(*np));
		for (size_t i = ui->npos; i < ntabs; i++)
			np[i].left = 1;
		ui->pos = np;
		ui->npos = ntabs;
	}
	/* keep the selection on the same row (by its first cell) */
	for (size_t i = 0; i < ntabs; i++) {
		struct pos *p = &ui->pos[i];
		const char *k = ui->tabs && i < ui->ntabs ? sel_key(ui->tabs[i], p->sel) : NULL;
		if (k) {
			free(p->key);
			p->key = strdup(k);
		}
		for (size_t r = 0; p->key && r < tabs[i]->nrows; r++)
			if (tabs[i]->ncols && !strcmp(tabs[i]->rows[r].cells[0], p->key)) {
				p->sel = r;
				break;
			}
	}
	free(ui->title);
	free(ui->status);
	ui->title = nt;
	ui->status = ns;
	ui->tabs = tabs;
	ui->ntabs = ntabs;
	if (ui->cur >= ntabs)
		ui->cur = 0;
	render(ui);
	return 0;
}

static void move_sel(struct infra_tui *ui, long delta)
{
	const struct infra_tui_table *t = ui->tabs[ui->cur];
	struct pos *p = &ui->pos[ui->cur];
	long s = (long)p->sel + delta;

	if (!t->nrows)
		return;
	if (s < 0)
		s = 0;
	if (s >= (long)t->nrows)
		s = (long)t->nrows - 1;
	p->sel = (size_t)s;
}

int infra_tui_wait(struct infra_tui *ui, double seconds)
{
	double end = infra_now_mono() + seconds;
	int dead = 0; /* getch() failing at once, again and again: the terminal is gone */

	if (!ui->tabs)
		return 'q';
	for (;;) {
		double left = end - infra_now_mono(), t0;
		int first, page = body_rows(ui, &first), ch, ms;
		struct pos *p = &ui->pos[ui->cur];

		if (seconds >= 0 && left <= 0)
			return 0;
		ms = seconds < 0 || left > 1 ? 1000 : (int)(left * 1000) + 1;
		timeout(ms);
		t0 = infra_now_mono();
		ch = getch();
		switch (ch) {
		case ERR:
			if (ms >= 100 && infra_now_mono() - t0 < 0.01) {
				if (++dead >= 50)
					return 'q';
			} else {
				dead = 0;
			}
			continue;
		case 'q': case 'Q': case 27: case 3:
			return 'q';
		case 'r': case 'R':
			if (ui->live)
				return 'r';
			break;
		case '\t':
			ui->cur = (ui->cur + 1) % ui->ntabs;
			break;
		case KEY_BTAB:
			ui->cur = (ui->cur + ui->ntabs - 1) % ui->ntabs;
			break;
		case KEY_RIGHT: case 'l':
			if (ui->more_right)
				p->left++;
			break;
		case KEY_LEFT: case 'h':
			if (p->left > 1)
				p->left--;
			break;
		case KEY_DOWN: case 'j':
			move_sel(ui, 1);
			break;
		case KEY_UP: case 'k':
			move_sel(ui, -1);
			break;
		case KEY_NPAGE: case ' ':
			move_sel(ui, page > 1 ? page - 1 : 1);
			break;
		case KEY_PPAGE:
			move_sel(ui, -(page > 1 ? page - 1 : 1));
			break;
		case KEY_HOME: case 'g':
			move_sel(ui, -(long)ui->tabs[ui->cur]->nrows);
			break;
		case KEY_END: case 'G':
			move_sel(ui, (long)ui->tabs[ui->cur]->nrows);
			break;
		case KEY_RESIZE:
			break;
		default:
			if (ch >= '1' && ch <= '9' && (size_t)(ch - '1') < ui->ntabs)
				ui->cur = (size_t)(ch - '1');
			break;
		}
		render(ui);
	}
}

void infra_tui_free(struct infra_tui *ui)
{
	if (!ui)
		return;
	endwin();
	delscreen(ui->scr);
	for (size_t i = 0; i < ui->npos; i++)
		free(ui->pos[i].key);
	free(ui->pos);
	free(ui->title);
	free(ui->status);
	free(ui);
}

int infra_tui_run(const char *title, struct infra_tui_table *const *tabs, size_t ntabs, struct infra_err *err)
{
	struct infra_tui *ui;
	int rc;

	if (ntabs == 0)
		return infra_err_set(err, -EINVAL, "nothing to show");
	ui = infra_tui_new(0, err);
	if (!ui)
		return err->code ? err->code : -ENOTTY;
	rc = infra_tui_show(ui, title, NULL, tabs, ntabs);
	if (rc)
		infra_err_set(err, rc, "out of memory");
	while (!rc && infra_tui_wait(ui, -1) != 'q')
		;
	infra_tui_free(ui);
	return rc;
}
