#include "infra_openstack.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "infra_buf.h"
#include "infra_cli.h"
#include "infra_json.h"
#include "infra_ossvc.h"
#include "infra_report.h"
#include "infra_yaml.h"

/* ------------------------------------------------------------------ argp */

enum {
	OPT_OS_CLOUD = 0x2000,
	OPT_OS_AUTH_URL,
	OPT_OS_REGION,
	OPT_OS_INTERFACE,
	OPT_OS_USERNAME,
	OPT_OS_USER_DOMAIN,
	OPT_OS_PROJECT,
	OPT_OS_PROJECT_DOMAIN,
	OPT_OS_PASSWORD_FILE,
	OPT_OS_PASSWORD,
	OPT_OS_TOKEN,
	OPT_OS_APP_CRED_SECRET,
};

/* openstackclient's secret flags: here only to refuse them (infra_cli.h) */
static const struct infra_cli_secret os_secrets[] = {
	{ OPT_OS_PASSWORD, "os-password", "OS_PASSWORD, clouds.yaml or --os-password-file" },
	{ OPT_OS_TOKEN, "os-token", "OS_TOKEN or clouds.yaml" },
	{ OPT_OS_APP_CRED_SECRET, "os-application-credential-secret", "OS_APPLICATION_CREDENTIAL_SECRET or clouds.yaml" },
	{ 0, NULL, NULL }
};

static const struct argp_option os_options[] = {
	{ NULL, 0, NULL, 0, "OpenStack (flags override OS_* variables and clouds.yaml):", INFRA_HELP_SOURCE },
	{ "os-cloud", OPT_OS_CLOUD, "NAME", 0, "cloud entry of clouds.yaml (default $OS_CLOUD)", INFRA_HELP_SOURCE },
	{ "os-auth-url", OPT_OS_AUTH_URL, "URL", 0, "Keystone URL (default $OS_AUTH_URL)", INFRA_HELP_SOURCE },
	{ "os-region-name", OPT_OS_REGION, "NAME", 0, "region of the endpoints (default $OS_REGION_NAME, else the first)", INFRA_HELP_SOURCE },
	{ "os-interface", OPT_OS_INTERFACE, "IFACE", 0, "{public|internal|admin} endpoint interface (default $OS_INTERFACE, else public)", INFRA_HELP_SOURCE },
	{ "os-username", OPT_OS_USERNAME, "NAME", 0, "user name (default $OS_USERNAME)", INFRA_HELP_SOURCE },
	{ "os-user-domain-name", OPT_OS_USER_DOMAIN, "NAME", 0, "user domain (default $OS_USER_DOMAIN_NAME)", INFRA_HELP_SOURCE },
	{ "os-project-name", OPT_OS_PROJECT, "NAME", 0, "project to scope to (default $OS_PROJECT_NAME)", INFRA_HELP_SOURCE },
	{ "os-project-domain-name", OPT_OS_PROJECT_DOMAIN, "NAME", 0, "project domain (default $OS_PROJECT_DOMAIN_NAME)", INFRA_HELP_SOURCE },
	{ "os-password-file", OPT_OS_PASSWORD_FILE, "FILE", 0, "read the password from FILE (first line); never pass it on the command line", INFRA_HELP_SOURCE },
	INFRA_CLI_SECRET_OPTION("os-password", OPT_OS_PASSWORD),
	INFRA_CLI_SECRET_OPTION("os-token", OPT_OS_TOKEN),
	INFRA_CLI_SECRET_OPTION("os-application-credential-secret", OPT_OS_APP_CRED_SECRET),
	{ 0 }
};

