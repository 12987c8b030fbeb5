/* CONFIG section encoding with jansson; the decoder checks every field the
 * way `tern run` checks its options, since the file is untrusted. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/vm.h"
#include "machine/virt.h"
#include "net/spec.h"
#include "state/snap_config.h"

/* Absolute paths, so a restore from another directory finds the files. */
static json_t *abs_path(const char *p)
{
	char buf[PATH_MAX];
	if (!p)
		return json_null();
	return json_string(realpath(p, buf) ? buf : p);
}

char *snap_config_encode(const struct virt_config *cfg, const uint64_t *disk_sizes,
			 char *err, size_t errlen)
{
	json_t *disks = json_array();
	for (int i = 0; i < cfg->ndisks; i++) {
		const struct virt_disk *d = &cfg->disks[i];
		uint64_t size = disk_sizes[i];
		json_array_append_new(disks, json_pack("{s:o,s:I,s:b,s:s?,s:s?,s:b}", "path", abs_path(d->path),
			"size", (json_int_t)size, "readonly", d->readonly, "serial", d->serial,
			"format", d->format, "direct", d->direct));
	}
	json_t *nets = json_array();
	for (int i = 0; i < cfg->nnets; i++)
		json_array_append_new(nets, json_string(cfg->net_args[i] ? cfg->net_args[i] : "user"));
	json_t *j = json_pack("{s:s?,s:I,s:i,s:o,s:o,s:s?,s:s?,s:b,s:s,s:o}",
		"name", cfg->name, "memory", (json_int_t)cfg->mem_size, "cpus", cfg->cpus,
		"kernel", abs_path(cfg->kernel), "initrd", abs_path(cfg->initrd),
		"append", cfg->append, "console", cfg->console, "rng", cfg->rng,
		"reboot", cfg->reboot_restart ? "restart" : "exit", "disks", disks);
	if (j && cfg->balloon)
		json_object_set_new(j, "balloon", json_true());
	if (j)
		json_object_set_new(j, "nets", nets);
	else
		json_decref(nets);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s)
		snprintf(err, errlen, "out of memory");
	return s;
}

static const char *opt_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int snap_config_decode(const char *text, size_t len, struct virt_config *cfg, json_t **owner,
		       char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	*owner = j;
	if (!j || !json_is_object(j)) {
		snprintf(err, errlen, "configuration section is not valid JSON");
		return -1;
	}
	json_int_t mem = json_integer_value(json_object_get(j, "memory"));
	json_int_t cpus = json_integer_value(json_object_get(j, "cpus"));
	json_t *disks = json_object_get(j, "disks");
	const char *reboot = opt_str(j, "reboot");
	if (mem < (16 << 20) || mem > (64ll << 30) || (mem & 0xfff) || cpus < 1 ||
	    cpus > VM_MAX_HARTS || !opt_str(j, "kernel") || !json_is_array(disks) ||
	    json_array_size(disks) > VIRT_MAX_DISKS || !reboot) {
		snprintf(err, errlen, "configuration section has a missing or out-of-range field");
		return -1;
	}
	cfg->mem_size = (uint64_t)mem;
	cfg->cpus = (int)cpus;
	cfg->kernel = opt_str(j, "kernel");
	cfg->initrd = opt_str(j, "initrd");
	cfg->append = opt_str(j, "append") ? opt_str(j, "append") : "";
	cfg->console = opt_str(j, "console") ? opt_str(j, "console") : "stdio";
	cfg->name = opt_str(j, "name");
	if (cfg->name && (!*cfg->name || strlen(cfg->name) > 64 || strchr(cfg->name, '/'))) {
		snprintf(err, errlen, "configuration section has an invalid VM name");
		return -1;
	}
	cfg->rng = json_is_true(json_object_get(j, "rng"));
	cfg->balloon = json_is_true(json_object_get(j, "balloon"));
	cfg->reboot_restart = !strcmp(reboot, "restart");
	cfg->ndisks = (int)json_array_size(disks);
	for (int i = 0; i < cfg->ndisks; i++) {
		json_t *d = json_array_get(disks, (size_t)i);
		json_int_t size = json_integer_value(json_object_get(d, "size"));
		const char *serial = opt_str(d, "serial");
		if (!opt_str(d, "path") || size <= 0 || (serial && strlen(serial) > 20)) {
			snprintf(err, errlen, "configuration section has a bad disk entry");
			return -1;
		}
		const char *format = opt_str(d, "format");
		if (format && strcmp(format, "raw") && strcmp(format, "qcow2")) {
			snprintf(err, errlen, "configuration section has a bad disk format");
			return -1;
		}
		cfg->disks[i] = (struct virt_disk){ .path = opt_str(d, "path"),
			.readonly = json_is_true(json_object_get(d, "readonly")), .serial = serial,
			.format = format, .direct = json_is_true(json_object_get(d, "direct")) };
		cfg->disk_sizes[i] = (uint64_t)size;
	}
	json_t *nets = json_object_get(j, "nets");
	cfg->nnets = 0;
	if (nets && (!json_is_array(nets) || json_array_size(nets) > VIRT_MAX_NICS)) {
		snprintf(err, errlen, "configuration section has a bad NIC list");
		return -1;
	}
	for (size_t i = 0; nets && i < json_array_size(nets); i++) {
		const char *arg = json_string_value(json_array_get(nets, i));
		char why[256];
		if (!arg || net_spec_parse(arg, &cfg->nets[i], why, sizeof(why))) {
			snprintf(err, errlen, "configuration section has a bad NIC: %s", arg ? why : "not a string");
			return -1;
		}
		cfg->net_args[i] = arg;
		cfg->nnets++;
	}
	cfg->incoming = 1;
	return 0;
}
