/* infra_nasmon.c - the checks engine of nasmon-check (see infra_nasmon.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/linkhash.h>
#include <json-c/printbuf.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "infra_cli.h"
#include "infra_exit.h"
#include "infra_history.h"
#include "infra_json.h"
#include "infra_kube.h"
#include "infra_nagios.h"
#include "infra_nasmon.h"
#include "infra_report.h"
#include "infra_statedir.h"
#include "infra_truenas.h"
#include "infra_yaml.h"

#define HOUR 3600.0
#define DAY 86400.0
#define GiB 1073741824.0

const struct infra_nasmon_check_def infra_nasmon_checks[NASMON_NCHECKS] = {
	[NASMON_ORPH_PV] = { "ORPH-PV", NASMON_SEV_CRITICAL, NAN, NAN, HOUR, "-",
		"PV of a democratic-csi driver whose dataset P/<volumeHandle> is missing (critical when Bound)" },
	[NASMON_ORPH_DS] = { "ORPH-DS", NASMON_SEV_WARNING, NAN, NAN, HOUR, "-",
		"democratic-csi dataset (managed_resource and provision_success LOCAL) no PV uses; another instance's: info" },
	[NASMON_ORPH_PROV] = { "ORPH-PROV", NASMON_SEV_WARNING, NAN, NAN, HOUR, "-",
		"dataset with managed_resource but no provision_success: creation was interrupted" },
	[NASMON_ORPH_REL] = { "ORPH-REL", NASMON_SEV_WARNING, 7 * DAY, NAN, 0, "warn: seconds Released/Failed",
		"PV Released or Failed for longer than warn (Retain: info)" },
	[NASMON_ORPH_PVC] = { "ORPH-PVC", NASMON_SEV_WARNING, 15 * 60, HOUR, 0, "seconds Pending",
		"PVC of a democratic-csi StorageClass Pending for longer than warn/crit" },
	[NASMON_ORPH_VA] = { "ORPH-VA", NASMON_SEV_WARNING, HOUR, NAN, HOUR, "warn: seconds since deletionTimestamp",
		"VolumeAttachment whose PV or node is missing, deleting for longer than warn, or with an attach/detach error" },
	[NASMON_ORPH_SHARE] = { "ORPH-SHARE", NASMON_SEV_WARNING, NAN, NAN, 0, "-",
		"NFS share or iSCSI extent under a dataset parent with no dataset; CSI target without extent; dangling target-extent" },
	[NASMON_SHARE_MISSING] = { "SHARE-MISSING", NASMON_SEV_CRITICAL, NAN, NAN, HOUR, "-",
		"volume whose share ids point at missing or disabled shares, or whose PV share/iqn does not match" },
	[NASMON_SNAP_ORPH] = { "SNAP-ORPH", NASMON_SEV_WARNING, NAN, NAN, HOUR, "-",
		"CSI snapshot (csi_snapshot_name LOCAL) or detached snapshot dataset no VolumeSnapshotContent points at" },
	[NASMON_SNAP_MISSING] = { "SNAP-MISSING", NASMON_SEV_CRITICAL, NAN, NAN, HOUR, "-",
		"VolumeSnapshotContent whose snapshotHandle has no ZFS snapshot (critical when its VS is readyToUse)" },
	[NASMON_SNAP_DANGLING] = { "SNAP-DANGLING", NASMON_SEV_WARNING, HOUR, NAN, HOUR, "warn: seconds not ready",
		"VolumeSnapshotContent whose VolumeSnapshot is gone (Retain: info); VolumeSnapshot not ready longer than warn" },
	[NASMON_SNAP_COUNT] = { "SNAP-COUNT", NASMON_SEV_WARNING, 50, 200, 0, "CSI snapshots per volume",
		"CSI snapshots per volume above warn/crit" },
	[NASMON_SNAP_AGE] = { "SNAP-AGE", NASMON_SEV_WARNING, 30 * DAY, NAN, 0, "seconds, age of the oldest CSI snapshot",
		"oldest CSI snapshot of a volume older than warn" },
	[NASMON_SNAP_SPACE] = { "SNAP-SPACE", NASMON_SEV_WARNING, 0.5, NAN, 0, "ratio usedbysnapshots/provisioned",
		"space held by a volume's snapshots over its provisioned size above warn" },
	[NASMON_SNAP_FOREIGN] = { "SNAP-FOREIGN", NASMON_SEV_INFO, NAN, NAN, 0, "-",
		"snapshots on CSI volumes that are not CSI's (no csi_snapshot_name): block DeleteVolume on next (warning when the PV is Released)" },
	[NASMON_SNAP_CLONE] = { "SNAP-CLONE", NASMON_SEV_WARNING, DAY, NAN, HOUR, "warn: seconds, age of an unused temporary snapshot",
		"volume cloned from a CSI snapshot (info); volume-source-for-* temporary snapshot with no clone older than warn" },
	[NASMON_CAP_OVERCOMMIT] = { "CAP-OVERCOMMIT", NASMON_SEV_WARNING, 1.0, 2.0, 0, "ratio provisioned/usable",
		"sum of provisioned sizes of CSI volumes per pool over the pool's usable bytes" },
	[NASMON_CAP_SPARSE] = { "CAP-SPARSE", NASMON_SEV_WARNING, 1.0, NAN, 0, "ratio exposure/available",
		"unwritten part of sparse zvols per pool over the pool's available bytes" },
	[NASMON_CAP_POOL] = { "CAP-POOL", NASMON_SEV_WARNING, 0.8, 0.9, 0, "ratio used/usable",
		"pool used ratio above warn/crit; pool not healthy or not ONLINE (critical)" },
	[NASMON_CAP_VOL] = { "CAP-VOL", NASMON_SEV_WARNING, 0.85, 0.95, 0, "ratio used/provisioned",
		"volume fill (fs referenced or usedbydataset / refquota, zvol usedbydataset / volsize)" },
	[NASMON_CAP_SIZE] = { "CAP-SIZE", NASMON_SEV_CRITICAL, NAN, NAN, HOUR, "-",
		"PV capacity against volsize/refquota: backend smaller (critical), larger beyond rounding or no quota (info)" },
	[NASMON_CFG_DRIVER] = { "CFG-DRIVER", NASMON_SEV_CRITICAL, NAN, NAN, 0, "-",
		"every democratic-csi driver has a CSIDriver object (critical); every Ready node has it in its CSINode (warning)" },
	[NASMON_CFG_SC] = { "CFG-SC", NASMON_SEV_WARNING, NAN, NAN, 0, "-",
		"StorageClass/VolumeSnapshotClass parameters: fsType for the driver, expansion, Retain, detachedSnapshots" },
	[NASMON_CFG_TN] = { "CFG-TN", NASMON_SEV_CRITICAL, NAN, NAN, 0, "-",
		"dataset parents exist and are not nested; the share service runs when volumes need it; REST on 25.10.1+" },
	[NASMON_HLTH_PODS] = { "HLTH-PODS", NASMON_SEV_WARNING, 5, NAN, 0, "warn: container restarts",
		"democratic-csi pods Ready, restarts, DaemonSet and controller Deployment available" },
};

/* ---------------------------------------------------------------- config */

static const char *const sev_names[] = { "ok", "info", "warning", "critical" };

const char *infra_nasmon_sev_name(int sev)
{
	return sev >= 0 && sev <= 3 ? sev_names[sev] : "unknown";
}

void infra_nasmon_config_init(struct infra_nasmon_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (int i = 0; i < NASMON_NCHECKS; i++) {
		cfg->checks[i].enabled = 1;
		cfg->checks[i].severity = -1;
		cfg->checks[i].warn = infra_nasmon_checks[i].warn;
		cfg->checks[i].crit = infra_nasmon_checks[i].crit;
		cfg->checks[i].grace = infra_nasmon_checks[i].grace;
	}
	cfg->history_max = 96;
	cfg->history_volumes = 200;
}

void infra_nasmon_config_release(struct infra_nasmon_config *cfg)
{
	json_object_put(cfg->drivers);
	json_object_put(cfg->dataset_parents);
	json_object_put(cfg->snapshot_parents);
	json_object_put(cfg->instance_ids);
	cfg->drivers = cfg->dataset_parents = cfg->snapshot_parents = cfg->instance_ids = NULL;
}

int infra_nasmon_check_index(const char *id)
{
	for (int i = 0; i < NASMON_NCHECKS; i++)
		if (!strcasecmp(id, infra_nasmon_checks[i].id))
			return i;
	return -1;
}

/* Split "a,b,c" into a new array of strings (trimmed, empty items dropped). */
static json_object *split_list(const char *s)
{
	json_object *a = json_object_new_array();
	const char *p = s;

	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *q = p;

		while (n && isspace((unsigned char)*q))
			q++, n--;
		while (n && isspace((unsigned char)q[n - 1]))
			n--;
		if (n)
			json_object_array_add(a, json_object_new_string_len(q, (int)n));
		p = e ? e + 1 : p + strlen(p);
	}
	return a;
}

int infra_nasmon_config_select(struct infra_nasmon_config *cfg, const char *list, int only,
			       struct infra_err *err)
{
	json_object *a = split_list(list);
	int sel[NASMON_NCHECKS] = { 0 };
	size_t n = json_object_array_length(a);

	for (size_t i = 0; i < n; i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(a, i));
		int k = infra_nasmon_check_index(id);

		if (k < 0) {
			infra_err_set(err, -EINVAL, "unknown check id '%s' (see nasmon-check --list-checks)", id);
			json_object_put(a);
			return -EINVAL;
		}
		sel[k] = 1;
	}
	json_object_put(a);
	if (!n)
		return infra_err_set(err, -EINVAL, "empty check list");
	for (int k = 0; k < NASMON_NCHECKS; k++) {
		if (only)
			cfg->checks[k].enabled = sel[k];
		else if (sel[k])
			cfg->checks[k].enabled = 0;
	}
	return 0;
}

static int parse_sev(const char *v, int *out)
{
	for (int s = NASMON_SEV_INFO; s <= NASMON_SEV_CRITICAL; s++)
		if (!strcasecmp(v, sev_names[s])) {
			*out = s;
			return 0;
		}
	if (!strcasecmp(v, "default")) {
		*out = -1;
		return 0;
	}
	return -EINVAL;
}

static int parse_number(const char *v, double *out)
{
	char *end;

	if (!strcasecmp(v, "none") || !strcasecmp(v, "off")) {
		*out = NAN;
		return 0;
	}
	errno = 0;
	*out = strtod(v, &end);
	if (end != v && !*end && !errno && isfinite(*out))
		return 0;
	return infra_parse_duration(v, out); /* 7d, 15m ... */
}

static int set_list(json_object **dst, const char *v)
{
	json_object_put(*dst);
	*dst = split_list(v);
	return 0;
}

/* One setting: key (check-qualified or global) = value; ctx names it in messages. */
static int config_set_kv(struct infra_nasmon_config *cfg, const char *key, const char *v,
			 const char *ctx, struct infra_err *err)
{
	const char *dot = strrchr(key, '.');
	long n;

	if (!strcmp(key, "drivers"))
		return set_list(&cfg->drivers, v);
	if (!strcmp(key, "dataset-parents") || !strcmp(key, "dataset_parents"))
		return set_list(&cfg->dataset_parents, v);
	if (!strcmp(key, "snapshot-parents") || !strcmp(key, "snapshot_parents"))
		return set_list(&cfg->snapshot_parents, v);
	if (!strcmp(key, "instance-ids") || !strcmp(key, "instance_ids"))
		return set_list(&cfg->instance_ids, v);
	if (!strcmp(key, "history-max") || !strcmp(key, "history_max") ||
	    !strcmp(key, "history-volumes") || !strcmp(key, "history_volumes")) {
		if (infra_parse_long(v, 2, 100000, &n))
			return infra_err_set(err, -EINVAL, "%s: %s must be an integer 2..100000, not '%s'", ctx, key, v);
		if (strstr(key, "max"))
			cfg->history_max = (size_t)n;
		else
			cfg->history_volumes = (size_t)n;
		return 0;
	}
	if (dot) {
		char id[32];
		size_t idn = (size_t)(dot - key);
		int k;
		struct infra_nasmon_check_cfg *c;
		const char *field = dot + 1;

		if (idn >= sizeof(id))
			return infra_err_set(err, -EINVAL, "%s: unknown setting '%s'", ctx, key);
		memcpy(id, key, idn);
		id[idn] = 0;
		k = infra_nasmon_check_index(id);
		if (k < 0)
			return infra_err_set(err, -EINVAL, "%s: unknown check id '%s'", ctx, id);
		c = &cfg->checks[k];
		if (!strcmp(field, "enabled")) {
			if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"))
				c->enabled = 1;
			else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no"))
				c->enabled = 0;
			else
				return infra_err_set(err, -EINVAL, "%s: %s must be true or false, not '%s'", ctx, key, v);
			return 0;
		}
		if (!strcmp(field, "severity")) {
			if (parse_sev(v, &c->severity))
				return infra_err_set(err, -EINVAL, "%s: %s must be info, warning, critical or default, not '%s'",
						     ctx, key, v);
			return 0;
		}
		if (!strcmp(field, "warn") || !strcmp(field, "crit") || !strcmp(field, "grace")) {
			double d;

			if (parse_number(v, &d) || (!strcmp(field, "grace") && (isnan(d) || d < 0)))
				return infra_err_set(err, -EINVAL, "%s: %s must be a number or a duration (90s, 15m, 2h, 7d), not '%s'",
						     ctx, key, v);
			if (field[0] == 'w')
				c->warn = d;
			else if (field[0] == 'c')
				c->crit = d;
			else
				c->grace = d;
			return 0;
		}
	}
	return infra_err_set(err, -EINVAL, "%s: unknown setting '%s'", ctx, key);
}

int infra_nasmon_config_set(struct infra_nasmon_config *cfg, const char *assignment,
			    struct infra_err *err)
{
	const char *eq = strchr(assignment, '=');
	char key[128];

	if (!eq || eq == assignment || (size_t)(eq - assignment) >= sizeof(key))
		return infra_err_set(err, -EINVAL, "--set: expected ID.key=value or name=value, not '%s'", assignment);
	memcpy(key, assignment, (size_t)(eq - assignment));
	key[eq - assignment] = 0;
	return config_set_kv(cfg, key, eq + 1, "--set", err);
}

/* A YAML scalar or a sequence of scalars, as "a,b" text. */
static int yaml_value(json_object *v, char *buf, size_t size)
{
	if (json_object_is_type(v, json_type_string)) {
		snprintf(buf, size, "%s", json_object_get_string(v));
		return 0;
	}
	if (json_object_is_type(v, json_type_array)) {
		size_t len = 0;

		buf[0] = 0;
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *e = json_object_array_get_idx(v, i);

			if (!json_object_is_type(e, json_type_string))
				return -EINVAL;
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s", i ? "," : "",
						json_object_get_string(e));
			if (len >= size)
				return -E2BIG;
		}
		return 0;
	}
	return -EINVAL;
}

int infra_nasmon_config_load(struct infra_nasmon_config *cfg, const char *path, struct infra_err *err)
{
	json_object *root = infra_yaml_load_file(path, err);
	char val[8192], ctx[600];
	int rc = 0;

	if (!root)
		return err && err->code ? err->code : -EINVAL;
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return infra_err_set(err, -EINVAL, "%s: expected a mapping at the top", path);
	}
	json_object_object_foreach(root, key, v) {
		snprintf(ctx, sizeof(ctx), "%s: %s", path, key);
		if (!strcmp(key, "checks")) {
			if (!json_object_is_type(v, json_type_object)) {
				rc = infra_err_set(err, -EINVAL, "%s: expected a mapping of check ids", ctx);
				break;
			}
			json_object_object_foreach(v, id, settings) {
				if (infra_nasmon_check_index(id) < 0) {
					rc = infra_err_set(err, -EINVAL, "%s: unknown check id '%s'", ctx, id);
					break;
				}
				if (!json_object_is_type(settings, json_type_object)) {
					rc = infra_err_set(err, -EINVAL, "%s: %s: expected a mapping (warn, crit, grace, severity, enabled)",
							   ctx, id);
					break;
				}
				json_object_object_foreach(settings, f, sv) {
					char full[160];

					if (yaml_value(sv, val, sizeof(val))) {
						rc = infra_err_set(err, -EINVAL, "%s: %s.%s: expected a scalar", ctx, id, f);
						break;
					}
					snprintf(full, sizeof(full), "%s.%s", id, f);
					rc = config_set_kv(cfg, full, val, path, err);
					if (rc)
						break;
				}
				if (rc)
					break;
			}
		} else if (yaml_value(v, val, sizeof(val))) {
			rc = infra_err_set(err, -EINVAL, "%s: expected a scalar or a list", ctx);
		} else {
			rc = config_set_kv(cfg, key, val, path, err);
		}
		if (rc)
			break;
	}
	json_object_put(root);
	return rc;
}

/* ---------------------------------------------------------------- helpers */

static void map_free_entry(struct lh_entry *e)
{
	free((void *)lh_entry_k(e));
}

static struct lh_table *map_new(void)
{
	return lh_kchar_table_new(256, map_free_entry);
}

static void map_put(struct lh_table *t, const char *k, const void *v)
{
	if (!k || lh_table_lookup_entry(t, k))
		return;
	lh_table_insert(t, strdup(k), v);
}

static void *map_get(struct lh_table *t, const char *k)
{
	void *v = NULL;

	if (!k || !lh_table_lookup_ex(t, k, &v))
		return NULL;
	return v;
}

static void map_free(struct lh_table *t)
{
	if (t)
		lh_table_free(t);
}

/* A compact ZFS snapshot (infra_nasmon_compact_tn): one json string object whose bytes are its
 * id (empty when absent), NUL, a byte (1 present, 0 absent), then each further field as such a
 * byte and, when present, the value and NUL: "name", then the value and the source of each of csnap_props.  Told from a plain
 * string by its userdata (csnap_magic, set with its serializer). */
