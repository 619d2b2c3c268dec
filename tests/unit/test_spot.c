/* test_spot.c - infra_spot: the host-name rule, GPU classes, flavor GPU counts,
 * aggregate -> (gpu_type, pool) mapping, pool totals. */
#include <stdlib.h>
#include <string.h>

#include "infra_json.h"
#include "infra_spot.h"
#include "tap.h"

static void key(const char *in, const char *want)
{
	char out[64];
	infra_spot_host_key(in, out, sizeof out);
	tap_ok(strcmp(out, want) == 0, "host key of '%s' is '%s' (got '%s')", in, want, out);
}

static long flavor(const char *specs, const struct infra_spot_opts *o)
{
	json_object *j = json_tokener_parse(specs);
	long n = infra_spot_flavor_gpus(j, o);
	json_object_put(j);
	return n;
}

static void map(const char *name, const char *md, const struct infra_spot_opts *o, int want_rc, const char *wt,
		const char *wp)
{
	struct infra_err err = INFRA_ERR_INIT;
	json_object *m = md ? json_tokener_parse(md) : NULL;
	char *t = NULL, *p = NULL;
	int rc = infra_spot_map_aggregate(name, m, o, &t, &p, &err);
	tap_inteq(rc, want_rc, "map '%s' %s: rc %d", name, md ? md : "", want_rc);
	if (want_rc == 1) {
		tap_streq(t, wt, "... gpu_type %s", wt);
		tap_streq(p, wp, "... pool %s", wp);
	}
	free(t);
	free(p);
	if (m)
		json_object_put(m);
}

