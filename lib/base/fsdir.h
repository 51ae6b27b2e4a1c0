/* fsdir.h — directories a program owns: made with their parents, locked while in use. */
#ifndef STELE_BASE_FSDIR_H
#define STELE_BASE_FSDIR_H

/* Makes `dir` and any missing parent (mkdir -p), each new one with `mode`. Returns STELE_OK, or
 * STELE_ERR_IO with *errmsg (caller frees) naming the directory that could not be made. */
int fsdir_make(const char *dir, int mode, char **errmsg);

/* Takes an exclusive lock (flock) on the existing directory `dir`, held until fsdir_unlock().
 * `who` names the kind of process that uses it ("a peer"). Returns the descriptor (>= 0), or -1
 * with *errmsg (caller frees) and *status set: STELE_ERR_STATE when another process holds the
 * lock, STELE_ERR_IO when `dir` cannot be opened or locked. */
int fsdir_lock(const char *dir, const char *who, int *status, char **errmsg);

/* Releases a lock fsdir_lock() took; accepts -1. */
void fsdir_unlock(int fd);

#endif
