/* Chapter 15's name lookups: glibc's getaddrinfo, as every C program (and CPython, and Node's
 * dns.lookup) does them, but sent to a DNS server of this process's own on 127.0.0.1 that never
 * answers, as a resolver behind a dead upstream does not. The machine's resolver settings are
 * not touched and no query leaves the machine. A name in /etc/hosts (localhost) is still answered
 * at once, from the file; any other waits for glibc's timeout, RESOLVER_TIMEOUT_S. */
#ifndef RESOLVER_H
#define RESOLVER_H

#define RESOLVER_TIMEOUT_S 2 /* glibc's default is 5 s, twice: 10 s for a dead server */

/* Binds the silent DNS server's socket, and checks that this machine's lookups go through
 * glibc's own DNS client (hosts: files dns in /etc/nsswitch.conf, no nscd); if they do not,
 * logs why and every resolve() fails at once. Dies on failure to bind. */
void resolver_start(void);

/* Looks host up (getaddrinfo), on the calling thread, through the silent server: returns 0 when
 * it resolved, else its EAI_ error code (gai_strerror names it). Blocks up to the timeout. */
int resolve(const char *host);

void resolver_stop(void);

#endif
