/* Fault injection for the tests: fsync/fdatasync on the file named by
 * HEALTHSIM_FAULT_PATH fail with EIO, for the fsyncs numbered HEALTHSIM_FAULT_FSYNC
 * (1-based, counted on that file) after the file HEALTHSIM_FAULT_ARMED exists. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int counted;

static int should_fail(int fd) {
    const char *path = getenv("HEALTHSIM_FAULT_PATH");
    const char *armed = getenv("HEALTHSIM_FAULT_ARMED");
    const char *which = getenv("HEALTHSIM_FAULT_FSYNC");
    if (!path || !armed || !which || access(armed, F_OK) != 0) return 0;
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) return 0;
    target[n] = 0;
    if (strcmp(target, path) != 0) return 0;
    counted++;
    return counted == atoi(which);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = dlsym(RTLD_NEXT, "fsync");
    if (should_fail(fd)) { errno = EIO; return -1; }
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = dlsym(RTLD_NEXT, "fdatasync");
    if (should_fail(fd)) { errno = EIO; return -1; }
    return real(fd);
}
