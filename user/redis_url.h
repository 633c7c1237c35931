/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where cluster mode finds Redis:
 *
 *   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
 *   unix://[[USER]:PASSWORD@]/PATH[?db=DB]
 *
 * HOST is a name, an IPv4 address or an [IPv6] address; PORT defaults to
 * 6379 and DB to 0. USER and PASSWORD may carry %XX escapes (%40 for "@").
 * A USER needs a PASSWORD (Redis 6 ACLs); a PASSWORD alone authenticates
 * the default user. Pure parsing: nothing here connects or resolves.
 */
#ifndef SLUICE_REDIS_URL_H
#define SLUICE_REDIS_URL_H

#include <stddef.h>
#include <stdint.h>

#define SL_REDIS_DEFAULT_PORT	6379
#define SL_REDIS_HOST_LEN	256
/* sizeof(sockaddr_un.sun_path), the terminating NUL included. */
#define SL_REDIS_PATH_LEN	108
#define SL_REDIS_CRED_LEN	256
/* Redis's own bound on a database index is what it was started with;
 * this only keeps the number an int. */
#define SL_REDIS_MAX_DB		2147483647u

enum sl_redis_transport {
	SL_REDIS_TCP = 0,
	SL_REDIS_UNIX = 1,
};

struct sl_redis_url {
	uint8_t transport;		/* enum sl_redis_transport */
	char host[SL_REDIS_HOST_LEN];	/* TCP: without brackets */
	uint16_t port;
	char path[SL_REDIS_PATH_LEN];	/* UNIX */
	char user[SL_REDIS_CRED_LEN];	/* "": the default user */
	char password[SL_REDIS_CRED_LEN];	/* "": no AUTH */
	unsigned db;
};

/*
 * Parses text into *out. Returns 0, or -EINVAL with why (a message without
 * location: "expected ..., got ...") and *col, the 0-based byte offset in
 * text the message is about.
 */
int redis_url_parse(const char *text, struct sl_redis_url *out, char *why,
		    size_t why_len, size_t *col);

/*
 * The URL in canonical form with the password masked as "***": what logs,
 * metrics and status may show.
 */
void redis_url_format(const struct sl_redis_url *url, char *buf, size_t len);

#endif /* SLUICE_REDIS_URL_H */
