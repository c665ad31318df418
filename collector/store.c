/* store.c — see store.h. */
#include "collector/store.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/pool.h"
#include "common/redis/resp.h"
#include "common/text.h"

/* KEYS: every key the write touches (store_apply_argv collects them).
 * ARGV[1] is a header of 16-bit big-endian numbers, turned into a table of
 * numbers by string.byte once (no Lua string per number): the seen key's index (0: none), the ack
 * stream's index (0: none), the number of guards, each guard's key index,
 * then per command its opcode (1 byte: STORE_OPS, 0 = the name is the next
 * argument; + 128 = the same arguments as the command before, which are
 * not sent again), nargs and key index.  ARGV[2]: seen TTL, ARGV[3]: ack
 * id, then (field, expected) per guard, then each command's other
 * arguments.  The repeat is for an announcement: the same entry, with its
 * ~1 KiB incident text, goes to canh:incidents and to each agency's
 * stream.
 * Measured (docs/performance.md): every argument costs Redis about a
 * thousand instructions to parse, hand to Lua and free, so the numbers
 * that only steer the script are not arguments of their own. */
#define STORE_OPS_LUA                                                                              \
    "{'HSET', 'ZADD', 'XADD', 'DEL', 'HDEL', 'EXPIRE', 'HINCRBY', 'ZREM', 'HDELEQ'}"
static const char *const store_ops_names[] = {"HSET",   "ZADD",    "XADD", "DEL",   "HDEL",
                                              "EXPIRE", "HINCRBY", "ZREM", "HDELEQ"};

const char store_apply_lua[] =
    "local H, b = ARGV[1], {}\n"
    "for p = 1, #H, 4000 do\n"
    "  local t = {string.byte(H, p, p + 3999)}\n"
    "  if p == 1 then b = t else for k = 1, #t do b[p + k - 1] = t[k] end end\n"
    "end\n"
    "local sk, ak = b[1] * 256 + b[2], b[3] * 256 + b[4]\n"
    "if sk > 0 and redis.call('EXISTS', KEYS[sk]) == 1 then\n"
    "  if ak > 0 then redis.call('XACK', KEYS[ak], 'canh-collectors', ARGV[3]) end\n"
    "  return 'DUP'\n"
    "end\n"
    "local h, a = 7, 4\n"
    "for g = 1, b[5] * 256 + b[6] do\n"
    "  local v = redis.call('HGET', KEYS[b[h] * 256 + b[h + 1]], ARGV[a]) or ''\n"
    "  if v ~= ARGV[a + 1] then return 'CONFLICT' end\n"
    "  h, a = h + 2, a + 2\n"
    "end\n"
    "local OPS, p = " STORE_OPS_LUA ", a\n"
    "while h < #b do\n"
    "  local c, n, key = b[h], b[h + 1] * 256 + b[h + 2], KEYS[b[h + 3] * 256 + b[h + 4]]\n"
    "  h = h + 5\n"
    "  local rep, s = c >= 128, a\n"
    "  if rep then c, s = c - 128, p else p = a end\n"
    "  local op = OPS[c]\n"
    "  if not op then op = ARGV[s] s = s + 1 end\n"
    "  if op == 'HDELEQ' then\n"
    "    if redis.call('HGET', key, ARGV[s]) == ARGV[s + 1] then redis.call('HDEL', key, ARGV[s]) "
    "end\n"
    "  else\n"
    "    redis.call(op, key, unpack(ARGV, s, s + n - 2))\n"
    "  end\n"
    "  if not rep then a = s + n - 1 end\n"
    "end\n"
    "if sk > 0 then redis.call('SET', KEYS[sk], '1', 'EX', ARGV[2]) end\n"
    "if ak > 0 then redis.call('XACK', KEYS[ak], 'canh-collectors', ARGV[3]) end\n"
    "return 'OK'\n";