#define CSNAP_NPROPS 3
#define CSNAP_NFIELDS (2 + 2 * CSNAP_NPROPS) /* id, name, values, sources */
static const char *const csnap_props[CSNAP_NPROPS] = { "creation", "used", "democratic-csi:csi_snapshot_name" };
static const char csnap_magic[] = "csnap";

/* field k of a compact snapshot (0 id, 1 name, 2+i value, 2+CSNAP_NPROPS+i source); NULL when
 * absent; *is set to 0 when o is not a compact snapshot */
static const char *csnap_field(json_object *o, int k, int *is)
{
	const char *p, *end;

	*is = o && json_object_is_type(o, json_type_string) && json_object_get_userdata(o) == csnap_magic;
	if (!*is)
		return NULL;
	p = json_object_get_string(o);
	end = p + json_object_get_string_len(o);
	p += strlen(p) + 1;
	if (k == 0)
		return *p == 1 ? json_object_get_string(o) : NULL;
	for (int i = 1, pass = 1; p < end; i++, pass = 0) {
		int present;

		if (pass) /* the id's flag */
			p++;
		present = p[0] == 1;
		p++;
		if (i == k)
			return present ? p : NULL;
		if (present)
			p += strlen(p) + 1;
	}
	return NULL;
}

static const char *js(json_object *o, const char *path)
{
	json_object *v;
	int is;
	const char *f = csnap_field(o, !strcmp(path, "id") ? 0 : 1, &is);

	if (is)
		return !strcmp(path, "id") || !strcmp(path, "name") ? f : NULL;

	/* a compacted item (infra_nasmon_compact) holds the path itself as its key */
	if (o && json_object_object_get_ex(o, path, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return infra_json_opt_string(o, path, NULL);
}

static json_object *jo(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static int jtrue(json_object *o, const char *key)
{
	json_object *v = jo(o, key);

	if (!v)
		return 0;
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v);
	return json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), "true");
}

static double ktime(json_object *o, const char *path)
{
	const char *s = js(o, path);
	double t;

	if (!s || infra_parse_time(s, &t))
		return NAN;
	return t;
}

/* A ZFS property's value (rawvalue) and source, from a dataset (flattened native
 * properties, user_properties) or a snapshot (properties); zfs.resource style
 * {"raw","source":{"type"}} and plain strings too.  NULL when absent. */
static const char *zprop(json_object *o, const char *name, const char **source)
{
	json_object *p = jo(o, name);
	const char *v = NULL;
	int is;

	if (json_object_is_type(o, json_type_string) && (csnap_field(o, 0, &is), is)) {
		if (source)
			*source = NULL;
		for (int i = 0; i < CSNAP_NPROPS; i++)
			if (!strcmp(name, csnap_props[i])) {
				if (source)
					*source = csnap_field(o, 2 + CSNAP_NPROPS + i, &is);
				return csnap_field(o, 2 + i, &is);
			}
		return NULL;
	}
	if (!p)
		p = jo(jo(o, "user_properties"), name);
	if (!p)
		p = jo(jo(o, "properties"), name);
	if (source)
		*source = NULL;
	if (!p || json_object_is_type(p, json_type_null))
		return NULL;
	if (json_object_is_type(p, json_type_string))
		return json_object_get_string(p);
	if (!json_object_is_type(p, json_type_object))
		return NULL;
	v = js(p, "rawvalue");
	if (!v)
		v = js(p, "raw");
	if (!v && json_object_is_type(jo(p, "value"), json_type_string))
		v = js(p, "value");
	if (source) {
		*source = js(p, "source");
		if (!*source)
			*source = js(p, "source.type");
	}
	return v;
}

/* A numeric ZFS property; -1 when absent or not a number. */
static double znum(json_object *o, const char *name)
{
	const char *v = zprop(o, name, NULL);
	char *end;
	double d;

	if (!v || !*v)
		return -1;
	errno = 0;
	d = strtod(v, &end);
	if (*end || errno)
		return -1;
	return d;
}

static int local(const char *source)
{
	return !source || !strcmp(source, "LOCAL") || !strcmp(source, "RECEIVED");
}

static char *dirname_dup(const char *id)
{
	const char *s = strrchr(id, '/');

	return s ? strndup(id, (size_t)(s - id)) : NULL;
}

static const char *basename_of(const char *id)
{
	const char *s = strrchr(id, '/');

	return s ? s + 1 : id;
}

static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* ---------------------------------------------------------------- context */

enum kres { R_PV, R_PVC, R_SC, R_VA, R_CSIDRIVER, R_CSINODE, R_NODE, R_VS, R_VSC, R_VSCLASS,
	    R_POD, R_DS, R_DEPLOY, NKRES };
static const char *const kres_names[NKRES] = {
	"persistentvolumes", "persistentvolumeclaims", "storageclasses", "volumeattachments",
	"csidrivers", "csinodes", "nodes", "volumesnapshots", "volumesnapshotcontents",
	"volumesnapshotclasses", "pods", "daemonsets", "deployments",
};
enum tres { T_POOLS, T_DATASETS, T_SNAPSHOTS, T_NFS, T_SMB, T_TARGETS, T_EXTENTS, T_TES, T_SERVICES, NTRES };
static const char *const tres_names[NTRES] = {
	"pools", "datasets", "snapshots", "nfs_shares", "smb_shares", "iscsi_targets",
	"iscsi_extents", "iscsi_targetextents", "services",
};
#define K(r) (1u << (r))
#define T(r) (1u << (r))

static const struct { unsigned k, t; } needs[NASMON_NCHECKS] = {
	[NASMON_ORPH_PV] = { K(R_PV), T(T_DATASETS) },
	[NASMON_ORPH_DS] = { K(R_PV), T(T_DATASETS) },
	[NASMON_ORPH_PROV] = { 0, T(T_DATASETS) },
	[NASMON_ORPH_REL] = { K(R_PV), 0 },
	[NASMON_ORPH_PVC] = { K(R_PVC) | K(R_SC), 0 },
	[NASMON_ORPH_VA] = { K(R_VA) | K(R_PV) | K(R_NODE), 0 },
	[NASMON_ORPH_SHARE] = { 0, T(T_DATASETS) | T(T_NFS) | T(T_SMB) | T(T_TARGETS) | T(T_EXTENTS) | T(T_TES) },
	[NASMON_SHARE_MISSING] = { 0, T(T_DATASETS) | T(T_NFS) | T(T_SMB) | T(T_TARGETS) | T(T_EXTENTS) | T(T_TES) },
	[NASMON_SNAP_ORPH] = { K(R_VSC), T(T_DATASETS) | T(T_SNAPSHOTS) },
	[NASMON_SNAP_MISSING] = { K(R_VSC) | K(R_VS), T(T_DATASETS) | T(T_SNAPSHOTS) },
	[NASMON_SNAP_DANGLING] = { K(R_VSC) | K(R_VS), 0 },
	[NASMON_SNAP_COUNT] = { 0, T(T_DATASETS) | T(T_SNAPSHOTS) },
	[NASMON_SNAP_AGE] = { 0, T(T_DATASETS) | T(T_SNAPSHOTS) },
	[NASMON_SNAP_SPACE] = { 0, T(T_DATASETS) },
	[NASMON_SNAP_FOREIGN] = { 0, T(T_DATASETS) | T(T_SNAPSHOTS) },
	[NASMON_SNAP_CLONE] = { 0, T(T_DATASETS) | T(T_SNAPSHOTS) },
	[NASMON_CAP_OVERCOMMIT] = { 0, T(T_POOLS) | T(T_DATASETS) },
	[NASMON_CAP_SPARSE] = { 0, T(T_POOLS) | T(T_DATASETS) },
	[NASMON_CAP_POOL] = { 0, T(T_POOLS) | T(T_DATASETS) },
	[NASMON_CAP_VOL] = { 0, T(T_DATASETS) },
	[NASMON_CAP_SIZE] = { K(R_PV), T(T_DATASETS) },
	[NASMON_CFG_DRIVER] = { K(R_SC) | K(R_CSIDRIVER) | K(R_CSINODE) | K(R_NODE), 0 },
	[NASMON_CFG_SC] = { K(R_SC), 0 },
	[NASMON_CFG_TN] = { 0, T(T_DATASETS) },
	[NASMON_HLTH_PODS] = { K(R_POD) | K(R_DS) | K(R_DEPLOY), 0 },
};

struct vol {
	json_object *ds;
	const char *id, *leaf, *name, *pool, *instance;
	int zvol, managed, success;
	double created;
	json_object *pv;
	int csi_snaps, foreign_snaps;
	double oldest_csi;
	double provisioned, used, snapbytes;
};

struct ctx {
	const struct infra_nasmon_config *cfg;
	const struct infra_nasmon_input *in;
	struct infra_nasmon_result *res;
	struct infra_prom *prom;
	struct infra_err *err;
	double now;
	int check;
	int kup, tup;
	json_object *k[NKRES]; /* arrays (empty when absent) */
	int kfailed[NKRES], tfailed[NTRES];
	json_object *t[NTRES];
	json_object *empty;
	struct lh_table *drivers, *parents, *sparents, *instances;
	struct lh_table *ds_by_id, *snap_by_id, *pv_by_handle, *pv_by_name, *vs_by_key, *vsc_by_handle,
		*vsc_by_name, *node_by_name, *sc_by_name, *vsclass_by_name, *csidrivers, *vol_by_leaf,
		*vol_by_name, *nfs_by_id, *smb_by_id, *target_by_id, *extent_by_id, *te_by_id, *te_targets, *origins,
		*pvc_by_key;
	struct vol *vols;
	size_t nvols;
};

static int ours(struct ctx *c, const char *driver)
{
	return driver && map_get(c->drivers, driver) != NULL;
}

static double grace(struct ctx *c)
{
	return c->cfg->checks[c->check].grace;
}

static int young(struct ctx *c, double t)
{
	return !isnan(t) && c->now - t < grace(c);
}

static double warn_t(struct ctx *c)
{
	return c->cfg->checks[c->check].warn;
}

static double crit_t(struct ctx *c)
{
	return c->cfg->checks[c->check].crit;
}

static void gauge(struct ctx *c, const char *name, const char *help, double v, ...)
	__attribute__((sentinel));
static void gauge(struct ctx *c, const char *name, const char *help, double v, ...)
{
	const char *labels[33];
	va_list ap;
	int n = 0;

	if (!c->prom)
		return;
	va_start(ap, v);
	while (n < 32) {
		const char *s = va_arg(ap, const char *);

		if (!s)
			break;
		labels[n++] = s;
		labels[n++] = va_arg(ap, const char *);
		if (!labels[n - 1])
			labels[n - 1] = "";
	}
	va_end(ap);
	labels[n] = NULL;
	if (infra_prom_family(c->prom, name, INFRA_PROM_GAUGE, help, NULL) == 0)
		infra_prom_add(c->prom, name, n ? labels : NULL, v, NULL);
}

/* One finding of the current check. */
static void finding(struct ctx *c, int sev, const char *kind, const char *name, const char *ns,
		    const char *tnid, json_object *evidence, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));
static void finding(struct ctx *c, int sev, const char *kind, const char *name, const char *ns,
		    const char *tnid, json_object *evidence, const char *fmt, ...)
{
	const struct infra_nasmon_check_cfg *cc = &c->cfg->checks[c->check];
	struct infra_nasmon_check_result *cr = &c->res->checks[c->check];
	json_object *f = json_object_new_object(), *obj = json_object_new_object(), *tn;
	char msg[1024];
	va_list ap;
	int st;

	if (sev > NASMON_SEV_INFO && cc->severity > 0)
		sev = cc->severity;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(f, "check", json_object_new_string(infra_nasmon_checks[c->check].id));
	json_object_object_add(f, "severity", json_object_new_string(sev_names[sev]));
	json_object_object_add(obj, "kind", json_object_new_string(kind));
	json_object_object_add(obj, "name", jstr(name));
	json_object_object_add(obj, "namespace", jstr(ns));
	json_object_object_add(f, "object", obj);
	tn = json_object_new_object();
	json_object_object_add(tn, "id", jstr(tnid));
	json_object_object_add(f, "truenas", tn);
	json_object_object_add(f, "message", json_object_new_string(msg));
	json_object_object_add(f, "evidence", evidence ? evidence : json_object_new_object());
	json_object_array_add(c->res->findings, f);
	cr->counts[sev]++;
	c->res->nfindings[sev]++;
	st = sev == NASMON_SEV_CRITICAL ? INFRA_EXIT_CRITICAL : sev == NASMON_SEV_WARNING ? INFRA_EXIT_WARNING : 0;
	if (st > cr->status)
		cr->status = st;
}

static void ev_add(json_object *ev, const char *k, json_object *v)
{
	json_object_object_add(ev, k, v);
}

static json_object *evd(double v)
{
	if (v == floor(v) && fabs(v) < 9e15)
		return json_object_new_int64((int64_t)v);
	return json_object_new_double(v);
}

/* The reasons an object is judged for, gathered one by one. */
struct reasons {
	json_object *list;
	const char *first;
	int sev;
};

static void reason(struct reasons *r, const char *what, int sev)
{
	if (!r->list)
		r->list = json_object_new_array();
	json_object_array_add(r->list, json_object_new_string(what));
	if (!r->first)
		r->first = what;
	if (sev > r->sev)
		r->sev = sev;
}

/* NULL when there was no reason; else new evidence {"reasons":[...]} */
static json_object *reasons_evidence(struct reasons *r)
{
	json_object *ev;

	if (!r->first)
		return NULL;
	ev = json_object_new_object();
	ev_add(ev, "reasons", r->list);
	return ev;
}

static const char *reasons_text(const struct reasons *r)
{
	return json_object_to_json_string_ext(r->list, JSON_C_TO_STRING_PLAIN);
}

/* ---------------------------------------------------------------- indexing */

static json_object *klist(struct ctx *c, const char *name)
{
	json_object *a = jo(c->in->kube, name);

	return json_object_is_type(a, json_type_array) ? a : c->empty;
}

static void set_from(struct lh_table *t, json_object *arr)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(arr, i));
		char buf[1024];
		size_t n;

		if (!s || !*s)
			continue;
		snprintf(buf, sizeof(buf), "%s", s);
		n = strlen(buf);
		while (n > 1 && buf[n - 1] == '/') /* democratic-csi strips a trailing '/' */
			buf[--n] = 0;
		map_put(t, buf, (void *)1);
	}
}

static json_object *set_json(struct lh_table *t)
{
	json_object *a = json_object_new_array();
	struct lh_entry *e;

	lh_foreach(t, e)
		json_object_array_add(a, json_object_new_string((const char *)lh_entry_k(e)));
	return a;
}

static void key_id(json_object *o, char *buf, size_t size)
{
	json_object *id = jo(o, "id");

	snprintf(buf, size, "%s", id ? json_object_get_string(id) : "");
}

