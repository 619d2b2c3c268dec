/* Unit tests of the OpenStack configuration (env, clouds.yaml + secure.yaml,
 * flags, auth type rules), the YAML reader, URL encoding, the orphan matcher and
 * the osmon-orphans JSON reader used by osmon-purge --from. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infra_json.h"
#include "infra_openstack.h"
#include "infra_orphans.h"
#include "infra_report.h"
#include "tap.h"

static const char *const os_vars[] = {
	"OS_CLOUD", "OS_AUTH_URL", "OS_AUTH_TYPE", "OS_USERNAME", "OS_USER_ID", "OS_PASSWORD",
	"OS_USER_DOMAIN_NAME", "OS_USER_DOMAIN_ID", "OS_PROJECT_NAME", "OS_PROJECT_ID", "OS_TENANT_NAME",
	"OS_TENANT_ID", "OS_PROJECT_DOMAIN_NAME", "OS_PROJECT_DOMAIN_ID", "OS_DOMAIN_NAME", "OS_DOMAIN_ID",
	"OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_NAME", "OS_APPLICATION_CREDENTIAL_SECRET",
	"OS_TOKEN", "OS_REGION_NAME", "OS_INTERFACE", "OS_ENDPOINT_TYPE", "OS_CACERT", "OS_CLIENT_CONFIG_FILE",
	"OS_SECURE_FILE", NULL
};

static void clear_env(void)
{
	for (int i = 0; os_vars[i]; i++)
		unsetenv(os_vars[i]);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_env(void)
{
	struct infra_os_config c;
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_os_flags fl = { 0 };

	clear_env();
	tap_inteq(infra_os_config_load(&c, NULL, &err), -EINVAL, "no auth URL: -EINVAL");
	tap_ok(strstr(err.msg, "OS_AUTH_URL") != NULL, "... naming OS_AUTH_URL (%s)", err.msg);
	infra_os_config_release(&c);

	setenv("OS_AUTH_URL", "http://k:5000/v3", 1);
	setenv("OS_USERNAME", "admin", 1);
	infra_err_clear(&err);
	tap_inteq(infra_os_config_load(&c, NULL, &err), -EINVAL, "password auth without a password: -EINVAL");
	tap_ok(strstr(err.msg, "OS_PASSWORD") != NULL, "... naming OS_PASSWORD (%s)", err.msg);
	infra_os_config_release(&c);

	setenv("OS_PASSWORD", "s3cret", 1);
	setenv("OS_TENANT_NAME", "old", 1);
	setenv("OS_PROJECT_NAME", "admin", 1);
	setenv("OS_ENDPOINT_TYPE", "internalURL", 1);
	tap_inteq(infra_os_config_load(&c, NULL, &err), 0, "env password config loads");
	tap_streq(c.auth_type, "password", "auth type guessed: password");
	tap_streq(c.project_name, "admin", "OS_PROJECT_NAME wins over OS_TENANT_NAME");
	tap_streq(c.interface, "internal", "OS_ENDPOINT_TYPE internalURL -> internal");
	infra_os_config_release(&c);

	setenv("OS_INTERFACE", "public", 1);
	fl.region_name = "RegionTwo";
	fl.project_name = "flagproj";
	fl.interface = "admin";
	tap_inteq(infra_os_config_load(&c, &fl, &err), 0, "flags applied");
	tap_streq(c.project_name, "flagproj", "--os-project-name overrides the environment");
	tap_streq(c.region_name, "RegionTwo", "--os-region-name");
	tap_streq(c.interface, "admin", "--os-interface overrides OS_INTERFACE");
	infra_os_config_release(&c);

	setenv("OS_INTERFACE", "sideways", 1);
	tap_inteq(infra_os_config_load(&c, NULL, &err), -EINVAL, "a bad interface is rejected");
	infra_os_config_release(&c);
	unsetenv("OS_INTERFACE");
	unsetenv("OS_ENDPOINT_TYPE");

	clear_env();
	setenv("OS_AUTH_URL", "http://k:5000", 1);
	setenv("OS_APPLICATION_CREDENTIAL_ID", "abc", 1);
	setenv("OS_APPLICATION_CREDENTIAL_SECRET", "shh", 1);
	tap_inteq(infra_os_config_load(&c, NULL, &err), 0, "application credential config loads");
	tap_streq(c.auth_type, "v3applicationcredential", "auth type guessed from the secret");
	infra_os_config_release(&c);
	unsetenv("OS_APPLICATION_CREDENTIAL_ID");
	setenv("OS_APPLICATION_CREDENTIAL_NAME", "byname", 1);
	tap_inteq(infra_os_config_load(&c, NULL, &err), -EINVAL, "an application credential by name needs a user");
	infra_os_config_release(&c);

	clear_env();
	setenv("OS_AUTH_URL", "http://k:5000", 1);
	setenv("OS_TOKEN", "gAAAA-token", 1);
	tap_inteq(infra_os_config_load(&c, NULL, &err), 0, "token config loads");
	tap_streq(c.auth_type, "token", "auth type guessed: token");
	infra_os_config_release(&c);
	setenv("OS_AUTH_TYPE", "v3oidcpassword", 1);
	tap_inteq(infra_os_config_load(&c, NULL, &err), -EINVAL, "an unsupported auth type is rejected");
	tap_ok(strstr(err.msg, "v3oidcpassword") != NULL, "... by name");
	infra_os_config_release(&c);
}

static void test_clouds_yaml(const char *dir)
{
	char clouds[512], secure[512], pwfile[512];
	struct infra_os_config c;
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_os_flags fl = { 0 };
	json_object *y;

	snprintf(clouds, sizeof(clouds), "%s/clouds.yaml", dir);
	snprintf(secure, sizeof(secure), "%s/secure.yaml", dir);
	snprintf(pwfile, sizeof(pwfile), "%s/pw", dir);
	write_file(clouds, "clouds:\n  dev:\n    auth:\n      auth_url: http://dev:5000/v3\n"
			   "      username: alice\n      project_name: p1\n      user_domain_name: Default\n"
			   "    region_name: R1\n    interface: internal\n    verify: false\n"
			   "  other:\n    auth_type: token\n    auth:\n      auth_url: http://o:5000\n");
	write_file(secure, "clouds:\n  dev:\n    auth:\n      password: from-secure\n");
	clear_env();
	setenv("OS_CLIENT_CONFIG_FILE", clouds, 1);
	setenv("OS_SECURE_FILE", secure, 1);
	setenv("OS_CLOUD", "dev", 1);
	tap_inteq(infra_os_config_load(&c, NULL, &err), 0, "clouds.yaml + secure.yaml load (%s)", err.msg);
	tap_streq(c.auth_url, "http://dev:5000/v3", "auth_url from clouds.yaml");
	tap_streq(c.username, "alice", "username from clouds.yaml");
	tap_streq(c.password, "from-secure", "password merged from secure.yaml");
	tap_streq(c.region_name, "R1", "region_name");
	tap_streq(c.interface, "internal", "interface");
	tap_inteq(c.insecure, 1, "verify: false");
	infra_os_config_release(&c);

	setenv("OS_USERNAME", "bob", 1);
	write_file(pwfile, "from-file\nignored second line\n");
	fl.password_file = pwfile;
	tap_inteq(infra_os_config_load(&c, &fl, &err), 0, "env and --os-password-file over clouds.yaml");
	tap_streq(c.username, "bob", "OS_USERNAME overrides clouds.yaml");
	tap_streq(c.password, "from-file", "--os-password-file: first line");
	infra_os_config_release(&c);
	/* a password given where its file belongs (--os-password-file SECRET): never in the message */
	fl.password_file = "Hunter2-pw";
	tap_inteq(infra_os_config_load(&c, &fl, &err), -ENOENT, "--os-password-file naming no file: -ENOENT");
	tap_streq(err.msg, "cannot read the file given by --os-password-file: No such file or directory",
		  "... the message names the flag, never its argument");
	infra_os_config_release(&c);
	fl.password_file = dir;
	tap_inteq(infra_os_config_load(&c, &fl, &err), -EISDIR, "--os-password-file DIR: -EISDIR");
	tap_streq(err.msg, "the file given by --os-password-file is a directory", "... says so");
	infra_os_config_release(&c);
	unsetenv("OS_USERNAME");

	fl.password_file = NULL;
	fl.cloud = "nope";
	tap_inteq(infra_os_config_load(&c, &fl, &err), -ENOENT, "unknown cloud: -ENOENT");
	tap_ok(strstr(err.msg, "'nope' not found") != NULL, "... '%s'", err.msg);
	infra_os_config_release(&c);

	write_file(clouds, "clouds:\n  dev: [unclosed\n");
	fl.cloud = NULL;
	tap_ok(infra_os_config_load(&c, &fl, &err) < 0, "malformed clouds.yaml fails");
	tap_ok(strstr(err.msg, "line") != NULL, "... with a line number: %s", err.msg);
	infra_os_config_release(&c);

	y = infra_yaml_load_file("/nonexistent/clouds.yaml", &err);
	tap_ok(!y && err.code == -ENOENT, "missing YAML file: -ENOENT");
	write_file(clouds, "a:\n  - x\n  - {b: 'c d'}\n");
	y = infra_yaml_load_file(clouds, &err);
	tap_ok(y != NULL, "YAML sequence and flow mapping parse");
	if (y) {
		tap_streq(infra_json_opt_string(y, "a[1].b", NULL), "c d", "YAML a[1].b");
		json_object_put(y);
	}
	clear_env();
}

