#include "infra_tui.h"

#include <errno.h>
#include <ncurses.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "infra_report.h"

struct infra_tui {
	const struct infra_tui_col *cols;
	size_t ncols;
	size_t top;      /* first row shown */
	size_t nrows;    /* rows of the last draw */
	int color;
	/* the last frame, kept to redraw after scrolling or resizing */
	char *title, *status;
	char **cells;
	enum infra_tui_mark *marks;
};

struct infra_tui *infra_tui_new(const struct infra_tui_col *cols, size_t ncols, struct infra_err *err)
{
	struct infra_tui *t;
	const char *nc = getenv("NO_COLOR");

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		infra_err_set(err, -ENOTTY, "--tui needs a terminal");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		infra_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	t->cols = cols;
	t->ncols = ncols;
	if (!initscr()) {
		free(t);
		infra_err_set(err, -ENOTTY, "cannot start the terminal view (TERM?)");
		return NULL;
	}
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	if (has_colors() && !(nc && *nc)) {
		start_color();
		use_default_colors();
		init_pair(1, COLOR_GREEN, -1);
		init_pair(2, COLOR_RED, -1);
		init_pair(3, COLOR_BLUE, -1);
		t->color = 1;
	}
	return t;
}

static void forget(struct infra_tui *t)
{
	for (size_t i = 0; t->cells && i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->marks);
	free(t->title);
	free(t->status);
	t->cells = NULL;
	t->marks = NULL;
	t->title = t->status = NULL;
}

static void put_cell(int y, int x, int w, const char *s, int right)
{
	int len = (int)strlen(s);

	if (w <= 0)
		return;
	if (len > w)
		len = w;
	mvprintw(y, x + (right ? w - len : 0), "%.*s", len, s);
}

static void render(struct infra_tui *t)
{
	int h, w, x, y, body;

	getmaxyx(stdscr, h, w);
	erase();
	attron(A_BOLD);
	put_cell(0, 0, w, t->title ? t->title : "", 0);
	attroff(A_BOLD);
	attron(A_REVERSE);
	mvhline(1, 0, ' ', w);
	for (size_t c = 0, xx = 0; c < t->ncols; c++) {
		int cw = c + 1 == t->ncols ? w - (int)xx : t->cols[c].width;
		put_cell(1, (int)xx, cw, t->cols[c].title, t->cols[c].right);
		xx += (size_t)t->cols[c].width + 1;
	}
	attroff(A_REVERSE);
	body = h - 3;
	if (body < 1)
		body = 1;
	if (t->nrows <= (size_t)body)
		t->top = 0;
	else if (t->top > t->nrows - (size_t)body)
		t->top = t->nrows - (size_t)body;
	for (y = 0; y < body && t->top + (size_t)y < t->nrows; y++) {
		size_t r = t->top + (size_t)y;
		int attr = 0;
		if (t->color && t->marks)
			attr = t->marks[r] == INFRA_TUI_GOOD ? COLOR_PAIR(1)
			       : t->marks[r] == INFRA_TUI_BAD ? COLOR_PAIR(2) | A_BOLD
			       : t->marks[r] == INFRA_TUI_DIM ? COLOR_PAIR(3) : 0;
		else if (t->marks && t->marks[r] == INFRA_TUI_BAD)
			attr = A_BOLD;
		attron(attr);
		x = 0;
		for (size_t c = 0; c < t->ncols; c++) {
			int cw = c + 1 == t->ncols ? w - x : t->cols[c].width;
			put_cell(y + 2, x, cw, t->cells[r * t->ncols + c] ? t->cells[r * t->ncols + c] : "",
				 t->cols[c].right);
			x += t->cols[c].width + 1;
		}
		attroff(attr);
	}
	put_cell(h - 1, 0, w, t->status ? t->status : "", 0);
	refresh();
}

int infra_tui_draw(struct infra_tui *t, const char *title, const char *status, const char *const *cells,
		   const enum infra_tui_mark *marks, size_t nrows)
{
	forget(t);
	t->nrows = nrows;
	t->title = strdup(title ? title : "");
	t->status = strdup(status ? status : "");
	t->cells = calloc(nrows * t->ncols + 1, sizeof(char *));
	t->marks = calloc(nrows + 1, sizeof(*t->marks));
	if (!t->title || !t->status || !t->cells || !t->marks) {
		forget(t);
		t->nrows = 0;
		return -ENOMEM;
	}
	for (size_t i = 0; i < nrows * t->ncols; i++)
		if (cells[i] && !(t->cells[i] = strdup(cells[i])))
			return -ENOMEM;
	if (marks)
		memcpy(t->marks, marks, nrows * sizeof(*marks));
	render(t);
	return 0;
}

int infra_tui_wait(struct infra_tui *t, double seconds)
{
	double end = infra_now_mono() + seconds;
	int h, w, page;

	for (;;) {
		double left = end - infra_now_mono();
		int ch;
		if (left <= 0)
			return 0;
		timeout(left > 1 ? 1000 : (int)(left * 1000) + 1);
		ch = getch();
		getmaxyx(stdscr, h, w);
		(void)w;
		page = h - 3 > 1 ? h - 3 : 1;
		switch (ch) {
		case ERR:
			continue;
		case 'q': case 'Q': case 27: case 3:
			return 'q';
		case 'r': case 'R': case ' ':
			return 'r';
		case KEY_DOWN: case 'j':
			t->top++;
			break;
		case KEY_UP: case 'k':
			if (t->top)
				t->top--;
			break;
		case KEY_NPAGE:
			t->top += (size_t)page;
			break;
		case KEY_PPAGE:
			t->top = t->top > (size_t)page ? t->top - (size_t)page : 0;
			break;
		case KEY_HOME: case 'g':
			t->top = 0;
			break;
		case KEY_END: case 'G':
			t->top = t->nrows;
			break;
		case KEY_RESIZE:
		default:
			break;
		}
		render(t);
	}
}

void infra_tui_free(struct infra_tui *t)
{
	if (!t)
		return;
	forget(t);
	endwin();
	free(t);
}
