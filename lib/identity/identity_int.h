/* identity_int.h — helpers shared by the files of lib/identity (not a public header). */
#ifndef STELE_IDENTITY_INT_H
#define STELE_IDENTITY_INT_H

/* Sets *errmsg (when errmsg is not NULL) to a malloc'd message and returns `status`. */
int identity_errf(char **errmsg, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