const char store_load_lua[] =
    "local k, seen, src = 1, 0, {}\n"
    "if ARGV[1] == '1' then seen = redis.call('EXISTS', KEYS[k]) k = k + 1 end\n"
    "if ARGV[2] == '1' then src = redis.call('HGETALL', KEYS[k]) k = k + 1 end\n"
    "local out = {seen, src}\n"
    "local n = tonumber(ARGV[3])\n"
    "for i = 1, n do\n"
    "  local id = ARGV[3 + i]\n"
    "  if id ~= '' then\n"
    "    out[#out+1] = {id, redis.call('HGETALL', KEYS[k])}\n"
    "    k = k + 1\n"
    "  else\n"
    "    out[#out+1] = {'', {}}\n"
    "  end\n"
    "end\n"
    "if ARGV[4 + n] == '1' then out[#out+1] = redis.call('HGET', KEYS[k], ARGV[5 + n]) or '' end\n"
    "return out\n";

/* ARGV: now_ms, lease_ms, max, n, (sink, rate_per_s, burst) × n.  A job is
 * leased (its score moved to now + lease) before it is handed out, so a
 * collector that dies while delivering only delays it; a sink's token
 * bucket (canh:ratelimit:<sink>) is shared by every collector.  Jobs of a
 * sink this collector does not have wait a minute for one that does. */
const char store_claim_lua[] =
    "local now, lease, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local rates = {}\n"
    "for s = 0, tonumber(ARGV[4]) - 1 do\n"
    "  rates[ARGV[5+s*3]] = {tonumber(ARGV[6+s*3]), tonumber(ARGV[7+s*3])}\n"
    "end\n"
    "local ids = redis.call('ZRANGEBYSCORE', 'canh:escalations', '-inf', now, 'LIMIT', 0, max)\n"
    "local out = {}\n"
    "for _, id in ipairs(ids) do\n"
    "  local job = redis.call('HGETALL', 'canh:escalation:' .. id)\n"
    "  if #job == 0 then\n"
    "    redis.call('ZREM', 'canh:escalations', id)\n"
    "  else\n"
    "    local h = {}\n"
    "    for k = 1, #job, 2 do h[job[k]] = job[k+1] end\n"
    "    local r = rates[h.sink]\n"
    "    local ok = r ~= nil\n"
    "    if not ok then redis.call('ZADD', 'canh:escalations', now + 60000, id) end\n"
    "    if ok and r[1] > 0 then\n"
    "      local key = 'canh:ratelimit:' .. h.sink\n"
    "      local b = redis.call('HMGET', key, 'tokens', 'ts')\n"
    "      local tokens, ts = tonumber(b[1]) or r[2], tonumber(b[2]) or now\n"
    "      tokens = math.min(r[2], tokens + math.max(0, now - ts) / 1000 * r[1])\n"
    "      if tokens < 1 then\n"
    "        ok = false\n"
    "        redis.call('ZADD', 'canh:escalations',\n"
    "                   now + math.ceil((1 - tokens) / r[1] * 1000), id)\n"
    "        redis.call('HINCRBY', 'canh:escalation:' .. id, 'deferred', 1)\n"
    "      else\n"
    "        tokens = tokens - 1\n"
    "      end\n"
    "      redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))\n"
    "    end\n"
    "    if ok then\n"
    "      redis.call('ZADD', 'canh:escalations', now + lease, id)\n"
    "      redis.call('HINCRBY', 'canh:escalation:' .. id, 'attempts', 1)\n"
    "      out[#out+1] = {id, redis.call('HGETALL', 'canh:escalation:' .. id),\n"
    "                     redis.call('HGETALL', 'canh:incident:' .. h.incident)}\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

struct strvec_chunk {
    struct strvec_chunk *next;
    size_t used, size;
    char bytes[];
};

#define STRVEC_CHUNK 4096

/* What freed vectors leave for the next ones, per thread: a write makes
 * about twenty vectors (guards, commands, KEYS, ARGV, an incident's fields
 * before and after), and their mallocs, reallocs and frees were a sixth of
 * the collector's instructions an event (docs/performance.md).  Chunks of
 * the standard size go on a pool (pool.h); the pointer and length arrays
 * are kept in pairs with their capacity, so a vector starts as big as the
 * one before it grew. */
#define STRVEC_SPARE_ARRAYS 32
static _Thread_local struct pool chunk_pool =
    POOL_INIT(sizeof(struct strvec_chunk) + STRVEC_CHUNK, 64);
