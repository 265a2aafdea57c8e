/*
 * sandbox-init: PID 1 of the runner's task and setup containers.
 *
 *   sandbox-init --user UID:GID [--cwd DIR] [--undumpable] -- PROGRAM [ARG...]
 *
 * The JSONL on Codex's stdout is what the runner judges, so no process the agent runs may write into it.
 * Under runc that held because PID 1 and codex were execute-only binaries (Linux makes such a process
 * non-dumpable); under gVisor it does not: gVisor's loader must read a binary to run it, and its exec makes
 * every process dumpable. So the seal rests on what both kernels honour:
 *
 *  - This init alone holds the container's stdout and stderr, and never runs as the agent's uid: it starts
 *    as root with only SETUID, SETGID and SETPCAP (Docker gives a non-root user no capability to use), and
 *    once PROGRAM is started it becomes a uid of its own with no capability. The agent's uid can neither
 *    open its /proc/<pid>/fd, nor trace it, nor signal it.
 *  - PROGRAM gets a socket pair as stdout and stderr, which this init copies to the real ones. A socket
 *    cannot be opened again through /proc/<pid>/fd (ENXIO), so even a dumpable codex does not lend it out.
 *  - PROGRAM runs as UID:GID with no capability in any set (bounding included, as with CapDrop ALL) and
 *    under a seccomp filter that refuses ptrace, process_vm_readv/writev and pidfd_getfd to it and to every
 *    process it starts: no command can take codex over to write through it.
 *  - With --undumpable, PROGRAM starts with an effective gid other than its real one. Linux takes that for a
 *    change of identity and makes the process non-dumpable, so under runc the agent's uid cannot open its
 *    /proc files or memory. (Execute-only binaries did that before, but gVisor's loader must read a binary
 *    to run it.) Bash, which runs every command Codex runs, sets its effective gid back to the real one, so
 *    the agent's own processes are plain UID:GID. Under gVisor, whose exec always makes a process dumpable,
 *    its Yama ptrace scope (1: only descendants) keeps /proc/<pid>/mem and ptrace from codex's descendants.
 *
 * It is also an init: it reaps every orphan and exits with PROGRAM's status (128+N for a signal) once
 * PROGRAM has exited and its output is copied. A termination signal ends it at once (copying what is
 * already written), and with it the container: the runner keeps nothing of a task's processes but its tree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* The uid this init relays as once PROGRAM runs: nobody's, and never the agent's (checked). */
#define RELAY_ID 64999
/* The effective gid --undumpable starts PROGRAM with. */
#define UNDUMPABLE_GID 64998

static const int handled[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

static void fail(const char *what)
{
    dprintf(2, "sandbox-init: %s: %s\n", what, strerror(errno));
    _exit(127);
}

static void usage(void)
{
    dprintf(2, "usage: sandbox-init --user UID:GID [--cwd DIR] [--undumpable] -- PROGRAM [ARG...]\n");
    _exit(127);
}

/* Reads "UID:GID" (decimal ids); 0 when it is not that. */
static int parse_user(const char *s, unsigned long *uid, unsigned long *gid)
{
    char *end;
    errno = 0;
    *uid = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != ':' || *uid >= 4294967295UL)
        return 0;
    const char *g = end + 1;
    *gid = strtoul(g, &end, 10);
    return errno == 0 && end != g && *end == '\0' && *gid < 4294967295UL;
}

/* PROGRAM as PATH would find it (the variable given to the container); a name with a slash is taken as it is. */
static const char *resolve(const char *name, char *buf, size_t size)
{
    if (strchr(name, '/'))
        return name;
    const char *path = getenv("PATH");
    if (path == NULL || *path == '\0')
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const char *p = path; *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len > 0 && (size_t)snprintf(buf, size, "%.*s/%s", (int)len, p, name) < size) {
            struct stat st;
            if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
                return buf;
        }
        p = colon ? colon + 1 : p + len;
    }
    return name;
}

/*
 * Refuses (EPERM) the calls that reach into another process of the same uid. A call made through a foreign
 * syscall ABI (i386 int 0x80, x32), where those numbers mean something else, ends the process that made it.
 */
static void install_filter(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_writev, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_getfd, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    };
    struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        fail("no_new_privs");
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
        fail("seccomp");
}