int main(void)
{
	const char *classes[] = { "CUSTOM_L40S" };
	struct infra_spot_opts o = { .gpu_classes = classes, .ngpu_classes = 1 };
	struct infra_spot_opts none = { 0 };

	/* the rule: lower case, trailing dot, first dot on */
	key("gpu-01", "gpu-01");
	key("GPU-01", "gpu-01");
	key("gpu-01.dc1.example.org", "gpu-01");
	key("GPU-01.DC1.example.org.", "gpu-01");
	key("gpu-01.", "gpu-01");
	key("", "");
	{
		char small[4];
		infra_spot_host_key("abcdefgh", small, sizeof small);
		tap_streq(small, "abc", "a short buffer is cut, NUL-terminated");
	}

	tap_ok(infra_spot_is_gpu_class("VGPU", &none), "VGPU is a GPU class");
	tap_ok(infra_spot_is_gpu_class("CUSTOM_PCI_10DE_2330", &none), "CUSTOM_PCI_* is a GPU class");
	tap_ok(!infra_spot_is_gpu_class("CUSTOM_L40S", &none), "CUSTOM_L40S is not, unless configured");
	tap_ok(infra_spot_is_gpu_class("CUSTOM_L40S", &o), "... and is when configured");
	tap_ok(!infra_spot_is_gpu_class("VCPU", &o) && !infra_spot_is_gpu_class("CUSTOM_PCI", &o),
	       "VCPU and CUSTOM_PCI (no underscore after) are not");

	tap_inteq(flavor("{\"pci_passthrough:alias\": \"a100:2\"}", &none), 2, "alias a100:2 -> 2");
	tap_inteq(flavor("{\"pci_passthrough:alias\": \"a100:2, nic:1 ,b:3\"}", &none), 6, "three aliases -> 6");
	tap_inteq(flavor("{\"pci_passthrough:alias\": \"broken, a:x, :4, b:-1, c:1\"}", &none), 1,
		  "malformed parts count 0 (no count, not a number, an empty alias, negative)");
	tap_inteq(flavor("{\"resources:VGPU\": \"1\", \"resources1:VGPU\": \"2\", \"resources_g2:CUSTOM_PCI_10DE_2330\": \"4\"}", &none),
		  7, "resources:VGPU, resources1:VGPU, resources_g2:CUSTOM_PCI_* add up");
	tap_inteq(flavor("{\"resources:VCPU\": \"8\", \"resources:CUSTOM_L40S\": \"1\", \"hw:cpu_policy\": \"dedicated\"}", &none),
		  0, "VCPU and an unconfigured class are no GPUs");
	tap_inteq(flavor("{\"resources:CUSTOM_L40S\": \"1\"}", &o), 1, "a configured class counts");
	tap_inteq(flavor("{\"resources:VGPU\": \"0\", \"resources:VGPU\": \"x\"}", &none), 0, "0 or junk counts 0");
	tap_inteq(infra_spot_flavor_gpus(NULL, &none), 0, "no extra_specs -> 0");

	map("H100-spot", NULL, &none, 1, "H100", "spot");
	map("H100_ondemand", "{}", &none, 1, "H100", "ondemand");
	map("rented", "{\"gpu_type\": \"L40S\", \"pool\": \"runpod\"}", &none, 1, "L40S", "runpod");
	map("A100-spot", "{\"gpu_type\": \"H200\", \"pool\": \"reserved\"}", &none, 1, "H200", "reserved");
	map("A100-spot", "{\"gpu_type\": \"H200\"}", &none, 1, "A100", "spot");
	map("az1", "{\"availability_zone\": \"az1\"}", &none, 0, NULL, NULL);
	map("gpu-agg-1", NULL, &none, 0, NULL, NULL);
	{
		struct infra_spot_opts r = { .name_regex = "^pool-([a-z0-9]+)-([a-z]+)$", .type_key = "", .pool_key = "" };
		map("pool-h100-spot", NULL, &r, 1, "h100", "spot");
		map("rented", "{\"gpu_type\": \"L40S\", \"pool\": \"runpod\"}", &r, 0, NULL, NULL);
		r.name_regex = "";
		r.type_key = "t";
		r.pool_key = "p";
		map("H100-spot", "{\"t\": \"B200\", \"p\": \"x\"}", &r, 1, "B200", "x");
		map("H100-spot", NULL, &r, 0, NULL, NULL);
		r.name_regex = "([a-z";
		map("x", NULL, &r, -22, NULL, NULL);
		r.name_regex = "^(a)b$";
		map("ab", NULL, &r, -22, NULL, NULL);
	}

	/* totals: unknown totals make the pool's total unknown; free never below 0 */
	{
		struct infra_spot_result r;
		struct infra_spot_host h[3];
		infra_spot_result_init(&r);
		memset(h, 0, sizeof h);
		for (int i = 0; i < 3; i++) {
			h[i].gpu_type = strdup("H100");
			h[i].pool = strdup("spot");
			h[i].key = strdup(i == 0 ? "a" : i == 1 ? "b" : "c");
			h[i].host = strdup(h[i].key);
			h[i].method = "placement";
			h[i].vms = 1;
			h[i].state_up = h[i].enabled = 1;
			h[i].has_gpus = 1;
		}
		h[0].gpus_total = 8, h[0].gpus_used = 2;
		h[1].gpus_total = 4, h[1].gpus_used = 6; /* over-committed after a ratio change */
		h[2].gpus_total = 6, h[2].gpus_used = 1;
		r.hosts = h;
		r.nhosts = 3;
		infra_spot_totals(&r);
		tap_ok(r.npools == 1 && r.pools[0].gpus_total == 18 && r.pools[0].gpus_used == 9 && r.pools[0].gpus_free == 11 &&
			       r.pools[0].hosts == 3 && r.pools[0].vms == 3 && r.pools[0].total_known,
		       "pool: total 18, used 9, free 6 + 0 + 5 = 11 (an over-used host adds 0 free)");
		h[2].gpus_total = -1;
		infra_spot_totals(&r);
		tap_ok(!r.pools[0].total_known, "a host with an unknown total makes the pool total unknown");
		for (int i = 0; i < 3; i++) {
			free(h[i].gpu_type);
			free(h[i].pool);
			free(h[i].key);
			free(h[i].host);
		}
		for (size_t i = 0; i < r.npools; i++) {
			free(r.pools[i].gpu_type);
			free(r.pools[i].pool);
		}
		free(r.pools);
	}
	return tap_done();
}