static void index_all(struct ctx *c)
{
	const struct infra_nasmon_config *cfg = c->cfg;
	json_object *a;
	char buf[1100];

	c->empty = json_object_new_array();
	for (int r = 0; r < NKRES; r++) {
		c->k[r] = c->kup ? klist(c, kres_names[r]) : c->empty;
		c->kfailed[r] = c->in->kube_failed && jo(c->in->kube_failed, kres_names[r]);
	}
	for (int r = 0; r < NTRES; r++) {
		json_object *v = jo(c->in->truenas, tres_names[r]);

		c->t[r] = json_object_is_type(v, json_type_array) ? v : c->empty;
		c->tfailed[r] = c->in->truenas_failed && jo(c->in->truenas_failed, tres_names[r]);
	}
	c->drivers = map_new();
	c->parents = map_new();
	c->sparents = map_new();
	c->instances = map_new();
	c->ds_by_id = map_new();
	c->snap_by_id = map_new();
	c->pv_by_handle = map_new();
	c->pv_by_name = map_new();
	c->vs_by_key = map_new();
	c->vsc_by_handle = map_new();
	c->vsc_by_name = map_new();
	c->node_by_name = map_new();
	c->sc_by_name = map_new();
	c->vsclass_by_name = map_new();
	c->csidrivers = map_new();
	c->vol_by_leaf = map_new();
	c->vol_by_name = map_new();
	c->nfs_by_id = map_new();
	c->smb_by_id = map_new();
	c->target_by_id = map_new();
	c->extent_by_id = map_new();
	c->te_by_id = map_new();
	c->te_targets = map_new();
	c->origins = map_new();
	c->pvc_by_key = map_new();

	/* the drivers: given, else democratic-csi's from StorageClasses, snapshot classes, CSIDrivers */
	if (cfg->drivers) {
		set_from(c->drivers, cfg->drivers);
	} else {
		static const struct { int r; const char *path; } src[] = {
			{ R_SC, "provisioner" }, { R_VSCLASS, "driver" }, { R_CSIDRIVER, "metadata.name" } };
		for (size_t s = 0; s < sizeof(src) / sizeof(src[0]); s++) {
			a = c->k[src[s].r];
			for (size_t i = 0; i < json_object_array_length(a); i++) {
				const char *d = js(json_object_array_get_idx(a, i), src[s].path);

				if (d && !strncmp(d, "org.democratic-csi.", 19))
					map_put(c->drivers, d, (void *)1);
			}
		}
	}
	a = c->t[T_DATASETS];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *d = json_object_array_get_idx(a, i);
		const char *id = js(d, "id"), *src;

		if (!id)
			continue;
		map_put(c->ds_by_id, id, d);
		if (!cfg->dataset_parents || !cfg->snapshot_parents) {
			const char *m = zprop(d, "democratic-csi:managed_resource", &src);
			const char *sn = zprop(d, "democratic-csi:csi_snapshot_name", NULL);
			char *p = dirname_dup(id);

			if (p && m && !strcmp(m, "true") && local(src)) {
				if (!sn && !cfg->dataset_parents) {
					map_put(c->parents, p, (void *)1);
				} else if (sn && !cfg->snapshot_parents) {
					char *pp = dirname_dup(p);

					if (pp)
						map_put(c->sparents, pp, (void *)1);
					free(pp);
				}
			}
			free(p);
		}
	}
	set_from(c->parents, cfg->dataset_parents);
	set_from(c->sparents, cfg->snapshot_parents);

	/* Kubernetes objects */
	a = c->k[R_PV];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *pv = json_object_array_get_idx(a, i);
		const char *drv = js(pv, "spec.csi.driver");

		map_put(c->pv_by_name, js(pv, "metadata.name"), pv);
		if (!ours(c, drv))
			continue;
		map_put(c->pv_by_handle, js(pv, "spec.csi.volumeHandle"), pv);
		if (!cfg->instance_ids) {
			const char *inst = js(pv, "spec.csi.volumeAttributes.provisioner_driver_instance_id");

			if (inst && *inst)
				map_put(c->instances, inst, (void *)1);
		}
	}
	set_from(c->instances, cfg->instance_ids);
	a = c->k[R_PVC];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i);

		snprintf(buf, sizeof(buf), "%s/%s", js(o, "metadata.namespace") ?: "", js(o, "metadata.name") ?: "");
		map_put(c->pvc_by_key, buf, o);
	}
	a = c->k[R_VS];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i);

		snprintf(buf, sizeof(buf), "%s/%s", js(o, "metadata.namespace") ?: "", js(o, "metadata.name") ?: "");
		map_put(c->vs_by_key, buf, o);
	}
	a = c->k[R_VSC];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i);
		const char *h = js(o, "status.snapshotHandle");

		if (!h)
			h = js(o, "spec.source.snapshotHandle");
		map_put(c->vsc_by_name, js(o, "metadata.name"), o);
		if (h && ours(c, js(o, "spec.driver")))
			map_put(c->vsc_by_handle, h, o);
	}
	a = c->k[R_NODE];
	for (size_t i = 0; i < json_object_array_length(a); i++)
		map_put(c->node_by_name, js(json_object_array_get_idx(a, i), "metadata.name"), json_object_array_get_idx(a, i));
	a = c->k[R_SC];
	for (size_t i = 0; i < json_object_array_length(a); i++)
		map_put(c->sc_by_name, js(json_object_array_get_idx(a, i), "metadata.name"), json_object_array_get_idx(a, i));
	a = c->k[R_VSCLASS];
	for (size_t i = 0; i < json_object_array_length(a); i++)
		map_put(c->vsclass_by_name, js(json_object_array_get_idx(a, i), "metadata.name"), json_object_array_get_idx(a, i));
	a = c->k[R_CSIDRIVER];
	for (size_t i = 0; i < json_object_array_length(a); i++)
		map_put(c->csidrivers, js(json_object_array_get_idx(a, i), "metadata.name"), json_object_array_get_idx(a, i));

	/* TrueNAS shares */
	{
		static const int tr[] = { T_NFS, T_TARGETS, T_EXTENTS, T_TES, T_SMB };
		struct lh_table *maps[] = { c->nfs_by_id, c->target_by_id, c->extent_by_id, c->te_by_id, c->smb_by_id };

		for (int m = 0; m < 5; m++) {
			a = c->t[tr[m]];
			for (size_t i = 0; i < json_object_array_length(a); i++) {
				json_object *o = json_object_array_get_idx(a, i);

				key_id(o, buf, sizeof(buf));
				map_put(maps[m], buf, o);
				if (tr[m] == T_TES) {
					json_object *t = jo(o, "target");

					if (t)
						map_put(c->te_targets, json_object_get_string(t), o);
				}
			}
		}
	}

	/* CSI volumes: datasets directly under a dataset parent */
	a = c->t[T_DATASETS];
	c->vols = calloc(json_object_array_length(a) + 1, sizeof(*c->vols));
	for (size_t i = 0; c->vols && i < json_object_array_length(a); i++) {
		json_object *d = json_object_array_get_idx(a, i);
		const char *id = js(d, "id"), *src;
		char *p = id ? dirname_dup(id) : NULL;
		struct vol *v;
		const char *m;
		double rq, vs;

		if (!p || !map_get(c->parents, p)) {
			free(p);
			continue;
		}
		free(p);
		v = &c->vols[c->nvols++];
		v->ds = d;
		v->id = id;
		v->leaf = basename_of(id);
		v->pool = js(d, "pool");
		v->zvol = js(d, "type") && !strcmp(js(d, "type"), "VOLUME");
		m = zprop(d, "democratic-csi:managed_resource", &src);
		v->managed = m && !strcmp(m, "true") && local(src);
		m = zprop(d, "democratic-csi:provision_success", NULL);
		v->success = m && !strcmp(m, "true");
		v->name = zprop(d, "democratic-csi:csi_volume_name", NULL);
		if (!v->name)
			v->name = v->leaf;
		v->instance = zprop(d, "democratic-csi:volume_context_provisioner_instance_id", NULL);
		v->created = znum(d, "creation");
		if (v->created < 0)
			v->created = NAN;
		v->pv = map_get(c->pv_by_handle, v->leaf);
		if (!v->pv)
			v->pv = map_get(c->pv_by_name, v->name);
		v->oldest_csi = NAN;
		rq = znum(d, "refquota");
		vs = znum(d, "volsize");
		v->provisioned = v->zvol ? vs : rq;
		if (v->provisioned <= 0 && v->pv) {
			int64_t q;

			if (!infra_kube_quantity(js(v->pv, "spec.capacity.storage"), &q))
				v->provisioned = (double)q;
		}
		if (!v->zvol && znum(d, "referenced") >= 0)
			v->used = znum(d, "referenced");
		else
			v->used = znum(d, "usedbydataset");
		v->snapbytes = znum(d, "usedbysnapshots");
		map_put(c->vol_by_leaf, v->leaf, v);
		map_put(c->vol_by_name, v->name, v);
	}
	/* every origin of every dataset (clones) */
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		const char *origin = zprop(json_object_array_get_idx(a, i), "origin", NULL);

		if (origin && *origin)
			map_put(c->origins, origin, json_object_array_get_idx(a, i));
	}

	/* snapshots: per volume counts, by id */
	a = c->t[T_SNAPSHOTS];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *s = json_object_array_get_idx(a, i);
		const char *id = js(s, "id"), *at, *src, *sn;
		struct vol *v;
		double t;

		if (!id)
			id = js(s, "name");
		if (!id || !(at = strchr(id, '@')))
			continue;
		map_put(c->snap_by_id, id, s);
		snprintf(buf, sizeof(buf), "%.*s", (int)(at - id), id);
		{
			char *p = dirname_dup(buf);

			v = p && map_get(c->parents, p) ? map_get(c->vol_by_leaf, basename_of(buf)) : NULL;
			free(p);
		}
		if (!v)
			continue;
		sn = zprop(s, "democratic-csi:csi_snapshot_name", &src);
		if (sn && local(src)) {
			v->csi_snaps++;
			t = znum(s, "creation");
			if (t >= 0 && (isnan(v->oldest_csi) || t < v->oldest_csi))
				v->oldest_csi = t;
		} else if (strncmp(at + 1, "volume-source-for-", 18)) {
			v->foreign_snaps++;
		}
	}
	/* detached snapshots: S/<volume_id>/<name> datasets */
	a = c->t[T_DATASETS];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *d = json_object_array_get_idx(a, i);
		const char *id = js(d, "id"), *sn, *src;
		char *p, *pp;
		struct vol *v;
		double t;

		sn = zprop(d, "democratic-csi:csi_snapshot_name", &src);
		if (!id || !sn || !local(src))
			continue;
		p = dirname_dup(id);
		pp = p ? dirname_dup(p) : NULL;
		if (pp && map_get(c->sparents, pp) && (v = map_get(c->vol_by_leaf, basename_of(p)))) {
			v->csi_snaps++;
			t = znum(d, "creation");
			if (t >= 0 && (isnan(v->oldest_csi) || t < v->oldest_csi))
				v->oldest_csi = t;
		}
		free(p);
		free(pp);
	}
}

static void ctx_free(struct ctx *c)
{
	struct lh_table **ts[] = { &c->drivers, &c->parents, &c->sparents, &c->instances, &c->ds_by_id,
				   &c->snap_by_id, &c->pv_by_handle, &c->pv_by_name, &c->vs_by_key,
				   &c->vsc_by_handle, &c->vsc_by_name, &c->node_by_name, &c->sc_by_name,
				   &c->vsclass_by_name, &c->csidrivers, &c->vol_by_leaf, &c->vol_by_name,
				   &c->nfs_by_id, &c->smb_by_id, &c->target_by_id, &c->extent_by_id, &c->te_by_id,
				   &c->te_targets, &c->origins, &c->pvc_by_key };

	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
		map_free(*ts[i]);
	free(c->vols);
	json_object_put(c->empty);
}

/* ---------------------------------------------------------------- the checks */

static void check_orph_pv(struct ctx *c)
{
	json_object *a = c->k[R_PV];

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *pv = json_object_array_get_idx(a, i), *ev;
		const char *name = js(pv, "metadata.name"), *drv = js(pv, "spec.csi.driver");
		const char *h = js(pv, "spec.csi.volumeHandle"), *phase = js(pv, "status.phase") ?: "";
		const char *pd = js(pv, "spec.csi.volumeAttributes.provisioner_driver");
		const char *sc = js(pv, "spec.storageClassName") ?: "";

		if (!ours(c, drv) || (pd && !strcmp(pd, "node-manual")) || !h)
			continue;
		if (young(c, ktime(pv, "metadata.creationTimestamp")))
			continue;
		if (map_get(c->vol_by_leaf, h) || map_get(c->vol_by_name, name))
			continue;
		ev = json_object_new_object();
		ev_add(ev, "volume_handle", jstr(h));
		ev_add(ev, "driver", jstr(drv));
		ev_add(ev, "phase", jstr(phase));
		ev_add(ev, "storageclass", jstr(sc));
		ev_add(ev, "dataset_parents", set_json(c->parents));
		finding(c, !strcmp(phase, "Bound") ? NASMON_SEV_CRITICAL : NASMON_SEV_WARNING, "PersistentVolume", name,
			NULL, NULL, ev, "PV %s (%s, %s) has no dataset <parent>/%s on TrueNAS", name, drv, phase, h);
		gauge(c, "nasmon_orphan_pv", "PV of a democratic-csi driver without its dataset (1)", 1,
		      "persistentvolume", name, "storageclass", sc, "driver", drv, "phase", phase, NULL);
	}
}

static void check_orph_ds(struct ctx *c)
{
	for (size_t i = 0; i < c->nvols; i++) {
		struct vol *v = &c->vols[i];
		json_object *ev;

		if (!v->managed || !v->success || young(c, v->created))
			continue;
		if (map_get(c->pv_by_handle, v->leaf) || map_get(c->pv_by_name, v->name))
			continue;
		ev = json_object_new_object();
		ev_add(ev, "csi_volume_name", jstr(v->name));
		ev_add(ev, "used_bytes", evd(znum(v->ds, "used")));
		ev_add(ev, "instance_id", jstr(v->instance));
		if (v->instance && *v->instance && c->instances->count && !map_get(c->instances, v->instance)) {
			ev_add(ev, "this_cluster_instance_ids", set_json(c->instances));
			finding(c, NASMON_SEV_INFO, "Dataset", v->id, NULL, v->id, ev,
				"dataset %s belongs to provisioner instance %s, not this cluster's (foreign instance)",
				v->id, v->instance);
			continue;
		}
		finding(c, NASMON_SEV_WARNING, "Dataset", v->id, NULL, v->id, ev,
			"dataset %s is democratic-csi's (volume %s) and no PV uses it", v->id, v->name);
		gauge(c, "nasmon_orphan_dataset_bytes", "Bytes used by a democratic-csi dataset no PV uses", znum(v->ds, "used"),
		      "dataset", v->id, "pool", v->pool, "type", v->zvol ? "volume" : "filesystem", NULL);
	}
}

static void check_orph_prov(struct ctx *c)
{
	for (size_t i = 0; i < c->nvols; i++) {
		struct vol *v = &c->vols[i];
		json_object *ev;

		if (!v->managed || v->success || young(c, v->created))
			continue;
		ev = json_object_new_object();
		ev_add(ev, "csi_volume_name", jstr(v->name));
		ev_add(ev, "created", evd(v->created));
		finding(c, NASMON_SEV_WARNING, "Dataset", v->id, NULL, v->id, ev,
			"dataset %s has managed_resource but no provision_success: CreateVolume was interrupted", v->id);
		gauge(c, "nasmon_incomplete_provision", "democratic-csi dataset whose creation never finished (1)", 1,
		      "dataset", v->id, NULL);
	}
}

static void check_orph_rel(struct ctx *c)
{
	json_object *a = c->k[R_PV];

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *pv = json_object_array_get_idx(a, i), *ev;
		const char *name = js(pv, "metadata.name"), *phase = js(pv, "status.phase") ?: "";
		const char *pol = js(pv, "spec.persistentVolumeReclaimPolicy") ?: "";
		double t, age;

		if (!ours(c, js(pv, "spec.csi.driver")) || (strcmp(phase, "Released") && strcmp(phase, "Failed")))
			continue;
		t = ktime(pv, "status.lastPhaseTransitionTime");
		if (isnan(t))
			t = ktime(pv, "metadata.creationTimestamp");
		age = isnan(t) ? 0 : c->now - t;
		gauge(c, "nasmon_pv_released_seconds", "Seconds a democratic-csi PV has been Released or Failed", age,
		      "persistentvolume", name, "reclaim_policy", pol, NULL);
		if (!(age > warn_t(c)))
			continue;
		ev = json_object_new_object();
		ev_add(ev, "phase", jstr(phase));
		ev_add(ev, "reclaim_policy", jstr(pol));
		ev_add(ev, "phase_age_seconds", evd(floor(age)));
		finding(c, !strcmp(phase, "Released") && !strcmp(pol, "Retain") ? NASMON_SEV_INFO : NASMON_SEV_WARNING,
			"PersistentVolume", name, NULL, NULL, ev, "PV %s has been %s for %.1f days (reclaim policy %s)",
			name, phase, age / DAY, pol);
	}
}

static void check_orph_pvc(struct ctx *c)
{
	json_object *a = c->k[R_PVC];

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i), *ev, *sc;
		const char *phase = js(o, "status.phase") ?: "", *scn = js(o, "spec.storageClassName") ?: "";
		const char *prov = NULL;
		double age;
		int sev = 0;

		if (strcmp(phase, "Pending"))
			continue;
		sc = map_get(c->sc_by_name, scn);
		prov = sc ? js(sc, "provisioner") : js(o, "metadata.annotations[\"volume.kubernetes.io/storage-provisioner\"]");
		if (!ours(c, prov))
			continue;
		age = c->now - ktime(o, "metadata.creationTimestamp");
		if (isnan(age) || young(c, c->now - age))
			continue;
		gauge(c, "nasmon_pvc_pending_seconds", "Seconds a PVC of a democratic-csi StorageClass has been Pending", age,
		      "namespace", js(o, "metadata.namespace"), "persistentvolumeclaim", js(o, "metadata.name"),
		      "storageclass", scn, NULL);
		if (age > crit_t(c))
			sev = NASMON_SEV_CRITICAL;
		else if (age > warn_t(c))
			sev = NASMON_SEV_WARNING;
		if (!sev)
			continue;
		ev = json_object_new_object();
		ev_add(ev, "storageclass", jstr(scn));
		ev_add(ev, "provisioner", jstr(prov));
		ev_add(ev, "pending_seconds", evd(floor(age)));
		finding(c, sev, "PersistentVolumeClaim", js(o, "metadata.name"), js(o, "metadata.namespace"), NULL, ev,
			"PVC %s/%s (StorageClass %s) has been Pending for %.0f minutes", js(o, "metadata.namespace"),
			js(o, "metadata.name"), scn, age / 60);
	}
}

static void check_orph_va(struct ctx *c)
{
	json_object *a = c->k[R_VA];

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i), *ev;
		const char *name = js(o, "metadata.name"), *node = js(o, "spec.nodeName") ?: "";
		const char *pv = js(o, "spec.source.persistentVolumeName") ?: "";
		double del = ktime(o, "metadata.deletionTimestamp");
		struct reasons rs = { 0 };

		if (!ours(c, js(o, "spec.attacher")) || young(c, ktime(o, "metadata.creationTimestamp")))
			continue;
#define REASON(r) reason(&rs, r, NASMON_SEV_WARNING)
		if (*pv && !map_get(c->pv_by_name, pv))
			REASON("pv_missing");
		if (!map_get(c->node_by_name, node))
			REASON("node_missing");
		if (!isnan(del) && c->now - del > warn_t(c))
			REASON("deleting");
		if (jo(jo(o, "status"), "attachError"))
			REASON("attach_error");
		if (jo(jo(o, "status"), "detachError"))
			REASON("detach_error");
#undef REASON
		if (!(ev = reasons_evidence(&rs)))
			continue;
		ev_add(ev, "node", jstr(node));
		ev_add(ev, "persistentvolume", jstr(pv));
		if (js(o, "status.detachError.message"))
			ev_add(ev, "detach_error", jstr(js(o, "status.detachError.message")));
		if (js(o, "status.attachError.message"))
			ev_add(ev, "attach_error", jstr(js(o, "status.attachError.message")));
		finding(c, NASMON_SEV_WARNING, "VolumeAttachment", name, NULL, NULL, ev,
			"VolumeAttachment %s (PV %s on node %s) is stale: %s", name, pv, node, reasons_text(&rs));
		gauge(c, "nasmon_volumeattachment_stale", "Stale VolumeAttachment of a democratic-csi driver (1), first reason",
		      1, "volumeattachment", name, "node", node, "persistentvolume", pv, "reason", rs.first, NULL);
	}
}