static _Thread_local struct {
    struct {
        char **v;
        size_t *len;
        size_t cap;
    } arrays[STRVEC_SPARE_ARRAYS];
    size_t n;
} spare;

/* len + 1 bytes in sv's newest chunk, or a new one. */
static char *strvec_alloc(struct strvec *sv, size_t len)
{
    struct strvec_chunk *c = sv->chunks;
    if (!c || c->size - c->used < len + 1) {
        size_t size = len + 1 > STRVEC_CHUNK ? len + 1 : STRVEC_CHUNK;
        c = size == STRVEC_CHUNK ? pool_get(&chunk_pool) : malloc(sizeof(*c) + size);
        if (!c)
            return NULL;
        c->next = sv->chunks;
        c->used = 0;
        c->size = size;
        sv->chunks = c;
    }
    char *p = c->bytes + c->used;
    c->used += len + 1;
    return p;
}

static int strvec_push(struct strvec *sv, const char *s, size_t len)
{
    if (sv->n == sv->cap && !sv->cap && spare.n) {
        spare.n--;
        sv->v = spare.arrays[spare.n].v;
        sv->len = spare.arrays[spare.n].len;
        sv->cap = spare.arrays[spare.n].cap;
    }
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 32;
        char **v = realloc(sv->v, cap * sizeof(*v));
        if (!v)
            return -1;
        sv->v = v;
        size_t *l = realloc(sv->len, cap * sizeof(*l));
        if (!l)
            return -1;
        sv->len = l;
        sv->cap = cap;
    }
    char *copy = strvec_alloc(sv, len);
    if (!copy)
        return -1;
    memcpy(copy, s, len);
    copy[len] = '\0';
    sv->v[sv->n] = copy;
    sv->len[sv->n++] = len;
    return 0;
}

static void strvec_free(struct strvec *sv)
{
    while (sv->chunks) {
        struct strvec_chunk *next = sv->chunks->next;
        if (sv->chunks->size == STRVEC_CHUNK)
            pool_put(&chunk_pool, sv->chunks);
        else
            free(sv->chunks);
        sv->chunks = next;
    }
    if (sv->cap && spare.n < STRVEC_SPARE_ARRAYS) {
        spare.arrays[spare.n].v = sv->v;
        spare.arrays[spare.n].len = sv->len;
        spare.arrays[spare.n].cap = sv->cap;
        spare.n++;
    } else {
        free(sv->v);
        free(sv->len);
    }
    memset(sv, 0, sizeof(*sv));
}

int strvec_push_str(struct strvec *sv, const char *s)
{
    return strvec_push(sv, s, strlen(s));
}

void strvec_clear(struct strvec *sv)
{
    strvec_free(sv);
}

void store_ops_init(struct store_ops *o)
{
    memset(o, 0, sizeof(*o));
}

void store_ops_free(struct store_ops *o)
{
    strvec_free(&o->guards);
    strvec_free(&o->ops);
    strvec_free(&o->keys);
    strvec_free(&o->args);
    memset(o, 0, sizeof(*o));
}

static void strvec_move(struct strvec *dst, struct strvec *src, int *oom)
{
    for (size_t i = 0; i < src->n; i++)
        *oom |= strvec_push(dst, src->v[i], src->len[i]);
    strvec_free(src);
}

void store_ops_append(struct store_ops *o, struct store_ops *src)
{
    o->oom |= src->oom;
    strvec_move(&o->guards, &src->guards, &o->oom);
    strvec_move(&o->ops, &src->ops, &o->oom);
}

void store_seen(struct store_ops *o, const char *key, uint64_t ttl_s)
{
    snprintf(o->seen_key, sizeof(o->seen_key), "%s", key);
    o->seen_ttl_s = ttl_s ? ttl_s : 1;
}

void store_ack(struct store_ops *o, const char *stream, const char *id)
{
    snprintf(o->ack_stream, sizeof(o->ack_stream), "%s", stream);
    snprintf(o->ack_id, sizeof(o->ack_id), "%s", id);
}

void store_guard(struct store_ops *o, const char *key, const char *field, const char *expected)
{
    o->oom |= strvec_push(&o->guards, key, strlen(key));
    o->oom |= strvec_push(&o->guards, field, strlen(field));
    o->oom |= strvec_push(&o->guards, expected, strlen(expected));
}

