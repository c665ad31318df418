/* resp.h — Redis's wire protocol (RESP) written by hand, for commands a
 * program sends so often that hiredis's formatting of each argument shows
 * in its profile (the agent's XADD, the collector's script calls). The
 * result goes to redis_link_formatted.
 *
 * A command is "*<argc>\r\n" followed by one bulk string per argument,
 * "$<len>\r\n<bytes>\r\n". The writers return the end of what they wrote;
 * the caller sizes the buffer first with the _size functions.
 */
#ifndef CANH_REDIS_RESP_H
#define CANH_REDIS_RESP_H

#include <stddef.h>

/* Bytes of "*<argc>\r\n". */
size_t resp_count_size(size_t argc);
/* Bytes of a bulk string of len bytes. */
size_t resp_bulk_size(size_t len);
char *resp_put_count(char *p, size_t argc);
char *resp_put_bulk(char *p, const char *s, size_t len);

#endif