/* "pvc-" and 36 characters of a UUID somewhere in s: a democratic-csi asset name */
static int looks_csi(const char *s)
{
	for (const char *p = s ? strstr(s, "pvc-") : NULL; p; p = strstr(p + 1, "pvc-")) {
		int ok = 1;

		for (int i = 0; i < 36 && ok; i++)
			ok = p[4 + i] && (isxdigit((unsigned char)p[4 + i]) || p[4 + i] == '-');
		if (ok)
			return 1;
	}
	return 0;
}

static int under_parent(struct ctx *c, const char *dsid)
{
	char *p = dirname_dup(dsid);
	int r = p && map_get(c->parents, p);

	free(p);
	return r;
}

/* name: the share's path, the extent's or target's name (ids repeat across kinds) */
static void orphan_share(struct ctx *c, const char *kind, const char *label, const char *name, json_object *o,
			 json_object *ev, const char *what)
{
	char id[64];

	key_id(o, id, sizeof(id));
	finding(c, NASMON_SEV_WARNING, kind, name, NULL, id, ev, "%s %s (id %s) %s", kind, name, id, what);
	gauge(c, "nasmon_orphan_share", "Share object of democratic-csi left without its volume (1)", 1,
	      "kind", label, "id", id, NULL);
}

static void check_orph_share(struct ctx *c)
{
	json_object *a;
	char buf[64];

	for (int smb = 0; smb < 2; smb++) {
		a = c->t[smb ? T_SMB : T_NFS];
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			json_object *o = json_object_array_get_idx(a, i), *ev;
			const char *path = js(o, "path");

			if (!path)
				path = js(o, "paths[0]");
			if (!path || strncmp(path, "/mnt/", 5) || !under_parent(c, path + 5) || map_get(c->ds_by_id, path + 5))
				continue;
			ev = json_object_new_object();
			ev_add(ev, "path", jstr(path));
			orphan_share(c, smb ? "SMBShare" : "NFSShare", smb ? "smb" : "nfs", path, o, ev,
				     "exports a dataset that does not exist");
		}
	}
	a = c->t[T_EXTENTS];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i), *ev;
		const char *disk = js(o, "disk");

		if (!disk || strncmp(disk, "zvol/", 5) || !under_parent(c, disk + 5) || map_get(c->ds_by_id, disk + 5))
			continue;
		ev = json_object_new_object();
		ev_add(ev, "disk", jstr(disk));
		ev_add(ev, "name", jstr(js(o, "name")));
		orphan_share(c, "ISCSIExtent", "iscsi_extent", js(o, "name") ?: disk, o, ev, "points at a zvol that does not exist");
	}
	a = c->t[T_TARGETS];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i), *ev;

		key_id(o, buf, sizeof(buf));
		if (map_get(c->te_targets, buf) || !looks_csi(js(o, "name")))
			continue;
		ev = json_object_new_object();
		ev_add(ev, "name", jstr(js(o, "name")));
		orphan_share(c, "ISCSITarget", "iscsi_target", js(o, "name"), o, ev, "is a democratic-csi target with no extent");
	}
	a = c->t[T_TES];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i), *ev;
		const char *t = jo(o, "target") ? json_object_get_string(jo(o, "target")) : "";
		const char *e = jo(o, "extent") ? json_object_get_string(jo(o, "extent")) : "";
		int tm = !map_get(c->target_by_id, t), em = !map_get(c->extent_by_id, e);

		if (!tm && !em)
			continue;
		ev = json_object_new_object();
		ev_add(ev, "target", jstr(t));
		ev_add(ev, "extent", jstr(e));
		key_id(o, buf, sizeof(buf));
		orphan_share(c, "ISCSITargetExtent", "iscsi_targetextent", buf, o, ev,
			     tm ? "points at a missing target" : "points at a missing extent");
	}
}

static void check_share_missing(struct ctx *c)
{
	for (size_t i = 0; i < c->nvols; i++) {
		struct vol *v = &c->vols[i];
		json_object *ev, *o;
		const char *id, *kind = "nfs";
		struct reasons rs = { 0 };

		if (!v->managed || !v->success || young(c, v->created))
			continue;
#define REASON(r) reason(&rs, r, NASMON_SEV_CRITICAL)
		if ((id = zprop(v->ds, "democratic-csi:freenas_nfs_share_id", NULL))) {
			o = map_get(c->nfs_by_id, id);
			if (!o)
				REASON("nfs_share_missing");
			else {
				const char *path = js(o, "path") ? js(o, "path") : js(o, "paths[0]");

				if (jo(o, "enabled") && !jtrue(o, "enabled"))
					REASON("nfs_share_disabled");
				if (jtrue(o, "locked"))
					REASON("nfs_share_locked");
				if (path && js(v->ds, "mountpoint") && strcmp(path, js(v->ds, "mountpoint")))
					REASON("nfs_share_path");
			}
		}
		if ((id = zprop(v->ds, "democratic-csi:freenas_smb_share_id", NULL))) {
			kind = "smb";
			o = map_get(c->smb_by_id, id);
			if (!o)
				REASON("smb_share_missing");
			else if (jo(o, "enabled") && !jtrue(o, "enabled"))
				REASON("smb_share_disabled");
		}
		if ((id = zprop(v->ds, "democratic-csi:freenas_iscsi_target_id", NULL))) {
			kind = "iscsi";
			if (!map_get(c->target_by_id, id))
				REASON("iscsi_target_missing");
		}
		if ((id = zprop(v->ds, "democratic-csi:freenas_iscsi_extent_id", NULL))) {
			kind = "iscsi";
			o = map_get(c->extent_by_id, id);
			if (!o)
				REASON("iscsi_extent_missing");
			else {
				if (jo(o, "enabled") && !jtrue(o, "enabled"))
					REASON("iscsi_extent_disabled");
				if (jtrue(o, "locked"))
					REASON("iscsi_extent_locked");
			}
		}
		if ((id = zprop(v->ds, "democratic-csi:freenas_iscsi_targettoextent_id", NULL)) &&
		    !map_get(c->te_by_id, id))
			REASON("iscsi_targetextent_missing");
		if (v->pv) {
			const char *share = js(v->pv, "spec.csi.volumeAttributes.share");
			const char *iqn = js(v->pv, "spec.csi.volumeAttributes.iqn");
			const char *assets = zprop(v->ds, "democratic-csi:freenas_iscsi_assets_name", NULL);
			const char *na = js(v->pv, "spec.csi.volumeAttributes.node_attach_driver");

			if (na && !strcmp(na, "nfs") && share && js(v->ds, "mountpoint") &&
			    strcmp(share, js(v->ds, "mountpoint")))
				REASON("pv_share_mismatch");
			if (iqn && assets && (!strchr(iqn, ':') || strcmp(strrchr(iqn, ':') + 1, assets)))
				REASON("pv_iqn_mismatch");
		}
#undef REASON
		if (!(ev = reasons_evidence(&rs)))
			continue;
		ev_add(ev, "dataset", jstr(v->id));
		finding(c, NASMON_SEV_CRITICAL, "PersistentVolume", v->name, NULL, v->id, ev,
			"volume %s will not mount: %s", v->name, reasons_text(&rs));
		gauge(c, "nasmon_share_mismatch", "democratic-csi volume whose share is missing or does not match (1), first reason",
		      1, "persistentvolume", v->name, "kind", kind, "reason", rs.first, NULL);
	}
}

static void check_snap_orph(struct ctx *c)
{
	json_object *a = c->t[T_SNAPSHOTS];
	char h[1100];

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *s = json_object_array_get_idx(a, i), *ev;
		const char *id = js(s, "id") ? js(s, "id") : js(s, "name"), *src, *sn, *at;
		char *ds, *p;
		int under;

		if (!id || !(at = strchr(id, '@')))
			continue;
		sn = zprop(s, "democratic-csi:csi_snapshot_name", &src);
		if (!sn || !local(src))
			continue;
		ds = strndup(id, (size_t)(at - id));
		p = dirname_dup(ds);
		under = p && map_get(c->parents, p);
		snprintf(h, sizeof(h), "%s%s", basename_of(ds), at);
		free(ds);
		free(p);
		if (!under || map_get(c->vsc_by_handle, h) || young(c, znum(s, "creation") < 0 ? NAN : znum(s, "creation")))
			continue;
		ev = json_object_new_object();
		ev_add(ev, "snapshot_handle", jstr(h));
		ev_add(ev, "csi_snapshot_name", jstr(sn));
		ev_add(ev, "used_bytes", evd(znum(s, "used")));
		finding(c, NASMON_SEV_WARNING, "Snapshot", id, NULL, id, ev,
			"CSI snapshot %s has no VolumeSnapshotContent (handle %s)", id, h);
		gauge(c, "nasmon_orphan_snapshot_bytes", "Bytes held by a CSI snapshot no VolumeSnapshotContent points at",
		      znum(s, "used") < 0 ? 0 : znum(s, "used"), "snapshot", id, NULL);
	}
	a = c->t[T_DATASETS];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *d = json_object_array_get_idx(a, i), *ev;
		const char *id = js(d, "id"), *sn, *src;
		char *p, *pp;
		int under;

		sn = zprop(d, "democratic-csi:csi_snapshot_name", &src);
		if (!id || !sn || !local(src))
			continue;
		p = dirname_dup(id);
		pp = p ? dirname_dup(p) : NULL;
		under = pp && map_get(c->sparents, pp);
		if (under)
			snprintf(h, sizeof(h), "%s", id + strlen(pp) + 1);
		free(p);
		free(pp);
		if (!under || map_get(c->vsc_by_handle, h) || young(c, znum(d, "creation") < 0 ? NAN : znum(d, "creation")))
			continue;
		ev = json_object_new_object();
		ev_add(ev, "snapshot_handle", jstr(h));
		ev_add(ev, "detached", json_object_new_boolean(1));
		ev_add(ev, "used_bytes", evd(znum(d, "used")));
		finding(c, NASMON_SEV_WARNING, "Dataset", id, NULL, id, ev,
			"detached CSI snapshot %s has no VolumeSnapshotContent (handle %s)", id, h);
		gauge(c, "nasmon_orphan_snapshot_bytes", "Bytes held by a CSI snapshot no VolumeSnapshotContent points at",
		      znum(d, "used") < 0 ? 0 : znum(d, "used"), "snapshot", id, NULL);
	}
}

static void check_snap_missing(struct ctx *c)
{
	json_object *a = c->k[R_VSC];
	char buf[1100];

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i), *ev, *vs, *looked;
		const char *h = js(o, "status.snapshotHandle"), *name = js(o, "metadata.name");
		const char *vsn = js(o, "spec.volumeSnapshotRef.name"), *vsns = js(o, "spec.volumeSnapshotRef.namespace");
		int found = 0, detached;
		struct lh_entry *e;

		if (!h)
			h = js(o, "spec.source.snapshotHandle");
		if (!h || !ours(c, js(o, "spec.driver")) || young(c, ktime(o, "metadata.creationTimestamp")))
			continue;
		detached = !strchr(h, '@');
		looked = json_object_new_array();
		lh_foreach(detached ? c->sparents : c->parents, e) {
			snprintf(buf, sizeof(buf), "%s/%s", (const char *)lh_entry_k(e), h);
			json_object_array_add(looked, json_object_new_string(buf));
			if (detached ? map_get(c->ds_by_id, buf) != NULL : map_get(c->snap_by_id, buf) != NULL)
				found = 1;
		}
		if (found) {
			json_object_put(looked);
			continue;
		}
		snprintf(buf, sizeof(buf), "%s/%s", vsns ?: "", vsn ?: "");
		vs = map_get(c->vs_by_key, buf);
		ev = json_object_new_object();
		ev_add(ev, "snapshot_handle", jstr(h));
		ev_add(ev, "looked_for", looked);
		ev_add(ev, "volumesnapshot", jstr(vs ? buf : NULL));
		finding(c, vs && jtrue(jo(vs, "status"), "readyToUse") ? NASMON_SEV_CRITICAL : NASMON_SEV_WARNING,
			"VolumeSnapshotContent", name, NULL, NULL, ev,
			"VolumeSnapshotContent %s points at %s snapshot %s that does not exist on TrueNAS%s", name,
			detached ? "detached" : "ZFS", h, vs ? " (its VolumeSnapshot is still there)" : "");
		gauge(c, "nasmon_vsc_missing_snapshot", "VolumeSnapshotContent whose ZFS snapshot is missing (1)", 1,
		      "volumesnapshotcontent", name, "namespace", vsns, "volumesnapshot", vsn, NULL);
	}
}

static void check_snap_dangling(struct ctx *c)
{
	json_object *a = c->k[R_VSC];
	char buf[1100];

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i), *ev, *vs;
		const char *name = js(o, "metadata.name"), *pol = js(o, "spec.deletionPolicy") ?: "";
		const char *vsn = js(o, "spec.volumeSnapshotRef.name"), *vsns = js(o, "spec.volumeSnapshotRef.namespace");
		const char *uid = js(o, "spec.volumeSnapshotRef.uid");

		if (!ours(c, js(o, "spec.driver")) || !vsn || young(c, ktime(o, "metadata.creationTimestamp")))
			continue;
		snprintf(buf, sizeof(buf), "%s/%s", vsns ?: "", vsn);
		vs = map_get(c->vs_by_key, buf);
		if (vs && (!uid || !js(vs, "metadata.uid") || !strcmp(uid, js(vs, "metadata.uid"))))
			continue;
		ev = json_object_new_object();
		ev_add(ev, "volumesnapshot", jstr(buf));
		ev_add(ev, "deletion_policy", jstr(pol));
		finding(c, !strcmp(pol, "Retain") ? NASMON_SEV_INFO : NASMON_SEV_WARNING, "VolumeSnapshotContent", name,
			NULL, NULL, ev, "VolumeSnapshotContent %s points at VolumeSnapshot %s, which no longer exists (%s)",
			name, buf, pol);
		gauge(c, "nasmon_vsc_dangling", "VolumeSnapshotContent whose VolumeSnapshot is gone (1)", 1,
		      "volumesnapshotcontent", name, NULL);
	}
	a = c->k[R_VS];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i), *ev, *cls, *vsc;
		const char *drv = NULL;
		double age;

		cls = map_get(c->vsclass_by_name, js(o, "spec.volumeSnapshotClassName"));
		vsc = map_get(c->vsc_by_name, js(o, "status.boundVolumeSnapshotContentName"));
		drv = vsc ? js(vsc, "spec.driver") : cls ? js(cls, "driver") : NULL;
		if (!ours(c, drv) || (jtrue(jo(o, "status"), "readyToUse") && !jo(jo(o, "status"), "error")))
			continue;
		age = c->now - ktime(o, "metadata.creationTimestamp");
		if (isnan(age) || young(c, c->now - age))
			continue;
		gauge(c, "nasmon_volumesnapshot_not_ready_seconds", "Seconds a democratic-csi VolumeSnapshot has not been ready",
		      age, "namespace", js(o, "metadata.namespace"), "volumesnapshot", js(o, "metadata.name"), NULL);
		if (!(age > warn_t(c)))
			continue;
		ev = json_object_new_object();
		ev_add(ev, "not_ready_seconds", evd(floor(age)));
		ev_add(ev, "error", jstr(js(o, "status.error.message")));
		finding(c, NASMON_SEV_WARNING, "VolumeSnapshot", js(o, "metadata.name"), js(o, "metadata.namespace"), NULL, ev,
			"VolumeSnapshot %s/%s has not been ready for %.1f hours%s%s", js(o, "metadata.namespace"),
			js(o, "metadata.name"), age / HOUR, js(o, "status.error.message") ? ": " : "",
			js(o, "status.error.message") ?: "");
	}
}

static void check_snap_count(struct ctx *c)
{
	for (size_t i = 0; i < c->nvols; i++) {
		struct vol *v = &c->vols[i];
		json_object *ev;
		int sev = 0;

		if (!v->managed)
			continue;
		if (!isnan(crit_t(c)) && v->csi_snaps > crit_t(c))
			sev = NASMON_SEV_CRITICAL;
		else if (!isnan(warn_t(c)) && v->csi_snaps > warn_t(c))
			sev = NASMON_SEV_WARNING;
		if (!sev)
			continue;
		ev = json_object_new_object();
		ev_add(ev, "csi_snapshots", json_object_new_int(v->csi_snaps));
		ev_add(ev, "foreign_snapshots", json_object_new_int(v->foreign_snaps));
		ev_add(ev, "dataset", jstr(v->id));
		finding(c, sev, "PersistentVolume", v->name, NULL, v->id, ev, "volume %s has %d CSI snapshots (limit %g)",
			v->name, v->csi_snaps, sev == NASMON_SEV_CRITICAL ? crit_t(c) : warn_t(c));
	}
}

static void check_snap_age(struct ctx *c)
{
	for (size_t i = 0; i < c->nvols; i++) {
		struct vol *v = &c->vols[i];
		json_object *ev;
		double age;

		if (!v->managed || isnan(v->oldest_csi))
			continue;
		age = c->now - v->oldest_csi;
		gauge(c, "nasmon_volume_snapshot_oldest_age_seconds", "Age of the oldest CSI snapshot of a volume", age,
		      "persistentvolume", v->name, NULL);
		if (!(age > warn_t(c)))
			continue;
		ev = json_object_new_object();
		ev_add(ev, "oldest_age_seconds", evd(floor(age)));
		ev_add(ev, "csi_snapshots", json_object_new_int(v->csi_snaps));
		finding(c, NASMON_SEV_WARNING, "PersistentVolume", v->name, NULL, v->id, ev,
			"the oldest CSI snapshot of volume %s is %.0f days old (retention %.0f days)", v->name, age / DAY,
			warn_t(c) / DAY);
	}
}

