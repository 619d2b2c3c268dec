/* infra_prom.c - Prometheus text exposition format 0.0.4: writer and streaming parser.
 *
 * See infra_prom.h for the contract.  Layout of this file:
 *   1. shared helpers (C locale, hashing, UTF-8, Go-compatible number syntax)
 *   2. value formatting
 *   3. writer: interned strings, families, series store, dedup table, render
 *   4. parser: line splitter over chunks, in-place line parser, family state
 */
#include "infra_prom.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* 1. shared helpers                                                          */
/* ------------------------------------------------------------------------ */

static pthread_once_t infra_prom_locale_once = PTHREAD_ONCE_INIT;
static locale_t infra_prom_c_locale_obj;

static void infra_prom_locale_init(void)
{
	infra_prom_c_locale_obj = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static locale_t c_locale(void)
{
	pthread_once(&infra_prom_locale_once, infra_prom_locale_init);
	return infra_prom_c_locale_obj;
}

/* Character classes: bit 1 metric-name start, 2 metric-name continuation,
 * 4 label-name start, 8 label-name continuation, 16 blank (space/tab). */
enum { CL_MS = 1, CL_MC = 2, CL_LS = 4, CL_LC = 8, CL_BL = 16 };
static unsigned char cls[256];
static pthread_once_t cls_once = PTHREAD_ONCE_INIT;

static void cls_init(void)
{
	int c;

	for (c = 0; c < 256; c++) {
		unsigned char v = 0;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
			v |= CL_MS | CL_MC | CL_LS | CL_LC;
		if (c >= '0' && c <= '9')
			v |= CL_MC | CL_LC;
		if (c == ':')
			v |= CL_MS | CL_MC;
		if (c == ' ' || c == '\t')
			v |= CL_BL;
		cls[c] = v;
	}
}

static void classes(void)
{
	pthread_once(&cls_once, cls_init);
}

#define IS(c, m) (cls[(unsigned char)(c)] & (m))

static int valid_metric_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !IS(s[0], CL_MS))
		return 0;
	for (i = 1; i < n; i++)
		if (!IS(s[i], CL_MC))
			return 0;
	return 1;
}

static int valid_label_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !IS(s[0], CL_LS))
		return 0;
	for (i = 1; i < n; i++)
		if (!IS(s[i], CL_LC))
			return 0;
	return 1;
}

static inline uint64_t hmix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t hash_bytes(const void *data, size_t n, uint64_t seed)
{
	const unsigned char *s = data;
	uint64_t h = seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15ULL);
	uint64_t w;

	while (n >= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
		s += 8;
		n -= 8;
	}
	w = 0;
	if (n)
		memcpy(&w, s, n);
	h = (h ^ w) * 0x100000001b3ULL;
	return hmix(h);
}

/* Go's utf8.ValidString: rejects overlong forms, surrogates, > U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c;

		while (i + 8 <= n) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			if (i + 1 >= n || (s[i + 1] & 0xc0) != 0x80)
				return 0;
			i += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			unsigned char lo = 0x80, hi = 0xbf;

			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
			if (i + 2 >= n || s[i + 1] < lo || s[i + 1] > hi ||
			    (s[i + 2] & 0xc0) != 0x80)
				return 0;
			i += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			unsigned char lo = 0x80, hi = 0xbf;

			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
			if (i + 3 >= n || s[i + 1] < lo || s[i + 1] > hi ||
			    (s[i + 2] & 0xc0) != 0x80 || (s[i + 3] & 0xc0) != 0x80)
				return 0;
			i += 4;
		} else {
			return 0;
		}
	}
	return 1;
}

static int ci_eq(const char *a, const char *lower, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)lower[i])
			return 0;
	}
	return 1;
}

static const double pow10_tab[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

#ifdef __SIZEOF_INT128__
typedef unsigned __int128 u128;

static int bitlen128(u128 x)
{
	uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;

	if (hi)
		return 128 - __builtin_clzll(hi);
	return lo ? 64 - __builtin_clzll(lo) : 0;
}

/* x * 2^e2 rounded to the nearest double (ties to even); sticky says that the
 * exact value is a little more than x * 2^e2.  Only for results in the normal
 * range. */
static double round128(u128 x, int sticky, int e2)
{
	int bl = bitlen128(x), shift;
	uint64_t mant;
	u128 rem, half;

	if (bl <= 53)
		return ldexp((double)(uint64_t)x, e2);
	shift = bl - 53;
	mant = (uint64_t)(x >> shift);
	rem = x & (((u128)1 << shift) - 1);
	half = (u128)1 << (shift - 1);
	if (rem > half || (rem == half && (sticky || (mant & 1)))) {
		mant++;
		if (mant == (1ULL << 53)) {
			mant >>= 1;
			shift++;
		}
	}
	return ldexp((double)mant, e2 + shift);
}

static const uint64_t pow10_u64[20] = {
	1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
	100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
	10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
	100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL,
};

/* mant * 10^e exactly rounded, for mant < 2^64 and -22 <= e <= 19 (e.g. the
 * 17 significant digits of %.17g, beyond the 2^53 of the Clinger path). */
static double scale10_exact(uint64_t mant, long e)
{
	u128 d, n;
	int s;

	if (e >= 0)
		return round128((u128)mant * pow10_u64[e], 0, 0);
	/* divide by 10^-e: put mant's top bit at bit 127, the quotient keeps >= 54 bits */
	if (-e <= 19)
		d = pow10_u64[-e];
	else
		d = (u128)pow10_u64[19] * pow10_u64[-e - 19];
	s = 128 - bitlen128(mant);
	n = (u128)mant << s;
	return round128(n / d, n % d != 0, -s);
}
#endif

/* Parse a float in Go strconv.ParseFloat syntax as restricted by expfmt (no
 * hex, no '_', no 'p'): [+-]digits[.digits][(e|E)[+-]digits], [+-]inf,
 * [+-]infinity, nan (any case, no sign).  Overflow to +-Inf is an error (as
 * ParseFloat's ErrRange); underflow gives 0 or a subnormal. */
static int parse_float(const char *s, size_t n, double *out)
{
	size_t i = 0, ndig = 0, nsig = 0;
	int neg = 0, dexp = 0, exact = 1, seen_dot = 0;
	uint64_t mant = 0;
	long e = 0;
	char tmp[128], *buf, *end;
	double v;

	if (n == 0)
		return -1;
	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		i = 1;
	}
	if (i < n && (s[i] == 'i' || s[i] == 'I' || s[i] == 'n' || s[i] == 'N')) {
		size_t m = n - i;

		if ((m == 3 && ci_eq(s + i, "inf", 3)) || (m == 8 && ci_eq(s + i, "infinity", 8))) {
			*out = neg ? -HUGE_VAL : HUGE_VAL;
			return 0;
		}
		if (i == 0 && m == 3 && ci_eq(s, "nan", 3)) {
			*out = NAN;
			return 0;
		}
		return -1;
	}
	for (; i < n; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9') {
			ndig++;
			if (mant == 0 && c == '0') {
				if (seen_dot)
					dexp--;
				continue;
			}
			if (nsig < 19) {
				mant = mant * 10 + (uint64_t)(c - '0');
				nsig++;
				if (seen_dot)
					dexp--;
			} else {
				if (c != '0')
					exact = 0;
				if (!seen_dot)
					dexp++;
			}
		} else if (c == '.' && !seen_dot) {
			seen_dot = 1;
		} else {
			break;
		}
	}
	if (ndig == 0)
		return -1;
	if (i < n) {
		int eneg = 0;
		size_t ed = 0;

		if (s[i] != 'e' && s[i] != 'E')
			return -1;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-')) {
			eneg = s[i] == '-';
			i++;
		}
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, ed++)
			if (e < 100000)
				e = e * 10 + (s[i] - '0');
		if (ed == 0 || i < n)
			return -1;
		if (eneg)
			e = -e;
	}
	e += dexp;
	if (exact && mant < (1ULL << 53)) {
		if (mant == 0) {
			*out = neg ? -0.0 : 0.0;
			return 0;
		}
		if (e >= 0 && e <= 22) {
			v = (double)mant * pow10_tab[e];
			*out = neg ? -v : v;
			return 0;
		}
		if (e < 0 && e >= -22) {
			v = (double)mant / pow10_tab[-e];
			*out = neg ? -v : v;
			return 0;
		}
	}
#ifdef __SIZEOF_INT128__
	if (exact && mant && e >= -22 && e <= 19) {
		v = scale10_exact(mant, e);
		*out = neg ? -v : v;
		return 0;
	}
#endif
	/* slow path: the syntax is known good, strtod does the rounding */
	buf = n < sizeof(tmp) ? tmp : malloc(n + 1);
	if (!buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	v = strtod_l(buf, &end, c_locale());
	i = (size_t)(end - buf);
	if (buf != tmp)
		free(buf);
	if (i != n || isinf(v))
		return -1;
	*out = v;
	return 0;
}

/* Go strconv.ParseInt(s, 10, 64). */
static int parse_int64(const char *s, size_t n, int64_t *out)
{
	size_t i = 0;
	uint64_t v = 0, lim;
	int neg = 0;

	if (n && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == n)
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9)
			return -1;
		if (v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* 2. value formatting                                                        */
/* ------------------------------------------------------------------------ */

static size_t fmt_uint(uint64_t u, char *buf)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

int infra_prom_parse_float(const char *s, size_t n, double *out)
{
	return s && out ? parse_float(s, n, out) : -1;
}

/* Caller guarantees size >= 32 and that the thread's locale is C for %g and strtod. */
static size_t fmt_value_c(double v, char *buf, size_t size)
{
	int n;

	if (isnan(v)) {
		memcpy(buf, "NaN", 4);
		return 3;
	}
	if (isinf(v)) {
		memcpy(buf, v > 0 ? "+Inf" : "-Inf", 5);
		return 4;
	}
	if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		size_t k = 0;
		int64_t iv = (int64_t)v;

		if (iv < 0) {
			buf[k++] = '-';
			k += fmt_uint((uint64_t)-iv, buf + k);
		} else {
			k += fmt_uint((uint64_t)iv, buf + k);
		}
		buf[k] = '\0';
		return k;
	}
	/* the shortest text that reads back as v: the correctly rounded 15-digit form is
	 * the shortest whenever any form of <= 15 digits reads back (then 16, then 17) */
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, size, "%.*g", prec, v);
		if (n < 0)
			return 0;
		if (prec == 17 || strtod(buf, NULL) == v)
			break;
	}
	return (size_t)n;
}

