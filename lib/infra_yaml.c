#include "infra_yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "infra_buf.h"
#include "infra_file.h"

/* One open collection of the node being built. */
struct frame {
	json_object *obj;
	int is_map;
	int key_state; /* maps: 0 expecting a key, 1 a value for `key`, 2 a value to drop */
	char *key;
	char *anchor;  /* anchor of this collection, registered when it ends */
	size_t size;   /* nodes in this subtree so far, itself included */
};

struct anchor {
	char *name;
	json_object *node; /* a reference of its own */
	size_t size;
};

struct composer {
	const char *name;
	struct infra_yaml_limits lim;
	struct frame *stack;
	int depth;
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	size_t total;      /* nodes produced, alias expansions included */
	size_t aliased;    /* nodes produced by alias expansions */
	json_object *root;
	int have_root;
	struct infra_err *err;
};

/* Count n more nodes (through an alias or not) against the limits. */
static int count(struct composer *c, size_t n, int via_alias)
{
	if (n > c->lim.max_nodes || c->total > c->lim.max_nodes - n)
		return infra_err_set(c->err, -E2BIG, "%s: too many aliases/nodes (limit %zu nodes)", c->name,
				     c->lim.max_nodes);
	if (via_alias && (n > c->lim.max_alias_nodes || c->aliased > c->lim.max_alias_nodes - n))
		return infra_err_set(c->err, -E2BIG, "%s: too many aliases/nodes (limit %zu nodes through aliases)",
				     c->name, c->lim.max_alias_nodes);
	c->total += n;
	if (via_alias)
		c->aliased += n;
	return 0;
}

static int add_anchor(struct composer *c, const char *name, json_object *node, size_t size)
{
	struct anchor *a;

	if (c->n_anchors == c->cap_anchors) {
		size_t cap = c->cap_anchors ? 2 * c->cap_anchors : 16;
		struct anchor *n = realloc(c->anchors, cap * sizeof(*n));
		if (!n)
			return infra_err_set(c->err, -ENOMEM, "%s: out of memory", c->name);
		c->anchors = n;
		c->cap_anchors = cap;
	}
	a = &c->anchors[c->n_anchors];
	a->name = strdup(name);
	if (!a->name)
		return infra_err_set(c->err, -ENOMEM, "%s: out of memory", c->name);
	a->node = json_object_get(node);
	a->size = size;
	c->n_anchors++;
	return 0;
}

/* A finished node (owned by the call): register its anchor, hang it on its parent. */
static int deliver(struct composer *c, json_object *v, size_t size, const char *anchor)
{
	struct frame *p;
	int rc;

	if (anchor && (rc = add_anchor(c, anchor, v, size))) {
		json_object_put(v);
		return rc;
	}
	if (c->depth == 0) {
		if (!c->have_root) {
			c->root = v;
			c->have_root = 1;
		} else {
			json_object_put(v);
		}
		return 0;
	}
	p = &c->stack[c->depth - 1];
	p->size += size;
	if (!p->is_map) {
		if (json_object_array_add(p->obj, v)) {
			json_object_put(v);
			return infra_err_set(c->err, -ENOMEM, "%s: out of memory", c->name);
		}
		return 0;
	}
	switch (p->key_state) {
	case 0:
		if (json_object_is_type(v, json_type_string)) {
			p->key = strdup(json_object_get_string(v));
			p->key_state = p->key ? 1 : 2;
		} else {
			p->key_state = 2; /* a collection as key: the pair is dropped */
		}
		json_object_put(v);
		return 0;
	case 1:
		rc = json_object_object_add(p->obj, p->key, v);
		free(p->key);
		p->key = NULL;
		p->key_state = 0;
		if (rc) {
			json_object_put(v);
			return infra_err_set(c->err, -ENOMEM, "%s: out of memory", c->name);
		}
		return 0;
	default:
		json_object_put(v);
		p->key_state = 0;
		return 0;
	}
}

static int open_collection(struct composer *c, int is_map, const yaml_char_t *anchor, size_t line)
{
	struct frame *f;
	int rc;

	if (c->depth >= c->lim.max_depth)
		return infra_err_set(c->err, -EINVAL, "%s: line %zu: nested deeper than %d", c->name, line,
				     c->lim.max_depth);
	if ((rc = count(c, 1, 0)))
		return rc;
	f = &c->stack[c->depth];
	memset(f, 0, sizeof(*f));
	f->is_map = is_map;
	f->size = 1;
	f->obj = is_map ? json_object_new_object() : json_object_new_array();
	if (anchor)
		f->anchor = strdup((const char *)anchor);
	if (!f->obj || (anchor && !f->anchor)) {
		json_object_put(f->obj);
		free(f->anchor);
		return infra_err_set(c->err, -ENOMEM, "%s: out of memory", c->name);
	}
	c->depth++;
	return 0;
}

static int close_collection(struct composer *c)
{
	struct frame *f = &c->stack[--c->depth];
	int rc = deliver(c, f->obj, f->size, f->anchor);

	free(f->anchor);
	free(f->key);
	return rc;
}

