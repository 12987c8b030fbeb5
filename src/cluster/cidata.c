/* cloud-init NoCloud seeds: the YAML of meta-data, user-data and
 * network-config from a machine's guest configuration, packed into a vfat
 * image with mkfs.vfat and mcopy. */
#define _GNU_SOURCE
#include "cluster/cidata.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cluster/project.h"

/* A YAML double-quoted scalar. */
static void yq(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static const char *host_of(const struct project_machine *m)
{
	return m->hostname ? m->hostname : m->name;
}

/* The machine's first static address without its prefix, or NULL. */
static const char *first_address(const struct project_machine *m, char *buf, size_t len)
{
	for (size_t i = 0; i < m->nnics; i++)
		if (m->nics[i].address) {
			snprintf(buf, len, "%s", m->nics[i].address);
			char *slash = strchr(buf, '/');
			if (slash)
				*slash = 0;
			return buf;
		}
	return NULL;
}

int cidata_write_meta(const struct project *p, size_t mi, FILE *f)
{
	const struct project_machine *m = &p->machines[mi];
	/* A new instance-id when the configuration changes, so that
	 * cloud-init applies it again; the same one across restarts. */
	char *ud = NULL, *nc = NULL;
	size_t ul = 0, nl = 0;
	FILE *a = open_memstream(&ud, &ul), *b = open_memstream(&nc, &nl);
	if (!a || !b) {
		if (a) fclose(a);
		if (b) fclose(b);
		free(ud);
		free(nc);
		return -ENOMEM;
	}
	cidata_write_user(p, mi, a);
	cidata_write_network(p, mi, b);
	fclose(a);
	fclose(b);
	uint64_t h = 0xcbf29ce484222325ull;
	for (const char *s = ud; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	for (const char *s = nc; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	free(ud);
	free(nc);
	fprintf(f, "instance-id: tern-%s-%s-%08llx\n", p->name, m->name, (unsigned long long)(h & 0xffffffffu));
	fprintf(f, "local-hostname: %s\n", host_of(m));
	return ferror(f) ? -EIO : 0;
}

int cidata_write_user(const struct project *p, size_t mi, FILE *f)
{
	const struct project_machine *m = &p->machines[mi];
	fprintf(f, "#cloud-config\n");
	fprintf(f, "hostname: %s\n", host_of(m));
	fprintf(f, "preserve_hostname: false\n");
	/* An overlay has its base's size: nothing to grow (and images without
	 * resize2fs would report an error). */
	fprintf(f, "resize_rootfs: false\ngrowpart:\n  mode: \"off\"\n");
	/* /etc/hosts lists every machine of the project that has an address. */
	fprintf(f, "manage_etc_hosts: false\n");
	fprintf(f, "write_files:\n  - path: /etc/hosts\n    permissions: \"0644\"\n    content: |\n");
	fprintf(f, "      127.0.0.1 localhost\n      ::1 localhost ip6-localhost ip6-loopback\n");
	char addr[64];
	if (!first_address(m, addr, sizeof(addr)))
		fprintf(f, "      127.0.1.1 %s\n", host_of(m));
	for (size_t i = 0; i < p->nmachines; i++) {
		const struct project_machine *o = &p->machines[i];
		if (!first_address(o, addr, sizeof(addr)))
			continue;
		fprintf(f, "      %s %s", addr, host_of(o));
		if (strcmp(host_of(o), o->name))
			fprintf(f, " %s", o->name);
		fputc('\n', f);
	}
	if (m->nusers) {
		fprintf(f, "users:\n  - default\n");
		for (size_t i = 0; i < m->nusers; i++) {
			const struct project_user *u = &m->users[i];
			fprintf(f, "  - name: %s\n    shell: /bin/bash\n", u->name);
			fprintf(f, "    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n");
			if (u->password_hash) {
				fprintf(f, "    lock_passwd: false\n    passwd: ");
				yq(f, u->password_hash);
				fputc('\n', f);
			}
			if (u->ssh_key) {
				fprintf(f, "    ssh_authorized_keys:\n      - ");
				yq(f, u->ssh_key);
				fputc('\n', f);
			}
		}
	}
	if (m->nruns) {
		fprintf(f, "runcmd:\n");
		for (size_t i = 0; i < m->nruns; i++) {
			fprintf(f, "  - ");
			yq(f, m->runs[i]);
			fputc('\n', f);
		}
	}
	return ferror(f) ? -EIO : 0;
}

int cidata_write_network(const struct project *p, size_t mi, FILE *f)
{
	const struct project_machine *m = &p->machines[mi];
	fprintf(f, "version: 2\nethernets:\n");
	for (size_t i = 0; i < m->nnics; i++) {
		const struct project_nic *n = &m->nics[i];
		char mac[18];
		project_format_mac(n->mac, mac);
		fprintf(f, "  nic%zu:\n    match:\n      macaddress: \"%s\"\n", i, mac);
		if (n->address) {
			fprintf(f, "    addresses:\n      - \"%s\"\n", n->address);
			if (n->gateway)
				fprintf(f, "    routes:\n      - to: \"%s\"\n        via: \"%s\"\n",
					strchr(n->gateway, ':') ? "::/0" : "0.0.0.0/0", n->gateway);
		} else {
			/* Slirp answers DHCP; a switch port without an address stays down. */
			fprintf(f, "    dhcp4: %s\n", n->user ? "true" : "false");
		}
	}
	return ferror(f) ? -EIO : 0;
}

static int run(char *const argv[], char *err, size_t errlen)
{
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* Quiet on success; mtools and mkfs talk on stdout. */
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		snprintf(err, errlen, "%s failed (status %d)%s", argv[0], WIFEXITED(st) ? WEXITSTATUS(st) : -1,
			 WIFEXITED(st) && WEXITSTATUS(st) == 127 ? ": not installed (Debian: dosfstools, mtools)" : "");
		return -1;
	}
	return 0;
}

int cidata_build(const struct project *p, size_t mi, const char *out, char *err, size_t errlen)
{
	static const char *const names[] = { "meta-data", "user-data", "network-config" };
	int (*const writers[])(const struct project *, size_t, FILE *) = {
		cidata_write_meta, cidata_write_user, cidata_write_network,
	};
	char tmpdir[PATH_MAX], img[PATH_MAX + 8];
	if (snprintf(tmpdir, sizeof(tmpdir), "%s.d-XXXXXX", out) >= (int)sizeof(tmpdir) || !mkdtemp(tmpdir)) {
		snprintf(err, errlen, "cannot create a folder beside %s: %s", out, strerror(errno));
		return -1;
	}
	snprintf(img, sizeof(img), "%s.tmp", out);
	unlink(img);
	int rc = 0;
	char files[3][PATH_MAX + 32];
	for (int i = 0; i < 3 && !rc; i++) {
		snprintf(files[i], sizeof(files[i]), "%s/%s", tmpdir, names[i]);
		FILE *f = fopen(files[i], "w");
		if (!f || writers[i](p, mi, f)) {
			snprintf(err, errlen, "cannot write %s", files[i]);
			rc = -1;
		}
		if (f && fclose(f))
			rc = -1;
	}
	/* 1 MiB is plenty: FAT12, three small files. */
	char *const mkfs[] = { access("/usr/sbin/mkfs.vfat", X_OK) ? "mkfs.vfat" : "/usr/sbin/mkfs.vfat", "-n", "CIDATA", "-C", img, "1024", NULL };
	if (!rc)
		rc = run(mkfs, err, errlen);
	for (int i = 0; i < 3 && !rc; i++) {
		char dst[64];
		snprintf(dst, sizeof(dst), "::%s", names[i]);
		char *const mcopy[] = { "mcopy", "-o", "-i", img, files[i], dst, NULL };
		rc = run(mcopy, err, errlen);
	}
	for (int i = 0; i < 3; i++)
		unlink(files[i]);
	rmdir(tmpdir);
	if (!rc && rename(img, out)) {
		snprintf(err, errlen, "cannot rename %s: %s", img, strerror(errno));
		rc = -1;
	}
	if (rc)
		unlink(img);
	return rc;
}
