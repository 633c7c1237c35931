// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Redis URLs for cluster mode. Written out by hand rather than with a URL
 * library: the grammar is small, and every error has to say which byte is
 * wrong, as the rest of the rule language does.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "redis_url.h"

#define TCP_SCHEME	"redis://"
#define UNIX_SCHEME	"unix://"
#define EXAMPLE		"a Redis URL like redis://127.0.0.1:6379 or unix:///run/redis/redis.sock"

struct url_parser {
	const char *text;
	char *why;
	size_t why_len;
	size_t *col;
};

__attribute__((format(printf, 3, 4)))
static int bad(struct url_parser *u, const char *at, const char *fmt, ...)
{
	va_list ap;

	*u->col = at - u->text;
	va_start(ap, fmt);
	vsnprintf(u->why, u->why_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* [s, end) with %XX escapes decoded into out (SL_REDIS_CRED_LEN bytes). */
static int decode(struct url_parser *u, const char *s, const char *end,
		  const char *what, char *out)
{
	size_t n = 0;

	while (s < end) {
		char c = *s;

		if (c == '%') {
			int hi = end - s >= 3 ? hex_digit(s[1]) : -1;
			int lo = end - s >= 3 ? hex_digit(s[2]) : -1;

			if (hi < 0 || lo < 0)
				return bad(u, s, "expected %%XX, two hex digits, in the %s, got \"%.*s\"",
					   what, (int)(end - s < 3 ? end - s : 3), s);
			c = (char)(hi << 4 | lo);
			if (!c)
				return bad(u, s, "the %s must not contain %%00", what);
			s += 3;
		} else {
			s++;
		}
		if (n + 1 >= SL_REDIS_CRED_LEN)
			return bad(u, end, "the %s is longer than %d bytes", what,
				   SL_REDIS_CRED_LEN - 1);
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

/* USER:PASSWORD or :PASSWORD, the part before the last "@". */
static int parse_userinfo(struct url_parser *u, const char *s, const char *at,
			  struct sl_redis_url *url)
{
	const char *colon = memchr(s, ':', at - s);
	int ret;

	if (!colon)
		return bad(u, s, "expected USER:PASSWORD@ or :PASSWORD@ before the host, got \"%.*s@\"",
			   (int)(at - s), s);
	if (colon + 1 == at)
		return bad(u, at, "the password before \"@\" is empty");
	ret = decode(u, s, colon, "user", url->user);
	if (!ret)
		ret = decode(u, colon + 1, at, "password", url->password);
	return ret;
}

/* Digits only, at most max; *end is where they stop. */
static bool scan_number(const char *s, unsigned long max, unsigned long *out,
			const char **end)
{
	unsigned long v = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return false;
		p++;
	}
	*out = v;
	*end = p;
	return p > s;
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static int parse_tcp(struct url_parser *u, const char *p, struct sl_redis_url *url)
{
	const char *h = p, *hend, *e;
	unsigned long n;
	size_t len;

	if (*p == '[') {
		char addr[INET6_ADDRSTRLEN];
		struct in6_addr a6;

		hend = strchr(p, ']');
		len = hend ? (size_t)(hend - p - 1) : 0;
		if (!hend || !len || len >= sizeof(addr))
			return bad(u, p, "expected an IPv6 address in brackets like [::1], got \"%s\"", p);
		memcpy(addr, p + 1, len);
		addr[len] = '\0';
		if (inet_pton(AF_INET6, addr, &a6) != 1)
			return bad(u, p + 1, "expected an IPv6 address, got \"%s\"", addr);
		memcpy(url->host, addr, len + 1);
		p = hend + 1;
	} else {
		hend = p;
		while (host_char(*hend))
			hend++;
		if (*h == ':' && strchr(h + 1, ':'))
			return bad(u, h, "an IPv6 address takes brackets, like redis://[::1]:6379");
		if (hend == h)
			return bad(u, h, "expected a host name or address after \"%s\", got \"%s\"",
				   TCP_SCHEME, h);
		if (*hend == ':' && memchr(hend + 1, ':', strcspn(hend + 1, "/")))
			return bad(u, h, "an IPv6 address takes brackets, like redis://[::1]:6379");
		len = hend - h;
		if (len >= SL_REDIS_HOST_LEN)
			return bad(u, h, "the host name is longer than %d bytes",
				   SL_REDIS_HOST_LEN - 1);
		memcpy(url->host, h, len);
		url->host[len] = '\0';
		p = hend;
	}
	if (*p == ':') {
		if (!scan_number(p + 1, 65535, &n, &e) || !n)
			return bad(u, p + 1, "expected a port 1..65535, got \"%.*s\"",
				   (int)strcspn(p + 1, "/?"), p + 1);
		url->port = n;
		p = e;
	}
	if (*p == '/') {
		p++;
		if (*p && (!scan_number(p, SL_REDIS_MAX_DB, &n, &e) || *e))
			return bad(u, p, "expected a database number after \"/\", got \"%s\"", p);
		url->db = *p ? n : 0;
		return 0;
	}
	if (*p == '?')
		return bad(u, p, "redis:// takes no options; the database goes in the path, like redis://host:6379/2");
	if (*p)
		return bad(u, p, "expected \":PORT\", \"/DB\" or the end of the URL, got \"%s\"", p);
	return 0;
}

static int parse_unix(struct url_parser *u, const char *p, struct sl_redis_url *url)
{
	const char *q = strchr(p, '?'), *e;
	size_t len = q ? (size_t)(q - p) : strlen(p);
	unsigned long n;

	if (*p != '/')
		return bad(u, p, "expected an absolute socket path after \"%s\", like unix:///run/redis/redis.sock, got \"%s\"",
			   UNIX_SCHEME, p);
	if (len >= SL_REDIS_PATH_LEN)
		return bad(u, p, "the socket path is longer than %d bytes",
			   SL_REDIS_PATH_LEN - 1);
	memcpy(url->path, p, len);
	url->path[len] = '\0';
	if (!q)
		return 0;
	if (strncmp(q + 1, "db=", 3))
		return bad(u, q + 1, "expected \"db=N\" after \"?\", got \"%s\"", q + 1);
	if (!scan_number(q + 4, SL_REDIS_MAX_DB, &n, &e) || *e)
		return bad(u, q + 4, "expected a database number after \"db=\", got \"%s\"", q + 4);
	url->db = n;
	return 0;
}

int redis_url_parse(const char *text, struct sl_redis_url *out, char *why,
		    size_t why_len, size_t *col)
{
	struct url_parser u = { text, why, why_len, col };
	struct sl_redis_url url = { .port = SL_REDIS_DEFAULT_PORT };
	const char *p, *slash, *at;
	int ret;

	if (!strncmp(text, TCP_SCHEME, strlen(TCP_SCHEME))) {
		url.transport = SL_REDIS_TCP;
		p = text + strlen(TCP_SCHEME);
	} else if (!strncmp(text, UNIX_SCHEME, strlen(UNIX_SCHEME))) {
		url.transport = SL_REDIS_UNIX;
		p = text + strlen(UNIX_SCHEME);
	} else if (!strncmp(text, "rediss://", 9)) {
		return bad(&u, text, "TLS (rediss://) is not supported; reach Redis on loopback, a unix socket or through a TLS tunnel");
	} else {
		return bad(&u, text, "expected " EXAMPLE ", got \"%s\"", text);
	}

	/* Credentials end at the last "@" before the path: a raw "@" or "/"
	 * in a password must be escaped (%40, %2F). */
	slash = strchr(p, '/');
	at = p;
	for (const char *c = p; *c && (!slash || c < slash); c++)
		if (*c == '@')
			at = c;
	if (*at == '@') {
		ret = parse_userinfo(&u, p, at, &url);
		if (ret)
			return ret;
		p = at + 1;
	}
	ret = url.transport == SL_REDIS_TCP ? parse_tcp(&u, p, &url) :
					      parse_unix(&u, p, &url);
	if (ret)
		return ret;
	*out = url;
	return 0;
}

void redis_url_format(const struct sl_redis_url *url, char *buf, size_t len)
{
	char cred[SL_REDIS_CRED_LEN + 8] = "";
	bool v6 = strchr(url->host, ':');

	if (url->password[0])
		snprintf(cred, sizeof(cred), "%s:***@", url->user);
	if (url->transport == SL_REDIS_UNIX)
		snprintf(buf, len, UNIX_SCHEME "%s%s?db=%u", cred, url->path, url->db);
	else
		snprintf(buf, len, TCP_SCHEME "%s%s%s%s:%u/%u", cred, v6 ? "[" : "",
			 url->host, v6 ? "]" : "", url->port, url->db);
}