/* Becomes UID:GID (effective gid EGID) with no capability left in any set, and proves it cannot come back to root. */
static void drop_to(uid_t uid, gid_t gid, gid_t egid)
{
    for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            fail("dropping the capability bounding set");
    if (setgroups(0, NULL) != 0)
        fail("setgroups");
    if (setresgid(gid, egid, egid) != 0)
        fail("setresgid");
    if (setresuid(uid, uid, uid) != 0)
        fail("setresuid");
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &header, data) != 0)
        fail("clearing capabilities");
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != egid || setresuid(0, 0, 0) == 0) {
        errno = EPERM;
        fail("the new user was not fully taken");
    }
}

/* Copies one read's worth from from to to: 1 when it copied, -1 when nothing was ready, 0 at the end of the stream. */
static int pump(int from, int to)
{
    char buf[65536];
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return -1;
    if (n <= 0)
        return 0;
    for (ssize_t off = 0; n > 0 && off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* the engine stopped reading: drop the rest, never block the program on it */
        off += w;
    }
    return 1;
}

int main(int argc, char **argv)
{
    unsigned long uid = 0, gid = 0;
    int have_user = 0, undumpable = 0;
    const char *cwd = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc) {
            if (!parse_user(argv[++i], &uid, &gid))
                usage();
            have_user = 1;
        } else if (strcmp(argv[i], "--cwd") == 0 && i + 1 < argc) {
            cwd = argv[++i];
        } else if (strcmp(argv[i], "--undumpable") == 0) {
            undumpable = 1;
        } else {
            usage();
        }
    }
    if (i >= argc || !have_user)
        usage();
    if (uid == 0 || uid == RELAY_ID || gid == 0 || gid == RELAY_ID || gid == UNDUMPABLE_GID) {
        dprintf(2, "sandbox-init: --user %lu:%lu must not be root's nor this init's own (%d)\n", uid, gid, RELAY_ID);
        _exit(127);
    }
    if (getuid() != 0) {
        dprintf(2, "sandbox-init: must start as root with SETUID, SETGID and SETPCAP (it runs as uid %u)\n", getuid());
        _exit(127);
    }

    char pathbuf[PATH_MAX];
    const char *path = resolve(argv[i], pathbuf, sizeof pathbuf);
    int out[2], err[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) != 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, err) != 0)
        fail("socketpair");

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    for (size_t s = 0; s < sizeof handled / sizeof handled[0]; s++)
        sigaddset(&mask, handled[s]);
    sigset_t previous;
    if (sigprocmask(SIG_BLOCK, &mask, &previous) != 0)
        fail("sigprocmask");
    int signals = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signals < 0)
        fail("signalfd");
    signal(SIGPIPE, SIG_IGN);

    pid_t child = fork();
    if (child < 0)
        fail("fork");
    if (child == 0) {
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, &previous, NULL);
        if (dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
            fail("dup2");
        drop_to((uid_t)uid, (gid_t)gid, undumpable ? UNDUMPABLE_GID : (gid_t)gid);
        if (cwd != NULL && chdir(cwd) != 0)
            fail(cwd);
        install_filter();
        execv(path, &argv[i]);
        fail(path);
    }

    close(out[1]);
    close(err[1]);
    drop_to(RELAY_ID, RELAY_ID, RELAY_ID);

    int status = 0, exited = 0, out_open = 1, err_open = 1;
    while (!exited) {
        struct pollfd fds[3] = {
            {.fd = signals, .events = POLLIN},
            {.fd = out_open ? out[0] : -1, .events = POLLIN},
            {.fd = err_open ? err[0] : -1, .events = POLLIN},
        };
        if (poll(fds, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            fail("poll");
        }
        if (fds[1].revents)
            out_open = pump(out[0], 1) != 0;
        if (fds[2].revents)
            err_open = pump(err[0], 2) != 0;
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo info;
            while (read(signals, &info, sizeof info) == (ssize_t)sizeof info) {
                if (info.ssi_signo != SIGCHLD && !exited) {
                    status = (int)info.ssi_signo; /* as if PROGRAM had been killed by it */
                    exited = 1;
                }
            }
            /* Every orphan the agent left is reparented here; reap them all. */
            for (;;) {
                int st;
                pid_t pid = waitpid(-1, &st, WNOHANG);
                if (pid <= 0)
                    break;
                if (pid == child) {
                    status = st;
                    exited = 1;
                }
            }
        }
    }

    /* Everything the program wrote is in the sockets by now; copy it without waiting on anyone else. */
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    while (out_open && pump(out[0], 1) == 1) {
    }
    while (err_open && pump(err[0], 2) == 1) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
