/* The silent resolver of resolver.h.
 *
 * glibc has no per-process setting for the DNS server: RES_OPTIONS sets options (timeout:,
 * attempts:), LOCALDOMAIN the search list, HOSTALIASES a file of aliases, and the path of
 * /etc/resolv.conf is compiled in. But the resolver's state, _res, belongs to the program, one
 * per thread (nptl gives each thread its own), and getaddrinfo honours the servers a program
 * writes there after res_init(), as programs did long before resolv.conf was reloaded by itself.
 * So each thread that looks a name up first points its own _res at our socket. */
#include "resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

static int silent_fd = -1;        /* bound, never read: queries arrive, answers never leave */
static struct sockaddr_in silent; /* its address */
static const char *unusable;      /* why lookups here would not reach it; NULL: they do */

/* True when "hosts:" in /etc/nsswitch.conf names only files and dns: then a name not in
 * /etc/hosts goes to glibc's DNS client, which reads _res. Another source (resolve, mdns, a
 * cache such as nscd) would ask a server of its own, past our socket. */
static bool lookups_use_res(void) {
    FILE *f = fopen("/etc/nsswitch.conf", "r");
    char line[512], *tok, *save;
    bool ok = false, found = false;
    while (f && !found && fgets(line, sizeof line, f)) {
        if (strncmp(line, "hosts:", 6) != 0)
            continue;
        found = ok = true;
        for (tok = strtok_r(line + 6, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
            if (tok[0] != '[' && strcmp(tok, "files") != 0 && strcmp(tok, "dns") != 0)
                ok = false;
    }
    if (f)
        fclose(f);
    return ok && access("/var/run/nscd/socket", F_OK) != 0;
}

void resolver_start(void) {
    silent = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof silent;
    if ((silent_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(silent_fd, (struct sockaddr *)&silent, sizeof silent) < 0 ||
        getsockname(silent_fd, (struct sockaddr *)&silent, &len) < 0)
        perror_die("the silent DNS server's socket");
    if (!lookups_use_res())
        unusable =
            "this machine's lookups do not go through glibc's DNS client (/etc/nsswitch.conf "
            "hosts: other than files and dns, or nscd)";
    if (unusable)
        log_msg("resolver: %s: names will not be looked up", unusable);
}

/* Points this thread's resolver at the silent server: one attempt of RESOLVER_TIMEOUT_S, and no
 * search domains (each would be another wait). */
static void use_silent_server(void) {
    static _Thread_local bool done;
    if (done)
        return;
    res_init();
    _res.nsaddr_list[0] = silent;
    _res.nscount = 1;
    _res.retrans = RESOLVER_TIMEOUT_S;
    _res.retry = 1;
    _res.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
    done = true;
}

int resolve(const char *host) {
    if (unusable)
        return EAI_FAIL;
    use_silent_server();
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *found;
    int rc = getaddrinfo(host, NULL, &hints, &found);
    if (rc == 0)
        freeaddrinfo(found);
    return rc;
}

void resolver_stop(void) {
    if (silent_fd >= 0)
        close(silent_fd);
}
