/* Where control sockets live: $XDG_RUNTIME_DIR/tern (or /run/tern for
 * root), one NAME.qmp per VM; and whether a socket has a live server. */
#ifndef TERN_CTL_PATH_H
#define TERN_CTL_PATH_H
#include <stddef.h>

/* The default directory; 0, or -1 when no directory can be chosen. */
int ctl_default_dir(char *buf, size_t len);
/* 0 when dir is missing, or a directory of ours that only we can write;
 * else -1 with the reason in err. */
int ctl_check_dir(const char *dir, char *err, size_t errlen);
/* DIR/NAME.qmp, creating DIR (mode 0700) when create is set. Returns 0 or
 * -1 with a one-line reason in err. */
int ctl_default_path(const char *name, int create, char *buf, size_t len, char *err, size_t errlen);
/* A VM name becomes a file name, a hostname and JSON: 1 to CTL_NAME_MAX of
 * [A-Za-z0-9._-], starting with a letter or digit. 0, or -1 with err. */
#define CTL_NAME_MAX 64
int ctl_name_check(const char *name, char *err, size_t errlen);
/* 1: a server accepts connections on path; 0: no file or a stale socket;
 * -1: path exists and is not a socket. */
int ctl_socket_live(const char *path);
#endif