void store_begin(struct store_ops *o, const char *op)
{
    o->oom |= strvec_push(&o->ops, op, strlen(op));
    o->op_nargs_at = o->ops.n;
    o->oom |= strvec_push(&o->ops, "0", 1);
}

void store_arg(struct store_ops *o, const char *s)
{
    o->oom |= strvec_push(&o->ops, s, strlen(s));
}

void store_argf(struct store_ops *o, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        o->oom = -1;
        return;
    }
    store_arg(o, buf);
}

void store_end(struct store_ops *o)
{
    if (o->oom || o->op_nargs_at >= o->ops.n)
        return;
    char buf[24];
    int n = (int)text_append_u64(buf, sizeof(buf), 0, o->ops.n - o->op_nargs_at - 1, 1);
    char *copy = strvec_alloc(&o->ops, (size_t)n);
    if (!copy) {
        o->oom = -1;
        return;
    }
    memcpy(copy, buf, (size_t)n + 1);
    o->ops.v[o->op_nargs_at] = copy;
    o->ops.len[o->op_nargs_at] = (size_t)n;
}

void store_cmd(struct store_ops *o, const char *op, ...)
{
    store_begin(o, op);
    va_list ap;
    va_start(ap, op);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
        store_arg(o, s);
    va_end(ap);
    store_end(o);
}

/* The index (1-based) of key in o->keys, added when new. */
static size_t key_index(struct store_ops *o, const char *key, size_t len)
{
    for (size_t k = 0; k < o->keys.n; k++)
        if (o->keys.len[k] == len && memcmp(o->keys.v[k], key, len) == 0)
            return k + 1;
    o->oom |= strvec_push(&o->keys, key, len);
    return o->keys.n;
}

/* Appends a 16-bit big-endian number to the header (store_apply_lua). */
static void put_u16(char *hdr, size_t *used, size_t cap, size_t value, int *oom)
{
    if (*used + 2 > cap || value > 0xffff) {
        *oom = -1;
        return;
    }
    hdr[(*used)++] = (char)(value >> 8);
    hdr[(*used)++] = (char)(value & 0xff);
}

static unsigned op_code(const char *op, size_t len)
{
    for (unsigned i = 0; i < sizeof(store_ops_names) / sizeof(store_ops_names[0]); i++)
        if (strlen(store_ops_names[i]) == len && memcmp(store_ops_names[i], op, len) == 0)
            return i + 1;
    return 0;
}

static bool same_string(const struct strvec *v, size_t i, size_t j)
{
    return v->len[i] == v->len[j] && memcmp(v->v[i], v->v[j], v->len[i]) == 0;
}

/* Whether the command at k (nargs arguments) is the one at prev with
 * another key: the same name and the same other arguments. */
static bool same_but_key(const struct strvec *ops, size_t prev, size_t k, size_t nargs)
{
    if (!same_string(ops, prev, k) || !same_string(ops, prev + 1, k + 1))
        return false;
    for (size_t x = 1; x < nargs; x++)
        if (!same_string(ops, prev + 2 + x, k + 2 + x))
            return false;
    return true;
}

