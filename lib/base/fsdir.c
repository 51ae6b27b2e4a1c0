/* fsdir.c — directories a program owns: made with their parents, locked while in use. */
#include "base/fsdir.h"

#include "base/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir(path) that accepts an existing directory. */
static int make_one(const char *path, int mode, char **errmsg)
{
    struct stat st;
    if (mkdir(path, (mode_t)mode) == 0)
        return STELE_OK;
    int e = errno;
    if (e == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return STELE_OK;
    return stele_errf(errmsg, STELE_ERR_IO, "cannot create %s: %s", path,
                      e == EEXIST ? "it exists and is not a directory" : strerror(e));
}

int fsdir_make(const char *dir, int mode, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    size_t n = dir ? strlen(dir) : 0;
    if (n == 0)
        return stele_errf(errmsg, STELE_ERR_INVALID, "empty directory name");
    char *path = strdup(dir);
    if (!path)
        return STELE_ERR_NOMEM;
    int rc = STELE_OK;
    for (char *p = path + 1; *p && rc == STELE_OK; p++) {
        if (*p != '/' || p[-1] == '/')
            continue;
        *p = 0;
        rc = make_one(path, mode, errmsg);
        *p = '/';
    }
    if (rc == STELE_OK)
        rc = make_one(path, mode, errmsg);
    free(path);
    return rc;
}

int fsdir_lock(const char *dir, const char *who, int *status, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        *status = stele_errf(errmsg, STELE_ERR_IO, "cannot open %s: %s", dir, strerror(errno));
        return -1;
    }
    int r;
    while ((r = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
        ;
    if (r == 0)
        return fd;
    int e = errno;
    close(fd);
    if (e == EWOULDBLOCK)
        *status = stele_errf(errmsg, STELE_ERR_STATE,
                             "data_dir %s is in use by another process (%s already runs on it?)",
                             dir, who);
    else
        *status = stele_errf(errmsg, STELE_ERR_IO, "cannot lock %s: %s", dir, strerror(e));
    return -1;
}

void fsdir_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}