static void check_snap_space(struct ctx *c)
{
	for (size_t i = 0; i < c->nvols; i++) {
		struct vol *v = &c->vols[i];
		json_object *ev;
		double r;

		if (!v->managed || v->provisioned <= 0 || v->snapbytes <= 0)
			continue;
		gauge(c, "nasmon_volume_snapshot_used_bytes", "Bytes held by a volume's snapshots (usedbysnapshots)", v->snapbytes,
		      "persistentvolume", v->name, NULL);
		r = v->snapbytes / v->provisioned;
		if (!(r > warn_t(c)))
			continue;
		ev = json_object_new_object();
		ev_add(ev, "usedbysnapshots", evd(v->snapbytes));
		ev_add(ev, "provisioned_bytes", evd(v->provisioned));
		ev_add(ev, "ratio", json_object_new_double(r));
		finding(c, (!isnan(crit_t(c)) && r > crit_t(c)) ? NASMON_SEV_CRITICAL : NASMON_SEV_WARNING,
			"PersistentVolume", v->name, NULL, v->id, ev,
			"snapshots of volume %s hold %.0f%% of its provisioned size", v->name, r * 100);
	}
}

static void check_snap_foreign(struct ctx *c)
{
	for (size_t i = 0; i < c->nvols; i++) {
		struct vol *v = &c->vols[i];
		json_object *ev;
		const char *phase = v->pv ? js(v->pv, "status.phase") : NULL;
		int rel = phase && !strcmp(phase, "Released");

		if (!v->managed || !v->foreign_snaps)
			continue;
		ev = json_object_new_object();
		ev_add(ev, "foreign_snapshots", json_object_new_int(v->foreign_snaps));
		ev_add(ev, "pv_phase", jstr(phase));
		finding(c, rel ? NASMON_SEV_WARNING : NASMON_SEV_INFO, "PersistentVolume", v->name, NULL, v->id, ev,
			"volume %s has %d snapshot%s not CSI's (they block DeleteVolume on democratic-csi next)%s",
			v->name, v->foreign_snaps, v->foreign_snaps == 1 ? "" : "s", rel ? "; the PV is Released" : "");
	}
}

static void check_snap_clone(struct ctx *c)
{
	json_object *a = c->t[T_SNAPSHOTS];

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *s = json_object_array_get_idx(a, i), *ev, *clone;
		const char *id = js(s, "id") ? js(s, "id") : js(s, "name"), *at, *src, *sn;
		char ds[1100];
		double t;

		if (!id || !(at = strchr(id, '@')))
			continue;
		snprintf(ds, sizeof(ds), "%.*s", (int)(at - id), id);
		if (!under_parent(c, ds))
			continue;
		clone = map_get(c->origins, id);
		if (!clone && strncmp(at + 1, "volume-source-for-", 18))
			continue; /* neither an origin nor a temporary snapshot: nothing to judge */
		sn = zprop(s, "democratic-csi:csi_snapshot_name", &src);
		t = znum(s, "creation");
		if (clone && sn && local(src)) {
			ev = json_object_new_object();
			ev_add(ev, "clone_dataset", jstr(js(clone, "id")));
			finding(c, NASMON_SEV_INFO, "Snapshot", id, NULL, id, ev,
				"CSI snapshot %s is the origin of %s: its VolumeSnapshot cannot be deleted while the clone exists",
				id, js(clone, "id"));
			gauge(c, "nasmon_snapshot_clone_dependency", "CSI snapshot that is the origin of a clone (1)", 1,
			      "snapshot", id, "clone_dataset", js(clone, "id"), NULL);
		} else if (!clone && !strncmp(at + 1, "volume-source-for-", 18) && !young(c, t < 0 ? NAN : t) &&
			   t >= 0 && c->now - t > warn_t(c)) {
			ev = json_object_new_object();
			ev_add(ev, "age_seconds", evd(floor(c->now - t)));
			finding(c, NASMON_SEV_WARNING, "Snapshot", id, NULL, id, ev,
				"temporary snapshot %s has no clone and is %.1f days old", id, (c->now - t) / DAY);
			gauge(c, "nasmon_temp_snapshot_leak", "volume-source-for-* snapshot without a clone (1)", 1,
			      "snapshot", id, NULL);
		}
	}
}

/* pools: per pool name {usable, used, available, provisioned, sparse} */
struct poolsum {
	const char *name;
	json_object *pool, *root;
	double usable, used, avail, provisioned, sparse;
};

static size_t pool_sums(struct ctx *c, struct poolsum **out)
{
	json_object *a = c->t[T_POOLS];
	size_t n = json_object_array_length(a);
	struct poolsum *ps = calloc(n + 1, sizeof(*ps));

	for (size_t i = 0; ps && i < n; i++) {
		json_object *p = json_object_array_get_idx(a, i);

		ps[i].name = js(p, "name");
		ps[i].pool = p;
		ps[i].root = map_get(c->ds_by_id, ps[i].name);
		if (ps[i].root) {
			ps[i].used = znum(ps[i].root, "used");
			ps[i].avail = znum(ps[i].root, "available");
		} else {
			ps[i].used = infra_json_opt_double(p, "allocated", 0);
			ps[i].avail = infra_json_opt_double(p, "free", 0);
		}
		ps[i].usable = ps[i].used + ps[i].avail;
		for (size_t v = 0; v < c->nvols; v++) {
			struct vol *vo = &c->vols[v];

			if (!vo->pool || !ps[i].name || strcmp(vo->pool, ps[i].name))
				continue;
			if (vo->provisioned > 0)
				ps[i].provisioned += vo->provisioned;
			if (vo->zvol && zprop(vo->ds, "refreservation", NULL) && znum(vo->ds, "refreservation") == 0 &&
			    vo->provisioned > vo->used)
				ps[i].sparse += vo->provisioned - (vo->used > 0 ? vo->used : 0);
		}
	}
	*out = ps;
	return ps ? n : 0;
}

static void check_cap_pools(struct ctx *c, int which)
{
	struct poolsum *ps;
	size_t n = pool_sums(c, &ps);

	for (size_t i = 0; i < n; i++) {
		struct poolsum *p = &ps[i];
		json_object *ev;
		double r;
		int sev = 0;

		if (!p->name)
			continue;
		ev = json_object_new_object();
		if (which == NASMON_CAP_OVERCOMMIT) {
			r = p->usable > 0 ? p->provisioned / p->usable : 0;
			gauge(c, "nasmon_pool_provisioned_bytes", "Sum of provisioned sizes of democratic-csi volumes in the pool",
			      p->provisioned, "pool", p->name, NULL);
			gauge(c, "nasmon_pool_usable_bytes", "Usable bytes of the pool (root dataset used + available)", p->usable,
			      "pool", p->name, NULL);
			gauge(c, "nasmon_pool_overcommit_ratio", "Provisioned over usable bytes of the pool", r, "pool", p->name, NULL);
			if (r > crit_t(c))
				sev = NASMON_SEV_CRITICAL;
			else if (r > warn_t(c))
				sev = NASMON_SEV_WARNING;
			ev_add(ev, "provisioned_bytes", evd(p->provisioned));
			ev_add(ev, "usable_bytes", evd(p->usable));
			ev_add(ev, "ratio", json_object_new_double(r));
			if (sev)
				finding(c, sev, "Pool", p->name, NULL, p->name, ev,
					"pool %s is overcommitted %.2fx: %.0f GiB provisioned for %.0f GiB usable", p->name, r,
					p->provisioned / GiB, p->usable / GiB);
		} else if (which == NASMON_CAP_SPARSE) {
			r = p->avail > 0 ? p->sparse / p->avail : (p->sparse > 0 ? INFINITY : 0);
			gauge(c, "nasmon_pool_sparse_exposure_bytes", "Unwritten bytes of sparse zvols that the pool may have to find",
			      p->sparse, "pool", p->name, NULL);
			ev_add(ev, "sparse_exposure_bytes", evd(p->sparse));
			ev_add(ev, "available_bytes", evd(p->avail));
			if (r > warn_t(c))
				finding(c, (!isnan(crit_t(c)) && r > crit_t(c)) ? NASMON_SEV_CRITICAL : NASMON_SEV_WARNING,
					"Pool", p->name, NULL, p->name, ev,
					"sparse zvols in pool %s may still write %.0f GiB, the pool has %.0f GiB available", p->name,
					p->sparse / GiB, p->avail / GiB);
		} else {
			const char *status = js(p->pool, "status") ?: "";
			int healthy = !jo(p->pool, "healthy") || jtrue(p->pool, "healthy");

			r = p->usable > 0 ? p->used / p->usable : 0;
			gauge(c, "nasmon_pool_used_ratio", "Used over usable bytes of the pool root dataset", r, "pool", p->name, NULL);
			gauge(c, "nasmon_pool_healthy", "1 if the pool is healthy and ONLINE", healthy && !strcmp(status, "ONLINE"),
			      "pool", p->name, NULL);
			ev_add(ev, "used_ratio", json_object_new_double(r));
			ev_add(ev, "status", jstr(status));
			ev_add(ev, "healthy", json_object_new_boolean(healthy));
			if (!healthy || strcmp(status, "ONLINE"))
				finding(c, NASMON_SEV_CRITICAL, "Pool", p->name, NULL, p->name, ev, "pool %s is %s%s", p->name,
					status, healthy ? "" : " and not healthy");
			else if (r > crit_t(c) || r > warn_t(c))
				finding(c, r > crit_t(c) ? NASMON_SEV_CRITICAL : NASMON_SEV_WARNING, "Pool", p->name, NULL,
					p->name, ev, "pool %s is %.0f%% full", p->name, r * 100);
			else
				json_object_put(ev);
			continue;
		}
		if (!sev && which == NASMON_CAP_OVERCOMMIT)
			json_object_put(ev);
		else if (which == NASMON_CAP_SPARSE && !(r > warn_t(c)))
			json_object_put(ev);
	}
	free(ps);
}

static void check_cap_vol(struct ctx *c)
{
	for (size_t i = 0; i < c->nvols; i++) {
		struct vol *v = &c->vols[i];
		json_object *ev;
		double prov = v->zvol ? znum(v->ds, "volsize") : znum(v->ds, "refquota"), r;
		const char *type = v->zvol ? "volume" : "filesystem";
		int sev = 0;

		if (!v->managed || prov <= 0 || v->used < 0)
			continue;
		r = v->used / prov;
		gauge(c, "nasmon_volume_provisioned_bytes", "Provisioned bytes of a democratic-csi volume (volsize or refquota)",
		      prov, "persistentvolume", v->name, "dataset", v->id, "type", type, NULL);
		gauge(c, "nasmon_volume_used_bytes", "Bytes written to a democratic-csi volume (referenced or usedbydataset)",
		      v->used, "persistentvolume", v->name, "dataset", v->id, "type", type, NULL);
		gauge(c, "nasmon_volume_fill_ratio", "Used over provisioned bytes of a democratic-csi volume", r,
		      "persistentvolume", v->name, "dataset", v->id, "type", type, NULL);
		if (r >= crit_t(c))
			sev = NASMON_SEV_CRITICAL;
		else if (r >= warn_t(c))
			sev = NASMON_SEV_WARNING;
		if (!sev)
			continue;
		ev = json_object_new_object();
		ev_add(ev, "used_bytes", evd(v->used));
		ev_add(ev, "provisioned_bytes", evd(prov));
		ev_add(ev, "ratio", json_object_new_double(r));
		finding(c, sev, "PersistentVolume", v->name, NULL, v->id, ev, "volume %s is %.0f%% full (%s)", v->name, r * 100,
			v->zvol ? "blocks written to the zvol; needs discard to shrink" : "of its refquota");
	}
}

static void check_cap_size(struct ctx *c)
{
	for (size_t i = 0; i < c->nvols; i++) {
		struct vol *v = &c->vols[i];
		json_object *ev;
		int64_t cap;
		double backend, allowed, bs;

		if (!v->pv || young(c, v->created) || infra_kube_quantity(js(v->pv, "spec.capacity.storage"), &cap))
			continue;
		backend = v->zvol ? znum(v->ds, "volsize") : znum(v->ds, "refquota");
		ev = json_object_new_object();
		ev_add(ev, "pv_capacity_bytes", json_object_new_int64(cap));
		ev_add(ev, v->zvol ? "volsize" : "refquota", evd(backend));
		if (!v->zvol && backend <= 0) {
			finding(c, NASMON_SEV_INFO, "PersistentVolume", v->name, NULL, v->id, ev,
				"volume %s has no refquota: its capacity is not enforced (datasetEnableQuotas: false?)", v->name);
			continue;
		}
		if (backend < 0) {
			json_object_put(ev);
			continue;
		}
		if (backend < (double)cap) {
			finding(c, NASMON_SEV_CRITICAL, "PersistentVolume", v->name, NULL, v->id, ev,
				"volume %s is %.0f bytes on TrueNAS, smaller than its PV (%lld): the resize did not finish",
				v->name, backend, (long long)cap);
		} else {
			bs = v->zvol ? znum(v->ds, "volblocksize") : 0;
			if (bs <= 0)
				bs = v->zvol ? 16384 : 1;
			allowed = ceil((double)cap / bs) * bs;
			if (!v->zvol && allowed < GiB)
				allowed = GiB; /* the API's minimum filesystem size */
			if (backend > allowed) {
				finding(c, NASMON_SEV_INFO, "PersistentVolume", v->name, NULL, v->id, ev,
					"volume %s is %.0f bytes on TrueNAS, larger than its PV (%lld) beyond rounding", v->name,
					backend, (long long)cap);
			} else {
				json_object_put(ev);
				continue;
			}
		}
		gauge(c, "nasmon_volume_size_mismatch_bytes", "TrueNAS size minus PV capacity of a democratic-csi volume",
		      backend - (double)cap, "persistentvolume", v->name, NULL);
	}
}

static int node_ready(json_object *n)
{
	json_object *conds = jo(jo(n, "status"), "conditions");

	for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
		json_object *cd = json_object_array_get_idx(conds, i);

		if (js(cd, "type") && !strcmp(js(cd, "type"), "Ready"))
			return js(cd, "status") && !strcmp(js(cd, "status"), "True");
	}
	return 0;
}

static void check_cfg_driver(struct ctx *c)
{
	struct lh_table *need = map_new();
	struct lh_entry *e;
	json_object *a;

	lh_foreach(c->drivers, e)
		map_put(need, lh_entry_k(e), (void *)1);
	a = c->k[R_SC];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		const char *p = js(json_object_array_get_idx(a, i), "provisioner");

		if (ours(c, p))
			map_put(need, p, (void *)1);
	}
	lh_foreach(need, e) {
		const char *d = lh_entry_k(e);
		int reg = map_get(c->csidrivers, d) != NULL;

		gauge(c, "nasmon_csi_driver_registered", "1 if the democratic-csi driver has a CSIDriver object", reg,
		      "driver", d, NULL);
		if (!reg) {
			json_object *ev = json_object_new_object();

			ev_add(ev, "driver", jstr(d));
			finding(c, NASMON_SEV_CRITICAL, "CSIDriver", d, NULL, NULL, ev,
				"driver %s is used by StorageClasses or configured, but has no CSIDriver object (not deployed?)", d);
		}
	}
	a = c->k[R_NODE];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *n = json_object_array_get_idx(a, i), *cn = NULL, *missing;
		const char *name = js(n, "metadata.name");
		json_object *cns = c->k[R_CSINODE];

		if (!node_ready(n))
			continue;
		for (size_t j = 0; j < json_object_array_length(cns); j++)
			if (js(json_object_array_get_idx(cns, j), "metadata.name") &&
			    !strcmp(js(json_object_array_get_idx(cns, j), "metadata.name"), name))
				cn = json_object_array_get_idx(cns, j);
		missing = json_object_new_array();
		lh_foreach(need, e) {
			const char *d = lh_entry_k(e);
			json_object *drvs = jo(jo(cn, "spec"), "drivers");
			int reg = 0;

			if (!map_get(c->csidrivers, d))
				continue;
			for (size_t j = 0; drvs && j < json_object_array_length(drvs); j++)
				if (js(json_object_array_get_idx(drvs, j), "name") &&
				    !strcmp(js(json_object_array_get_idx(drvs, j), "name"), d))
					reg = 1;
			gauge(c, "nasmon_csi_node_registered", "1 if the node's CSINode lists the democratic-csi driver", reg,
			      "node", name, "driver", d, NULL);
			if (!reg)
				json_object_array_add(missing, json_object_new_string(d));
		}
		if (!json_object_array_length(missing)) {
			json_object_put(missing);
			continue;
		}
		{
			json_object *ev = json_object_new_object();

			ev_add(ev, "drivers_not_registered", missing);
			finding(c, NASMON_SEV_WARNING, "Node", name, NULL, NULL, ev,
				"Ready node %s has no node plugin registered for %s", name,
				json_object_to_json_string_ext(missing, JSON_C_TO_STRING_PLAIN));
		}
	}
	map_free(need);
}

static const char *driver_kind(struct ctx *c, const char *drv)
{
	json_object *a = c->k[R_PV];

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *pv = json_object_array_get_idx(a, i);
		const char *d = js(pv, "spec.csi.driver"), *na = js(pv, "spec.csi.volumeAttributes.node_attach_driver");

		if (d && na && !strcmp(d, drv))
			return na;
	}
	if (strstr(drv, "nfs"))
		return "nfs";
	if (strstr(drv, "smb") || strstr(drv, "cifs"))
		return "smb";
	if (strstr(drv, "nvmeof"))
		return "nvmeof";
	if (strstr(drv, "iscsi"))
		return "iscsi";
	return NULL;
}