int store_apply_argv(struct store_ops *o, const char ***argv_out, size_t **lens_out,
                     size_t *argc_out)
{
    if (o->oom)
        return -1;
    /* The key of every guard and command moves to KEYS; the header names
     * it by its index. */
    strvec_free(&o->keys);
    strvec_free(&o->args);
    struct strvec *a = &o->args;
    size_t n_cmds = 0;
    for (size_t k = 0; k + 2 < o->ops.n; n_cmds++) {
        size_t nargs = strtoul(o->ops.v[k + 1], NULL, 10);
        if (nargs == 0 || k + 2 + nargs > o->ops.n)
            return -1;
        k += 2 + nargs;
    }
    size_t cap = 6 + 2 * (o->guards.n / 3) + 5 * n_cmds, used = 0;
    char *hdr = malloc(cap);
    if (!hdr)
        return -1;
    char num[24];
    int n;
#define PUSH(s, l) (o->oom |= strvec_push(a, (s), (l)))
    PUSH("", 0); /* the header, filled below */
    n = (int)text_append_u64(num, sizeof(num), 0, o->seen_ttl_s, 1);
    PUSH(num, (size_t)n);
    PUSH(o->ack_id, strlen(o->ack_id));
    put_u16(hdr, &used, cap, o->seen_key[0] ? key_index(o, o->seen_key, strlen(o->seen_key)) : 0,
            &o->oom);
    put_u16(hdr, &used, cap,
            o->ack_stream[0] ? key_index(o, o->ack_stream, strlen(o->ack_stream)) : 0, &o->oom);
    put_u16(hdr, &used, cap, o->guards.n / 3, &o->oom);
    for (size_t g = 0; g + 2 < o->guards.n; g += 3) {
        put_u16(hdr, &used, cap, key_index(o, o->guards.v[g], o->guards.len[g]), &o->oom);
        PUSH(o->guards.v[g + 1], o->guards.len[g + 1]);
        PUSH(o->guards.v[g + 2], o->guards.len[g + 2]);
    }
    for (size_t k = 0, prev = SIZE_MAX; k + 2 < o->ops.n;) {
        size_t nargs = strtoul(o->ops.v[k + 1], NULL, 10);
        unsigned code = op_code(o->ops.v[k], o->ops.len[k]);
        bool repeat = prev != SIZE_MAX && same_but_key(&o->ops, prev, k, nargs);
        hdr[used++] = (char)(code | (repeat ? 128 : 0));
        put_u16(hdr, &used, cap, nargs, &o->oom);
        put_u16(hdr, &used, cap, key_index(o, o->ops.v[k + 2], o->ops.len[k + 2]), &o->oom);
        if (!repeat) {
            if (!code)
                PUSH(o->ops.v[k], o->ops.len[k]);
            for (size_t x = 1; x < nargs; x++)
                PUSH(o->ops.v[k + 2 + x], o->ops.len[k + 2 + x]);
        }
        prev = k;
        k += 2 + nargs;
    }
#undef PUSH
    if (!o->oom && a->n) {
        /* the header's slot: a copy in a's own chunks */
        char *copy = strvec_alloc(a, used);
        if (copy) {
            memcpy(copy, hdr, used);
            a->v[0] = copy;
            a->len[0] = used;
        } else {
            o->oom = -1;
        }
    }
    free(hdr);
    if (o->oom)
        return -1;
    size_t argc = 3 + o->keys.n + a->n;
    const char **argv = malloc(argc * sizeof(*argv));
    size_t *lens = malloc(argc * sizeof(*lens));
    if (!argv || !lens) {
        free(argv);
        free(lens);
        return -1;
    }
    n = (int)text_append_u64(o->nkeys_text, sizeof(o->nkeys_text), 0, o->keys.n, 1);
    size_t i = 0;
    argv[i] = "EVAL";
    lens[i++] = 4;
    argv[i] = store_apply_lua;
    lens[i++] = strlen(store_apply_lua);
    argv[i] = o->nkeys_text;
    lens[i++] = (size_t)n;
    for (size_t k = 0; k < o->keys.n; k++, i++) {
        argv[i] = o->keys.v[k];
        lens[i] = o->keys.len[k];
    }
    for (size_t k = 0; k < a->n; k++, i++) {
        argv[i] = a->v[k];
        lens[i] = a->len[k];
    }
    *argv_out = argv;
    *lens_out = lens;
    *argc_out = argc;
    return 0;
}

/* ---- scripts registered once --------------------------------------- */

struct store_script store_apply_script = STORE_SCRIPT(store_apply_lua);
struct store_script store_load_script = STORE_SCRIPT(store_load_lua);

static void script_sha(struct store_script *s)
{
    if (s->sha[0])
        return;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(s->body, strlen(s->body), md, &len, EVP_sha1(), NULL) || len != 20)
        return; /* stays "": EVAL every time */
    for (unsigned i = 0; i < len; i++)
        snprintf(s->sha + 2 * i, 3, "%02x", md[i]);
}