static int alias(struct composer *c, const char *name, size_t line)
{
	json_object *copy = NULL;

	for (size_t i = c->n_anchors; i-- > 0;) {
		struct anchor *a = &c->anchors[i];
		int rc;

		if (strcmp(a->name, name))
			continue;
		/* counted before copying: a bomb is refused at its first oversized alias */
		if ((rc = count(c, a->size, 1)))
			return rc;
		if (json_object_deep_copy(a->node, &copy, NULL) || !copy)
			return infra_err_set(c->err, -ENOMEM, "%s: out of memory", c->name);
		return deliver(c, copy, a->size, NULL);
	}
	/* also an alias to a collection still open (a cycle): YAML allows it, JSON cannot hold it */
	return infra_err_set(c->err, -EINVAL, "%s: line %zu: unknown alias", c->name, line);
}

static int on_event(struct composer *c, yaml_event_t *ev, int *done)
{
	size_t line = ev->start_mark.line + 1;
	json_object *s;
	int rc;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if ((rc = count(c, 1, 0)))
			return rc;
		s = json_object_new_string_len((const char *)ev->data.scalar.value, (int)ev->data.scalar.length);
		if (!s)
			return infra_err_set(c->err, -ENOMEM, "%s: out of memory", c->name);
		return deliver(c, s, 1, (const char *)ev->data.scalar.anchor);
	case YAML_SEQUENCE_START_EVENT:
		return open_collection(c, 0, ev->data.sequence_start.anchor, line);
	case YAML_MAPPING_START_EVENT:
		return open_collection(c, 1, ev->data.mapping_start.anchor, line);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return c->depth > 0 ? close_collection(c) : 0;
	case YAML_ALIAS_EVENT:
		return alias(c, (const char *)ev->data.alias.anchor, line);
	case YAML_DOCUMENT_END_EVENT: /* the first document only */
	case YAML_STREAM_END_EVENT:
		*done = 1;
		return 0;
	default:
		return 0;
	}
}

json_object *infra_yaml_parse(const char *data, size_t len, const char *name,
			      const struct infra_yaml_limits *lim, struct infra_err *err)
{
	struct composer c;
	yaml_parser_t parser;
	yaml_event_t ev;
	int done = 0, rc = 0;

	memset(&c, 0, sizeof(c));
	c.name = name ? name : "YAML";
	c.err = err;
	if (lim)
		c.lim = *lim;
	if (!c.lim.max_bytes)
		c.lim.max_bytes = INFRA_YAML_MAX_BYTES;
	if (!c.lim.max_nodes)
		c.lim.max_nodes = INFRA_YAML_MAX_NODES;
	if (!c.lim.max_alias_nodes)
		c.lim.max_alias_nodes = INFRA_YAML_MAX_ALIAS_NODES;
	if (c.lim.max_depth <= 0)
		c.lim.max_depth = INFRA_YAML_MAX_DEPTH;
	if (len > c.lim.max_bytes) {
		infra_err_set(err, -E2BIG, "%s: larger than %zu bytes", c.name, c.lim.max_bytes);
		return NULL;
	}
	c.stack = calloc((size_t)c.lim.max_depth, sizeof(*c.stack));
	if (!c.stack || !yaml_parser_initialize(&parser)) {
		free(c.stack);
		infra_err_set(err, -ENOMEM, "%s: out of memory", c.name);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!done && !rc) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = infra_err_set(err, -EINVAL, "%s: line %zu: %s", c.name, parser.problem_mark.line + 1,
					   parser.problem ? parser.problem : "invalid YAML");
			break;
		}
		rc = on_event(&c, &ev, &done);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	while (c.depth > 0) { /* stopped early: drop what is open */
		struct frame *f = &c.stack[--c.depth];
		json_object_put(f->obj);
		free(f->anchor);
		free(f->key);
	}
	free(c.stack);
	for (size_t i = 0; i < c.n_anchors; i++) {
		free(c.anchors[i].name);
		json_object_put(c.anchors[i].node);
	}
	free(c.anchors);
	if (rc) {
		json_object_put(c.root);
		return NULL;
	}
	/* an empty stream or an empty document reads as an empty mapping */
	return c.root ? c.root : json_object_new_object();
}

json_object *infra_yaml_load_file_limits(const char *path, const struct infra_yaml_limits *lim,
					 struct infra_err *err)
{
	struct infra_buf buf;
	size_t max = lim && lim->max_bytes ? lim->max_bytes : INFRA_YAML_MAX_BYTES;
	json_object *out;

	if (infra_file_read_at(AT_FDCWD, path, 0, max, &buf, err))
		return NULL;
	out = infra_yaml_parse(buf.data, buf.len, path, lim, err);
	infra_buf_release(&buf);
	return out;
}

json_object *infra_yaml_load_file(const char *path, struct infra_err *err)
{
	return infra_yaml_load_file_limits(path, NULL, err);
}