static void check_cfg_sc(struct ctx *c)
{
	json_object *a = c->k[R_SC];

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *sc = json_object_array_get_idx(a, i), *ev;
		const char *name = js(sc, "metadata.name"), *prov = js(sc, "provisioner"), *kind, *fs;
		struct reasons rs = { 0 };

		if (!ours(c, prov))
			continue;
		kind = driver_kind(c, prov);
		fs = js(sc, "parameters.fsType");
		if (!fs)
			fs = js(sc, "parameters[\"csi.storage.k8s.io/fstype\"]");
#define REASON(r, s) do { reason(&rs, r, s); \
		gauge(c, "nasmon_storageclass_issue", "Questionable StorageClass or VolumeSnapshotClass setting (1)", 1, \
		      "storageclass", name, "reason", r, NULL); } while (0)
		if (kind && fs) {
			int fsdrv = !strcmp(kind, "nfs") || !strcmp(kind, "smb");
			const char *want = !strcmp(kind, "nfs") ? "nfs" : !strcmp(kind, "smb") ? "cifs" : NULL;

			if ((want && strcmp(fs, want)) || (!fsdrv && (!strcmp(fs, "nfs") || !strcmp(fs, "cifs"))))
				REASON("fstype", NASMON_SEV_WARNING);
		}
		if (!jtrue(sc, "allowVolumeExpansion"))
			REASON("no_expansion", NASMON_SEV_INFO);
		if (js(sc, "reclaimPolicy") && !strcmp(js(sc, "reclaimPolicy"), "Retain"))
			REASON("retain", NASMON_SEV_INFO);
		if (!(ev = reasons_evidence(&rs)))
			continue;
		ev_add(ev, "provisioner", jstr(prov));
		ev_add(ev, "fstype", jstr(fs));
		ev_add(ev, "driver_kind", jstr(kind));
		finding(c, rs.sev, "StorageClass", name, NULL, NULL, ev, "StorageClass %s: %s", name, reasons_text(&rs));
	}
	a = c->k[R_VSCLASS];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i), *ev;
		const char *name = js(o, "metadata.name"), *det = js(o, "parameters.detachedSnapshots");
		struct reasons rs = { 0 };

		if (!ours(c, js(o, "driver")))
			continue;
		if (js(o, "deletionPolicy") && !strcmp(js(o, "deletionPolicy"), "Retain"))
			REASON("retain", NASMON_SEV_INFO);
		if (det && strcmp(det, "true") && strcmp(det, "false"))
			REASON("detached_snapshots_value", NASMON_SEV_WARNING);
#undef REASON
		if (!(ev = reasons_evidence(&rs)))
			continue;
		ev_add(ev, "detachedSnapshots", jstr(det));
		finding(c, rs.sev, "VolumeSnapshotClass", name, NULL, NULL, ev, "VolumeSnapshotClass %s: %s", name,
			reasons_text(&rs));
	}
}

/* "TrueNAS-25.10.1", "TrueNAS-SCALE-24.10.2" -> 251001 */
static long version_num(const char *v)
{
	long part[3] = { 0, 0, 0 };
	int k = 0;

	while (v && *v && !isdigit((unsigned char)*v))
		v++;
	while (v && *v && k < 3) {
		char *end;

		part[k++] = strtol(v, &end, 10);
		if (*end != '.')
			break;
		v = end + 1;
	}
	return part[0] * 10000 + part[1] * 100 + part[2];
}

static void check_cfg_tn(struct ctx *c)
{
	struct lh_table *sets[2] = { c->parents, c->sparents };
	const char *what[2] = { "dataset parent", "snapshot parent" };
	int kinds[4] = { 0 }; /* nfs iscsi nvmeof smb volumes exist */
	static const char *const svc[4] = { "nfs", "iscsitarget", "nvmet", "cifs" };
	json_object *a, *ev;
	struct lh_entry *e, *f;
	const char *version = js(c->in->truenas, "version");

	for (int s = 0; s < 2; s++) {
		lh_foreach(sets[s], e) {
			const char *p = lh_entry_k(e);

			if (map_get(c->ds_by_id, p))
				continue;
			ev = json_object_new_object();
			ev_add(ev, "role", jstr(what[s]));
			finding(c, NASMON_SEV_CRITICAL, "Dataset", p, NULL, p, ev, "%s %s does not exist on TrueNAS", what[s], p);
			gauge(c, "nasmon_truenas_config_issue", "TrueNAS configuration problem for democratic-csi (1)", 1,
			      "reason", s ? "snapshot_parent_missing" : "dataset_parent_missing", NULL);
		}
	}
	lh_foreach(c->parents, e) {
		lh_foreach(c->sparents, f) {
			const char *p = lh_entry_k(e), *s = lh_entry_k(f);
			size_t lp = strlen(p), ls = strlen(s);

			if ((lp < ls && !strncmp(s, p, lp) && s[lp] == '/') || (ls < lp && !strncmp(p, s, ls) && p[ls] == '/') ||
			    !strcmp(p, s)) {
				ev = json_object_new_object();
				ev_add(ev, "snapshot_parent", jstr(s));
				finding(c, NASMON_SEV_CRITICAL, "Dataset", p, NULL, p, ev,
					"dataset parent %s and snapshot parent %s are nested (democratic-csi refuses this)", p, s);
				gauge(c, "nasmon_truenas_config_issue", "TrueNAS configuration problem for democratic-csi (1)", 1,
				      "reason", "parents_nested", NULL);
			}
		}
	}
	for (size_t i = 0; i < c->nvols; i++) {
		struct vol *v = &c->vols[i];

		if (zprop(v->ds, "democratic-csi:freenas_nfs_share_id", NULL))
			kinds[0] = 1;
		if (zprop(v->ds, "democratic-csi:freenas_iscsi_target_id", NULL))
			kinds[1] = 1;
		if (zprop(v->ds, "democratic-csi:freenas_nvmeof_subsystem_id", NULL))
			kinds[2] = 1;
		if (zprop(v->ds, "democratic-csi:freenas_smb_share_id", NULL))
			kinds[3] = 1;
	}
	a = c->t[T_SERVICES];
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *s = json_object_array_get_idx(a, i);
		const char *name = js(s, "service"), *state = js(s, "state") ?: "";

		if (!name)
			continue;
		gauge(c, "nasmon_truenas_service_running", "1 if the TrueNAS service is RUNNING", !strcmp(state, "RUNNING"),
		      "service", name, NULL);
		gauge(c, "nasmon_truenas_service_enabled", "1 if the TrueNAS service starts at boot (service.query enable)",
		      jtrue(s, "enable"), "service", name, NULL);
		for (int k = 0; k < 4; k++) {
			int running = !strcmp(state, "RUNNING");

			/* a service no democratic-csi volume needs may be stopped or disabled */
			if (strcmp(name, svc[k]) || !kinds[k] || (running && (!jo(s, "enable") || jtrue(s, "enable"))))
				continue;
			ev = json_object_new_object();
			ev_add(ev, "state", jstr(state));
			ev_add(ev, "enable", json_object_new_boolean(jtrue(s, "enable")));
			if (!running)
				finding(c, NASMON_SEV_CRITICAL, "Service", name, NULL, name, ev,
					"TrueNAS service %s is %s but democratic-csi volumes need it", name, state);
			else
				finding(c, NASMON_SEV_WARNING, "Service", name, NULL, name, ev,
					"TrueNAS service %s is running but not enabled: it will not start after a reboot, "
					"and democratic-csi volumes need it", name);
		}
	}
	if (c->in->transport && !strcmp(c->in->transport, "rest") && version && version_num(version) >= 251001) {
		ev = json_object_new_object();
		ev_add(ev, "version", jstr(version));
		finding(c, version_num(version) >= 260000 ? NASMON_SEV_CRITICAL : NASMON_SEV_WARNING, "TrueNAS", version, NULL,
			NULL, ev, "REST API in use on %s: deprecated, it raises an alert and is removed in 26.04; use JSON-RPC",
			version);
		gauge(c, "nasmon_truenas_config_issue", "TrueNAS configuration problem for democratic-csi (1)", 1, "reason",
		      "rest_api_in_use", NULL);
	}
}

static const char *label_of(json_object *o, const char *label)
{
	char path[200];

	snprintf(path, sizeof(path), "metadata.labels[\"%s\"]", label);
	return js(o, path);
}

static int is_dcsi(json_object *o)
{
	const char *n = label_of(o, "app.kubernetes.io/name");

	return n && !strcmp(n, "democratic-csi");
}

/* democratic-csi DaemonSets (node plugin: warning when short) or Deployments
 * (controller: critical when none is available); returns the desired count */
static double workloads(struct ctx *c, json_object *a, const char *kind, const char *want_path, double dflt,
			const char *got_path)
{
	int ds = !strcmp(kind, "DaemonSet");
	double total = 0;

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *d = json_object_array_get_idx(a, i), *ev;
		double want = infra_json_opt_double(d, want_path, dflt), got = infra_json_opt_double(d, got_path, 0);

		if (!is_dcsi(d))
			continue;
		total += want;
		if (got >= want)
			continue;
		ev = json_object_new_object();
		ev_add(ev, "desired", evd(want));
		ev_add(ev, "ready", evd(got));
		finding(c, !ds && got <= 0 ? NASMON_SEV_CRITICAL : NASMON_SEV_WARNING, kind, js(d, "metadata.name"),
			js(d, "metadata.namespace"), NULL, ev, "%s %s %s: %.0f of %.0f %s", ds ? "node plugin" : "controller",
			kind, js(d, "metadata.name"), got, want, ds ? "pods ready" : "replicas available");
	}
	return total;
}

static void check_hlth_pods(struct ctx *c)
{
	static const char *const roles[2] = { "controller", "node" };
	double ready[2] = { 0 }, desired[2] = { 0 }, have[2] = { 0 };
	json_object *a = c->k[R_POD], *ev;

	json_object_put(c->res->restarts);
	c->res->restarts = json_object_new_object();

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *p = json_object_array_get_idx(a, i), *cs, *conds, *bad, *grew, *prev, *now_counts;
		const char *role = label_of(p, "app.kubernetes.io/csi-role"), *name = js(p, "metadata.name");
		char key[600];
		int r = role && !strcmp(role, "controller") ? 0 : 1, rdy = 0;

		if (!is_dcsi(p))
			continue;
		conds = jo(jo(p, "status"), "conditions");
		for (size_t j = 0; conds && j < json_object_array_length(conds); j++) {
			json_object *cd = json_object_array_get_idx(conds, j);

			if (js(cd, "type") && !strcmp(js(cd, "type"), "Ready"))
				rdy = js(cd, "status") && !strcmp(js(cd, "status"), "True");
		}
		have[r]++;
		ready[r] += rdy;
		bad = json_object_new_array();
		grew = json_object_new_object();
		snprintf(key, sizeof(key), "%s/%s", js(p, "metadata.namespace") ?: "", name ?: "");
		prev = c->in->restarts_prev ? jo(c->in->restarts_prev, key) : NULL;
		now_counts = json_object_new_object();
		cs = jo(jo(p, "status"), "containerStatuses");
		for (size_t j = 0; cs && j < json_object_array_length(cs); j++) {
			json_object *ct = json_object_array_get_idx(cs, j), *pc;
			double n = infra_json_opt_double(ct, "restartCount", 0);
			const char *cn = js(ct, "name") ?: "?";

			gauge(c, "nasmon_csi_container_restarts", "Restarts of a democratic-csi container", n, "pod", name,
			      "container", js(ct, "name"), NULL);
			json_object_object_add(now_counts, cn, json_object_new_int64((int64_t)n));
			if (!isnan(warn_t(c)) && n > warn_t(c)) {
				char b[200];

				snprintf(b, sizeof(b), "%s restarted %.0f times", cn, n);
				json_object_array_add(bad, json_object_new_string(b));
			}
			/* restartCount grew since the last run (a recreated pod has a new name: no delta) */
			pc = prev ? jo(prev, cn) : NULL;
			if (pc && n > json_object_get_double(pc))
				json_object_object_add(grew, cn, evd(n - json_object_get_double(pc)));
		}
		json_object_object_add(c->res->restarts, key, now_counts);
		if (!rdy || json_object_array_length(bad) || json_object_object_length(grew)) {
			char since[64] = "";

			ev = json_object_new_object();
			ev_add(ev, "ready", json_object_new_boolean(rdy));
			ev_add(ev, "role", jstr(roles[r]));
			ev_add(ev, "node", jstr(js(p, "spec.nodeName")));
			ev_add(ev, "restarts", bad);
			if (json_object_object_length(grew)) {
				json_object_object_foreach(grew, gn, gv) {
					snprintf(since, sizeof(since), " (%s restarted %.0f time%s since the last run%s)", gn,
						 json_object_get_double(gv), json_object_get_double(gv) == 1 ? "" : "s",
						 json_object_object_length(grew) > 1 ? ", and more" : "");
					break;
				}
				ev_add(ev, "restarts_since_last_run", grew);
				ev_add(ev, "last_run", evd(c->in->restarts_prev_time));
			} else {
				json_object_put(grew);
			}
			finding(c, !rdy && r == 0 ? NASMON_SEV_CRITICAL : NASMON_SEV_WARNING, "Pod", name,
				js(p, "metadata.namespace"), NULL, ev, "democratic-csi %s pod %s%s%s%s", roles[r], name,
				rdy ? "" : " is not Ready", json_object_array_length(bad) ? " (container restarts)" : "", since);
		} else {
			json_object_put(bad);
			json_object_put(grew);
		}
	}
	desired[1] = workloads(c, c->k[R_DS], "DaemonSet", "status.desiredNumberScheduled", 0, "status.numberReady");
	desired[0] = workloads(c, c->k[R_DEPLOY], "Deployment", "spec.replicas", 1, "status.availableReplicas");
	for (int r = 0; r < 2; r++) {
		gauge(c, "nasmon_csi_pods_ready", "Ready democratic-csi pods by role", ready[r], "role", roles[r], NULL);
		gauge(c, "nasmon_csi_pods_desired", "Desired democratic-csi pods by role (DaemonSet/Deployment)",
		      desired[r] > 0 ? desired[r] : have[r], "role", roles[r], NULL);
	}
}

/* per volume snapshot counts (SNAP-COUNT, SNAP-FOREIGN share the family) */
static void volume_snapshot_metrics(struct ctx *c)
{
	char n[32];

	for (size_t i = 0; i < c->nvols; i++) {
		struct vol *v = &c->vols[i];

		if (!v->managed || (!v->csi_snaps && !v->foreign_snaps))
			continue;
		snprintf(n, sizeof(n), "%d", v->csi_snaps);
		gauge(c, "nasmon_volume_snapshots", "Snapshots of a democratic-csi volume: csi (csi_snapshot_name) or foreign",
		      v->csi_snaps, "persistentvolume", v->name, "kind", "csi", NULL);
		gauge(c, "nasmon_volume_snapshots", "Snapshots of a democratic-csi volume: csi (csi_snapshot_name) or foreign",
		      v->foreign_snaps, "persistentvolume", v->name, "kind", "foreign", NULL);
	}
}

typedef void (*check_fn)(struct ctx *c);

static void cap_overcommit(struct ctx *c) { check_cap_pools(c, NASMON_CAP_OVERCOMMIT); }
static void cap_sparse(struct ctx *c) { check_cap_pools(c, NASMON_CAP_SPARSE); }
static void cap_pool(struct ctx *c) { check_cap_pools(c, NASMON_CAP_POOL); }

static const check_fn check_fns[NASMON_NCHECKS] = {
	[NASMON_ORPH_PV] = check_orph_pv, [NASMON_ORPH_DS] = check_orph_ds, [NASMON_ORPH_PROV] = check_orph_prov,
	[NASMON_ORPH_REL] = check_orph_rel, [NASMON_ORPH_PVC] = check_orph_pvc, [NASMON_ORPH_VA] = check_orph_va,
	[NASMON_ORPH_SHARE] = check_orph_share, [NASMON_SHARE_MISSING] = check_share_missing,
	[NASMON_SNAP_ORPH] = check_snap_orph, [NASMON_SNAP_MISSING] = check_snap_missing,
	[NASMON_SNAP_DANGLING] = check_snap_dangling, [NASMON_SNAP_COUNT] = check_snap_count,
	[NASMON_SNAP_AGE] = check_snap_age, [NASMON_SNAP_SPACE] = check_snap_space,
	[NASMON_SNAP_FOREIGN] = check_snap_foreign, [NASMON_SNAP_CLONE] = check_snap_clone,
	[NASMON_CAP_OVERCOMMIT] = cap_overcommit, [NASMON_CAP_SPARSE] = cap_sparse, [NASMON_CAP_POOL] = cap_pool,
	[NASMON_CAP_VOL] = check_cap_vol, [NASMON_CAP_SIZE] = check_cap_size, [NASMON_CFG_DRIVER] = check_cfg_driver,
	[NASMON_CFG_SC] = check_cfg_sc, [NASMON_CFG_TN] = check_cfg_tn, [NASMON_HLTH_PODS] = check_hlth_pods,
};

/* Why check k cannot run, or 0 when it can. */
static int unknown_reason(struct ctx *c, int k, char *buf, size_t size)
{
	if (needs[k].k && !c->kup) {
		snprintf(buf, size, "needs the Kubernetes API, which could not be read%s%s", c->in->kube_error ? ": " : "",
			 c->in->kube_error ?: "");
		return 1;
	}
	if (needs[k].t && !c->tup) {
		snprintf(buf, size, "needs the TrueNAS API, which could not be read%s%s", c->in->truenas_error ? ": " : "",
			 c->in->truenas_error ?: "");
		return 1;
	}
	for (int r = 0; r < NKRES; r++)
		if ((needs[k].k & K(r)) && c->kfailed[r]) {
			snprintf(buf, size, "could not list %s: %s", kres_names[r],
				 json_object_get_string(jo(c->in->kube_failed, kres_names[r])));
			return 1;
		}
	for (int r = 0; r < NTRES; r++)
		if ((needs[k].t & T(r)) && c->tfailed[r]) {
			snprintf(buf, size, "could not query TrueNAS %s: %s", tres_names[r],
				 json_object_get_string(jo(c->in->truenas_failed, tres_names[r])));
			return 1;
		}
	return 0;
}

static int sev_rank(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, sev_names[i]))
			return i;
	return 0;
}

/* The findings' order: worst severity first, then check, then object name; the keys are
 * read once per finding (not per comparison), and the original order breaks ties. */
struct fkey {
	int sev, check;
	size_t pos;
	const char *name;
	json_object *f;
};