static json_object *parse(const char *s)
{
	json_object *o = NULL;
	if (infra_json_parse(s, strlen(s), &o, NULL))
		return json_object_new_object();
	return o;
}

/* Rally's name grammar: the C matcher, the documented ERE and the default matcher agree */
static void test_rally_grammar(void)
{
	static const struct { const char *name; int ok; } cases[] = {
		{ "s_rally_8bb8be9c_DZ5xQFxO", 1 },
		{ "c_rally_AbCdEfGh_01234567", 1 },        /* task id part may be any [A-Za-z0-9] */
		{ "s_rally_8bb8be9c_DZ5xQFxO-1", 1 },      /* nova multi-create */
		{ "s_rally_8bb8be9c_DZ5xQFxO-12", 1 },
		{ "s_rally_8bb8be9c_DZ5xQFxO-0", 0 },
		{ "s_rally_8bb8be9c_DZ5xQFxO-01", 0 },
		{ "s_rally_8bb8be9c_DZ5xQFxO-3f0c8e6e-1c2d-4b5a-9e8f-0123456789ab", 1 },
		{ "s_rally_8bb8be9c_DZ5xQFxO-3F0C8E6E-1c2d-4b5a-9e8f-0123456789ab", 0 },
		{ "s_rally_8bb8be9c_DZ5xQFxO-", 0 },
		{ "s_rally_8bb8be9c_DZ5xQFxO_", 0 },
		{ "s_rally_8bb8be9c_DZ5xQFxOx", 0 },
		{ "s_rally_8bb8be9c_DZ5xQFx", 0 },
		{ "s_rallyware-prod", 0 },
		{ "c_rallye-db", 0 },
		{ "S_RALLY_8bb8be9c_DZ5xQFxO", 0 },
		{ "S_rally_8bb8be9c_DZ5xQFxO", 0 },
		{ "x_rally_8bb8be9c_DZ5xQFxO", 0 },
		{ "s-rally-8bb8be9c-DZ5xQFxO", 0 },
		{ "my_s_rally_8bb8be9c_DZ5xQFxO", 0 },
		{ "s_rally_8bb8be9c__DZ5xQFx", 0 },
		{ "s_rally_8bb8-e9c_DZ5xQFxO", 0 },
		{ "s_rally_8bb8be9c_DZ5xQF\xc3\xa9", 0 }, /* unicode */
		{ "s_rally_8bb8be9\xc3\xa9_DZ5xQFxO", 0 },
		{ "s_rally_", 0 },
		{ "", 0 },
	};
	struct infra_orph_matcher m;
	struct infra_err err = INFRA_ERR_INIT;
	regex_t re;

	tap_inteq(regcomp(&re, INFRA_ORPH_RALLY_GRAMMAR, REG_EXTENDED | REG_NOSUB), 0, "the grammar's ERE compiles");
	tap_inteq(infra_orph_matcher_init(&m, NULL, 0, NULL, &err), 0, "no prefix, no regex: the grammar");
	tap_ok(m.grammar, "matcher uses the grammar");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *n = cases[i].name;
		int c = infra_orph_rally_name(n), e = regexec(&re, n, 0, NULL, 0) == 0 && *n;
		if (c != cases[i].ok || e != cases[i].ok || infra_orph_name_matches(&m, n) != cases[i].ok)
			tap_ok(0, "grammar on '%s': C %d, ERE %d, want %d", n, c, e, cases[i].ok);
		else
			tap_ok(1, "grammar on '%s': %s", n, c ? "rally" : "not rally");
	}
	infra_orph_matcher_release(&m);
	regfree(&re);
}