static error_t os_parse(int key, char *arg, struct argp_state *state)
{
	struct infra_os_flags *f = state->input;

	if (!f)
		return ARGP_ERR_UNKNOWN;
	switch (key) {
	case OPT_OS_CLOUD: f->cloud = arg; break;
	case OPT_OS_AUTH_URL: f->auth_url = arg; break;
	case OPT_OS_REGION: f->region_name = arg; break;
	case OPT_OS_INTERFACE:
		if (strcmp(arg, "public") && strcmp(arg, "internal") && strcmp(arg, "admin"))
			argp_error(state, "invalid --os-interface '%s' (public, internal, admin)", arg);
		f->interface = arg;
		break;
	case OPT_OS_USERNAME: f->username = arg; break;
	case OPT_OS_USER_DOMAIN: f->user_domain_name = arg; break;
	case OPT_OS_PROJECT: f->project_name = arg; break;
	case OPT_OS_PROJECT_DOMAIN: f->project_domain_name = arg; break;
	case OPT_OS_PASSWORD_FILE: f->password_file = arg; break;
	case OPT_OS_PASSWORD:
	case OPT_OS_TOKEN:
	case OPT_OS_APP_CRED_SECRET:
		infra_cli_refuse_secret(state, os_secrets, key, arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp infra_os_argp = { os_options, os_parse, NULL, NULL, NULL, NULL, NULL };

/* ------------------------------------------------------------------ config */

static void set_str(char **dst, const char *v)
{
	if (!v || !*v)
		return;
	free(*dst);
	*dst = strdup(v);
}

static int file_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* First existing candidate of NAME in the search path, into out. */
static int find_config(const char *envvar, const char *name, char *out, size_t size)
{
	const char *e = getenv(envvar);
	const char *home = getenv("HOME");
	const char *xdg = getenv("XDG_CONFIG_HOME");

	if (e && *e) {
		snprintf(out, size, "%s", e);
		return file_exists(out);
	}
	snprintf(out, size, "./%s", name);
	if (file_exists(out))
		return 1;
	if (xdg && *xdg) {
		snprintf(out, size, "%s/openstack/%s", xdg, name);
		if (file_exists(out))
			return 1;
	} else if (home && *home) {
		snprintf(out, size, "%s/.config/openstack/%s", home, name);
		if (file_exists(out))
			return 1;
	}
	snprintf(out, size, "/etc/openstack/%s", name);
	return file_exists(out);
}

/* Deep-merge src into dst (objects merged, everything else replaced). */
static void json_merge(json_object *dst, json_object *src)
{
	json_object_object_foreach(src, k, v) {
		json_object *d;
		if (json_object_object_get_ex(dst, k, &d) && json_object_is_type(d, json_type_object) &&
		    json_object_is_type(v, json_type_object))
			json_merge(d, v);
		else
			json_object_object_add(dst, k, json_object_get(v));
	}
}

static void cfg_from_cloud(struct infra_os_config *c, json_object *cl)
{
	static const struct { const char *key; size_t off; } auth_map[] = {
		{ "auth_url", offsetof(struct infra_os_config, auth_url) },
		{ "username", offsetof(struct infra_os_config, username) },
		{ "user_id", offsetof(struct infra_os_config, user_id) },
		{ "password", offsetof(struct infra_os_config, password) },
		{ "user_domain_name", offsetof(struct infra_os_config, user_domain_name) },
		{ "user_domain_id", offsetof(struct infra_os_config, user_domain_id) },
		{ "project_name", offsetof(struct infra_os_config, project_name) },
		{ "tenant_name", offsetof(struct infra_os_config, project_name) },
		{ "project_id", offsetof(struct infra_os_config, project_id) },
		{ "tenant_id", offsetof(struct infra_os_config, project_id) },
		{ "project_domain_name", offsetof(struct infra_os_config, project_domain_name) },
		{ "project_domain_id", offsetof(struct infra_os_config, project_domain_id) },
		{ "domain_name", offsetof(struct infra_os_config, domain_name) },
		{ "domain_id", offsetof(struct infra_os_config, domain_id) },
		{ "application_credential_id", offsetof(struct infra_os_config, app_cred_id) },
		{ "application_credential_name", offsetof(struct infra_os_config, app_cred_name) },
		{ "application_credential_secret", offsetof(struct infra_os_config, app_cred_secret) },
		{ "token", offsetof(struct infra_os_config, token) },
	};
	json_object *auth = NULL;

	if (json_object_object_get_ex(cl, "auth", &auth) && json_object_is_type(auth, json_type_object)) {
		for (size_t i = 0; i < sizeof(auth_map) / sizeof(auth_map[0]); i++)
			set_str((char **)((char *)c + auth_map[i].off),
				infra_json_opt_string(auth, auth_map[i].key, NULL));
	}
	set_str(&c->auth_type, infra_json_opt_string(cl, "auth_type", NULL));
	set_str(&c->region_name, infra_json_opt_string(cl, "region_name", NULL));
	set_str(&c->interface, infra_json_opt_string(cl, "interface", NULL));
	set_str(&c->interface, infra_json_opt_string(cl, "endpoint_type", NULL));
	set_str(&c->cacert, infra_json_opt_string(cl, "cacert", NULL));
	set_str(&c->cert, infra_json_opt_string(cl, "cert", NULL));
	set_str(&c->key, infra_json_opt_string(cl, "key", NULL));
	{
		const char *v = infra_json_opt_string(cl, "verify", NULL);
		if (v && (!strcasecmp(v, "false") || !strcasecmp(v, "no")))
			c->insecure = 1;
	}
}

static int load_clouds_yaml(struct infra_os_config *c, const char *cloud, struct infra_err *err)
{
	char path[4096], spath[4096];
	json_object *root, *sec = NULL, *cl;

	if (!find_config("OS_CLIENT_CONFIG_FILE", "clouds.yaml", path, sizeof(path)))
		return infra_err_set(err, -ENOENT,
				     "cloud '%s' requested but no clouds.yaml found (./, ~/.config/openstack/, /etc/openstack/)",
				     cloud);
	root = infra_yaml_load_file(path, err);
	if (!root)
		return err ? err->code : -EINVAL;
	if (find_config("OS_SECURE_FILE", "secure.yaml", spath, sizeof(spath))) {
		sec = infra_yaml_load_file(spath, err);
		if (!sec) {
			json_object_put(root);
			return err ? err->code : -EINVAL;
		}
		if (json_object_is_type(root, json_type_object) && json_object_is_type(sec, json_type_object))
			json_merge(root, sec);
		json_object_put(sec);
	}
	if (infra_json_get_object(root, "clouds", &cl, NULL) ||
	    !json_object_object_get_ex(cl, cloud, &cl) || !json_object_is_type(cl, json_type_object)) {
		json_object_put(root);
		return infra_err_set(err, -ENOENT, "cloud '%s' not found in %s", cloud, path);
	}
	cfg_from_cloud(c, cl);
	set_str(&c->config_file, path);
	json_object_put(root);
	return 0;
}

int infra_os_config_load(struct infra_os_config *c, const struct infra_os_flags *fl, struct infra_err *err)
{
	static const struct { const char *env; size_t off; } env_map[] = {
		{ "OS_AUTH_URL", offsetof(struct infra_os_config, auth_url) },
		{ "OS_AUTH_TYPE", offsetof(struct infra_os_config, auth_type) },
		{ "OS_USERNAME", offsetof(struct infra_os_config, username) },
		{ "OS_USER_ID", offsetof(struct infra_os_config, user_id) },
		{ "OS_PASSWORD", offsetof(struct infra_os_config, password) },
		{ "OS_USER_DOMAIN_NAME", offsetof(struct infra_os_config, user_domain_name) },
		{ "OS_USER_DOMAIN_ID", offsetof(struct infra_os_config, user_domain_id) },
		{ "OS_TENANT_NAME", offsetof(struct infra_os_config, project_name) },
		{ "OS_PROJECT_NAME", offsetof(struct infra_os_config, project_name) },
		{ "OS_TENANT_ID", offsetof(struct infra_os_config, project_id) },
		{ "OS_PROJECT_ID", offsetof(struct infra_os_config, project_id) },
		{ "OS_PROJECT_DOMAIN_NAME", offsetof(struct infra_os_config, project_domain_name) },
		{ "OS_PROJECT_DOMAIN_ID", offsetof(struct infra_os_config, project_domain_id) },
		{ "OS_DOMAIN_NAME", offsetof(struct infra_os_config, domain_name) },
		{ "OS_DOMAIN_ID", offsetof(struct infra_os_config, domain_id) },
		{ "OS_APPLICATION_CREDENTIAL_ID", offsetof(struct infra_os_config, app_cred_id) },
		{ "OS_APPLICATION_CREDENTIAL_NAME", offsetof(struct infra_os_config, app_cred_name) },
		{ "OS_APPLICATION_CREDENTIAL_SECRET", offsetof(struct infra_os_config, app_cred_secret) },
		{ "OS_TOKEN", offsetof(struct infra_os_config, token) },
		{ "OS_REGION_NAME", offsetof(struct infra_os_config, region_name) },
		{ "OS_ENDPOINT_TYPE", offsetof(struct infra_os_config, interface) },
		{ "OS_INTERFACE", offsetof(struct infra_os_config, interface) },
		{ "OS_CACERT", offsetof(struct infra_os_config, cacert) },
		{ "OS_CERT", offsetof(struct infra_os_config, cert) },
		{ "OS_KEY", offsetof(struct infra_os_config, key) },
	};
	static const struct infra_os_flags none;
	const char *cloud;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!fl)
		fl = &none;
	cloud = fl->cloud ? fl->cloud : getenv("OS_CLOUD");
	if (cloud && *cloud) {
		set_str(&c->cloud, cloud);
		rc = load_clouds_yaml(c, cloud, err);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < sizeof(env_map) / sizeof(env_map[0]); i++)
		set_str((char **)((char *)c + env_map[i].off), getenv(env_map[i].env));
	set_str(&c->auth_url, fl->auth_url);
	set_str(&c->region_name, fl->region_name);
	set_str(&c->interface, fl->interface);
	set_str(&c->username, fl->username);
	set_str(&c->user_domain_name, fl->user_domain_name);
	set_str(&c->project_name, fl->project_name);
	set_str(&c->project_domain_name, fl->project_domain_name);
	if (fl->password_file && (rc = infra_cli_read_secret_file(fl->password_file, "os-password-file", &c->password, err)))
		return rc;

	if (c->interface) {
		/* keystoneauth accepts publicURL etc. */
		if (!strncmp(c->interface, "public", 6))
			set_str(&c->interface, "public");
		else if (!strncmp(c->interface, "internal", 8))
			set_str(&c->interface, "internal");
		else if (!strncmp(c->interface, "admin", 5))
			set_str(&c->interface, "admin");
		else
			return infra_err_set(err, -EINVAL, "invalid interface '%s' (public, internal, admin)", c->interface);
	} else {
		set_str(&c->interface, "public");
	}
	if (!c->auth_url)
		return infra_err_set(err, -EINVAL, "no auth URL: set OS_AUTH_URL, OS_CLOUD or --os-auth-url");
	if (!c->auth_type) {
		if (c->app_cred_secret)
			set_str(&c->auth_type, "v3applicationcredential");
		else if (c->token && !c->password)
			set_str(&c->auth_type, "token");
		else
			set_str(&c->auth_type, "password");
	}
	if (!strcmp(c->auth_type, "v3password"))
		set_str(&c->auth_type, "password");
	if (!strcmp(c->auth_type, "v3token"))
		set_str(&c->auth_type, "token");
	if (!strcmp(c->auth_type, "password")) {
		if (!c->username && !c->user_id)
			return infra_err_set(err, -EINVAL, "password auth needs OS_USERNAME or OS_USER_ID");
		if (!c->password)
			return infra_err_set(err, -EINVAL, "password auth needs OS_PASSWORD, a clouds.yaml password or --os-password-file");
	} else if (!strcmp(c->auth_type, "v3applicationcredential")) {
		if (!c->app_cred_secret || (!c->app_cred_id && !c->app_cred_name))
			return infra_err_set(err, -EINVAL,
					     "application credential auth needs OS_APPLICATION_CREDENTIAL_ID (or _NAME) and _SECRET");
		if (!c->app_cred_id && !c->username && !c->user_id)
			return infra_err_set(err, -EINVAL, "an application credential given by name needs OS_USERNAME or OS_USER_ID");
	} else if (!strcmp(c->auth_type, "token")) {
		if (!c->token)
			return infra_err_set(err, -EINVAL, "token auth needs OS_TOKEN");
	} else {
		return infra_err_set(err, -EINVAL, "unsupported auth type '%s' (password, v3applicationcredential, token)",
				     c->auth_type);
	}
	return 0;
}

static void free_secret(char **p)
{
	if (*p) {
		memset(*p, 0, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

void infra_os_config_release(struct infra_os_config *c)
{
	char **plain[] = { &c->cloud, &c->auth_url, &c->auth_type, &c->username, &c->user_id,
			   &c->user_domain_name, &c->user_domain_id, &c->project_name, &c->project_id,
			   &c->project_domain_name, &c->project_domain_id, &c->domain_name, &c->domain_id,
			   &c->app_cred_id, &c->app_cred_name, &c->region_name, &c->interface, &c->cacert,
			   &c->cert, &c->key, &c->config_file };
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		free(*plain[i]);
		*plain[i] = NULL;
	}
	free_secret(&c->password);
	free_secret(&c->app_cred_secret);
	free_secret(&c->token);
}

/* ------------------------------------------------------------------ client */

struct os_endpoint {
	char *type;
	char *catalog_url;
	char *url;     /* resolved, NULL until known */
	int failed;
};

struct infra_os {
	struct infra_os_config cfg; /* deep copy */
	struct infra_http *http;    /* lists and deletes (batch) */
	struct infra_http *auth_http; /* authentication only (usable while a batch runs) */
	char *token;
	int token_gen;
	int auth_count;
	int admin;
	char *project_id, *project_name, *user_id;
	json_object *roles;         /* the token's roles (an array), or NULL */
	json_object *catalog;
	struct os_endpoint *eps;
	size_t neps;
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct infra_os *infra_os_new(const struct infra_os_config *cfg, const struct infra_http_opts *opts,
			      struct infra_err *err)
{
	struct infra_os *os = calloc(1, sizeof(*os));
	struct infra_http_opts o = *opts;

	if (!os) {
		infra_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	os->cfg.auth_url = dup_or_null(cfg->auth_url);
	os->cfg.auth_type = dup_or_null(cfg->auth_type);
	os->cfg.username = dup_or_null(cfg->username);
	os->cfg.user_id = dup_or_null(cfg->user_id);
	os->cfg.user_domain_name = dup_or_null(cfg->user_domain_name);
	os->cfg.user_domain_id = dup_or_null(cfg->user_domain_id);
	os->cfg.password = dup_or_null(cfg->password);
	os->cfg.project_name = dup_or_null(cfg->project_name);
	os->cfg.project_id = dup_or_null(cfg->project_id);
	os->cfg.project_domain_name = dup_or_null(cfg->project_domain_name);
	os->cfg.project_domain_id = dup_or_null(cfg->project_domain_id);
	os->cfg.domain_name = dup_or_null(cfg->domain_name);
	os->cfg.domain_id = dup_or_null(cfg->domain_id);
	os->cfg.app_cred_id = dup_or_null(cfg->app_cred_id);
	os->cfg.app_cred_name = dup_or_null(cfg->app_cred_name);
	os->cfg.app_cred_secret = dup_or_null(cfg->app_cred_secret);
	os->cfg.token = dup_or_null(cfg->token);
	os->cfg.region_name = dup_or_null(cfg->region_name);
	os->cfg.interface = dup_or_null(cfg->interface ? cfg->interface : "public");
	if (!o.cacert && cfg->cacert)
		o.cacert = cfg->cacert;
	if (!o.cert && !o.key && cfg->cert) { /* the command line's pair wins as a whole */
		o.cert = cfg->cert;
		o.key = cfg->key;
	}
	if (cfg->insecure)
		o.insecure = 1;
	os->http = infra_http_new(&o, err);
	os->auth_http = os->http ? infra_http_new(&o, err) : NULL;
	if (!os->http || !os->auth_http || !os->cfg.auth_url || !os->cfg.interface) {
		if (err && !err->code)
			infra_err_set(err, -ENOMEM, "out of memory");
		infra_os_free(os);
		return NULL;
	}
	return os;
}

void infra_os_free(struct infra_os *os)
{
	if (!os)
		return;
	infra_os_config_release(&os->cfg);
	if (os->http)
		infra_http_free(os->http);
	if (os->auth_http)
		infra_http_free(os->auth_http);
	free_secret(&os->token);
	free(os->project_id);
	free(os->project_name);
	free(os->user_id);
	if (os->roles)
		json_object_put(os->roles);
	if (os->catalog)
		json_object_put(os->catalog);
	for (size_t i = 0; i < os->neps; i++) {
		free(os->eps[i].type);
		free(os->eps[i].catalog_url);
		free(os->eps[i].url);
	}
	free(os->eps);
	free(os);
}

int infra_os_connect(const struct infra_os_flags *flags, const struct infra_http_opts *opts,
		     struct infra_os **out, struct infra_err *err)
{
	struct infra_os_config cfg;
	struct infra_os *os;
	int rc;

	*out = NULL;
	rc = infra_os_config_load(&cfg, flags, err);
	if (rc) {
		/* whatever the cause (a missing or unreadable password file, clouds.yaml),
		 * it is our configuration: -EINVAL, which every tool reports as UNKNOWN */
		infra_os_config_release(&cfg);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	if ((rc = infra_http_global_init(err))) {
		infra_os_config_release(&cfg);
		return rc;
	}
	os = infra_os_new(&cfg, opts, err);
	infra_os_config_release(&cfg);
	if (!os)
		return err && err->code ? err->code : -ENOMEM;
	if ((rc = infra_os_authenticate(os, err))) {
		infra_os_free(os);
		return rc;
	}
	*out = os;
	return 0;
}

int infra_os_is_admin(const struct infra_os *os) { return os->admin; }

int infra_os_has_role(const struct infra_os *os, const char *role)
{
	size_t n = os->roles ? json_object_array_length(os->roles) : 0;

	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(infra_json_opt_string(json_object_array_get_idx(os->roles, i), "name", ""), role))
			return 1;
	return 0;
}
const char *infra_os_project_id(const struct infra_os *os) { return os->project_id; }
const char *infra_os_project_name(const struct infra_os *os) { return os->project_name; }
const char *infra_os_user_id(const struct infra_os *os) { return os->user_id; }
const char *infra_os_auth_url(const struct infra_os *os) { return os->cfg.auth_url; }
struct infra_http *infra_os_http(struct infra_os *os) { return os->http; }
int infra_os_auth_count(const struct infra_os *os) { return os->auth_count; }

static void add_domain(json_object *parent, const char *id, const char *name)
{
	json_object *d;

	if (!id && !name)
		return;
	d = json_object_new_object();
	if (id)
		json_object_object_add(d, "id", json_object_new_string(id));
	else
		json_object_object_add(d, "name", json_object_new_string(name));
	json_object_object_add(parent, "domain", d);
}

static json_object *auth_body(const struct infra_os_config *c)
{
	json_object *root = json_object_new_object(), *auth = json_object_new_object();
	json_object *ident = json_object_new_object(), *methods = json_object_new_array();
	const char *udn = c->user_domain_name ? c->user_domain_name : c->domain_name;
	const char *udi = c->user_domain_id ? c->user_domain_id : c->domain_id;
	const char *pdn = c->project_domain_name ? c->project_domain_name : c->domain_name;
	const char *pdi = c->project_domain_id ? c->project_domain_id : c->domain_id;
	int scope = 1;

	json_object_object_add(root, "auth", auth);
	json_object_object_add(auth, "identity", ident);
	json_object_object_add(ident, "methods", methods);
	if (!strcmp(c->auth_type, "password")) {
		json_object *pw = json_object_new_object(), *user = json_object_new_object();
		json_object_array_add(methods, json_object_new_string("password"));
		if (c->user_id) {
			json_object_object_add(user, "id", json_object_new_string(c->user_id));
		} else {
			json_object_object_add(user, "name", json_object_new_string(c->username));
			if (!udi && !udn)
				udi = "default";
			add_domain(user, udi, udn);
		}
		json_object_object_add(user, "password", json_object_new_string(c->password));
		json_object_object_add(pw, "user", user);
		json_object_object_add(ident, "password", pw);
	} else if (!strcmp(c->auth_type, "v3applicationcredential")) {
		json_object *ac = json_object_new_object();
		json_object_array_add(methods, json_object_new_string("application_credential"));
		if (c->app_cred_id) {
			json_object_object_add(ac, "id", json_object_new_string(c->app_cred_id));
		} else {
			json_object *user = json_object_new_object();
			json_object_object_add(ac, "name", json_object_new_string(c->app_cred_name));
			if (c->user_id) {
				json_object_object_add(user, "id", json_object_new_string(c->user_id));
			} else {
				json_object_object_add(user, "name", json_object_new_string(c->username));
				add_domain(user, udi ? udi : (udn ? NULL : "default"), udn);
			}
			json_object_object_add(ac, "user", user);
		}
		json_object_object_add(ac, "secret", json_object_new_string(c->app_cred_secret));
		json_object_object_add(ident, "application_credential", ac);
		scope = 0; /* an application credential carries its own scope */
	} else {
		json_object *tok = json_object_new_object();
		json_object_array_add(methods, json_object_new_string("token"));
		json_object_object_add(tok, "id", json_object_new_string(c->token));
		json_object_object_add(ident, "token", tok);
	}
	if (scope && (c->project_id || c->project_name)) {
		json_object *sc = json_object_new_object(), *p = json_object_new_object();
		if (c->project_id) {
			json_object_object_add(p, "id", json_object_new_string(c->project_id));
		} else {
			json_object_object_add(p, "name", json_object_new_string(c->project_name));
			if (!pdi && !pdn)
				pdi = "default";
			add_domain(p, pdi, pdn);
		}
		json_object_object_add(sc, "project", p);
		json_object_object_add(auth, "scope", sc);
	}
	return root;
}

/* "{base}/auth/tokens" whether or not the auth URL ends in /v3 */
static int tokens_url(const char *auth_url, char *out, size_t size)
{
	size_t n = strlen(auth_url);
	int r;

	while (n && auth_url[n - 1] == '/')
		n--;
	if (n >= 3 && !strncmp(auth_url + n - 3, "/v3", 3))
		r = snprintf(out, size, "%.*s/auth/tokens", (int)n, auth_url);
	else
		r = snprintf(out, size, "%.*s/v3/auth/tokens", (int)n, auth_url);
	return (r < 0 || (size_t)r >= size) ? -E2BIG : 0;
}

static void free_endpoints(struct infra_os *os)
{
	for (size_t i = 0; i < os->neps; i++) {
		free(os->eps[i].type);
		free(os->eps[i].catalog_url);
		free(os->eps[i].url);
	}
	free(os->eps);
	os->eps = NULL;
	os->neps = 0;
}

const char *infra_os_catalog_url(const struct infra_os *os, const char *type)
{
	size_t n;

	if (!os->catalog)
		return NULL;
	n = json_object_array_length(os->catalog);
	for (size_t i = 0; i < n; i++) {
		json_object *svc = json_object_array_get_idx(os->catalog, i), *eps;
		const char *t = infra_json_opt_string(svc, "type", "");
		if (!infra_ossvc_catalog_match(type, t) || infra_json_get_array(svc, "endpoints", &eps, NULL))
			continue;
		for (size_t j = 0; j < json_object_array_length(eps); j++) {
			json_object *ep = json_object_array_get_idx(eps, j);
			const char *iface = infra_json_opt_string(ep, "interface", "");
			const char *region = infra_json_opt_string(ep, "region_id", NULL);
			const char *region2 = infra_json_opt_string(ep, "region", NULL);
			const char *url = infra_json_opt_string(ep, "url", NULL);
			if (!url || strcmp(iface, os->cfg.interface))
				continue;
			if (os->cfg.region_name && !(region && !strcmp(region, os->cfg.region_name)) &&
			    !(region2 && !strcmp(region2, os->cfg.region_name)))
				continue;
			return url;
		}
	}
	return NULL;
}

/* A region that no endpoint of the catalog has is a configuration error, said
 * once with the regions there are (not once per service as "not in the catalog"). */
static int check_region(const struct infra_os *os, struct infra_err *err)
{
	char have[512] = "";
	size_t len = 0, n = json_object_array_length(os->catalog);

	if (!os->cfg.region_name)
		return 0;
	for (size_t i = 0; i < n; i++) {
		json_object *eps;
		if (infra_json_get_array(json_object_array_get_idx(os->catalog, i), "endpoints", &eps, NULL))
			continue;
		for (size_t j = 0; j < json_object_array_length(eps); j++) {
			json_object *ep = json_object_array_get_idx(eps, j);
			const char *r = infra_json_opt_string(ep, "region_id", NULL);
			if (!r)
				r = infra_json_opt_string(ep, "region", NULL);
			if (!r)
				continue;
			if (!strcmp(r, os->cfg.region_name))
				return 0;
			/* collect each region once, for the message: " a b " */
			{
				char key[256];
				int k = snprintf(key, sizeof(key), " %s ", r);
				if (k > 0 && (size_t)k < sizeof(key) && !strstr(len ? have : "", key) &&
				    len + (size_t)k < sizeof(have)) {
					memcpy(have + (len ? len - 1 : 0), key, (size_t)k + 1);
					len += len ? (size_t)k - 1 : (size_t)k;
				}
			}
		}
	}
	if (len > 1)
		have[len - 1] = '\0'; /* drop the trailing blank */
	return infra_err_set(err, -EINVAL, "region %s does not exist; regions:%s (--os-region-name, OS_REGION_NAME)",
			     os->cfg.region_name, len ? have : " none");
}

int infra_os_authenticate(struct infra_os *os, struct infra_err *err)
{
	char url[2048];
	json_object *body = auth_body(&os->cfg), *resp_json = NULL, *cat, *roles;
	const char *payload = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	static const char *const hdrs[] = { "Content-Type: application/json", "Accept: application/json", NULL };
	struct infra_http_req req = { 0 };
	struct infra_http_resp resp = { 0 };
	const char *tok, *s;
	int rc;

	if (tokens_url(os->cfg.auth_url, url, sizeof(url))) {
		json_object_put(body);
		return infra_err_set(err, -E2BIG, "auth URL too long");
	}
	req.method = "POST";
	req.url = url;
	req.headers = hdrs;
	req.body = payload;
	req.body_len = strlen(payload);
	req.retry_post = 1; /* issuing a token has no side effect worth guarding */
	rc = infra_http_do(os->auth_http, &req, &resp, err);
	/* scrub the serialised secret before freeing it */
	memset((char *)payload, 0, strlen(payload));
	json_object_put(body);
	if (rc) {
		infra_err_prefix(err, "authentication");
		return rc;
	}
	if (resp.status == 401 || resp.status == 403) {
		rc = infra_err_set(err, -EACCES, "authentication failed: the credentials were rejected (HTTP %ld from %s)",
				   resp.status, url);
		goto out;
	}
	if (resp.status != 201 && resp.status != 200) {
		rc = infra_err_set(err, -EPROTO, "authentication failed: HTTP %ld from %s", resp.status, url);
		goto out;
	}
	tok = infra_http_resp_header(&resp, "X-Subject-Token");
	if (!tok || !*tok) {
		rc = infra_err_set(err, -EPROTO, "authentication: no X-Subject-Token in the response from %s", url);
		goto out;
	}
	if ((rc = infra_json_parse(resp.body, resp.body_len, &resp_json, err))) {
		infra_err_prefix(err, "authentication response");
		goto out;
	}
	if ((rc = infra_json_get_array(resp_json, "token.catalog", &cat, err))) {
		infra_err_prefix(err, "authentication response (a token without a catalog cannot be used)");
		goto out;
	}
	free_secret(&os->token);
	os->token = strdup(tok);
	os->token_gen++;
	os->auth_count++;
	if (os->catalog)
		json_object_put(os->catalog);
	os->catalog = json_object_get(cat);
	free(os->project_id);
	free(os->project_name);
	free(os->user_id);
	os->project_id = dup_or_null(infra_json_opt_string(resp_json, "token.project.id", NULL));
	os->project_name = dup_or_null(infra_json_opt_string(resp_json, "token.project.name", NULL));
	os->user_id = dup_or_null(infra_json_opt_string(resp_json, "token.user.id", NULL));
	os->admin = 0;
	if (os->roles)
		json_object_put(os->roles);
	os->roles = NULL;
	if (!infra_json_get_array(resp_json, "token.roles", &roles, NULL)) {
		os->roles = json_object_get(roles);
		for (size_t i = 0; i < json_object_array_length(roles); i++) {
			s = infra_json_opt_string(json_object_array_get_idx(roles, i), "name", "");
			if (!strcmp(s, "admin"))
				os->admin = 1;
		}
	}
	/* a re-auth keeps resolved endpoints (same catalog in practice) */
	if (os->auth_count == 1)
		free_endpoints(os);
	rc = check_region(os, err);
out:
	if (resp_json)
		json_object_put(resp_json);
	infra_http_resp_release(&resp);
	return rc;
}

/* ---- requests ---- */

struct os_call {
	struct infra_os *os;
	struct infra_http_batch *b;
	char *method, *url, *mv, *body;
	int token_gen;
	int reauthed;
	infra_os_done_cb cb;
	void *ud;
	char *extra;      /* one more request header ("If-Match: ...") or NULL */
	char *hdr[7];
};

static void call_free(struct os_call *c)
{
	free(c->method);
	free(c->url);
	free(c->mv);
	free(c->body);
	free(c->extra);
	for (int i = 0; c->hdr[i]; i++) {
		if (!strncmp(c->hdr[i], "X-Auth-Token:", 13))
			memset(c->hdr[i], 0, strlen(c->hdr[i]));
		free(c->hdr[i]);
	}
	free(c);
}

static int call_headers(struct os_call *c)
{
	struct infra_buf b = INFRA_BUF_INIT;
	int n = 0;

	for (int i = 0; c->hdr[i]; i++) {
		if (!strncmp(c->hdr[i], "X-Auth-Token:", 13))
			memset(c->hdr[i], 0, strlen(c->hdr[i]));
		free(c->hdr[i]);
		c->hdr[i] = NULL;
	}
	if (infra_buf_printf(&b, "X-Auth-Token: %s", c->os->token ? c->os->token : ""))
		return -ENOMEM;
	c->hdr[n++] = infra_buf_steal(&b, NULL);
	c->hdr[n++] = strdup("Accept: application/json");
	if (c->body)
		c->hdr[n++] = strdup("Content-Type: application/json");
	if (c->mv) {
		infra_buf_init(&b, 0);
		if (infra_buf_printf(&b, "OpenStack-API-Version: %s", c->mv))
			return -ENOMEM;
		c->hdr[n++] = infra_buf_steal(&b, NULL);
		if (!strncmp(c->mv, "compute ", 8)) {
			infra_buf_init(&b, 0);
			if (infra_buf_printf(&b, "X-OpenStack-Nova-API-Version: %s", c->mv + 8))
				return -ENOMEM;
			c->hdr[n++] = infra_buf_steal(&b, NULL);
		}
	}
	if (c->extra)
		c->hdr[n++] = strdup(c->extra);
	c->hdr[n] = NULL;
	for (int i = 0; i < n; i++)
		if (!c->hdr[i])
			return -ENOMEM;
	c->token_gen = c->os->token_gen;
	return 0;
}

static void fill_req(struct os_call *c, struct infra_http_req *req)
{
	memset(req, 0, sizeof(*req));
	req->method = c->method;
	req->url = c->url;
	req->headers = (const char *const *)c->hdr;
	req->body = c->body;
	req->body_len = c->body ? strlen(c->body) : 0;
}

static int parse_body(const struct infra_http_resp *resp, json_object **out, struct infra_err *err, const char *url)
{
	size_t i = 0;

	*out = NULL;
	while (i < resp->body_len && isspace((unsigned char)resp->body[i]))
		i++;
	if (i == resp->body_len)
		return 0;
	if (infra_json_parse(resp->body, resp->body_len, out, err)) {
		*out = NULL;
		if (resp->status >= 300)
			return 0; /* an HTML error page: the status says enough */
		infra_err_prefix(err, "GET %s: HTTP %ld", url, resp->status);
		return -EBADMSG;
	}
	return 0;
}

/* Decide about a 401: 1 = retry the call with a fresh token, 0 = give up. */
static int handle_401(struct os_call *c, struct infra_err *err)
{
	if (c->reauthed)
		return 0;
	c->reauthed = 1;
	if (c->token_gen == c->os->token_gen) {
		if (c->os->auth_count >= 2)
			return 0; /* one re-authentication per run */
		if (infra_os_authenticate(c->os, err))
			return 0;
	}
	return call_headers(c) == 0;
}

static void batch_done(void *ud, const struct infra_http_req *req, struct infra_http_resp *resp, int rc,
		       const struct infra_err *herr)
{
	struct os_call *c = ud;
	struct infra_err err = INFRA_ERR_INIT;
	json_object *body = NULL;

	(void)req;
	if (rc) {
		c->cb(c->ud, 0, NULL, resp, rc, herr);
		call_free(c);
		return;
	}
	if (resp->status == 401) {
		if (handle_401(c, &err)) {
			struct infra_http_req r;
			fill_req(c, &r);
			if (infra_http_batch_add(c->b, &r, batch_done, c) == 0)
				return;
			infra_err_set(&err, -ENOMEM, "cannot queue a request");
		}
		if (!err.code)
			infra_err_set(&err, -EACCES, "%s %s: HTTP 401 (the token was rejected%s)", c->method, c->url,
				      c->reauthed ? " after re-authentication" : "");
		c->cb(c->ud, resp->status, NULL, resp, err.code, &err);
		call_free(c);
		return;
	}
	rc = parse_body(resp, &body, &err, c->url);
	c->cb(c->ud, resp->status, body, resp, rc, rc ? &err : NULL);
	if (body)
		json_object_put(body);
	call_free(c);
}

static struct os_call *call_new(struct infra_os *os, const char *method, const char *url, const char *mv,
				const char *body)
{
	struct os_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->os = os;
	c->method = strdup(method ? method : "GET");
	c->url = strdup(url);
	c->mv = dup_or_null(mv);
	c->body = dup_or_null(body);
	if (!c->method || !c->url || (mv && !c->mv) || (body && !c->body) || call_headers(c)) {
		call_free(c);
		return NULL;
	}
	return c;
}

int infra_os_batch_request(struct infra_os *os, struct infra_http_batch *b, const char *method,
			   const char *url, const char *mv, const char *body, infra_os_done_cb cb, void *ud)
{
	return infra_os_batch_request_hdr(os, b, method, url, mv, body, NULL, cb, ud);
}

int infra_os_batch_request_hdr(struct infra_os *os, struct infra_http_batch *b, const char *method,
			       const char *url, const char *mv, const char *body, const char *header,
			       infra_os_done_cb cb, void *ud)
{
	struct os_call *c = call_new(os, method, url, mv, body);
	struct infra_http_req r;
	int rc;

	if (!c)
		return -ENOMEM;
	if (header) {
		c->extra = strdup(header);
		if (!c->extra || call_headers(c)) {
			call_free(c);
			return -ENOMEM;
		}
	}
	c->b = b;
	c->cb = cb;
	c->ud = ud;
	fill_req(c, &r);
	rc = infra_http_batch_add(b, &r, batch_done, c);
	if (rc)
		call_free(c);
	return rc;
}

int infra_os_request(struct infra_os *os, const char *method, const char *url, const char *mv,
		     const char *body, long *status, json_object **json, struct infra_err *err)
{
	struct os_call *c = call_new(os, method, url, mv, body);
	struct infra_http_req r;
	struct infra_http_resp resp;
	int rc;

	*json = NULL;
	*status = 0;
	if (!c)
		return infra_err_set(err, -ENOMEM, "out of memory");
	for (;;) {
		memset(&resp, 0, sizeof(resp));
		fill_req(c, &r);
		rc = infra_http_do(os->http, &r, &resp, err);
		if (rc)
			break;
		if (resp.status == 401) {
			struct infra_err e2 = INFRA_ERR_INIT;
			infra_http_resp_release(&resp);
			if (handle_401(c, &e2))
				continue;
			if (e2.code)
				*err = e2;
			else
				infra_err_set(err, -EACCES, "%s %s: HTTP 401 (the token was rejected)", c->method, c->url);
			*status = 401;
			rc = err ? err->code : -EACCES;
			break;
		}
		*status = resp.status;
		rc = parse_body(&resp, json, err, c->url);
		infra_http_resp_release(&resp);
		break;
	}
	call_free(c);
	return rc;
}

const char *infra_os_error_message(json_object *body)
{
	static const char *const paths[] = { "NeutronError.message", "error.message", "badRequest.message",
					     "itemNotFound.message", "conflictingRequest.message",
					     "forbidden.message", "computeFault.message", "overLimit.message",
					     "message", "title", NULL };
	if (!body || !json_object_is_type(body, json_type_object))
		return NULL;
	for (int i = 0; paths[i]; i++) {
		const char *m = infra_json_opt_string(body, paths[i], NULL);
		if (m && *m)
			return m;
	}
	return NULL;
}

/* ---- endpoints and version discovery ---- */

static struct os_endpoint *ep_get(struct infra_os *os, const char *type)
{
	const char *cu;
	struct os_endpoint *n;

	for (size_t i = 0; i < os->neps; i++)
		if (!strcmp(os->eps[i].type, type))
			return &os->eps[i];
	cu = infra_os_catalog_url(os, type);
	if (!cu)
		return NULL;
	n = realloc(os->eps, (os->neps + 1) * sizeof(*n));
	if (!n)
		return NULL;
	os->eps = n;
	n = &os->eps[os->neps++];
	memset(n, 0, sizeof(*n));
	n->type = strdup(type);
	n->catalog_url = strdup(cu);
	return n;
}

/* Does the URL path carry a version segment (/v2, /v2.0, /v2.1, /v3/...)? */
static int has_version(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? strchr(p + 3, '/') : NULL;
	while (p && *p) {
		p++;
		if (p[0] == 'v' && isdigit((unsigned char)p[1])) {
			const char *q = p + 1;
			while (isdigit((unsigned char)*q) || *q == '.')
				q++;
			if (*q == '/' || !*q)
				return 1;
		}
		p = strchr(p, '/');
	}
	return 0;
}

static const char *wanted_major(const char *type)
{
	if (!strcmp(type, "network"))
		return "v2";
	if (!strcmp(type, "image"))
		return "v2";
	if (!strcmp(type, "compute"))
		return "v2";
	if (infra_ossvc_catalog_match("volumev3", type))
		return "v3";
	return "v";
}

static char *strip_slash(const char *s)
{
	char *d = strdup(s);
	size_t n;

	if (!d)
		return NULL;
	n = strlen(d);
	while (n && d[n - 1] == '/')
		d[--n] = '\0';
	return d;
}

/* Pick the URL of the version from a discovery document; NULL if none fits. */
static char *pick_version(json_object *doc, const char *type, const char *base)
{
	json_object *vers = NULL;
	const char *major = wanted_major(type);
	char *best = NULL;
	int best_rank = -1;

	if (infra_json_get_array(doc, "versions", &vers, NULL) &&
	    infra_json_get_array(doc, "versions.values", &vers, NULL)) {
		/* a single version document ({"version": {...}}) describes base itself */
		if (infra_json_get_object(doc, "version", &vers, NULL))
			return NULL;
		return strip_slash(base);
	}
	for (size_t i = 0; i < json_object_array_length(vers); i++) {
		json_object *v = json_object_array_get_idx(vers, i), *links;
		const char *id = infra_json_opt_string(v, "id", "");
		const char *st = infra_json_opt_string(v, "status", "");
		int rank = !strcasecmp(st, "CURRENT") || !strcasecmp(st, "stable") ? 2 :
			   !strcasecmp(st, "SUPPORTED") ? 1 : 0;
		if (strncmp(id, major, strlen(major)) || rank <= best_rank)
			continue;
		if (infra_json_get_array(v, "links", &links, NULL))
			continue;
		for (size_t j = 0; j < json_object_array_length(links); j++) {
			json_object *l = json_object_array_get_idx(links, j);
			const char *href = infra_json_opt_string(l, "href", NULL);
			if (href && !strcmp(infra_json_opt_string(l, "rel", ""), "self")) {
				free(best);
				best = strip_slash(href);
				best_rank = rank;
			}
		}
	}
	return best;
}

static int ep_fallback(struct os_endpoint *ep)
{
	struct infra_buf b = INFRA_BUF_INIT;
	char *base = strip_slash(ep->catalog_url);

	if (!base)
		return -ENOMEM;
	if (!strcmp(ep->type, "network"))
		infra_buf_printf(&b, "%s/v2.0", base);
	else if (!strcmp(ep->type, "image"))
		infra_buf_printf(&b, "%s/v2", base);
	else
		infra_buf_puts(&b, base);
	free(base);
	ep->url = infra_buf_steal(&b, NULL);
	return ep->url ? 0 : -ENOMEM;
}

static int ep_resolve_doc(struct os_endpoint *ep, long status, json_object *doc)
{
	if ((status == 200 || status == 300) && doc) {
		char *u = pick_version(doc, ep->type, ep->catalog_url);
		if (u) {
			ep->url = u;
			return 0;
		}
	}
	return ep_fallback(ep);
}

static int needs_discovery(const struct os_endpoint *ep)
{
	return !has_version(ep->catalog_url) &&
	       (!strcmp(ep->type, "network") || !strcmp(ep->type, "image"));
}

int infra_os_endpoint(struct infra_os *os, const char *type, const char **url, struct infra_err *err)
{
	struct os_endpoint *ep = ep_get(os, type);
	long status;
	json_object *doc;
	int rc;

	if (!ep)
		return infra_err_set(err, -ENOENT, "no %s endpoint in the catalog (interface %s%s%s)", type,
				     os->cfg.interface, os->cfg.region_name ? ", region " : "",
				     os->cfg.region_name ? os->cfg.region_name : "");
	if (!ep->url) {
		if (!needs_discovery(ep)) {
			ep->url = strip_slash(ep->catalog_url);
		} else {
			rc = infra_os_request(os, "GET", ep->catalog_url, NULL, NULL, &status, &doc, err);
			if (rc) {
				infra_err_prefix(err, "%s version discovery", type);
				return rc;
			}
			rc = ep_resolve_doc(ep, status, doc);
			if (doc)
				json_object_put(doc);
			if (rc)
				return infra_err_set(err, rc, "out of memory");
		}
		if (!ep->url)
			return infra_err_set(err, -ENOMEM, "out of memory");
	}
	*url = ep->url;
	return 0;
}

struct ep_async {
	struct infra_os *os;
	char *type;
	infra_os_endpoint_cb cb;
	void *ud;
};

static void ep_async_done(void *ud, long status, json_object *body, const struct infra_http_resp *resp, int rc,
			  const struct infra_err *err)
{
	struct ep_async *a = ud;
	struct os_endpoint *ep = ep_get(a->os, a->type);
	struct infra_err e = INFRA_ERR_INIT;

	(void)resp;
	if (rc) {
		if (err)
			e = *err;
		infra_err_prefix(&e, "%s version discovery", a->type);
		a->cb(a->ud, NULL, &e);
	} else if (!ep || (!ep->url && ep_resolve_doc(ep, status, body))) {
		infra_err_set(&e, -ENOMEM, "out of memory");
		a->cb(a->ud, NULL, &e);
	} else {
		a->cb(a->ud, ep->url, NULL);
	}
	free(a->type);
	free(a);
}

int infra_os_endpoint_async(struct infra_os *os, struct infra_http_batch *b, const char *type,
			    infra_os_endpoint_cb cb, void *ud)
{
	struct os_endpoint *ep = ep_get(os, type);
	struct infra_err e = INFRA_ERR_INIT;
	struct ep_async *a;
	int rc;

	if (!ep) {
		infra_err_set(&e, -ENOENT, "no %s endpoint in the catalog (interface %s%s%s)", type,
			      os->cfg.interface, os->cfg.region_name ? ", region " : "",
			      os->cfg.region_name ? os->cfg.region_name : "");
		cb(ud, NULL, &e);
		return 0;
	}
	if (!ep->url && !needs_discovery(ep))
		ep->url = strip_slash(ep->catalog_url);
	if (ep->url) {
		cb(ud, ep->url, NULL);
		return 0;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->os = os;
	a->type = strdup(type);
	a->cb = cb;
	a->ud = ud;
	rc = infra_os_batch_request(os, b, "GET", ep->catalog_url, NULL, NULL, ep_async_done, a);
	if (rc) {
		free(a->type);
		free(a);
	}
	return rc;
}

/* ------------------------------------------------------------------ lists */

#define MAX_PAGES 100000

struct os_list {
	struct infra_os *os;
	struct infra_http_batch *b;
	struct infra_os_list spec;
	char *url, *key, *mv, *root;
	int pages;
	long offset;
};

static void list_free(struct os_list *l)
{
	free(l->url);
	free(l->key);
	free(l->mv);
	free(l->root);
	free(l);
}

int infra_os_urlencode(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			if (o + 1 >= size)
				return -E2BIG;
			out[o++] = (char)ch;
		} else {
			if (o + 3 >= size)
				return -E2BIG;
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	if (o >= size)
		return -E2BIG;
	out[o] = '\0';
	return 0;
}

/* url with query parameter key replaced/added */
static char *url_with_param(const char *url, const char *key, const char *value)
{
	struct infra_buf b = INFRA_BUF_INIT;
	char enc[1024];
	const char *q = strchr(url, '?');
	size_t klen = strlen(key);

	if (infra_os_urlencode(value, enc, sizeof(enc)))
		return NULL;
	if (!q) {
		infra_buf_printf(&b, "%s?%s=%s", url, key, enc);
		return infra_buf_steal(&b, NULL);
	}
	infra_buf_append(&b, url, (size_t)(q - url) + 1);
	q++;
	int first = 1;
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		if (!(n > klen && !strncmp(q, key, klen) && q[klen] == '=') && !(n == klen && !strncmp(q, key, klen))) {
			if (!first)
				infra_buf_putc(&b, '&');
			infra_buf_append(&b, q, n);
			first = 0;
		}
		q += n;
		if (*q == '&')
			q++;
	}
	infra_buf_printf(&b, "%s%s=%s", first ? "" : "&", key, enc);
	return infra_buf_steal(&b, NULL);
}

static char *next_link_array(json_object *links)
{
	for (size_t i = 0; links && i < json_object_array_length(links); i++) {
		json_object *l = json_object_array_get_idx(links, i);
		const char *href = infra_json_opt_string(l, "href", NULL);
		if (href && !strcmp(infra_json_opt_string(l, "rel", ""), "next"))
			return strdup(href);
	}
	return NULL;
}

/* Join a glance-style relative "/v2/images?..." to the endpoint root. */
static char *join_relative(const char *root, const char *rel)
{
	struct infra_buf b = INFRA_BUF_INIT;
	char *r;

	if (strstr(rel, "://"))
		return strdup(rel);
	r = strip_slash(root);
	if (!r)
		return NULL;
	/* the root may already end in the version the link starts with */
	size_t rl = strlen(r);
	const char *slash = strrchr(r, '/');
	if (slash && rel[0] == '/' && !strncmp(rel, slash, strlen(slash)) &&
	    (rel[strlen(slash)] == '/' || rel[strlen(slash)] == '?'))
		rl = (size_t)(slash - r);
	infra_buf_append(&b, r, rl);
	if (rel[0] != '/')
		infra_buf_putc(&b, '/');
	infra_buf_puts(&b, rel);
	free(r);
	return infra_buf_steal(&b, NULL);
}

static void list_page_done(void *ud, long status, json_object *body, const struct infra_http_resp *resp, int rc,
			   const struct infra_err *err);

static void list_finish(struct os_list *l, int rc, const struct infra_err *err)
{
	l->spec.done(l->spec.ud, rc, err, l->pages);
	list_free(l);
}

static void list_page_done(void *ud, long status, json_object *body, const struct infra_http_resp *resp, int rc,
			   const struct infra_err *herr)
{
	struct os_list *l = ud;
	struct infra_err err = INFRA_ERR_INIT;
	json_object *arr = NULL;
	char *next = NULL;
	size_t n;

	(void)resp;
	if (rc) {
		list_finish(l, rc, herr);
		return;
	}
	if (status != 200 && !(status == 204 && l->spec.paging == INFRA_OS_PAGE_SWIFT)) {
		const char *m = infra_os_error_message(body);
		infra_err_set(&err, status == 403 ? -EPERM : status == 404 ? -ENOENT : -EPROTO,
			      "GET %s: HTTP %ld%s%s", l->url, status, m ? ": " : "", m ? m : "");
		list_finish(l, err.code, &err);
		return;
	}
	l->pages++;
	if (status == 204 || !body) {
		arr = NULL;
	} else if (l->key) {
		if (infra_json_get_array(body, l->key, &arr, &err)) {
			infra_err_prefix(&err, "GET %s", l->url);
			list_finish(l, -EBADMSG, &err);
			return;
		}
	} else if (json_object_is_type(body, json_type_array)) {
		arr = body;
	} else {
		infra_err_set(&err, -EBADMSG, "GET %s: expected a JSON array", l->url);
		list_finish(l, -EBADMSG, &err);
		return;
	}
	n = arr ? json_object_array_length(arr) : 0;
	for (size_t i = 0; i < n; i++) {
		if (l->spec.item(l->spec.ud, json_object_array_get_idx(arr, i))) {
			infra_err_set(&err, -ENOMEM, "GET %s: cannot record an item", l->url);
			list_finish(l, -ENOMEM, &err);
			return;
		}
	}
	switch (l->spec.paging) {
	case INFRA_OS_PAGE_NONE:
		break;
	case INFRA_OS_PAGE_LINKS: {
		char lk[128];
		json_object *links = NULL;
		snprintf(lk, sizeof(lk), "%s_links", l->key ? l->key : "");
		if (!json_object_object_get_ex(body, lk, &links))
			json_object_object_get_ex(body, "links", &links);
		if (links && json_object_is_type(links, json_type_array) && n > 0)
			next = next_link_array(links);
		break;
	}
	case INFRA_OS_PAGE_KEYSTONE: {
		const char *nx = infra_json_opt_string(body, "links.next", NULL);
		json_object *tr;
		if (json_object_object_get_ex(body, "truncated", &tr) && json_object_get_boolean(tr)) {
			infra_err_set(&err, -EOVERFLOW,
				      "GET %s: keystone truncated the list (list_limit); the result is incomplete", l->url);
			list_finish(l, -EOVERFLOW, &err);
			return;
		}
		if (nx && *nx && n > 0)
			next = strdup(nx);
		break;
	}
	case INFRA_OS_PAGE_GLANCE: {
		const char *nx = infra_json_opt_string(body, "next", NULL);
		if (nx && *nx && n > 0)
			next = join_relative(l->root ? l->root : l->url, nx);
		break;
	}
	case INFRA_OS_PAGE_SWIFT:
		if (n > 0 && (int)n >= l->spec.limit) {
			const char *last = infra_json_opt_string(json_object_array_get_idx(arr, n - 1), "name", NULL);
			if (last)
				next = url_with_param(l->url, "marker", last);
		}
		break;
	case INFRA_OS_PAGE_OFFSET:
		if (n > 0) {
			char off[32];
			l->offset += (long)n;
			snprintf(off, sizeof(off), "%ld", l->offset);
			next = url_with_param(l->url, "offset", off);
		}
		break;
	}
	if (!next) {
		list_finish(l, 0, NULL);
		return;
	}
	if (!strcmp(next, l->url) || l->pages >= MAX_PAGES) {
		infra_err_set(&err, -ELOOP, "GET %s: the next link repeats the page (pagination loop)", l->url);
		free(next);
		list_finish(l, -ELOOP, &err);
		return;
	}
	free(l->url);
	l->url = next;
	if ((rc = infra_os_batch_request(l->os, l->b, "GET", l->url, l->mv, NULL, list_page_done, l))) {
		infra_err_set(&err, rc, "cannot queue %s", l->url);
		list_finish(l, rc, &err);
	}
}

int infra_os_list(struct infra_os *os, struct infra_http_batch *b, const struct infra_os_list *spec)
{
	struct os_list *l = calloc(1, sizeof(*l));
	int rc;

	if (!l)
		return -ENOMEM;
	l->os = os;
	l->b = b;
	l->spec = *spec;
	l->url = strdup(spec->url);
	l->key = dup_or_null(spec->key);
	l->mv = dup_or_null(spec->mv);
	l->root = dup_or_null(spec->root);
	if (!l->url || (spec->key && !l->key) || (spec->mv && !l->mv) || (spec->root && !l->root)) {
		list_free(l);
		return -ENOMEM;
	}
	rc = infra_os_batch_request(os, b, "GET", l->url, l->mv, NULL, list_page_done, l);
	if (rc)
		list_free(l);
	return rc;
}