static int cmp_fkeys(const void *x, const void *y)
{
	const struct fkey *a = x, *b = y;
	int c;

	if (a->sev != b->sev)
		return b->sev - a->sev;
	if (a->check != b->check)
		return a->check - b->check;
	if ((c = strcmp(a->name, b->name)))
		return c;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static json_object *sort_findings(json_object *findings)
{
	size_t n = json_object_array_length(findings);
	struct fkey *k = n ? calloc(n, sizeof(*k)) : NULL;
	json_object *sorted;

	if (!k)
		return findings;
	for (size_t i = 0; i < n; i++) {
		json_object *f = json_object_array_get_idx(findings, i);

		k[i] = (struct fkey){ sev_rank(js(f, "severity")), infra_nasmon_check_index(js(f, "check")), i,
				      js(f, "object.name") ?: "", f };
	}
	qsort(k, n, sizeof(*k), cmp_fkeys);
	sorted = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(sorted, json_object_get(k[i].f));
	free(k);
	json_object_put(findings);
	return sorted;
}

int infra_nasmon_run(const struct infra_nasmon_config *cfg, const struct infra_nasmon_input *in,
		     struct infra_nasmon_result *res, struct infra_prom *prom, struct infra_err *err)
{
	struct ctx c;
	json_object *ctxo;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.in = in;
	c.res = res;
	c.prom = prom;
	c.err = err;
	c.now = in->now;
	c.kup = in->kube != NULL;
	c.tup = in->truenas != NULL;
	res->findings = json_object_new_array();
	index_all(&c);
	if (!c.vols) {
		ctx_free(&c);
		return infra_err_set(err, -ENOMEM, "out of memory");
	}
	for (int k = 0; k < NASMON_NCHECKS; k++) {
		struct infra_nasmon_check_result *cr = &res->checks[k];

		cr->selected = cfg->checks[k].enabled;
		if (!cr->selected)
			continue;
		c.check = k;
		if (unknown_reason(&c, k, cr->unknown, sizeof(cr->unknown)))
			cr->status = INFRA_EXIT_UNKNOWN;
		else
			check_fns[k](&c);
		if (cr->status > res->status)
			res->status = cr->status;
		gauge(&c, "nasmon_check_status", "Status of the check: 0 ok, 1 warning, 2 critical, 3 unknown", cr->status,
		      "check", infra_nasmon_checks[k].id, NULL);
		/* a check that could not run has no count: a 0 would read as "nothing found" */
		for (int s = NASMON_SEV_INFO; cr->status != INFRA_EXIT_UNKNOWN && s <= NASMON_SEV_CRITICAL; s++)
			gauge(&c, "nasmon_check_findings", "Findings of the check by severity", cr->counts[s], "check",
			      infra_nasmon_checks[k].id, "severity", sev_names[s], NULL);
	}
	if (c.tup && (cfg->checks[NASMON_SNAP_COUNT].enabled || cfg->checks[NASMON_SNAP_FOREIGN].enabled))
		volume_snapshot_metrics(&c);
	res->findings = sort_findings(res->findings);

	/* what the run correlated on, and the fill for the history */
	ctxo = json_object_new_object();
	json_object_object_add(ctxo, "drivers", set_json(c.drivers));
	json_object_object_add(ctxo, "dataset_parents", set_json(c.parents));
	json_object_object_add(ctxo, "snapshot_parents", set_json(c.sparents));
	json_object_object_add(ctxo, "instance_ids", set_json(c.instances));
	json_object_object_add(ctxo, "volumes", json_object_new_int64((int64_t)c.nvols));
	res->context = ctxo;
	res->pools = json_object_new_object();
	res->volumes = json_object_new_object();
	if (c.tup) {
		struct poolsum *ps;
		size_t n = pool_sums(&c, &ps);

		for (size_t i = 0; i < n; i++) {
			json_object *p = json_object_new_object();

			if (!ps[i].name) {
				json_object_put(p);
				continue;
			}
			json_object_object_add(p, "usable_bytes", evd(ps[i].usable));
			json_object_object_add(p, "used_bytes", evd(ps[i].used));
			json_object_object_add(p, "available_bytes", evd(ps[i].avail));
			json_object_object_add(p, "provisioned_bytes", evd(ps[i].provisioned));
			json_object_object_add(p, "status", jstr(js(ps[i].pool, "status")));
			json_object_object_add(res->pools, ps[i].name, p);
		}
		free(ps);
		for (size_t i = 0; i < c.nvols; i++) {
			struct vol *v = &c.vols[i];
			json_object *o;

			if (!v->managed || v->provisioned <= 0 || v->used < 0)
				continue;
			o = json_object_new_object();
			json_object_object_add(o, "used_bytes", evd(v->used));
			json_object_object_add(o, "provisioned_bytes", evd(v->provisioned));
			json_object_object_add(res->volumes, v->name, o);
		}
	}
	ctx_free(&c);
	return 0;
}

void infra_nasmon_result_release(struct infra_nasmon_result *res)
{
	json_object_put(res->findings);
	json_object_put(res->pools);
	json_object_put(res->volumes);
	json_object_put(res->trends);
	json_object_put(res->context);
	json_object_put(res->restarts);
	memset(res, 0, sizeof(*res));
}

/* ---------------------------------------------------------------- history */

double infra_nasmon_days_until_full(json_object *points, double now)
{
	size_t n = points ? json_object_array_length(points) : 0;
	double st = 0, su = 0, stt = 0, stu = 0, size = 0, tm, um, b, unow;

	if (n < 2)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(points, i);

		st += json_object_get_double(json_object_array_get_idx(p, 0));
		su += json_object_get_double(json_object_array_get_idx(p, 1));
		size = json_object_get_double(json_object_array_get_idx(p, 2));
	}
	tm = st / (double)n;
	um = su / (double)n;
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(points, i);
		double t = json_object_get_double(json_object_array_get_idx(p, 0)) - tm;
		double u = json_object_get_double(json_object_array_get_idx(p, 1)) - um;

		stt += t * t;
		stu += t * u;
	}
	if (stt <= 0)
		return -1;
	b = stu / stt; /* bytes per second */
	if (!(b > 0))
		return -1;
	unow = um + b * (now - tm);
	if (unow >= size)
		return 0;
	return (size - unow) / b / DAY;
}

static int cmp_fill(const void *x, const void *y)
{
	json_object *a = *(json_object *const *)x, *b = *(json_object *const *)y;
	double fa = json_object_get_double(json_object_array_get_idx(a, 1));
	double fb = json_object_get_double(json_object_array_get_idx(b, 1));

	return fa < fb ? 1 : fa > fb ? -1 : 0;
}

static json_object *trend(json_object *entries, const char *group, const char *name, double now, double *days)
{
	json_object *pts = json_object_new_array(), *o = json_object_new_object();

	for (size_t i = 0; i < json_object_array_length(entries); i++) {
		json_object *e = json_object_array_get_idx(entries, i);
		json_object *v = jo(jo(e, group), name), *p;

		if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) < 2)
			continue;
		p = json_object_new_array();
		json_object_array_add(p, json_object_get(jo(e, "t")));
		json_object_array_add(p, json_object_get(json_object_array_get_idx(v, 0)));
		json_object_array_add(p, json_object_get(json_object_array_get_idx(v, 1)));
		json_object_array_add(pts, p);
	}
	*days = infra_nasmon_days_until_full(pts, now);
	json_object_object_add(o, "days_until_full", *days < 0 ? NULL : json_object_new_double(*days));
	json_object_object_add(o, "points", pts);
	return o;
}

int infra_nasmon_history(const struct infra_nasmon_config *cfg, const char *state_dir, double now,
			 struct infra_nasmon_result *res, struct infra_prom *prom, struct infra_err *err)
{
	json_object *entry, *pools, *vols, *entries = NULL, *tp, *tv, *sorted;
	char path[4096], num[32];
	int dfd, rc;
	struct ctx c;

	rc = infra_statedir_open(state_dir, 0700, "state directory", &dfd, err);
	if (rc)
		return rc;
	close(dfd);
	snprintf(path, sizeof(path), "%s/history.json", state_dir);
	entry = json_object_new_object();
	json_object_object_add(entry, "t", json_object_new_int64((int64_t)now));
	pools = json_object_new_object();
	json_object_object_foreach(res->pools, pname, pv) {
		json_object *p = json_object_new_array();

		json_object_array_add(p, json_object_get(jo(pv, "used_bytes")));
		json_object_array_add(p, json_object_get(jo(pv, "usable_bytes")));
		json_object_object_add(pools, pname, p);
	}
	json_object_object_add(entry, "pools", pools);
	/* the fullest volumes only: the history stays bounded */
	sorted = json_object_new_array();
	json_object_object_foreach(res->volumes, vname, vv) {
		json_object *p = json_object_new_array();
		double prov = json_object_get_double(jo(vv, "provisioned_bytes"));

		json_object_array_add(p, json_object_new_string(vname));
		json_object_array_add(p, json_object_new_double(prov > 0 ? json_object_get_double(jo(vv, "used_bytes")) / prov : 0));
		json_object_array_add(sorted, p);
	}
	json_object_array_sort(sorted, cmp_fill);
	vols = json_object_new_object();
	for (size_t i = 0; i < json_object_array_length(sorted) && i < cfg->history_volumes; i++) {
		const char *nm = json_object_get_string(json_object_array_get_idx(json_object_array_get_idx(sorted, i), 0));
		json_object *vo = jo(res->volumes, nm), *p = json_object_new_array();

		json_object_array_add(p, json_object_get(jo(vo, "used_bytes")));
		json_object_array_add(p, json_object_get(jo(vo, "provisioned_bytes")));
		json_object_object_add(vols, nm, p);
	}
	json_object_put(sorted);
	json_object_object_add(entry, "volumes", vols);
	rc = infra_history_append(path, entry, cfg->history_max, &entries, err);
	json_object_put(entry); /* the history holds its own reference */
	if (rc && rc != -EILSEQ) {
		json_object_put(entries);
		return rc;
	}
	memset(&c, 0, sizeof(c));
	c.prom = prom;
	tp = json_object_new_object();
	tv = json_object_new_object();
	json_object_object_foreach(res->pools, pn, pv2) {
		double days;
		json_object *t = trend(entries, "pools", pn, now, &days);

		(void)pv2;
		snprintf(num, sizeof(num), "%zu", json_object_array_length(jo(t, "points")));
		gauge(&c, "nasmon_trend_points", "History entries used for the pool's days-until-full fit",
		      (double)json_object_array_length(jo(t, "points")), "pool", pn, NULL);
		if (json_object_array_length(jo(t, "points")) >= 2)
			gauge(&c, "nasmon_pool_days_until_full",
			      "Days until the pool is full at the least-squares rate over the history (+Inf: not growing)",
			      days < 0 ? INFINITY : days, "pool", pn, NULL);
		json_object_object_add(tp, pn, t);
	}
	{
		json_object *last = json_object_array_get_idx(entries, json_object_array_length(entries) - 1);

		json_object_object_foreach(jo(last, "volumes"), vn, vv2) {
			double days;
			json_object *t = trend(entries, "volumes", vn, now, &days);

			(void)vv2;
			if (json_object_array_length(jo(t, "points")) >= 2)
				gauge(&c, "nasmon_volume_days_until_full",
				      "Days until the volume is full at the least-squares rate over the history (+Inf: not growing)",
				      days < 0 ? INFINITY : days, "persistentvolume", vn, NULL);
			json_object_object_add(tv, vn, t);
		}
	}
	json_object_put(res->trends);
	res->trends = json_object_new_object();
	json_object_object_add(res->trends, "entries", json_object_new_int64((int64_t)json_object_array_length(entries)));
	json_object_object_add(res->trends, "pools", tp);
	json_object_object_add(res->trends, "volumes", tv);
	json_object_put(entries);
	return rc;
}

/* ---------------------------------------------------------------- compact items (the loader)
 *
 * The big Kubernetes lists (PVs, PVCs, VolumeAttachments, VolumeSnapshots and their contents:
 * 10,000s of objects) are kept, page by page, as ONE flat json object per item whose keys are
 * the very paths the checks pass to js()/ktime() ("spec.csi.driver",
 * "metadata.annotations[\"volume.kubernetes.io/storage-provisioner\"]"), with fresh copies of
 * the values; js() looks such a key up before walking.  A json-c object costs about 800 bytes
 * whatever it holds, so a PV goes from ~7 nested objects (~9 KiB kept, ~13 KiB while parsed)
 * to one (~2.5 KiB).  The few sub-objects the checks test with jo() (a VolumeAttachment's
 * status.attachError/detachError, a VolumeSnapshot's status.readyToUse/error) are kept
 * nested, and only when present.  A check that reads another field of these five kinds must
 * add it here: tests/unit/test_nasmon_compact.c runs every check over the planted world both
 * whole and compacted and wants the same result. */
static const char *const flat_pv[] = {
	"metadata.name", "metadata.creationTimestamp", "metadata.deletionTimestamp", "spec.csi.driver",
	"spec.csi.volumeHandle", "spec.csi.volumeAttributes.provisioner_driver",
	"spec.csi.volumeAttributes.provisioner_driver_instance_id", "spec.csi.volumeAttributes.share",
	"spec.csi.volumeAttributes.iqn", "spec.csi.volumeAttributes.node_attach_driver", "spec.storageClassName",
	"spec.persistentVolumeReclaimPolicy", "spec.capacity.storage", "status.phase", "status.lastPhaseTransitionTime",
	NULL };
static const char *const flat_pvc[] = {
	"metadata.name", "metadata.namespace", "metadata.creationTimestamp", "metadata.deletionTimestamp",
	"metadata.annotations[\"volume.kubernetes.io/storage-provisioner\"]", "spec.storageClassName", "spec.volumeName",
	"status.phase", NULL };
static const char *const flat_va[] = {
	"metadata.name", "metadata.creationTimestamp", "metadata.deletionTimestamp", "spec.attacher", "spec.nodeName",
	"spec.source.persistentVolumeName", "status.attachError.message", "status.detachError.message", NULL };
static const char *const nested_va[] = { "status.attachError", "status.detachError", NULL };
static const char *const flat_vs[] = {
	"metadata.name", "metadata.namespace", "metadata.uid", "metadata.creationTimestamp", "metadata.deletionTimestamp",
	"spec.volumeSnapshotClassName", "status.boundVolumeSnapshotContentName", "status.error.message", NULL };
static const char *const nested_vs[] = { "status.readyToUse", "status.error", NULL };
static const char *const flat_vsc[] = {
	"metadata.name", "metadata.creationTimestamp", "metadata.deletionTimestamp", "spec.driver", "spec.deletionPolicy",
	"spec.volumeSnapshotRef.name", "spec.volumeSnapshotRef.namespace", "spec.volumeSnapshotRef.uid",
	"spec.source.snapshotHandle", "spec.source.volumeHandle", "spec.volumeSnapshotClassName", "status.snapshotHandle",
	NULL };
static const struct { const char *const *flat, *const *nested; } compact_fields[NKRES] = {
	[R_PV] = { flat_pv, NULL }, [R_PVC] = { flat_pvc, NULL }, [R_VA] = { flat_va, nested_va },
	[R_VS] = { flat_vs, nested_vs }, [R_VSC] = { flat_vsc, NULL },
};

/* path "a.b.c" of item -> out.a.b.c (new objects on the way; the value deep-copied) */
static int keep_nested(json_object *item, const char *path, json_object *out)
{
	json_object *v, *dst = out, *copy = NULL;
	char seg[128];
	const char *p = path;

	if (infra_json_get(item, path, &v, NULL))
		return 0;
	if (json_object_deep_copy(v, &copy, NULL))
		return -ENOMEM;
	for (;;) {
		size_t n = strcspn(p, ".");
		json_object *d;

		snprintf(seg, sizeof(seg), "%.*s", (int)n, p);
		if (!p[n]) {
			json_object_object_add(dst, seg, copy);
			return 0;
		}
		if (!json_object_object_get_ex(dst, seg, &d)) {
			d = json_object_new_object();
			if (!d || json_object_object_add(dst, seg, d)) {
				json_object_put(d);
				json_object_put(copy);
				return -ENOMEM;
			}
		}
		dst = d;
		p += n + 1;
	}
}

json_object *infra_nasmon_compact(const char *list, json_object *item)
{
	const char *const *flat = NULL, *const *nested = NULL;
	json_object *o;

	for (int r = 0; r < NKRES && list; r++) {
		if (!strcmp(list, kres_names[r])) {
			flat = compact_fields[r].flat;
			nested = compact_fields[r].nested;
			break;
		}
	}
	if (!flat || !json_object_is_type(item, json_type_object))
		return json_object_get(item);
	if (!(o = json_object_new_object()))
		return NULL;
	for (size_t i = 0; flat[i]; i++) {
		const char *v = infra_json_opt_string(item, flat[i], NULL);
		json_object *sv;

		if (!v)
			continue;
		if (!(sv = json_object_new_string(v)) || json_object_object_add(o, flat[i], sv)) {
			json_object_put(sv);
			json_object_put(o);
			return NULL;
		}
	}
	for (size_t i = 0; nested && nested[i]; i++) {
		if (keep_nested(item, nested[i], o)) {
			json_object_put(o);
			return NULL;
		}
	}
	return o;
}

/* The TrueNAS snapshots (50,000s) are kept, each as the loader converts it (after
 * infra_truenas_flatten_sources), as ONE json string object: the snapshot's id, then packed the
 * values js() and zprop() give for what the checks read of a snapshot: "name", and the value
 * and source of creation, used and democratic-csi:csi_snapshot_name (csnap_field).
 * js()/zprop() answer from it (and nothing else: a check that reads another field of a
 * snapshot must add it to csnap_props), so ~1.7 KiB of json-c objects (an object with its hash
 * table, four strings, their keys) become one allocation of ~250 bytes.  Printed (a
 * serializer), it is the flat object it stands for: a property with a source as
 * {"rawvalue","source"}. */