/* the one qualification rule: precedence and the never-orphans */
static void test_qualify(void)
{
	struct infra_orph_matcher m;
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_orph_facts f = { 0 };
	struct infra_orph_ctx c = { 0 };
	struct infra_orph_verdict v;

	infra_orph_matcher_init(&m, NULL, 0, NULL, &err);
	f.type = ORPH_NETWORKS;
	f.name = "public";
	f.project = "p1";
	f.shared = 1;
	c.project = ORPH_PROJ_ORPHAN;
	tap_ok(!infra_orph_qualify(&m, &f, &c, &v), "external/shared network of a test project: not an orphan (%s)", v.why);
	c.project = ORPH_PROJ_GONE;
	tap_ok(!infra_orph_qualify(&m, &f, &c, &v), "external/shared network of a deleted project: not an orphan");
	f.shared = 0;
	tap_ok(infra_orph_qualify(&m, &f, &c, &v) && v.reason == ORPH_REASON_DEAD_OWNER, "private network of a deleted project: dead-owner");
	c.project = ORPH_PROJ_UNKNOWN;
	tap_ok(!infra_orph_qualify(&m, &f, &c, &v), "project unknown: not an orphan");
	f.type = ORPH_USERS;
	f.name = "alice";
	c.project = ORPH_PROJ_GONE;
	tap_ok(!infra_orph_qualify(&m, &f, &c, &v), "user of a deleted project: not an orphan (%s)", v.why);
	c.project = ORPH_PROJ_ORPHAN;
	tap_ok(infra_orph_qualify(&m, &f, &c, &v) && v.reason == ORPH_REASON_OWNER && v.kind == ORPH_KIND_CONTEXT,
	       "user of a test project: owner, context");
	memset(&f, 0, sizeof(f));
	memset(&c, 0, sizeof(c));
	f.type = ORPH_PORTS;
	f.name = "s_rally_8bb8be9c_DZ5xQFxO";
	f.device_owner = "network:dhcp";
	f.device_id = "x";
	tap_ok(!infra_orph_qualify(&m, &f, &c, &v), "a DHCP port, even Rally-named: never");
	f.name = "";
	f.device_owner = "compute:nova";
	c.parent = 1;
	c.parent_kind = ORPH_KIND_CONTEXT;
	tap_ok(infra_orph_qualify(&m, &f, &c, &v) && v.reason == ORPH_REASON_ATTACHED && v.kind == ORPH_KIND_CONTEXT &&
	       v.parent && !strcmp(v.parent, "x"), "port of an orphan server: attached, the parent's kind");
	f.device_owner = "";
	tap_ok(!infra_orph_qualify(&m, &f, &c, &v), "a port with a device_id but no device_owner hangs off nothing");
	f.type = ORPH_KEYPAIRS;
	f.name = "s_rally_8bb8be9c_DZ5xQFxO";
	f.user_id = "alice";
	c.user = ORPH_USER_OTHER;
	tap_ok(!infra_orph_qualify(&m, &f, &c, &v), "Rally-named keypair of a user who is not Rally's: never");
	c.user = ORPH_USER_OWN;
	tap_ok(infra_orph_qualify(&m, &f, &c, &v) && v.reason == ORPH_REASON_NAME, "own Rally-named keypair: name");
	f.type = ORPH_SERVERS;
	f.created = "2026-01-01T00:00:00Z";
	c.min_age = 3600;
	infra_parse_time(f.created, &c.now);
	c.now += 60;
	tap_ok(!infra_orph_qualify(&m, &f, &c, &v) && v.young, "younger than min_age: young, not an orphan");
	infra_orph_matcher_release(&m);
}