size_t infra_prom_format_value(double v, char *buf, size_t size)
{
	char tmp[40];
	locale_t old;
	size_t n;

	old = uselocale(c_locale());
	n = fmt_value_c(v, tmp, sizeof(tmp));
	uselocale(old);
	if (!buf || size == 0)
		return n;
	if (n >= size)
		n = size - 1;
	memcpy(buf, tmp, n);
	buf[n] = '\0';
	return n;
}

static const char *const type_names[] = {
	"untyped", "counter", "gauge", "histogram", "summary",
};

const char *infra_prom_type_name(enum infra_prom_type t)
{
	if ((unsigned)t < sizeof(type_names) / sizeof(type_names[0]))
		return type_names[t];
	return "untyped";
}

int infra_prom_type_parse(const char *s, size_t len, enum infra_prom_type *out)
{
	unsigned i;

	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (strlen(type_names[i]) == len && ci_eq(s, type_names[i], len)) {
			if (out)
				*out = (enum infra_prom_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Shorten a token for an error message: printable ASCII kept, others \xNN. */
static void token_excerpt(const char *s, size_t n, char *out, size_t size)
{
	size_t i, k = 0;

	for (i = 0; i < n && k + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\'') {
			out[k++] = (char)c;
		} else {
			snprintf(out + k, size - k, "\\x%02x", c);
			k += 4;
		}
		if (k >= 60) {
			if (i + 1 < n && k + 4 < size) {
				memcpy(out + k, "...", 3);
				k += 3;
			}
			break;
		}
	}
	out[k] = '\0';
}

/* ------------------------------------------------------------------------ */
/* 3. writer                                                                  */
/* ------------------------------------------------------------------------ */

#define NO_ID UINT32_MAX
#define MAX_LABELS 1024

/* Arena: strings live in large blocks, never moved. */
struct arena_blk {
	struct arena_blk *next;
	size_t used, cap;
	char data[];
};

struct arena {
	struct arena_blk *head;
	size_t next; /* size of the next block: 4 KiB doubling to 1 MiB */
};

static char *arena_alloc(struct arena *a, size_t n)
{
	struct arena_blk *b = a->head;

	if (!b || b->cap - b->used < n) {
		size_t cap;

		if (a->next < 4096)
			a->next = 4096;
		cap = a->next - sizeof(*b);
		if (a->next < ((size_t)1 << 20))
			a->next *= 2;
		if (n > cap / 4) {
			/* a big string gets a block of its own, kept behind the current one */
			b = malloc(sizeof(*b) + n);
			if (!b)
				return NULL;
			b->cap = b->used = n;
			if (a->head) {
				b->next = a->head->next;
				a->head->next = b;
			} else {
				b->next = NULL;
				a->head = b;
			}
			return b->data;
		}
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->cap = cap;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	b->used += n;
	return b->data + b->used - n;
}

static void arena_free(struct arena *a)
{
	struct arena_blk *b = a->head, *n;

	for (; b; b = n) {
		n = b->next;
		free(b);
	}
	a->head = NULL;
}

enum { SF_ESC = 1, SF_UTF8 = 2 };

struct str_ent {
	const char *s;
	uint32_t len;
	uint32_t fam;  /* family index + 1 whose name this is, 0 none */
	uint32_t flags;
	uint32_t hash;
};

struct slot {
	uint32_t hash;
	uint32_t id1; /* id + 1, 0 = empty */
};

struct kpair {
	uint32_t name, value;
};

enum { K_PLAIN = 0, K_BUCKET = 1, K_SUM = 2, K_COUNT = 3 };

struct series {
	double value;
	uint32_t name;  /* interned sample name */
	uint32_t fam;
	uint32_t lab;   /* index into label pool */
	uint16_t nlab;  /* schema values stored (trailing "" trimmed) */
	uint8_t kind;
	uint8_t special; /* 1: one extra pool entry (le/quantile value id) after nlab */
};

struct family {
	uint32_t name;
	uint32_t help; /* NO_ID = none */
	uint8_t type;
	uint8_t declared;
	uint8_t schema_set;
	uint32_t *schema; /* label name ids, first-seen order */
	uint32_t nschema, cschema;
	uint32_t nseries;
};

#define SER_SHIFT 16
#define SER_BLK (1u << SER_SHIFT)
#define LAB_SHIFT 20
#define LAB_BLK (1u << LAB_SHIFT)

struct infra_prom {
	unsigned flags;
	struct arena arena;
	/* interned strings */
	struct str_ent *str;
	uint32_t nstr, cstr;
	struct slot *sslots;
	uint32_t smask;
	/* families */
	struct family *fam;
	uint32_t nfam, cfam;
	/* series */
	struct series **sblk;
	uint32_t nser, nsblk;
	/* label pool */
	uint32_t **lblk;
	uint32_t nlblk, lused; /* lused: entries used in the last block */
	/* dedup */
	struct slot *dslots;
	uint32_t dmask;
	/* well-known string ids */
	uint32_t id_le, id_quantile;
	/* scratch for infra_prom_add: 4 label arrays and 2 keys of scr_cap entries */
	uint32_t *scr;
	struct kpair *key;
	uint32_t scr_cap;
};

static inline struct series *ser(const struct infra_prom *p, uint32_t i)
{
	return &p->sblk[i >> SER_SHIFT][i & (SER_BLK - 1)];
}

static inline uint32_t *labp(const struct infra_prom *p, uint32_t i)
{
	return &p->lblk[i >> LAB_SHIFT][i & (LAB_BLK - 1)];
}

static uint32_t str_find(const struct infra_prom *p, const char *s, size_t n, uint32_t h)
{
	uint32_t i = h & p->smask;

	for (;; i = (i + 1) & p->smask) {
		const struct slot *sl = &p->sslots[i];
		const struct str_ent *e;

		if (!sl->id1)
			return NO_ID;
		if (sl->hash != h)
			continue;
		e = &p->str[sl->id1 - 1];
		if (e->len == n && memcmp(e->s, s, n) == 0)
			return sl->id1 - 1;
	}
}

static int str_grow(struct infra_prom *p)
{
	uint32_t ncap = (p->smask + 1) * 2, i, j;
	struct slot *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (i = 0; i <= p->smask; i++) {
		if (!p->sslots[i].id1)
			continue;
		for (j = p->sslots[i].hash & (ncap - 1); ns[j].id1; j = (j + 1) & (ncap - 1))
			;
		ns[j] = p->sslots[i];
	}
	free(p->sslots);
	p->sslots = ns;
	p->smask = ncap - 1;
	return 0;
}

static uint32_t str_hash(const char *s, size_t n)
{
	return (uint32_t)hash_bytes(s, n, 0x5bd1e995);
}

/* Intern s[0..n); returns the id or NO_ID on allocation failure. */
static uint32_t str_intern(struct infra_prom *p, const char *s, size_t n)
{
	uint32_t h = str_hash(s, n), id, i;
	struct str_ent *e;
	char *copy;
	size_t k;

	id = str_find(p, s, n, h);
	if (id != NO_ID)
		return id;
	if (n >= UINT32_MAX)
		return NO_ID;
	if ((uint64_t)(p->nstr + 1) * 4 > (uint64_t)(p->smask + 1) * 3 && str_grow(p))
		return NO_ID;
	if (p->nstr == p->cstr) {
		uint32_t nc = p->cstr ? p->cstr * 2 : 256;
		struct str_ent *ne = realloc(p->str, (size_t)nc * sizeof(*ne));

		if (!ne)
			return NO_ID;
		p->str = ne;
		p->cstr = nc;
	}
	copy = arena_alloc(&p->arena, n + 1);
	if (!copy)
		return NO_ID;
	if (n)
		memcpy(copy, s, n);
	copy[n] = '\0';
	id = p->nstr++;
	e = &p->str[id];
	e->s = copy;
	e->len = (uint32_t)n;
	e->fam = 0;
	e->hash = h;
	e->flags = utf8_valid((const unsigned char *)s, n) ? SF_UTF8 : 0;
	for (k = 0; k < n; k++)
		if (s[k] == '\\' || s[k] == '"' || s[k] == '\n') {
			e->flags |= SF_ESC;
			break;
		}
	for (i = h & p->smask; p->sslots[i].id1; i = (i + 1) & p->smask)
		;
	p->sslots[i].hash = h;
	p->sslots[i].id1 = id + 1;
	return id;
}

struct infra_prom *infra_prom_new(unsigned flags)
{
	struct infra_prom *p = calloc(1, sizeof(*p));

	classes();
	if (!p)
		return NULL;
	p->flags = flags;
	p->smask = 255;
	p->sslots = calloc(p->smask + 1, sizeof(*p->sslots));
	p->dmask = 255;
	p->dslots = calloc(p->dmask + 1, sizeof(*p->dslots));
	if (!p->sslots || !p->dslots)
		goto fail;
	/* id 0 is always the empty string */
	if (str_intern(p, "", 0) != 0)
		goto fail;
	p->id_le = str_intern(p, "le", 2);
	p->id_quantile = str_intern(p, "quantile", 8);
	if (p->id_le == NO_ID || p->id_quantile == NO_ID)
		goto fail;
	return p;
fail:
	infra_prom_free(p);
	return NULL;
}

void infra_prom_free(struct infra_prom *p)
{
	uint32_t i;

	if (!p)
		return;
	for (i = 0; i < p->nfam; i++)
		free(p->fam[i].schema);
	free(p->fam);
	for (i = 0; i < p->nsblk; i++)
		free(p->sblk[i]);
	free(p->sblk);
	for (i = 0; i < p->nlblk; i++)
		free(p->lblk[i]);
	free(p->lblk);
	free(p->dslots);
	free(p->sslots);
	free(p->scr);
	free(p->key);
	free(p->str);
	arena_free(&p->arena);
	free(p);
}

size_t infra_prom_family_count(const struct infra_prom *p)
{
	return p ? p->nfam : 0;
}

size_t infra_prom_series_count(const struct infra_prom *p)
{
	return p ? p->nser : 0;
}

static uint32_t fam_lookup(const struct infra_prom *p, const char *s, size_t n)
{
	uint32_t id = str_find(p, s, n, str_hash(s, n));

	if (id == NO_ID || !p->str[id].fam)
		return NO_ID;
	return p->str[id].fam - 1;
}

int infra_prom_has_family(const struct infra_prom *p, const char *name)
{
	if (!p || !name)
		return 0;
	return fam_lookup(p, name, strlen(name)) != NO_ID;
}

static uint32_t fam_create(struct infra_prom *p, uint32_t name_id, enum infra_prom_type type)
{
	struct family *f;

	if (p->nfam == p->cfam) {
		uint32_t nc = p->cfam ? p->cfam * 2 : 64;
		struct family *nf = realloc(p->fam, (size_t)nc * sizeof(*nf));

		if (!nf)
			return NO_ID;
		p->fam = nf;
		p->cfam = nc;
	}
	f = &p->fam[p->nfam];
	memset(f, 0, sizeof(*f));
	f->name = name_id;
	f->help = NO_ID;
	f->type = (uint8_t)type;
	p->str[name_id].fam = p->nfam + 1;
	return p->nfam++;
}

static int ends_with(const char *s, size_t n, const char *suf, size_t sn)
{
	return n > sn && memcmp(s + n - sn, suf, sn) == 0;
}

int infra_prom_family(struct infra_prom *p, const char *name, enum infra_prom_type type,
		      const char *help, struct infra_err *err)
{
	static const char *const sufs[3] = { "_bucket", "_sum", "_count" };
	size_t n, hn = 0;
	uint32_t id, fi, hid = NO_ID;
	struct family *f;
	int i;

	if (!p || !name)
		return infra_err_set(err, -EINVAL, "prom: missing collection or family name");
	n = strlen(name);
	if (!valid_metric_name(name, n))
		return infra_err_set(err, -EINVAL, "prom: invalid metric name '%.200s'", name);
	if ((unsigned)type > INFRA_PROM_SUMMARY)
		return infra_err_set(err, -EINVAL, "prom: invalid type %d for %.200s", (int)type, name);
	if (help && !*help)
		help = NULL; /* "# HELP x " reads back as no HELP at all */
	if (help) {
		hn = strlen(help);
		if (!utf8_valid((const unsigned char *)help, hn))
			return infra_err_set(err, -EINVAL, "prom: HELP of %.200s is not valid UTF-8", name);
	}
	/* x_bucket/x_sum/x_count must not collide with a histogram/summary x. */
	for (i = 0; i < 3; i++) {
		size_t sn = strlen(sufs[i]);
		uint32_t bf;

		if (!ends_with(name, n, sufs[i], sn))
			continue;
		bf = fam_lookup(p, name, n - sn);
		if (bf == NO_ID)
			continue;
		if (p->fam[bf].type == INFRA_PROM_HISTOGRAM ||
		    (p->fam[bf].type == INFRA_PROM_SUMMARY && i > 0))
			return infra_err_set(err, -EINVAL,
					     "prom: family %.200s clashes with %s family %.200s",
					     name, infra_prom_type_name(p->fam[bf].type),
					     p->str[p->fam[bf].name].s);
	}
	id = str_intern(p, name, n);
	if (id == NO_ID)
		return infra_err_set(err, -ENOMEM, "prom: out of memory");
	if (help) {
		hid = str_intern(p, help, hn);
		if (hid == NO_ID)
			return infra_err_set(err, -ENOMEM, "prom: out of memory");
	}
	fi = p->str[id].fam ? p->str[id].fam - 1 : NO_ID;
	if (fi != NO_ID) {
		f = &p->fam[fi];
		if (f->declared && f->type != (uint8_t)type)
			return infra_err_set(err, -EINVAL,
					     "prom: family %.200s declared as %s, now as %s",
					     name, infra_prom_type_name(f->type),
					     infra_prom_type_name(type));
		if (!f->declared && f->nseries &&
		    (type == INFRA_PROM_HISTOGRAM || type == INFRA_PROM_SUMMARY))
			return infra_err_set(err, -EINVAL,
					     "prom: samples named %.200s were added before it was declared %s",
					     name, infra_prom_type_name(type));
	}
	if (type == INFRA_PROM_HISTOGRAM || type == INFRA_PROM_SUMMARY) {
		for (i = type == INFRA_PROM_HISTOGRAM ? 0 : 1; i < 3; i++) {
			char tmp[512];
			size_t sn = strlen(sufs[i]);

			if (n + sn >= sizeof(tmp))
				break;
			memcpy(tmp, name, n);
			memcpy(tmp + n, sufs[i], sn);
			if (fam_lookup(p, tmp, n + sn) != NO_ID)
				return infra_err_set(err, -EINVAL,
						     "prom: %s family %.200s clashes with family %.200s%s",
						     infra_prom_type_name(type), name, name, sufs[i]);
		}
	}
	if (fi == NO_ID) {
		fi = fam_create(p, id, type);
		if (fi == NO_ID)
			return infra_err_set(err, -ENOMEM, "prom: out of memory");
	}
	f = &p->fam[fi];
	f->type = (uint8_t)type;
	f->declared = 1;
	if (hid != NO_ID && f->help == NO_ID)
		f->help = hid;
	return 0;
}

/* Canonical dedup key of a series: sample name id + (label name id, value id)
 * pairs with non-empty values, sorted by label name id. */

static void kpairs_sort(struct kpair *k, uint32_t n)
{
	uint32_t i, j;

	for (i = 1; i < n; i++) {
		struct kpair t = k[i];

		for (j = i; j > 0 && k[j - 1].name > t.name; j--)
			k[j] = k[j - 1];
		k[j] = t;
	}
}

static uint32_t key_hash(uint32_t name, const struct kpair *k, uint32_t n)
{
	uint64_t h = hmix(((uint64_t)name << 1) ^ 0x9e3779b97f4a7c15ULL);
	uint32_t i;

	for (i = 0; i < n; i++)
		h = hmix(h ^ (((uint64_t)k[i].name << 32) | k[i].value)) + i;
	return (uint32_t)h;
}

/* Fill k (capacity MAX_LABELS + 1) with the canonical pairs of series s. */
static uint32_t series_key(const struct infra_prom *p, const struct series *s, struct kpair *k)
{
	const struct family *f = &p->fam[s->fam];
	uint32_t i, n = 0;

	for (i = 0; i < s->nlab; i++) {
		uint32_t v = *labp(p, s->lab + i);

		if (v) {
			k[n].name = f->schema[i];
			k[n].value = v;
			n++;
		}
	}
	if (s->special) {
		uint32_t v = *labp(p, s->lab + s->nlab);

		k[n].name = f->type == INFRA_PROM_HISTOGRAM ? p->id_le : p->id_quantile;
		k[n].value = v;
		n++;
	}
	kpairs_sort(k, n);
	return n;
}

static int dedup_grow(struct infra_prom *p)
{
	uint32_t ncap = (p->dmask + 1) * 2, i, j;
	struct slot *ns;

	if (ncap == 0)
		return -ENOMEM;
	ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (i = 0; i <= p->dmask; i++) {
		if (!p->dslots[i].id1)
			continue;
		for (j = p->dslots[i].hash & (ncap - 1); ns[j].id1; j = (j + 1) & (ncap - 1))
			;
		ns[j] = p->dslots[i];
	}
	free(p->dslots);
	p->dslots = ns;
	p->dmask = ncap - 1;
	return 0;
}

static int lab_reserve(struct infra_prom *p, uint32_t n, uint32_t *at)
{
	if (!p->nlblk || LAB_BLK - p->lused < n) {
		uint32_t **nb;

		if (p->nlblk >= (UINT32_MAX >> LAB_SHIFT))
			return -ENOMEM;
		nb = realloc(p->lblk, (size_t)(p->nlblk + 1) * sizeof(*nb));
		if (!nb)
			return -ENOMEM;
		p->lblk = nb;
		nb[p->nlblk] = malloc((size_t)LAB_BLK * sizeof(uint32_t));
		if (!nb[p->nlblk])
			return -ENOMEM;
		p->nlblk++;
		p->lused = 0;
	}
	*at = ((p->nlblk - 1) << LAB_SHIFT) | p->lused;
	p->lused += n;
	return 0;
}

static struct series *ser_alloc(struct infra_prom *p)
{
	if (p->nser == UINT32_MAX - 1)
		return NULL;
	if ((p->nser >> SER_SHIFT) >= p->nsblk) {
		struct series **nb = realloc(p->sblk, (size_t)(p->nsblk + 1) * sizeof(*nb));

		if (!nb)
			return NULL;
		p->sblk = nb;
		nb[p->nsblk] = malloc((size_t)SER_BLK * sizeof(struct series));
		if (!nb[p->nsblk])
			return NULL;
		p->nsblk++;
	}
	return ser(p, p->nser);
}

/* Append the sample's series text for messages: name{a="b",...}. */
static const char *describe(const char *name, const char *const *labels, char *out, size_t size)
{
	size_t k;
	int n = snprintf(out, size, "%s", name);
	size_t i;

	k = n < 0 ? 0 : (size_t)n;
	for (i = 0; labels && labels[i] && labels[i + 1] && k + 1 < size; i += 2) {
		n = snprintf(out + k, size - k, "%s%s=\"%s\"", i ? "," : "{", labels[i], labels[i + 1]);
		if (n < 0)
			break;
		k += (size_t)n;
	}
	if (i && k + 1 < size)
		snprintf(out + k, size - k, "}");
	return out;
}

int infra_prom_add(struct infra_prom *p, const char *sample_name, const char *const *labels,
		   double value, struct infra_err *err)
{
	uint32_t nid, fi = NO_ID, nl = 0, i, j, nk, h, at, slot;
	uint32_t *lname, *lval, *vals, *newnames;
	uint32_t special = NO_ID, nnew = 0, nsch, nstore;
	struct kpair *k, *k2;
	struct family *f;
	struct series *s;
	uint8_t kind = K_PLAIN;
	size_t n;
	char desc[300];
#define DESC describe(sample_name, labels, desc, sizeof(desc))
	int rc = 0;

	if (!p || !sample_name)
		return infra_err_set(err, -EINVAL, "prom: missing collection or sample name");
	n = strlen(sample_name);
	if (!valid_metric_name(sample_name, n))
		return infra_err_set(err, -EINVAL, "prom: invalid metric name '%.200s'", sample_name);
	/* Resolve the family. */
	{
		uint32_t ex = fam_lookup(p, sample_name, n);

		if (ex != NO_ID) {
			fi = ex;
			if (p->fam[fi].type == INFRA_PROM_HISTOGRAM) {
				return infra_err_set(err, -EINVAL,
						     "prom: histogram %.200s takes samples %.200s_bucket, _sum and _count",
						     sample_name, sample_name);
			}
		} else {
			static const char *const sufs[3] = { "_bucket", "_sum", "_count" };
			static const uint8_t kinds[3] = { K_BUCKET, K_SUM, K_COUNT };

			for (i = 0; i < 3; i++) {
				size_t sn = strlen(sufs[i]);
				uint32_t bf;

				if (!ends_with(sample_name, n, sufs[i], sn))
					continue;
				bf = fam_lookup(p, sample_name, n - sn);
				if (bf != NO_ID && (p->fam[bf].type == INFRA_PROM_HISTOGRAM ||
						    (p->fam[bf].type == INFRA_PROM_SUMMARY && i > 0))) {
					fi = bf;
					kind = kinds[i];
				}
				break;
			}
		}
	}
	/* scratch sized for this sample's labels plus the family's schema */
	for (i = 0; labels && labels[i]; i += 2)
		if (i / 2 >= MAX_LABELS || !labels[i + 1])
			break;
	{
		uint32_t need = i / 2 + (fi != NO_ID ? p->fam[fi].nschema : 0) + 2;

		if (need > p->scr_cap) {
			uint32_t nc = p->scr_cap ? p->scr_cap : 16;
			uint32_t *ns;
			struct kpair *nkey;

			while (nc < need)
				nc *= 2;
			ns = realloc(p->scr, (size_t)nc * 4 * sizeof(*ns));
			if (!ns)
				return infra_err_set(err, -ENOMEM, "prom: out of memory");
			p->scr = ns;
			nkey = realloc(p->key, (size_t)nc * 2 * sizeof(*nkey));
			if (!nkey)
				return infra_err_set(err, -ENOMEM, "prom: out of memory");
			p->key = nkey;
			p->scr_cap = nc;
		}
	}
	lname = p->scr;
	lval = lname + p->scr_cap;
	vals = lval + p->scr_cap;
	newnames = vals + p->scr_cap;
	k = p->key;
	k2 = k + p->scr_cap;
	/* Collect and validate labels. */
	for (i = 0; labels && labels[i]; i += 2) {
		const char *ln = labels[i], *lv = labels[i + 1];
		size_t lnn, lvn;
		uint32_t a, b;

		if (!lv) {
			rc = infra_err_set(err, -EINVAL, "prom: label %.100s of %.200s has no value",
					   ln, DESC);
			goto out;
		}
		if (nl >= MAX_LABELS) {
			rc = infra_err_set(err, -EINVAL, "prom: too many labels on %.200s", DESC);
			goto out;
		}
		lnn = strlen(ln);
		lvn = strlen(lv);
		if (!valid_label_name(ln, lnn) || (lnn >= 2 && ln[0] == '_' && ln[1] == '_')) {
			rc = infra_err_set(err, -EINVAL, "prom: invalid label name '%.100s' on %.200s",
					   ln, DESC);
			goto out;
		}
		if (!utf8_valid((const unsigned char *)lv, lvn)) {
			rc = infra_err_set(err, -EINVAL,
					   "prom: value of label %.100s on %.200s is not valid UTF-8",
					   ln, sample_name);
			goto out;
		}
		a = str_intern(p, ln, lnn);
		b = a == NO_ID ? NO_ID : str_intern(p, lv, lvn);
		if (b == NO_ID) {
			rc = infra_err_set(err, -ENOMEM, "prom: out of memory");
			goto out;
		}
		for (j = 0; j < nl; j++)
			if (lname[j] == a)
				break;
		if (j < nl || (special != NO_ID &&
			       a == (fi != NO_ID && p->fam[fi].type == INFRA_PROM_HISTOGRAM ?
				     p->id_le : p->id_quantile))) {
			rc = infra_err_set(err, -EINVAL, "prom: duplicate label %.100s on %.200s",
					   ln, DESC);
			goto out;
		}
		if (fi != NO_ID && ((p->fam[fi].type == INFRA_PROM_HISTOGRAM && a == p->id_le) ||
				    (p->fam[fi].type == INFRA_PROM_SUMMARY && a == p->id_quantile))) {
			double d;

			if ((p->fam[fi].type == INFRA_PROM_HISTOGRAM && kind != K_BUCKET) ||
			    (p->fam[fi].type == INFRA_PROM_SUMMARY && kind != K_PLAIN)) {
				rc = infra_err_set(err, -EINVAL, "prom: label %s not allowed on %.200s",
						   ln, DESC);
				goto out;
			}
			if (parse_float(lv, lvn, &d)) {
				rc = infra_err_set(err, -EINVAL, "prom: label %s=\"%.60s\" is not a number",
						   ln, lv);
				goto out;
			}
			special = b;
			continue;
		}
		lname[nl] = a;
		lval[nl] = b;
		nl++;
	}
	if (fi != NO_ID && special == NO_ID &&
	    ((p->fam[fi].type == INFRA_PROM_HISTOGRAM && kind == K_BUCKET) ||
	     (p->fam[fi].type == INFRA_PROM_SUMMARY && kind == K_PLAIN))) {
		rc = infra_err_set(err, -EINVAL, "prom: %.200s needs a %s label", DESC,
				   p->fam[fi].type == INFRA_PROM_HISTOGRAM ? "le" : "quantile");
		goto out;
	}
	/* Map labels onto the family schema. */
	f = fi != NO_ID ? &p->fam[fi] : NULL;
	nsch = f && f->schema_set ? f->nschema : 0;
	for (i = 0; i < nsch; i++)
		vals[i] = 0;
	if (f && f->schema_set) {
		uint32_t present = 0;

		for (i = 0; i < nl; i++) {
			for (j = 0; j < f->nschema; j++)
				if (f->schema[j] == lname[i])
					break;
			if (j < f->nschema) {
				vals[j] = lval[i];
				present++;
				continue;
			}
			if (!(p->flags & INFRA_PROM_PAD_LABELS)) {
				rc = infra_err_set(err, -EINVAL,
						   "prom: %.200s has label %.100s that other samples of %.200s lack",
						   DESC, p->str[lname[i]].s, p->str[f->name].s);
				goto out;
			}
			if (nsch + nnew >= MAX_LABELS) {
				rc = infra_err_set(err, -EINVAL, "prom: too many labels in family %.200s",
						   p->str[f->name].s);
				goto out;
			}
			newnames[nnew] = lname[i];
			vals[nsch + nnew] = lval[i];
			nnew++;
		}
		if (present < f->nschema && !(p->flags & INFRA_PROM_PAD_LABELS)) {
			for (j = 0; j < f->nschema; j++) {
				for (i = 0; i < nl; i++)
					if (lname[i] == f->schema[j])
						break;
				if (i == nl)
					break;
			}
			rc = infra_err_set(err, -EINVAL,
					   "prom: %.200s lacks label %.100s that other samples of %.200s have",
					   DESC, j < f->nschema ? p->str[f->schema[j]].s : "?",
					   p->str[f->name].s);
			goto out;
		}
	} else {
		for (i = 0; i < nl; i++) {
			newnames[i] = lname[i];
			vals[i] = lval[i];
		}
		nnew = nl;
	}
	nstore = nsch + nnew;
	while (nstore && vals[nstore - 1] == 0)
		nstore--;
	/* Dedup. */
	nk = 0;
	for (i = 0; i < nsch + nnew; i++) {
		if (!vals[i])
			continue;
		k[nk].name = i < nsch ? f->schema[i] : newnames[i - nsch];
		k[nk].value = vals[i];
		nk++;
	}
	if (special != NO_ID) {
		k[nk].name = p->fam[fi].type == INFRA_PROM_HISTOGRAM ? p->id_le : p->id_quantile;
		k[nk].value = special;
		nk++;
	}
	kpairs_sort(k, nk);
	nid = str_intern(p, sample_name, n);
	if (nid == NO_ID) {
		rc = infra_err_set(err, -ENOMEM, "prom: out of memory");
		goto out;
	}
	h = key_hash(nid, k, nk);
	for (slot = h & p->dmask; p->dslots[slot].id1; slot = (slot + 1) & p->dmask) {
		const struct series *o;
		uint32_t n2;

		if (p->dslots[slot].hash != h)
			continue;
		o = ser(p, p->dslots[slot].id1 - 1);
		if (o->name != nid)
			continue;
		n2 = series_key(p, o, k2);
		if (n2 == nk && memcmp(k2, k, nk * sizeof(*k)) == 0) {
			rc = infra_err_set(err, -EEXIST, "prom: duplicate series %.250s", DESC);
			goto out;
		}
	}
	/* Commit: family, schema, labels, series, dedup slot. */
	if (fi == NO_ID) {
		fi = fam_create(p, nid, INFRA_PROM_UNTYPED);
		if (fi == NO_ID) {
			rc = infra_err_set(err, -ENOMEM, "prom: out of memory");
			goto out;
		}
	}
	f = &p->fam[fi];
	if (nnew || !f->schema_set) {
		if (f->nschema + nnew > f->cschema) {
			uint32_t nc = f->cschema ? f->cschema : 4;
			uint32_t *ns;

			while (nc < f->nschema + nnew)
				nc *= 2;
			ns = realloc(f->schema, (size_t)nc * sizeof(*ns));
			if (!ns) {
				rc = infra_err_set(err, -ENOMEM, "prom: out of memory");
				goto out;
			}
			f->schema = ns;
			f->cschema = nc;
		}
		for (i = 0; i < nnew; i++)
			f->schema[f->nschema + i] = newnames[i];
		f->nschema += nnew;
		f->schema_set = 1;
	}
	if ((uint64_t)(p->nser + 1) * 4 > (uint64_t)(p->dmask + 1) * 3) {
		if (dedup_grow(p)) {
			rc = infra_err_set(err, -ENOMEM, "prom: out of memory");
			goto out;
		}
		for (slot = h & p->dmask; p->dslots[slot].id1; slot = (slot + 1) & p->dmask)
			;
	}
	at = 0;
	if (nstore + (special != NO_ID) && lab_reserve(p, nstore + (special != NO_ID), &at)) {
		rc = infra_err_set(err, -ENOMEM, "prom: out of memory");
		goto out;
	}
	s = ser_alloc(p);
	if (!s) {
		rc = infra_err_set(err, -ENOMEM, "prom: out of memory");
		goto out;
	}
	for (i = 0; i < nstore; i++)
		*labp(p, at + i) = vals[i];
	if (special != NO_ID)
		*labp(p, at + nstore) = special;
	s->value = value;
	s->name = nid;
	s->fam = fi;
	s->lab = at;
	s->nlab = (uint16_t)nstore;
	s->kind = kind;
	s->special = special != NO_ID;
	p->dslots[slot].hash = h;
	p->dslots[slot].id1 = p->nser + 1;
	p->nser++;
	f->nseries++;
out:
	return rc;
#undef DESC
}

int infra_prom_addl(struct infra_prom *p, const char *sample_name, double value,
		    struct infra_err *err, ...)
{
	const char *labels[2 * 64 + 1];
	size_t n = 0;
	va_list ap;
	const char *s;

	va_start(ap, err);
	while ((s = va_arg(ap, const char *)) != NULL) {
		if (n >= 2 * 64) {
			va_end(ap);
			return infra_err_set(err, -EINVAL, "prom: too many labels for infra_prom_addl");
		}
		labels[n++] = s;
	}
	va_end(ap);
	if (n % 2)
		return infra_err_set(err, -EINVAL, "prom: label %s of %s has no value",
				     labels[n - 1], sample_name ? sample_name : "?");
	labels[n] = NULL;
	return infra_prom_add(p, sample_name, labels, value, err);
}

/* ---- rendering ---- */

struct sort_ctx {
	const struct infra_prom *p;
	const uint32_t *rank; /* string id -> rank in byte order */
};

struct sitem {
	double num;  /* le / quantile value */
	uint32_t sid;
	uint32_t special_rank;
};

static int str_cmp_ids(const void *a, const void *b, void *arg)
{
	const struct infra_prom *p = arg;
	const struct str_ent *x = &p->str[*(const uint32_t *)a];
	const struct str_ent *y = &p->str[*(const uint32_t *)b];
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int fam_cmp(const void *a, const void *b, void *arg)
{
	const struct infra_prom *p = arg;
	uint32_t x = p->fam[*(const uint32_t *)a].name, y = p->fam[*(const uint32_t *)b].name;

	return str_cmp_ids(&x, &y, arg);
}

static int kind_rank(uint8_t k)
{
	return k == K_BUCKET ? 0 : k;
}

static int sitem_cmp(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *c = arg;
	const struct sitem *x = a, *y = b;
	const struct series *sx = ser(c->p, x->sid), *sy = ser(c->p, y->sid);
	uint32_t n = sx->nlab > sy->nlab ? sx->nlab : sy->nlab, i;
	int kx, ky;

	for (i = 0; i < n; i++) {
		uint32_t vx = i < sx->nlab ? *labp(c->p, sx->lab + i) : 0;
		uint32_t vy = i < sy->nlab ? *labp(c->p, sy->lab + i) : 0;

		if (vx != vy)
			return c->rank[vx] < c->rank[vy] ? -1 : 1;
	}
	kx = kind_rank(sx->kind);
	ky = kind_rank(sy->kind);
	if (kx != ky)
		return kx < ky ? -1 : 1;
	if (sx->special && sy->special) {
		int nx = isnan(x->num), ny = isnan(y->num);

		if (nx != ny)
			return nx ? 1 : -1;
		if (!nx && x->num != y->num)
			return x->num < y->num ? -1 : 1;
		if (x->special_rank != y->special_rank)
			return x->special_rank < y->special_rank ? -1 : 1;
	}
	/* Different sample names in one untyped family cannot happen; keep total order. */
	if (sx->name != sy->name)
		return c->rank[sx->name] < c->rank[sy->name] ? -1 : 1;
	return 0;
}

/* Output writer with a direct pointer into the buffer. */
struct out {
	struct infra_buf *b;
	char *w;
};

static int out_reserve(struct out *o, size_t n)
{
	int rc;

	o->b->len = (size_t)(o->w - o->b->data);
	rc = infra_buf_reserve(o->b, n);
	if (rc)
		return rc;
	o->w = o->b->data + o->b->len;
	return 0;
}

static inline void out_mem(struct out *o, const void *s, size_t n)
{
	memcpy(o->w, s, n);
	o->w += n;
}

/* Escaped length upper bound is 2n.  mode 0: label value (\\ \" \n); 1: HELP (\\ \n). */
static void out_escaped(struct out *o, const char *s, size_t n, int help)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\') {
			*o->w++ = '\\';
			*o->w++ = '\\';
		} else if (c == '\n') {
			*o->w++ = '\\';
			*o->w++ = 'n';
		} else if (c == '"' && !help) {
			*o->w++ = '\\';
			*o->w++ = '"';
		} else {
			*o->w++ = c;
		}
	}
}

static int write_family(const struct infra_prom *p, const struct family *f, struct out *o,
			const struct sitem *items, uint32_t nitems)
{
	const struct str_ent *fn = &p->str[f->name];
	const char *tn = infra_prom_type_name(f->type);
	size_t need;
	uint32_t i, j;
	int rc;

	need = 2 * (size_t)fn->len + 32 + (f->help != NO_ID ? 2 * (size_t)p->str[f->help].len : 0);
	rc = out_reserve(o, need);
	if (rc)
		return rc;
	if (f->help != NO_ID) {
		out_mem(o, "# HELP ", 7);
		out_mem(o, fn->s, fn->len);
		*o->w++ = ' ';
		out_escaped(o, p->str[f->help].s, p->str[f->help].len, 1);
		*o->w++ = '\n';
	}
	out_mem(o, "# TYPE ", 7);
	out_mem(o, fn->s, fn->len);
	*o->w++ = ' ';
	out_mem(o, tn, strlen(tn));
	*o->w++ = '\n';
	for (i = 0; i < nitems; i++) {
		const struct series *s = ser(p, items[i].sid);
		const struct str_ent *sn = &p->str[s->name];
		uint32_t nshow = f->nschema;
		int any = 0;

		need = sn->len + 48;
		for (j = 0; j < nshow; j++) {
			uint32_t v = j < s->nlab ? *labp(p, s->lab + j) : 0;

			need += p->str[f->schema[j]].len + 4 + 2 * (size_t)p->str[v].len;
		}
		if (s->special)
			need += 12 + 2 * (size_t)p->str[*labp(p, s->lab + s->nlab)].len;
		rc = out_reserve(o, need);
		if (rc)
			return rc;
		out_mem(o, sn->s, sn->len);
		for (j = 0; j <= nshow; j++) {
			const struct str_ent *ln, *lv;

			if (j == nshow) {
				if (!s->special)
					break;
				ln = &p->str[f->type == INFRA_PROM_HISTOGRAM ? p->id_le : p->id_quantile];
				lv = &p->str[*labp(p, s->lab + s->nlab)];
			} else {
				ln = &p->str[f->schema[j]];
				lv = &p->str[j < s->nlab ? *labp(p, s->lab + j) : 0];
			}
			*o->w++ = any ? ',' : '{';
			any = 1;
			out_mem(o, ln->s, ln->len);
			*o->w++ = '=';
			*o->w++ = '"';
			if (lv->flags & SF_ESC)
				out_escaped(o, lv->s, lv->len, 0);
			else
				out_mem(o, lv->s, lv->len);
			*o->w++ = '"';
		}
		if (any)
			*o->w++ = '}';
		*o->w++ = ' ';
		o->w += fmt_value_c(s->value, o->w, 40);
		*o->w++ = '\n';
	}
	return 0;
}

int infra_prom_write(const struct infra_prom *p, struct infra_buf *outb, struct infra_err *err)
{
	uint32_t *forder = NULL, *ids = NULL, *rank = NULL, *start = NULL, *order = NULL;
	struct sitem *items = NULL;
	uint32_t i, nf = 0, maxseg = 0;
	struct out o;
	locale_t old;
	size_t len0;
	int rc = 0;

	if (!p || !outb)
		return infra_err_set(err, -EINVAL, "prom: missing collection or buffer");
	if (p->nfam == 0)
		return 0;
	len0 = outb->len;
	forder = malloc((size_t)p->nfam * sizeof(*forder));
	ids = malloc((size_t)p->nstr * sizeof(*ids));
	rank = malloc((size_t)p->nstr * sizeof(*rank));
	start = calloc((size_t)p->nfam + 1, sizeof(*start));
	order = malloc(((size_t)p->nser + 1) * sizeof(*order));
	if (!forder || !ids || !rank || !start || !order) {
		rc = -ENOMEM;
		goto out;
	}
	/* Rank every interned string by byte order: label comparisons become integer ones. */
	for (i = 0; i < p->nstr; i++)
		ids[i] = i;
	qsort_r(ids, p->nstr, sizeof(*ids), str_cmp_ids, (void *)p);
	for (i = 0; i < p->nstr; i++)
		rank[ids[i]] = i;
	free(ids);
	ids = NULL;
	for (i = 0; i < p->nfam; i++)
		forder[nf++] = i;
	qsort_r(forder, nf, sizeof(*forder), fam_cmp, (void *)p);
	/* Bucket series by family (counting sort in family order). */
	{
		uint32_t *pos = calloc((size_t)p->nfam, sizeof(*pos)), acc = 0;

		if (!pos) {
			rc = -ENOMEM;
			goto out;
		}
		for (i = 0; i < nf; i++) {
			pos[forder[i]] = acc;
			start[i] = acc;
			acc += p->fam[forder[i]].nseries;
			if (p->fam[forder[i]].nseries > maxseg)
				maxseg = p->fam[forder[i]].nseries;
		}
		start[nf] = acc;
		for (i = 0; i < p->nser; i++)
			order[pos[ser(p, i)->fam]++] = i;
		free(pos);
	}
	items = malloc(((size_t)maxseg + 1) * sizeof(*items));
	if (!items) {
		rc = -ENOMEM;
		goto out;
	}
	o.b = outb;
	rc = infra_buf_reserve(outb, 0);
	if (rc)
		goto out;
	o.w = outb->data + outb->len;
	old = uselocale(c_locale());
	for (i = 0; i < nf && !rc; i++) {
		const struct family *f = &p->fam[forder[i]];
		struct sort_ctx ctx = { p, rank };
		uint32_t j, cnt = start[i + 1] - start[i];

		for (j = 0; j < cnt; j++) {
			const struct series *s;

			items[j].sid = order[start[i] + j];
			items[j].num = 0;
			items[j].special_rank = 0;
			s = ser(p, items[j].sid);
			if (s->special) {
				uint32_t v = *labp(p, s->lab + s->nlab);

				items[j].special_rank = rank[v];
				if (parse_float(p->str[v].s, p->str[v].len, &items[j].num))
					items[j].num = NAN; /* cannot happen: checked at add time */
			}
		}
		qsort_r(items, cnt, sizeof(*items), sitem_cmp, &ctx);
		rc = write_family(p, f, &o, items, cnt);
	}
	uselocale(old);
	if (!rc) {
		outb->len = (size_t)(o.w - outb->data);
		outb->data[outb->len] = '\0';
	}
out:
	if (rc) {
		outb->len = len0;
		if (outb->data)
			outb->data[len0] = '\0';
		infra_err_set(err, rc, "prom: cannot render exposition: %s", strerror(-rc));
	}
	free(items);
	free(order);
	free(start);
	free(rank);
	free(ids);
	free(forder);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* 4. parser                                                                  */
/* ------------------------------------------------------------------------ */

#define MAX_LINE ((size_t)16 << 20)

struct pfam {
	uint32_t off, len; /* name in names pool */
	uint32_t hash;
	uint8_t type, type_set, help_set;
};

struct infra_prom_parser {
	infra_prom_cb cb;
	void *ud;
	size_t line;       /* number of the line being parsed (1-based) */
	size_t next_off;   /* input offset of the next line to parse */
	size_t cur_off, cur_len; /* offset and length of the line being parsed */
	int ascii;         /* the current line has no byte >= 0x80 */
	int failed;        /* sticky result */
	/* partial line carried between chunks */
	char *carry;
	size_t carry_len, carry_cap;
	/* scratch copy of the current line */
	char *scratch;
	size_t scratch_cap;
	/* labels of the current sample */
	struct infra_prom_label *labels;
	size_t labels_cap;
	/* family table */
	struct pfam *fams;
	uint32_t nfams, cfams;
	uint32_t *fslots; /* idx + 1 */
	uint32_t fmask;
	char *names;
	size_t names_len, names_cap;
	/* last sample name -> family cache */
	char *last;
	size_t last_len, last_cap;
	uint32_t last_fam;
	/* name copy when a sample name is directly followed by its value */
	char *namebuf;
	size_t namebuf_cap;
	struct infra_err *err;
};

struct infra_prom_parser *infra_prom_parser_new(infra_prom_cb cb, void *ud)
{
	struct infra_prom_parser *ps = calloc(1, sizeof(*ps));

	classes();
	if (!ps)
		return NULL;
	ps->cb = cb;
	ps->ud = ud;
	ps->fmask = 63;
	ps->fslots = calloc(ps->fmask + 1, sizeof(*ps->fslots));
	ps->last_fam = NO_ID;
	if (!ps->fslots) {
		free(ps);
		return NULL;
	}
	return ps;
}

void infra_prom_parser_free(struct infra_prom_parser *ps)
{
	if (!ps)
		return;
	free(ps->carry);
	free(ps->scratch);
	free(ps->labels);
	free(ps->fams);
	free(ps->fslots);
	free(ps->names);
	free(ps->last);
	free(ps->namebuf);
	free(ps);
}

static int grow(char **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 256;
	char *nb;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	nb = realloc(*buf, n);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = n;
	return 0;
}

static int perr(struct infra_prom_parser *ps, const char *tok, size_t toklen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int perr(struct infra_prom_parser *ps, const char *tok, size_t toklen, const char *fmt, ...)
{
	char what[256], near[80];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (tok) {
		token_excerpt(tok, toklen, near, sizeof(near));
		infra_err_set(ps->err, -EINVAL, "line %zu: %s (near '%s')", ps->line, what, near);
	} else {
		infra_err_set(ps->err, -EINVAL, "line %zu: %s", ps->line, what);
	}
	return -EINVAL;
}

static const char *pfam_name(const struct infra_prom_parser *ps, const struct pfam *f)
{
	return ps->names + f->off;
}

static uint32_t pfam_find(const struct infra_prom_parser *ps, const char *s, size_t n, uint32_t h)
{
	uint32_t i;

	for (i = h & ps->fmask; ps->fslots[i]; i = (i + 1) & ps->fmask) {
		const struct pfam *f = &ps->fams[ps->fslots[i] - 1];

		if (f->hash == h && f->len == n && memcmp(ps->names + f->off, s, n) == 0)
			return ps->fslots[i] - 1;
	}
	return NO_ID;
}

static uint32_t pfam_create(struct infra_prom_parser *ps, const char *s, size_t n, uint32_t h)
{
	uint32_t i;
	struct pfam *f;

	if ((ps->nfams + 1) * 2 > ps->fmask + 1) {
		uint32_t ncap = (ps->fmask + 1) * 2, j;
		uint32_t *ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return NO_ID;
		for (j = 0; j < ps->nfams; j++) {
			for (i = ps->fams[j].hash & (ncap - 1); ns[i]; i = (i + 1) & (ncap - 1))
				;
			ns[i] = j + 1;
		}
		free(ps->fslots);
		ps->fslots = ns;
		ps->fmask = ncap - 1;
	}
	if (ps->nfams == ps->cfams) {
		uint32_t nc = ps->cfams ? ps->cfams * 2 : 64;
		struct pfam *nf = realloc(ps->fams, (size_t)nc * sizeof(*nf));

		if (!nf)
			return NO_ID;
		ps->fams = nf;
		ps->cfams = nc;
	}
	if (ps->names_len + n + 1 > UINT32_MAX ||
	    grow(&ps->names, &ps->names_cap, ps->names_len + n + 1))
		return NO_ID;
	memcpy(ps->names + ps->names_len, s, n);
	ps->names[ps->names_len + n] = '\0';
	f = &ps->fams[ps->nfams];
	f->off = (uint32_t)ps->names_len;
	f->len = (uint32_t)n;
	f->hash = h;
	f->type = INFRA_PROM_UNTYPED;
	f->type_set = 0;
	f->help_set = 0;
	ps->names_len += n + 1;
	for (i = h & ps->fmask; ps->fslots[i]; i = (i + 1) & ps->fmask)
		;
	ps->fslots[i] = ps->nfams + 1;
	return ps->nfams++;
}

/* Go expfmt setOrCreateCurrentMF: exact name, else a summary for _count/_sum,
 * else a histogram for _count/_sum/_bucket, else a new family. */
static uint32_t pfam_resolve(struct infra_prom_parser *ps, const char *s, size_t n)
{
	uint32_t h = str_hash(s, n), f, b;
	size_t sl = 0;

	f = pfam_find(ps, s, n, h);
	if (f != NO_ID)
		return f;
	if (ends_with(s, n, "_count", 6))
		sl = 6;
	else if (ends_with(s, n, "_sum", 4))
		sl = 4;
	if (sl) {
		b = pfam_find(ps, s, n - sl, str_hash(s, n - sl));
		if (b != NO_ID && ps->fams[b].type_set && ps->fams[b].type == INFRA_PROM_SUMMARY)
			return b;
	}
	if (!sl && ends_with(s, n, "_bucket", 7))
		sl = 7;
	if (sl) {
		b = pfam_find(ps, s, n - sl, str_hash(s, n - sl));
		if (b != NO_ID && ps->fams[b].type_set && ps->fams[b].type == INFRA_PROM_HISTOGRAM)
			return b;
	}
	return pfam_create(ps, s, n, h);
}

/* First byte at or after p not in class m; the line's final '\n' is in no
 * class, so this never runs past it. */
static inline char *scan_class(char *p, unsigned char m)
{
	for (;;) {
		if (!IS(p[0], m))
			return p;
		if (!IS(p[1], m))
			return p + 1;
		if (!IS(p[2], m))
			return p + 2;
		if (!IS(p[3], m))
			return p + 3;
		p += 4;
	}
}

static inline char *skip_blank(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* An escape for messages: '\t' for printable bytes, else the byte in hex. */
static const char *esc_name(unsigned char c, char *buf, size_t size)
{
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, size, "'\\%c'", c);
	else if (c == '\n')
		snprintf(buf, size, "(backslash at end of line)");
	else
		snprintf(buf, size, "(backslash and byte 0x%02x)", c);
	return buf;
}

static int oom(struct infra_prom_parser *ps)
{
	infra_err_set(ps->err, -ENOMEM, "line %zu: out of memory", ps->line);
	return -ENOMEM;
}

/* Comment, HELP or TYPE line.  p points after '#', e at the final '\n'. */
static int parse_comment(struct infra_prom_parser *ps, char *p, char *e)
{
	struct infra_prom_event ev;
	char *kw, *name, *q, esc[40];
	size_t kwl, nl;
	uint32_t fi;
	int help;

	memset(&ev, 0, sizeof(ev));
	ev.line = ps->line;
	ev.offset = ps->cur_off;
	ev.line_len = ps->cur_len;
	p = skip_blank(p);
	kw = p;
	while (*p != ' ' && *p != '\t' && *p != '\n')
		p++;
	kwl = (size_t)(p - kw);
	help = kwl == 4 && memcmp(kw, "HELP", 4) == 0;
	if (*p == '\n' || !(help || (kwl == 4 && memcmp(kw, "TYPE", 4) == 0)))
		goto comment;
	q = skip_blank(p);
	name = q;
	if (IS(*q, CL_MS))
		for (q++; IS(*q, CL_MC); q++)
			;
	nl = (size_t)(q - name);
	if (*q == '\n')
		goto comment;
	if (!IS(*q, CL_BL))
		return perr(ps, name, (size_t)(e - name), "invalid metric name in comment");
	*q = '\0';
	fi = pfam_resolve(ps, name, nl);
	if (fi == NO_ID)
		return oom(ps);
	p = skip_blank(q + 1);
	if (*p == '\n') {
		*q = ' ';
		goto comment;
	}
	ev.name = name;
	ev.name_len = nl;
	if (help) {
		char *d;

		if (ps->fams[fi].help_set)
			return perr(ps, name, nl, "second HELP line for metric name \"%s\"",
				    pfam_name(ps, &ps->fams[fi]));
		d = p;
		ev.text = p;
		for (;;) {
			char *bs = memchr(p, '\\', (size_t)(e - p));

			if (!bs) {
				if (d != p)
					memmove(d, p, (size_t)(e - p));
				d += e - p;
				break;
			}
			if (d != p)
				memmove(d, p, (size_t)(bs - p));
			d += bs - p;
			if (bs[1] == '\\')
				*d++ = '\\';
			else if (bs[1] == 'n')
				*d++ = '\n';
			else
				return perr(ps, bs, 2, "invalid escape sequence %s in HELP",
					    esc_name((unsigned char)bs[1], esc, sizeof(esc)));
			p = bs + 2;
		}
		*d = '\0';
		ev.text_len = (size_t)(d - ev.text);
		ev.kind = INFRA_PROM_EV_HELP;
		ps->fams[fi].help_set = 1;
	} else {
		enum infra_prom_type t;

		if (ps->fams[fi].type_set)
			return perr(ps, name, nl,
				    "second TYPE line for metric name \"%s\", or TYPE reported after samples",
				    pfam_name(ps, &ps->fams[fi]));
		if (infra_prom_type_parse(p, (size_t)(e - p), &t))
			return perr(ps, p, (size_t)(e - p), "unknown metric type");
		*e = '\0';
		ev.kind = INFRA_PROM_EV_TYPE;
		ev.type = t;
		ev.text = p;
		ev.text_len = (size_t)(e - p);
		ps->fams[fi].type = (uint8_t)t;
		ps->fams[fi].type_set = 1;
	}
	return ps->cb ? ps->cb(ps->ud, &ev) : 0;
comment:
	*e = '\0';
	ev.kind = INFRA_PROM_EV_COMMENT;
	ev.text = kw;
	ev.text_len = (size_t)(e - kw);
	return ps->cb ? ps->cb(ps->ud, &ev) : 0;
}

/* Sample line starting at p (first non-blank), e at the final '\n'. */
static int parse_sample(struct infra_prom_parser *ps, char *p, char *e)
{
	struct infra_prom_event ev;
	char *name = p, *q, *v, esc[40];
	size_t nl, nlab = 0;
	uint32_t fi;
	struct pfam *f;
	int rc, brace;

	if (!IS(*p, CL_MS))
		return perr(ps, p, (size_t)(e - p), "invalid metric name");
	q = scan_class(p + 1, CL_MC);
	nl = (size_t)(q - name);
	/* family lookup, with a cache for runs of the same name */
	if (ps->last_fam != NO_ID && ps->last_len == nl && memcmp(ps->last, name, nl) == 0) {
		fi = ps->last_fam;
	} else {
		fi = pfam_resolve(ps, name, nl);
		if (fi == NO_ID || grow(&ps->last, &ps->last_cap, nl + 1))
			return oom(ps);
		memcpy(ps->last, name, nl);
		ps->last_len = nl;
		ps->last_fam = fi;
	}
	f = &ps->fams[fi];
	f->type_set = 1; /* samples fix the type (untyped if never declared) */
	memset(&ev, 0, sizeof(ev));
	ev.kind = INFRA_PROM_EV_SAMPLE;
	ev.line = ps->line;
	ev.offset = ps->cur_off;
	ev.line_len = ps->cur_len;
	ev.type = (enum infra_prom_type)f->type;
	ev.name_len = nl;
	brace = *q == '{';
	if (brace || *q == ' ' || *q == '\t') {
		*q = '\0';
		ev.name = name;
		p = brace ? q + 1 : skip_blank(q + 1);
		if (!brace && *p == '{') {
			brace = 1;
			p++;
		}
	} else {
		if (grow(&ps->namebuf, &ps->namebuf_cap, nl + 1))
			return oom(ps);
		memcpy(ps->namebuf, name, nl);
		ps->namebuf[nl] = '\0';
		ev.name = ps->namebuf;
		p = q;
	}
	if (brace) {
		for (;;) {
			struct infra_prom_label *lb;
			char *ln, *val, *d;
			size_t lnl, k;
			int special;

			p = skip_blank(p);
			if (*p == '}') {
				p++;
				break;
			}
			ln = p;
			if (!IS(*p, CL_LS))
				return perr(ps, p, (size_t)(e - p), "invalid label name for metric \"%s\"",
					    ev.name);
			p = scan_class(p + 1, CL_LC);
			lnl = (size_t)(p - ln);
			if (*p == ' ' || *p == '\t') {
				*p = '\0';
				p = skip_blank(p + 1);
			}
			if (*p != '=')
				return perr(ps, p, (size_t)(e - p), "expected '=' after label name");
			*p++ = '\0';
			if (lnl == 8 && memcmp(ln, "__name__", 8) == 0)
				return perr(ps, ln, lnl, "label name \"__name__\" is reserved");
			special = (f->type == INFRA_PROM_HISTOGRAM && lnl == 2 && memcmp(ln, "le", 2) == 0) ||
				  (f->type == INFRA_PROM_SUMMARY && lnl == 8 &&
				   memcmp(ln, "quantile", 8) == 0);
			if (!special) {
				/* expfmt leaves le (histogram) and quantile (summary) out of
				 * this check; a same-named other label is never special */
				for (k = 0; k < nlab; k++) {
					const struct infra_prom_label *o = &ps->labels[k];

					if (o->name_len == lnl && memcmp(o->name, ln, lnl) == 0)
						return perr(ps, ln, lnl,
							    "duplicate label names for metric \"%s\"",
							    ev.name);
				}
			}
			p = skip_blank(p);
			if (*p != '"')
				return perr(ps, p, (size_t)(e - p),
					    "expected '\"' at start of label value");
			val = ++p;
			/* fast path: no backslash before the closing quote */
			q = memchr(p, '"', (size_t)(e - p));
			d = q ? memchr(p, '\\', (size_t)(q - p)) : memchr(p, '\\', (size_t)(e - p));
			if (!d) {
				if (!q)
					return perr(ps, val, (size_t)(e - val),
						    "label value contains unescaped new-line");
				d = q;
				p = q + 1;
			} else {
				p = d;
				for (;;) {
					char c = *p;

					if (c == '\\') {
						c = p[1];
						if (c == '\\' || c == '"')
							*d++ = c;
						else if (c == 'n')
							*d++ = '\n';
						else
							return perr(ps, p, 2, "invalid escape sequence %s",
								    esc_name((unsigned char)c, esc, sizeof(esc)));
						p += 2;
					} else if (c == '"') {
						p++;
						break;
					} else if (c == '\n') {
						return perr(ps, val, (size_t)(e - val),
							    "label value contains unescaped new-line");
					} else {
						*d++ = c;
						p++;
					}
				}
			}
			*d = '\0';
			if (!ps->ascii && !utf8_valid((const unsigned char *)val, (size_t)(d - val)))
				return perr(ps, val, (size_t)(d - val), "invalid label value");
			if (special) {
				double tmp;

				if (parse_float(val, (size_t)(d - val), &tmp))
					return perr(ps, val, (size_t)(d - val),
						    "expected float as value for '%s' label",
						    f->type == INFRA_PROM_HISTOGRAM ? "le" : "quantile");
			}
			if (nlab == ps->labels_cap) {
				size_t nc = ps->labels_cap ? ps->labels_cap * 2 : 16;
				struct infra_prom_label *nlb = realloc(ps->labels, nc * sizeof(*nlb));

				if (!nlb)
					return oom(ps);
				ps->labels = nlb;
				ps->labels_cap = nc;
			}
			lb = &ps->labels[nlab++];
			lb->name = ln;
			lb->name_len = lnl;
			lb->value = val;
			lb->value_len = (size_t)(d - val);
			p = skip_blank(p);
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p == '}') {
				p++;
				break;
			}
			return perr(ps, p, (size_t)(e - p), "unexpected end of label value \"%s\"", val);
		}
		p = skip_blank(p);
	}
	/* value */
	v = p;
	while (*p != ' ' && *p != '\t' && *p != '\n')
		p++;
	if (parse_float(v, (size_t)(p - v), &ev.value))
		return perr(ps, v, (size_t)(p - v), "expected float as value");
	ev.value_text = v;
	ev.value_text_len = (size_t)(p - v);
	if (*p != '\n') {
		char *t = skip_blank(p + 1);

		p = t;
		while (*p != ' ' && *p != '\t' && *p != '\n')
			p++;
		if (parse_int64(t, (size_t)(p - t), &ev.timestamp_ms))
			return perr(ps, t, (size_t)(p - t), "expected integer as timestamp");
		ev.has_timestamp = 1;
		if (*p != '\n')
			return perr(ps, p, (size_t)(e - p), "spurious string after timestamp");
	}
	ev.labels = ps->labels;
	ev.nlabels = nlab;
	rc = ps->cb ? ps->cb(ps->ud, &ev) : 0;
	return rc;
}

static int all_ascii(const char *s, size_t n)
{
	uint64_t acc = 0, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= (unsigned char)s[i];
	return (acc & 0x8080808080808080ULL) == 0;
}

/* Parse one complete line in a writable buffer; s..e with *e == '\n'. */
static int parse_line(struct infra_prom_parser *ps, char *s, char *e)
{
	char *p = skip_blank(s);

	ps->ascii = all_ascii(s, (size_t)(e - s));
	if (*p == '\n')
		return 0;
	if (*p == '#')
		return parse_comment(ps, p + 1, e);
	return parse_sample(ps, p, e);
}

static int line_done(struct infra_prom_parser *ps, int rc)
{
	if (rc)
		ps->failed = rc;
	return rc;
}

int infra_prom_parser_feed(struct infra_prom_parser *ps, const char *data, size_t len,
			   struct infra_err *err)
{
	const char *p = data, *end = data + len;
	int rc;

	if (!ps)
		return infra_err_set(err, -EINVAL, "prom: no parser");
	if (ps->failed)
		return ps->failed;
	if (len == 0)
		return 0;
	ps->err = err;
	if (ps->carry_len) {
		const char *nl = memchr(p, '\n', len);
		size_t take = nl ? (size_t)(nl - p) + 1 : len;

		if (ps->carry_len + take > MAX_LINE) {
			ps->line++;
			ps->failed = infra_err_set(err, -E2BIG, "line %zu: line longer than 16 MiB",
						   ps->line);
			return ps->failed;
		}
		if (grow(&ps->carry, &ps->carry_cap, ps->carry_len + take + 1)) {
			ps->failed = infra_err_set(err, -ENOMEM, "prom: out of memory");
			return ps->failed;
		}
		memcpy(ps->carry + ps->carry_len, p, take);
		ps->carry_len += take;
		p += take;
		if (!nl)
			return 0;
		ps->line++;
		ps->cur_off = ps->next_off;
		ps->cur_len = ps->carry_len;
		ps->next_off += ps->carry_len;
		rc = parse_line(ps, ps->carry, ps->carry + ps->carry_len - 1);
		ps->carry_len = 0;
		if (rc)
			return line_done(ps, rc);
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n;

		if (!nl)
			break;
		n = (size_t)(nl - p) + 1;
		ps->line++;
		if (n > MAX_LINE) {
			ps->failed = infra_err_set(err, -E2BIG, "line %zu: line longer than 16 MiB",
						   ps->line);
			return ps->failed;
		}
		if (grow(&ps->scratch, &ps->scratch_cap, n + 1)) {
			ps->failed = infra_err_set(err, -ENOMEM, "prom: out of memory");
			return ps->failed;
		}
		memcpy(ps->scratch, p, n);
		ps->cur_off = ps->next_off;
		ps->cur_len = n;
		ps->next_off += n;
		rc = parse_line(ps, ps->scratch, ps->scratch + n - 1);
		if (rc)
			return line_done(ps, rc);
		p = nl + 1;
	}
	if (p < end) {
		size_t n = (size_t)(end - p);

		if (n > MAX_LINE) {
			ps->failed = infra_err_set(err, -E2BIG, "line %zu: line longer than 16 MiB",
						   ps->line + 1);
			return ps->failed;
		}
		if (grow(&ps->carry, &ps->carry_cap, n + 1)) {
			ps->failed = infra_err_set(err, -ENOMEM, "prom: out of memory");
			return ps->failed;
		}
		memcpy(ps->carry, p, n);
		ps->carry_len = n;
	}
	return 0;
}

int infra_prom_parser_finish(struct infra_prom_parser *ps, struct infra_err *err)
{
	size_t i;

	if (!ps)
		return infra_err_set(err, -EINVAL, "prom: no parser");
	if (ps->failed)
		return ps->failed;
	for (i = 0; i < ps->carry_len; i++)
		if (ps->carry[i] != ' ' && ps->carry[i] != '\t')
			break;
	if (i < ps->carry_len) {
		ps->err = err;
		ps->line++;
		ps->failed = perr(ps, NULL, 0, "unexpected end of input (no final newline)");
		return ps->failed;
	}
	ps->carry_len = 0;
	return 0;
}

int infra_prom_parse(const char *data, size_t len, infra_prom_cb cb, void *ud,
		     struct infra_err *err)
{
	struct infra_prom_parser *ps = infra_prom_parser_new(cb, ud);
	int rc;

	if (!ps)
		return infra_err_set(err, -ENOMEM, "prom: out of memory");
	rc = infra_prom_parser_feed(ps, data, len, err);
	if (!rc)
		rc = infra_prom_parser_finish(ps, err);
	infra_prom_parser_free(ps);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* 5. loader: parser events into a collection                                 */
/* ------------------------------------------------------------------------ */

struct load_ctx {
	struct infra_prom *p;
	const char *const *extra;
	size_t nextra;
	const char **labels;
	size_t labels_cap;
	size_t fail_line; /* line of the event whose add/declare failed */
	struct infra_err *err;
};

/* The family a sample or HELP name belongs to, as infra_prom_add resolves it. */
static uint32_t fam_resolve_existing(const struct infra_prom *p, const char *s, size_t n)
{
	static const char *const sufs[3] = { "_bucket", "_sum", "_count" };
	uint32_t f = fam_lookup(p, s, n), i;

	if (f != NO_ID)
		return f;
	for (i = 0; i < 3; i++) {
		size_t sn = strlen(sufs[i]);

		if (!ends_with(s, n, sufs[i], sn))
			continue;
		f = fam_lookup(p, s, n - sn);
		if (f != NO_ID && (p->fam[f].type == INFRA_PROM_HISTOGRAM ||
				   (p->fam[f].type == INFRA_PROM_SUMMARY && i > 0)))
			return f;
		break;
	}
	return NO_ID;
}

static int load_event(struct load_ctx *c, const struct infra_prom_event *ev);

static int load_cb(void *ud, const struct infra_prom_event *ev)
{
	struct load_ctx *c = ud;
	int rc = load_event(c, ev);

	if (rc)
		c->fail_line = ev->line;
	return rc;
}

static int load_event(struct load_ctx *c, const struct infra_prom_event *ev)
{
	struct infra_prom *p = c->p;
	size_t i, k = 0;
	uint32_t fi, hid;

	switch (ev->kind) {
	case INFRA_PROM_EV_COMMENT:
		return 0;
	case INFRA_PROM_EV_TYPE:
		return infra_prom_family(p, ev->name, ev->type, NULL, c->err);
	case INFRA_PROM_EV_HELP:
		if (!utf8_valid((const unsigned char *)ev->text, ev->text_len) ||
		    memchr(ev->text, '\0', ev->text_len))
			return infra_err_set(c->err, -EINVAL, "prom: HELP of %.200s is not valid UTF-8 text",
					     ev->name);
		fi = fam_resolve_existing(p, ev->name, ev->name_len);
		if (fi == NO_ID) {
			/* HELP before TYPE: an undeclared family that TYPE may still type */
			int rc = infra_prom_family(p, ev->name, INFRA_PROM_UNTYPED, ev->text, c->err);

			if (!rc)
				p->fam[fam_lookup(p, ev->name, ev->name_len)].declared = 0;
			return rc;
		}
		if (p->fam[fi].help == NO_ID) {
			hid = str_intern(p, ev->text, ev->text_len);
			if (hid == NO_ID)
				return infra_err_set(c->err, -ENOMEM, "prom: out of memory");
			p->fam[fi].help = hid;
		}
		return 0;
	case INFRA_PROM_EV_SAMPLE:
		break;
	}
	if (ev->nlabels + c->nextra + 1 > c->labels_cap / 2) {
		size_t nc = (ev->nlabels + c->nextra + 1) * 2;
		const char **nl = realloc(c->labels, nc * sizeof(*nl));

		if (!nl)
			return infra_err_set(c->err, -ENOMEM, "prom: out of memory");
		c->labels = nl;
		c->labels_cap = nc;
	}
	for (i = 0; i < ev->nlabels; i++) {
		if (memchr(ev->labels[i].value, '\0', ev->labels[i].value_len))
			return infra_err_set(c->err, -EINVAL, "prom: label %s of %s holds a NUL byte",
					     ev->labels[i].name, ev->name);
		c->labels[k++] = ev->labels[i].name;
		c->labels[k++] = ev->labels[i].value;
	}
	for (i = 0; i < c->nextra; i++) {
		c->labels[k++] = c->extra[2 * i];
		c->labels[k++] = c->extra[2 * i + 1];
	}
	c->labels[k] = NULL;
	return infra_prom_add(p, ev->name, c->labels, ev->value, c->err);
}

int infra_prom_load(struct infra_prom *p, const char *data, size_t len,
		    const char *const *extra_labels, struct infra_err *err)
{
	struct infra_prom_parser *ps;
	struct load_ctx c;
	int rc;

	if (!p)
		return infra_err_set(err, -EINVAL, "prom: no collection");
	memset(&c, 0, sizeof(c));
	c.p = p;
	c.extra = extra_labels;
	c.err = err;
	while (extra_labels && extra_labels[2 * c.nextra] && extra_labels[2 * c.nextra + 1])
		c.nextra++;
	ps = infra_prom_parser_new(load_cb, &c);
	if (!ps) {
		return infra_err_set(err, -ENOMEM, "prom: out of memory");
	}
	rc = infra_prom_parser_feed(ps, data, len, err);
	if (!rc)
		rc = infra_prom_parser_finish(ps, err);
	if (rc && c.fail_line)
		infra_err_prefix(err, "line %zu", c.fail_line);
	infra_prom_parser_free(ps);
	free(c.labels);
	return rc;
}