static int csnap_print(json_object *o, struct printbuf *pb, int level, int flags)
{
	json_object *t = json_object_new_object();
	const char *s;
	int rc, is;

	(void)level;
	if (!t)
		return -1;
	for (int k = 0; k < 2 + CSNAP_NPROPS; k++) {
		const char *f = csnap_field(o, k, &is), *src = k < 2 ? NULL : csnap_field(o, k + CSNAP_NPROPS, &is);
		json_object *v;

		if (!f)
			continue;
		v = json_object_new_string(f);
		if (src) {
			json_object *p = json_object_new_object();

			json_object_object_add(p, "rawvalue", v);
			json_object_object_add(p, "source", json_object_new_string(src));
			v = p;
		}
		json_object_object_add(t, k == 0 ? "id" : k == 1 ? "name" : csnap_props[k - 2], v);
	}
	s = json_object_to_json_string_ext(t, flags);
	rc = s ? printbuf_memappend(pb, s, (int)strlen(s)) : -1;
	json_object_put(t);
	return rc;
}

static json_object *csnap_new(json_object *item)
{
	const char *f[CSNAP_NFIELDS];
	size_t len[CSNAP_NFIELDS], total = 0;
	json_object *o;
	char *buf, *p;

	f[0] = js(item, "id");
	f[1] = js(item, "name");
	for (int i = 0; i < CSNAP_NPROPS; i++)
		f[2 + i] = zprop(item, csnap_props[i], &f[2 + CSNAP_NPROPS + i]);
	for (int i = 0; i < CSNAP_NFIELDS; i++)
		total += (len[i] = f[i] ? strlen(f[i]) : 0) + 2;
	if (!(buf = malloc(total)))
		return NULL;
	p = buf;
	for (int i = 0; i < CSNAP_NFIELDS; i++) {
		if (i > 0)
			*p++ = f[i] ? 1 : 0;
		if (i == 0 || f[i]) {
			memcpy(p, f[i] ? f[i] : "", len[i]);
			p[len[i]] = '\0';
			p += len[i] + 1;
		}
		if (i == 0)
			*p++ = f[0] ? 1 : 0;
	}
	o = json_object_new_string_len(buf, (int)(p - buf));
	free(buf);
	if (o)
		json_object_set_serializer(o, csnap_print, (void *)csnap_magic, NULL);
	return o;
}

json_object *infra_nasmon_compact_tn(const char *list, json_object *item)
{
	if (!list || strcmp(list, tres_names[T_SNAPSHOTS]) || !json_object_is_type(item, json_type_object))
		return json_object_get(item);
	return csnap_new(item);
}

static json_object *compact_cb(json_object *item, void *ud)
{
	return infra_nasmon_compact((const char *)ud, item);
}

/* ---------------------------------------------------------------- fetching */

#define DCSI_PODS "?labelSelector=app.kubernetes.io%2Fname%3Ddemocratic-csi"

struct kfetch {
	const struct infra_kube_opts *o;
	pthread_mutex_t mu;
	int next;
	json_object *items[NKRES];
	int rc[NKRES], pages[NKRES];
	struct infra_err errs[NKRES];
};

static void kfetch_run(struct kfetch *f, struct infra_kube *k)
{
	static const char *const paths[NKRES] = {
		"/api/v1/persistentvolumes", "/api/v1/persistentvolumeclaims",
		"/apis/storage.k8s.io/v1/storageclasses", "/apis/storage.k8s.io/v1/volumeattachments",
		"/apis/storage.k8s.io/v1/csidrivers", "/apis/storage.k8s.io/v1/csinodes", "/api/v1/nodes",
		"/apis/snapshot.storage.k8s.io/v1/volumesnapshots",
		"/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents",
		"/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses", "/api/v1/pods" DCSI_PODS,
		"/apis/apps/v1/daemonsets" DCSI_PODS, "/apis/apps/v1/deployments" DCSI_PODS,
	};

	for (;;) {
		int r;

		pthread_mutex_lock(&f->mu);
		r = f->next++;
		pthread_mutex_unlock(&f->mu);
		if (r >= NKRES)
			return;
		f->rc[r] = infra_kube_list_map(k, paths[r], compact_cb, (void *)kres_names[r], &f->items[r], &f->errs[r]);
		f->pages[r] = infra_kube_last_pages(k);
	}
}

static void *kfetch_worker(void *arg)
{
	struct kfetch *f = arg;
	struct infra_kube *k = NULL;

	if (infra_kube_open(&k, f->o, NULL))
		return NULL; /* the main thread's handle does the work */
	kfetch_run(f, k);
	infra_kube_close(k);
	return NULL;
}

int infra_nasmon_fetch_kube(struct infra_kube *k, const struct infra_kube_opts *o, int jobs, json_object **kube,
			    json_object **failed, int *requests, struct infra_err *err)
{
	struct kfetch f;
	pthread_t th[16];
	int nth = 0;

	memset(&f, 0, sizeof(f));
	f.o = o;
	pthread_mutex_init(&f.mu, NULL);
	for (int i = 1; o && i < jobs && i < NKRES && nth < 16; i++)
		if (!pthread_create(&th[nth], NULL, kfetch_worker, &f))
			nth++;
	kfetch_run(&f, k);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&f.mu);
	*kube = json_object_new_object();
	*failed = json_object_new_object();
	for (int r = 0; r < NKRES; r++) {
		if (requests)
			*requests += f.pages[r] > 0 ? f.pages[r] : 1;
		if (!f.rc[r])
			json_object_object_add(*kube, kres_names[r], f.items[r]);
		else if (f.rc[r] != -ENOENT && f.rc[r] != -EACCES && r == 0 && !*err->msg)
			*err = f.errs[r];
		else if (f.rc[r] != -ENOENT)
			json_object_object_add(*failed, kres_names[r], json_object_new_string(f.errs[r].msg));
	}
	if (err->code) {
		int rc = err->code;

		json_object_put(*kube);
		json_object_put(*failed);
		*kube = *failed = NULL;
		return rc;
	}
	return 0;
}

/* each dataset and snapshot as it is parsed: its "NAME@source" keys folded back, and a
 * snapshot made compact (its whole form freed at once) */
static json_object *tn_item_cb(enum infra_tn_query q, json_object *item, void *ud)
{
	(void)ud;
	if (q != INFRA_TN_DATASETS && q != INFRA_TN_SNAPSHOTS)
		return NULL;
	infra_truenas_flatten_sources(item);
	return q == INFRA_TN_SNAPSHOTS ? infra_nasmon_compact_tn(tres_names[T_SNAPSHOTS], item) : NULL;
}

int infra_nasmon_fetch_truenas(struct infra_truenas *t, json_object **tn, json_object **failed,
			       struct infra_err *err)
{
	/* all in one round trip; the services are optional (CFG-TN judges them when they come) */
	static const enum infra_tn_query q[] = { INFRA_TN_POOLS, INFRA_TN_DATASETS, INFRA_TN_SNAPSHOTS,
		INFRA_TN_NFS_SHARES, INFRA_TN_SMB_SHARES, INFRA_TN_ISCSI_TARGETS, INFRA_TN_ISCSI_EXTENTS,
		INFRA_TN_ISCSI_TARGETEXTENTS, INFRA_TN_SERVICES };
	static const int names[] = { T_POOLS, T_DATASETS, T_SNAPSHOTS, T_NFS, T_SMB, T_TARGETS, T_EXTENTS, T_TES,
		T_SERVICES };
	enum { NQ = sizeof(q) / sizeof(q[0]) };
	json_object *results[NQ] = { 0 };
	struct infra_err errs[NQ];
	int rc;

	memset(errs, 0, sizeof(errs));
	rc = infra_truenas_query_map(t, NQ, q, tn_item_cb, NULL, results, errs, err);
	if (rc)
		return rc;
	*tn = json_object_new_object();
	*failed = json_object_new_object();
	json_object_object_add(*tn, "version", jstr(infra_truenas_version(t)));
	for (size_t i = 0; i < NQ; i++) {
		if (results[i])
			json_object_object_add(*tn, tres_names[names[i]], results[i]);
		else if (errs[i].code != -ENOTSUP && q[i] != INFRA_TN_SERVICES)
			json_object_object_add(*failed, tres_names[names[i]], json_object_new_string(errs[i].msg));
	}
	return 0;
}

/* ---------------------------------------------------------------- writers */

int infra_nasmon_list_checks(struct infra_buf *out)
{
	int rc = infra_buf_printf(out, "%-15s %-9s %-10s %-10s %-8s %s\n", "ID", "SEVERITY", "WARN", "CRIT", "GRACE", "WHAT");
	for (int k = 0; k < NASMON_NCHECKS; k++) {
		const struct infra_nasmon_check_def *d = &infra_nasmon_checks[k];

		rc |= infra_buf_printf(out, "%-15s %-9s %-10g %-10g %-8g %s (thresholds: %s)\n", d->id, infra_nasmon_sev_name(d->severity),
			d->warn, d->crit, d->grace, d->doc, d->threshold_doc);
	}
	return rc ? -ENOMEM : 0;
}

void infra_nasmon_source_metrics(struct infra_prom *prom, int kube_up, json_object *truenas_source)
{
	infra_prom_family(prom, "nasmon_up", INFRA_PROM_GAUGE,
			  "1 if the last run could do its job (source=\"\") or could read the source (source=kubernetes|truenas), 0 otherwise",
			  NULL);
	infra_prom_addl(prom, "nasmon_up", kube_up ? 1 : 0, NULL, "source", "kubernetes", NULL);
	infra_prom_addl(prom, "nasmon_up", truenas_source ? 1 : 0, NULL, "source", "truenas", NULL);
	if (!truenas_source)
		return;
	infra_prom_family(prom, "nasmon_truenas_info", INFRA_PROM_GAUGE, "TrueNAS version and API transport, value 1", NULL);
	infra_prom_addl(prom, "nasmon_truenas_info", 1, NULL, "version",
			json_object_get_string(json_object_object_get(truenas_source, "version")), "transport",
			json_object_get_string(json_object_object_get(truenas_source, "transport")), NULL);
}

void infra_nasmon_report_failed(struct infra_report *r, const char *source, json_object *failed)
{
	if (!failed)
		return;
	json_object_object_foreach(failed, name, msg)
		infra_report_error(r, "%s: %s: %s", source, name, json_object_get_string(msg));
}

void infra_nasmon_nagios(struct infra_report *r, const struct infra_nasmon_result *res, const char *warn,
			 const char *crit)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_threshold t;
	size_t bad = res->nfindings[NASMON_SEV_WARNING] + res->nfindings[NASMON_SEV_CRITICAL], shown = 0;
	int unknown = 0, selected = 0;

	for (int k = 0; k < NASMON_NCHECKS; k++)
		selected += res->checks[k].selected;
	for (int k = 0; k < NASMON_NCHECKS; k++)
		if (res->checks[k].selected && res->checks[k].status == INFRA_EXIT_UNKNOWN) {
			unknown++;
			infra_report_detail(r, "%s UNKNOWN: %s", infra_nasmon_checks[k].id, res->checks[k].unknown);
		}
	if (warn || crit) {
		infra_threshold_set(&t, warn, crit, &err);
		infra_report_status(r, unknown ? INFRA_EXIT_UNKNOWN : infra_threshold_status(&t, (double)bad));
	} else {
		infra_report_status(r, res->status);
	}
	if (unknown && unknown == selected) {
		/* nothing ran: no finding counts that would read as "nothing found" */
		infra_report_summary(r, "no check could run (%d unknown), nothing was judged", unknown);
		infra_report_perf(r, "unknown_checks", unknown, "", NULL, 0, NASMON_NCHECKS);
		return;
	}
	infra_report_summary(r, "%zu critical, %zu warning, %zu info%s%.0d%s", res->nfindings[NASMON_SEV_CRITICAL],
			     res->nfindings[NASMON_SEV_WARNING], res->nfindings[NASMON_SEV_INFO], unknown ? ", " : "",
			     unknown, unknown ? " checks unknown" : "");
	infra_report_perf(r, "critical", (double)res->nfindings[NASMON_SEV_CRITICAL], "", NULL, 0, NAN);
	infra_report_perf(r, "warning", (double)res->nfindings[NASMON_SEV_WARNING], "", warn || crit ? &t : NULL,
			  0, NAN);
	infra_report_perf(r, "info", (double)res->nfindings[NASMON_SEV_INFO], "", NULL, 0, NAN);
	infra_report_perf(r, "unknown_checks", unknown, "", NULL, 0, NASMON_NCHECKS);
	for (size_t i = 0; i < json_object_array_length(res->findings) && shown < 50; i++) {
		json_object *f = json_object_array_get_idx(res->findings, i);
		const char *sev = json_object_get_string(json_object_object_get(f, "severity"));

		if (!strcmp(sev, "info"))
			continue;
		infra_report_detail(r, "%s %s: %s", json_object_get_string(json_object_object_get(f, "check")), sev,
				    json_object_get_string(json_object_object_get(f, "message")));
		shown++;
	}
	if (bad > shown)
		infra_report_detail(r, "... and %zu more (see -f json)", bad - shown);
}



json_object *infra_nasmon_to_json(const struct infra_nasmon_result *res)
{
	json_object *d = json_object_new_object(), *checks = json_object_new_object(), *counts;
	static const char *const st[] = { "ok", "warning", "critical", "unknown" };

	for (int k = 0; k < NASMON_NCHECKS; k++) {
		const struct infra_nasmon_check_result *cr = &res->checks[k];
		json_object *o, *f;

		if (!cr->selected)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "status", json_object_new_string(st[cr->status]));
		f = NULL; /* null for a check that could not run, not zeros */
		for (int s = NASMON_SEV_INFO; cr->status != INFRA_EXIT_UNKNOWN && s <= NASMON_SEV_CRITICAL; s++) {
			if (!f)
				f = json_object_new_object();
			json_object_object_add(f, sev_names[s], json_object_new_int(cr->counts[s]));
		}
		json_object_object_add(o, "findings", f);
		if (cr->status == INFRA_EXIT_UNKNOWN)
			json_object_object_add(o, "unknown", json_object_new_string(cr->unknown));
		json_object_object_add(checks, infra_nasmon_checks[k].id, o);
	}
	counts = NULL; /* null when no check could run: zeros would read as "nothing found" */
	for (int k = 0; k < NASMON_NCHECKS && !counts; k++)
		if (res->checks[k].selected && res->checks[k].status != INFRA_EXIT_UNKNOWN)
			counts = json_object_new_object();
	for (int s = NASMON_SEV_INFO; counts && s <= NASMON_SEV_CRITICAL; s++)
		json_object_object_add(counts, sev_names[s], json_object_new_int64((int64_t)res->nfindings[s]));
	json_object_object_add(d, "findings", json_object_get(res->findings));
	json_object_object_add(d, "counts", counts);
	json_object_object_add(d, "checks", checks);
	json_object_object_add(d, "pools", json_object_get(res->pools));
	if (res->trends)
		json_object_object_add(d, "trends", json_object_get(res->trends));
	json_object_object_add(d, "context", json_object_get(res->context));
	return d;
}

int infra_nasmon_to_text(const struct infra_nasmon_result *res, struct infra_buf *out)
{
	size_t n = json_object_array_length(res->findings);
	int nst[4] = { 0 }, rc = 0;

	if (n)
		rc |= infra_buf_printf(out, "%-14s %-8s %-22s %-50s %s\n", "CHECK", "SEVERITY", "KIND", "OBJECT", "MESSAGE");
	for (size_t i = 0; i < n; i++) {
		json_object *f = json_object_array_get_idx(res->findings, i);
		const char *ns = js(f, "object.namespace");
		char obj[600];

		snprintf(obj, sizeof(obj), "%s%s%s", ns ?: "", ns ? "/" : "", js(f, "object.name") ?: "-");
		rc |= infra_buf_printf(out, "%-14s %-8s %-22s %-50s %s\n", js(f, "check"), js(f, "severity"),
				       js(f, "object.kind"), obj, js(f, "message"));
	}
	if (n)
		rc |= infra_buf_puts(out, "\n");
	for (int k = 0; k < NASMON_NCHECKS; k++)
		if (res->checks[k].selected)
			nst[res->checks[k].status]++;
	rc |= infra_buf_printf(out, "%d checks: %d ok, %d warning, %d critical, %d unknown; ",
			       nst[0] + nst[1] + nst[2] + nst[3], nst[0], nst[1], nst[2], nst[3]);
	if (nst[0] + nst[1] + nst[2] == 0 && nst[3])
		rc |= infra_buf_puts(out, "no check could run, nothing was judged\n");
	else
		rc |= infra_buf_printf(out, "findings%s: %zu critical, %zu warning, %zu info\n",
				       nst[3] ? " of the checks that ran" : "", res->nfindings[NASMON_SEV_CRITICAL],
				       res->nfindings[NASMON_SEV_WARNING], res->nfindings[NASMON_SEV_INFO]);
	for (int k = 0; k < NASMON_NCHECKS; k++)
		if (res->checks[k].selected && res->checks[k].status == INFRA_EXIT_UNKNOWN)
			rc |= infra_buf_printf(out, "%s UNKNOWN: %s\n", infra_nasmon_checks[k].id, res->checks[k].unknown);
	if (res->trends) {
		json_object_object_foreach(jo(res->trends, "pools"), pn, t) {
			json_object *d = jo(t, "days_until_full");

			if (d)
				rc |= infra_buf_printf(out, "pool %s: full in %.1f days (least squares over %zu points)\n", pn,
						       json_object_get_double(d), json_object_array_length(jo(t, "points")));
			else
				rc |= infra_buf_printf(out, "pool %s: %s (%zu point%s)\n", pn,
						       json_object_array_length(jo(t, "points")) < 2 ? "no trend yet" : "not filling",
						       json_object_array_length(jo(t, "points")),
						       json_object_array_length(jo(t, "points")) == 1 ? "" : "s");
		}
	}
	return rc ? -ENOMEM : 0;
}