/* Swift accounts (issue 9 item 17): another project's account URL, and the rule on
 * a container with its account's project as owner */
static void test_swift_accounts(void)
{
	char out[256];
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_orph_matcher m;
	struct infra_orph_facts f = { 0 };
	struct infra_orph_ctx c = { 0 };
	struct infra_orph_verdict v;

	tap_ok(!infra_orph_swift_account_url("http://h:8080/v1/AUTH_abc123", "abc123", "def456", out, sizeof(out)) &&
	       !strcmp(out, "http://h:8080/v1/AUTH_def456"), "account URL: AUTH_ prefix kept (%s)", out);
	tap_ok(!infra_orph_swift_account_url("https://h/swift/v1/KEY_abc123/", "abc123", "d-e_f", out, sizeof(out)) &&
	       !strcmp(out, "https://h/swift/v1/KEY_d-e_f"), "account URL: other reseller prefix, trailing slash (%s)", out);
	tap_ok(infra_orph_swift_account_url("http://h:8080/v1/AUTH_other", "abc123", "def456", out, sizeof(out)) != 0,
	       "account URL: an endpoint that does not end in the token's project id: refused");
	tap_ok(infra_orph_swift_account_url("http://h:8080/v1/AUTH_abc123", "abc123", "../x", out, sizeof(out)) != 0 &&
	       infra_orph_swift_account_url("http://h:8080/v1/AUTH_abc123", "abc123", "a/b", out, sizeof(out)) != 0 &&
	       infra_orph_swift_account_url("http://h:8080/v1/AUTH_abc123", "abc123", "", out, sizeof(out)) != 0,
	       "account URL: a project id with '/', '.' or nothing: refused");
	tap_ok(infra_orph_swift_account_url("http://h:8080/v1/AUTH_abc123", "abc123", "def456", out, 20) != 0,
	       "account URL: does not fit: refused, never cut short");
	infra_orph_matcher_init(&m, NULL, 0, NULL, &err);
	f.type = ORPH_CONTAINERS;
	f.id = "def456/backups";
	f.name = "backups";
	f.project = "def456";
	c.project = ORPH_PROJ_OTHER;
	tap_ok(!infra_orph_qualify(&m, &f, &c, &v), "container in a live non-Rally account, plain name: never (%s)", v.why);
	c.project = ORPH_PROJ_ORPHAN;
	tap_ok(infra_orph_qualify(&m, &f, &c, &v) && v.reason == ORPH_REASON_OWNER, "container in a Rally project's account: owner");
	c.project = ORPH_PROJ_GONE;
	tap_ok(infra_orph_qualify(&m, &f, &c, &v) && v.reason == ORPH_REASON_DEAD_OWNER,
	       "container in a dead project's account: dead-owner");
	c.project = ORPH_PROJ_OTHER;
	f.name = "s_rally_8bb8be9c_DZ5xQFxO";
	tap_ok(infra_orph_qualify(&m, &f, &c, &v) && v.reason == ORPH_REASON_NAME, "Rally-named container in a live account: name");
	infra_orph_matcher_release(&m);
}