/* ---- the call in RESP --------------------------------------------------
 * The collector writes a call's RESP itself (common/redis/resp.h): hiredis
 * formats each argument with sdscatfmt, which showed as ~12 % of the
 * collector's instructions for writes of ~150 arguments
 * (docs/performance.md). */

/* "*<argc>" and the two first arguments (EVALSHA sha or EVAL body) before
 * the rest (tail, tail_len bytes of RESP); a malloc'd buffer or NULL. */
static char *format_call(const char *cmd, const char *script, size_t argc, const char *tail,
                         size_t tail_len, size_t *len)
{
    size_t size = resp_count_size(argc) + resp_bulk_size(strlen(cmd)) +
                  resp_bulk_size(strlen(script)) + tail_len;
    char *buf = malloc(size);
    if (!buf)
        return NULL;
    char *p = resp_put_count(buf, argc);
    p = resp_put_bulk(p, cmd, strlen(cmd));
    p = resp_put_bulk(p, script, strlen(script));
    memcpy(p, tail, tail_len);
    *len = size;
    return buf;
}

/* A call sent by SHA, kept until its answer in case Redis has to be given
 * the body (NOSCRIPT). */
struct eval_call {
    struct redis_link *link;
    unsigned conn;
    struct store_script *script;
    redis_link_reply_fn fn;
    void *priv;
    size_t argc; /* EVAL, body, numkeys, ... */
    char *tail;  /* RESP of numkeys, keys, args */
    size_t tail_len;
};

static void eval_call_free(struct eval_call *ec)
{
    free(ec->tail);
    free(ec);
}

static int send_call(struct redis_link *l, unsigned conn, const char *cmd, const char *script,
                     size_t argc, const char *tail, size_t tail_len, redis_link_reply_fn fn,
                     void *priv)
{
    size_t len;
    char *buf = format_call(cmd, script, argc, tail, tail_len, &len);
    if (!buf)
        return -1;
    int rc = redis_link_formatted(l, conn, fn, priv, buf, len);
    free(buf);
    return rc;
}

static void on_evalsha(redisReply *reply, void *priv)
{
    struct eval_call *ec = priv;
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        if (send_call(ec->link, ec->conn, "EVAL", ec->script->body, ec->argc, ec->tail,
                      ec->tail_len, ec->fn, ec->priv) < 0)
            ec->fn(NULL, ec->priv);
        eval_call_free(ec);
        return;
    }
    ec->fn(reply, ec->priv);
    eval_call_free(ec);
}

int store_eval(struct redis_link *l, unsigned conn, struct store_script *s, redis_link_reply_fn fn,
               void *priv, int argc, const char **argv, const size_t *lens)
{
    script_sha(s);
    size_t tail_len = 0;
    for (int i = 0; i < argc; i++)
        tail_len += resp_bulk_size(lens[i]);
    struct eval_call *ec = calloc(1, sizeof(*ec));
    if (!ec || !(ec->tail = malloc(tail_len ? tail_len : 1))) {
        free(ec);
        return -1;
    }
    *ec = (struct eval_call){.link = l,
                             .conn = conn,
                             .script = s,
                             .fn = fn,
                             .priv = priv,
                             .argc = (size_t)argc + 2,
                             .tail = ec->tail,
                             .tail_len = tail_len};
    char *p = ec->tail;
    for (int i = 0; i < argc; i++)
        p = resp_put_bulk(p, argv[i], lens[i]);
    bool by_sha = s->sha[0] != '\0';
    int rc =
        send_call(l, conn, by_sha ? "EVALSHA" : "EVAL", by_sha ? s->sha : s->body, ec->argc,
                  ec->tail, ec->tail_len, by_sha ? on_evalsha : fn, by_sha ? (void *)ec : priv);
    if (!by_sha || rc < 0)
        eval_call_free(ec);
    return rc;
}

enum store_result store_result_parse(const char *text, size_t len)
{
    if (len == 2 && memcmp(text, "OK", 2) == 0)
        return STORE_OK;
    if (len == 3 && memcmp(text, "DUP", 3) == 0)
        return STORE_DUP;
    if (len == 8 && memcmp(text, "CONFLICT", 8) == 0)
        return STORE_CONFLICT;
    return STORE_ERROR;
}
