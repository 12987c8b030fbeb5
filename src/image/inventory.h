/* The inventory of a root file system image: top-level folders and their
 * sizes, dpkg packages, fstab, kernels, module folders and the init system,
 * printed as text or written as XML (docs/IMAGES.md, docs/tern-inventory.dtd). */
#ifndef TERN_IMAGE_INVENTORY_H
#define TERN_IMAGE_INVENTORY_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct inv_folder { char *name; uint64_t bytes, entries; };
struct inv_package { char *name, *version, *arch; };
struct inv_fstab { char *spec, *file, *type, *options; int dump, pass; };

struct inventory {
	char *image, *format, *fs_type, *os;
	uint64_t fs_bytes;
	char *init_system, *init_path, *init_target;
	struct inv_folder *folders; size_t n_folders;
	struct inv_package *packages; size_t n_packages;
	struct inv_fstab *fstab; size_t n_fstab;
	int has_fstab;
	char **kernels; size_t n_kernels;
	char **modules; size_t n_modules;
	char **changes; size_t n_changes;   /* what an import rewrote */
};

/* The inventory of the ext2/3/4 file system in image PATH (raw or qcow2). */
int inventory_from_image(const char *path, struct inventory **out, char *err, size_t errlen);
void inventory_free(struct inventory *inv);
/* Parsers, also used by the tests: dpkg's status file (installed packages
 * only) and fstab. 0 or -ENOMEM. */
int inventory_parse_dpkg(struct inventory *inv, const char *status);
int inventory_parse_fstab(struct inventory *inv, const char *fstab);
int inventory_add_change(struct inventory *inv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void inventory_print(const struct inventory *inv, FILE *f);
/* The XML form, to PATH ("-" for stdout). 0 or -errno. */
int inventory_write_xml(const struct inventory *inv, const char *path);
#endif