static void test_matcher_and_json(void)
{
	const char *pfx[] = { "s_rally", "c_rally" };
	struct infra_orph_matcher m;
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_orph_result r;
	json_object *doc;
	char enc[64];

	tap_inteq(infra_orph_matcher_init(&m, pfx, 2, NULL, &err), 0, "matcher with prefixes");
	tap_ok(infra_orph_name_matches(&m, "s_rally_8bb8be9c_DZ5xQFxO"), "s_rally name matches");
	tap_ok(!infra_orph_name_matches(&m, "my_s_rally_notes"), "rally inside a name does not match");
	tap_ok(!infra_orph_name_matches(&m, ""), "empty name never matches");
	tap_inteq(infra_orph_kind_of_name("c_rally_x"), ORPH_KIND_CONTEXT, "c_ -> context");
	tap_inteq(infra_orph_kind_of_name("s_rally_x"), ORPH_KIND_SCENARIO, "s_ -> scenario");
	infra_orph_matcher_release(&m);
	tap_inteq(infra_orph_matcher_init(&m, NULL, 0, "^[sc]_rally_[0-9a-f]{8}_", &err), 0, "matcher with a regex");
	tap_ok(infra_orph_name_matches(&m, "c_rally_8bb8be9c_x"), "regex matches");
	tap_ok(!infra_orph_name_matches(&m, "c_rally_XYZ"), "regex rejects");
	infra_orph_matcher_release(&m);
	tap_inteq(infra_orph_matcher_init(&m, NULL, 0, "(", &err), -EINVAL, "bad regex: -EINVAL");
	infra_orph_matcher_release(&m);

	tap_inteq(infra_os_urlencode("^(s_rally|c rally)", enc, sizeof(enc)), 0, "urlencode");
	tap_streq(enc, "%5E%28s_rally%7Cc%20rally%29", "urlencode keeps unreserved, escapes the rest");
	tap_inteq(infra_os_urlencode("abcdef", enc, 4), -E2BIG, "urlencode: too small -> -E2BIG");

	infra_orph_result_init(&r);
	doc = parse("{\"data\":{\"orphans\":[{\"service\":\"network\",\"type\":\"ports\",\"id\":\"p1\","
			 "\"name\":\"\",\"reason\":\"attached\",\"parent\":\"r1\",\"kind\":\"context\"}]}}");
	tap_inteq(infra_orph_from_json(doc, &r, &err), 0, "osmon-orphans JSON reads back");
	tap_inteq(r.n, 1, "one orphan");
	if (r.n) {
		tap_inteq(r.items[0].type, ORPH_PORTS, "type network/ports");
		tap_streq(r.items[0].parent, "r1", "parent kept");
		tap_inteq(r.items[0].reason, ORPH_REASON_ATTACHED, "reason attached");
	}
	json_object_put(doc);
	infra_orph_result_release(&r);
	infra_orph_result_init(&r);
	doc = parse("{\"orphans\":[{\"service\":\"network\",\"type\":\"volumes\",\"id\":\"x\"}]}");
	tap_inteq(infra_orph_from_json(doc, &r, &err), -EINVAL, "a type of another service is rejected");
	tap_ok(strstr(err.msg, "orphans[0]") != NULL, "... naming the item: %s", err.msg);
	json_object_put(doc);
	infra_orph_result_release(&r);
	infra_orph_result_init(&r);
	doc = parse("{\"orphans\":[{\"service\":\"compute\",\"type\":\"servers\"}]}");
	tap_inteq(infra_orph_from_json(doc, &r, &err), -EINVAL, "an orphan without id is rejected");
	json_object_put(doc);
	infra_orph_result_release(&r);
}

int main(void)
{
	char dir[] = "/tmp/test_openstack.XXXXXX";

	test_env();
	if (mkdtemp(dir)) {
		test_clouds_yaml(dir);
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			tap_diag("could not remove %s", dir);
	} else {
		tap_ok(0, "mkdtemp");
	}
	test_rally_grammar();
	test_qualify();
	test_swift_accounts();
	test_matcher_and_json();
	return tap_done();
}
