/* fast_plugin.c: a native Octa plugin for the bench, in plain C (POSIX, Linux).
 *
 * It speaks dialect 0.2.1 like the official SDK's octa_plugin_shell (PROTOCOL.md §4, §7) and
 * keeps the SDK's timing-relevant quirks, so that the harness's own waiting shows when the
 * suite runs against a plugin that starts and answers in about a millisecond:
 *
 *  - usage: octa_plugin_fast --socket-path P [--log-dir D]; anything else is a usage error
 *    (exit status 2), like the SDK's clap parser; binding a path that exists fails (exit 1);
 *  - every connection has its own stages Hello -> Schema -> execute; a wrong command in a
 *    handshake stage gets a newline-terminated Error{protocol_error, "Expected Hello command"}
 *    (or Schema) and the stage advances anyway (so an early Shutdown gets that Error too); an
 *    unparsable line gets Error{parse_error} and advances as well;
 *  - in the execute stage, a parse error gets Error{parse_error} and the session goes on; a
 *    second Hello or Schema gets Error{protocol_error, "Unexpected ... command"} WITHOUT its
 *    newline; invalid UTF-8 ends the read loop (in a handshake stage: the connection is dropped);
 *  - Execute: Started{uuid v4} at once, then `sh -c PARAMS` in a process group of its own,
 *    params rewritten first ($VAR, ${VAR}, ${VAR:-default}, a leading ~; a small Tera subset
 *    with vars); stdout/stderr lines as Stdout/Stderr frames keeping their '\n'; ExitStatus
 *    once both pipes reached EOF and the shell was reaped (-1 if killed by a signal); a failed
 *    spawn (e.g. E2BIG past 128 KiB) becomes Error{id, "Command execution error: ..."};
 *    dry: ExitStatus 0 and nothing runs;
 *  - Shutdown (any connection) and SIGINT cancel everything: output not yet read is dropped,
 *    SIGTERM to each command's group, 100 ms, SIGKILL to the shell, ExitStatus{-1}; each
 *    connection then writes Shutdown{"Plugin shutting down"} and closes; the process removes
 *    its socket and exits 0 about 100 ms after the last connection ended;
 *  - EOF: stop reading, let the running commands finish (not cancelled), then try Shutdown;
 *  - SIGTERM is not handled (the process dies, command groups live on).
 *
 * What it simplifies: serde's error texts (shorter here), the Tera subset ({{ name }} with
 * dotted keys, literals, {# #}; any {% %} is refused), no log file for --log-dir.
 *
 * Build: cc -O2 -o octa_plugin_fast fast_plugin.c   (bench/fast_plugin.py does it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define VERSION "0.2.1"
#define KEY "shell"
#define KILL_DELAY 0.1 /* s between SIGTERM to the group and killing the shell */
#define EXIT_DELAY 0.1 /* s between the last connection ending and exiting */
#define DEPTH_LIMIT 128 /* serde_json's recursion limit */

/* --------------------------------------------------------------------- byte buffers */

typedef struct { char *p; size_t n, cap; } Buf;

static void buf_add(Buf *b, const void *d, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n + 1) c *= 2;
        if (!(b->p = realloc(b->p, c))) abort();
        b->cap = c;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void buf_str(Buf *b, const char *s) { buf_add(b, s, strlen(s)); }
static void buf_drop(Buf *b, size_t n) {
    memmove(b->p, b->p + n, b->n - n);
    b->n -= n;
}
static void buf_free(Buf *b) { free(b->p); memset(b, 0, sizeof *b); }

static void buf_json(Buf *b, const char *s, size_t n) { /* a JSON string, serde's escapes */
    size_t start = 0;
    buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char u[8];
        const char *e = NULL;
        if (c == '"') e = "\\\"";
        else if (c == '\\') e = "\\\\";
        else if (c == '\n') e = "\\n";
        else if (c == '\r') e = "\\r";
        else if (c == '\t') e = "\\t";
        else if (c == '\b') e = "\\b";
        else if (c == '\f') e = "\\f";
        else if (c < 0x20) { snprintf(u, sizeof u, "\\u%04x", c); e = u; }
        if (e) { buf_add(b, s + start, i - start); buf_str(b, e); start = i + 1; }
    }
    buf_add(b, s + start, n - start);
    buf_add(b, "\"", 1);
}

static int utf8_ok(const unsigned char *s, size_t n) { /* strict, like Rust's str */
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], cp, min;
        size_t k;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (n - i <= k) return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += k + 1;
    }
    return 1;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --------------------------------------------------------------------- JSON (one line) */

enum { JNULL, JBOOL, JNUM, JSTR, JARR, JOBJ };
typedef struct J {
    int t;
    char *s; /* string bytes (JSTR), number text (JNUM); JBOOL: n is 0 or 1 */
    size_t n;
    char *k; /* the member's key, inside an object */
    size_t kn;
    struct J *kid, *next;
} J;

typedef struct Blk { struct Blk *next; } Blk;
static Blk *arena; /* everything one parsed line needs; freed after the line */
static void *amalloc(size_t n) {
    Blk *b = malloc(sizeof(Blk) + n + 1);
    if (!b) abort();
    b->next = arena;
    arena = b;
    return b + 1;
}
static void afree(void) {
    while (arena) { Blk *n = arena->next; free(arena); arena = n; }
}

typedef struct { const char *p, *end; const char *err; int depth; } P;

static void ws(P *p) {
    while (p->p < p->end && (*p->p == ' ' || *p->p == '\t' || *p->p == '\n' || *p->p == '\r')) p->p++;
}
static J *jnew(int t) { J *j = amalloc(sizeof *j); memset(j, 0, sizeof *j); j->t = t; return j; }
static int hex4(P *p, unsigned *v) {
    *v = 0;
    if (p->end - p->p < 4) return 0;
    for (int i = 0; i < 4; i++) {
        char c = *p->p++;
        *v <<= 4;
        if (c >= '0' && c <= '9') *v |= c - '0';
        else if (c >= 'a' && c <= 'f') *v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') *v |= c - 'A' + 10;
        else return 0;
    }
    return 1;
}
static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = cp; return 1; }
    if (cp < 0x800) { o[0] = 0xC0 | cp >> 6; o[1] = 0x80 | (cp & 0x3F); return 2; }
    if (cp < 0x10000) {
        o[0] = 0xE0 | cp >> 12; o[1] = 0x80 | (cp >> 6 & 0x3F); o[2] = 0x80 | (cp & 0x3F);
        return 3;
    }
    o[0] = 0xF0 | cp >> 18; o[1] = 0x80 | (cp >> 12 & 0x3F);
    o[2] = 0x80 | (cp >> 6 & 0x3F); o[3] = 0x80 | (cp & 0x3F);
    return 4;
}

static int jstring(P *p, char **out, size_t *outn) { /* at the opening quote */
    const char *q = ++p->p;
    while (q < p->end && *q != '"') q += (*q == '\\' && q + 1 < p->end) ? 2 : 1;
    char *o = amalloc(q - p->p + 1);
    size_t n = 0;
    for (;;) {
        if (p->p >= p->end) { p->err = "EOF while parsing a string"; return 0; }
        unsigned char c = (unsigned char)*p->p++;
        if (c == '"') break;
        if (c < 0x20) { p->err = "control character (\\u0000-\\u001F) found while parsing a string"; return 0; }
        if (c != '\\') { o[n++] = c; continue; }
        if (p->p >= p->end) { p->err = "EOF while parsing a string"; return 0; }
        unsigned u, lo;
        switch (c = *p->p++) {
        case '"': case '\\': case '/': o[n++] = c; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u':
            if (!hex4(p, &u)) { p->err = "invalid escape"; return 0; }
            if (u >= 0xDC00 && u < 0xE000) { p->err = "lone trailing surrogate in hex escape"; return 0; }
            if (u >= 0xD800 && u < 0xDC00) {
                if (p->end - p->p < 6 || p->p[0] != '\\' || p->p[1] != 'u') {
                    p->err = "lone leading surrogate in hex escape"; return 0;
                }
                p->p += 2;
                if (!hex4(p, &lo) || lo < 0xDC00 || lo >= 0xE000) {
                    p->err = "lone leading surrogate in hex escape"; return 0;
                }
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            n += put_utf8(o + n, u);
            break;
        default: p->err = "invalid escape"; return 0;
        }
    }
    o[n] = 0;
    *out = o;
    *outn = n;
    return 1;
}

static J *jvalue(P *p);

static J *jcontainer(P *p, int t) {
    char close = t == JARR ? ']' : '}';
    J *j = jnew(t), **tail = &j->kid;
    if (++p->depth > DEPTH_LIMIT) { p->err = "recursion limit exceeded"; return NULL; }
    p->p++;
    ws(p);
    if (p->p < p->end && *p->p == close) { p->p++; p->depth--; return j; }
    for (;;) {
        char *k = NULL;
        size_t kn = 0;
        ws(p);
        if (t == JOBJ) {
            if (p->p >= p->end || *p->p != '"') { p->err = p->p >= p->end ? "EOF while parsing an object" : "key must be a string"; return NULL; }
            if (!jstring(p, &k, &kn)) return NULL;
            ws(p);
            if (p->p >= p->end || *p->p != ':') { p->err = "expected `:`"; return NULL; }
            p->p++;
        }
        J *v = jvalue(p);
        if (!v) return NULL;
        v->k = k;
        v->kn = kn;
        *tail = v;
        tail = &v->next;
        ws(p);
        if (p->p >= p->end) { p->err = t == JARR ? "EOF while parsing a list" : "EOF while parsing an object"; return NULL; }
        if (*p->p == ',') { p->p++; continue; }
        if (*p->p == close) { p->p++; p->depth--; return j; }
        p->err = t == JARR ? "expected `,` or `]`" : "expected `,` or `}`";
        return NULL;
    }
}

static J *jvalue(P *p) {
    ws(p);
    if (p->p >= p->end) { p->err = "EOF while parsing a value"; return NULL; }
    char c = *p->p;
    if (c == '{') return jcontainer(p, JOBJ);
    if (c == '[') return jcontainer(p, JARR);
    if (c == '"') {
        J *j = jnew(JSTR);
        return jstring(p, &j->s, &j->n) ? j : NULL;
    }
    static const char *words[] = {"null", "true", "false"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(words[i]);
        if ((size_t)(p->end - p->p) >= l && !memcmp(p->p, words[i], l)) {
            J *j = jnew(i == 0 ? JNULL : JBOOL);
            j->n = i == 1;
            p->p += l;
            return j;
        }
    }
    const char *s = p->p;
    if (*p->p == '-') p->p++;
    if (p->p < p->end && *p->p == '0') p->p++;
    else if (p->p < p->end && *p->p >= '1' && *p->p <= '9') while (p->p < p->end && *p->p >= '0' && *p->p <= '9') p->p++;
    else { p->err = "expected value"; return NULL; }
    if (p->p < p->end && *p->p == '.') {
        const char *d = ++p->p;
        while (p->p < p->end && *p->p >= '0' && *p->p <= '9') p->p++;
        if (p->p == d) { p->err = "invalid number"; return NULL; }
    }
    if (p->p < p->end && (*p->p == 'e' || *p->p == 'E')) {
        p->p++;
        if (p->p < p->end && (*p->p == '+' || *p->p == '-')) p->p++;
        const char *d = p->p;
        while (p->p < p->end && *p->p >= '0' && *p->p <= '9') p->p++;
        if (p->p == d) { p->err = "invalid number"; return NULL; }
    }
    J *j = jnew(JNUM);
    j->n = p->p - s;
    j->s = amalloc(j->n);
    memcpy(j->s, s, j->n);
    j->s[j->n] = 0;
    return j;
}

static J *jparse(const char *s, size_t n, const char **err) {
    P p = {s, s + n, NULL, 0};
    J *j = jvalue(&p);
    if (j) { ws(&p); if (p.p != p.end) { p.err = "trailing characters"; j = NULL; } }
    *err = p.err;
    return j;
}

static J *jget(J *obj, const char *key) {
    J *found = NULL;
    for (J *m = obj->kid; m; m = m->next)
        if (m->kn == strlen(key) && !memcmp(m->k, key, m->kn)) found = m;
    return found;
}

/* ------------------------------------------------------------- commands as the SDK reads them */

enum { C_HELLO, C_SCHEMA, C_EXECUTE, C_SHUTDOWN };
static const char *VARIANTS[] = {"Hello", "Schema", "Execute", "Shutdown"};
typedef struct { J *params, *args, *dir, *envs, *vars, *dry; } Exec;

static int all_kids(J *j, int t) {
    for (J *k = j->kid; k; k = k->next) if (k->t != t) return 0;
    return 1;
}

/* The command's kind, or -1 with *err set (serde's refusal, in short). */
static int decode(J *obj, Exec *ex, const char **err) {
    static char msg[160];
    if (obj->t != JOBJ) { *err = "invalid type, expected adjacently tagged enum OctaCommand"; return -1; }
    J *type = jget(obj, "type"), *payload = jget(obj, "payload");
    if (!type) { *err = "missing field `type`"; return -1; }
    int kind = -1;
    for (int i = 0; i < 4 && type->t == JSTR; i++)
        if (type->n == strlen(VARIANTS[i]) && !memcmp(type->s, VARIANTS[i], type->n)) kind = i;
    if (kind < 0) { *err = "unknown variant, expected one of `Hello`, `Schema`, `Execute`, `Shutdown`"; return -1; }
    if (kind == C_SCHEMA || kind == C_SHUTDOWN) {
        if (payload && payload->t != JNULL) { *err = "invalid type, expected unit"; return -1; }
        return kind;
    }
    if (!payload) { *err = "missing field `payload`"; return -1; }
    if (payload->t != JOBJ) { *err = "invalid type, expected struct variant"; return -1; }
    const char *names[] = {"version", "features", "params", "args", "dir", "envs", "vars", "dry"};
    int types[] = {JSTR, JARR, JSTR, JARR, JSTR, JOBJ, JOBJ, JBOOL};
    J *got[8];
    for (int i = kind == C_HELLO ? 0 : 2; i < (kind == C_HELLO ? 2 : 8); i++) {
        got[i] = jget(payload, names[i]);
        int bad = !got[i] || got[i]->t != types[i];
        if (!bad && (i == 1 || i == 3)) bad = !all_kids(got[i], JSTR);
        if (!bad && i == 5) bad = !all_kids(got[i], JSTR);
        if (bad) {
            snprintf(msg, sizeof msg, got[i] ? "invalid type for field `%s`" : "missing field `%s`", names[i]);
            *err = msg;
            return -1;
        }
    }
    if (kind == C_EXECUTE) *ex = (Exec){got[2], got[3], got[4], got[5], got[6], got[7]};
    return kind;
}

/* ------------------------------------------------------------- params rewriting */

static const char *env_lookup(J *envs, const char *name, size_t n) {
    for (J *m = envs->kid; m; m = m->next)
        if (m->kn == n && !memcmp(m->k, name, n)) return m->s;
    for (char **e = environ; *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

static void expand_vars(Buf *o, const char *s, J *envs) { /* shellexpand: $N, ${N}, ${N:-d} */
    while (*s) {
        const char *d = strchr(s, '$');
        if (!d) { buf_str(o, s); return; }
        buf_add(o, s, d - s);
        if (d[1] == '{') {
            const char *close = strchr(d + 2, '}');
            if (!close) { buf_str(o, d); return; }
            const char *dash = memmem(d + 2, close - d - 2, ":-", 2);
            const char *v = env_lookup(envs, d + 2, (dash ? dash : close) - d - 2);
            if (v) buf_str(o, v);
            else if (dash) buf_add(o, dash + 2, close - dash - 2);
            else buf_add(o, d, close + 1 - d);
            s = close + 1;
            continue;
        }
        const char *e = d + 1;
        while (*e && (*e == '_' || (*e >= '0' && *e <= '9') || ((*e | 32) >= 'a' && (*e | 32) <= 'z') || (unsigned char)*e >= 0x80)) e++;
        if (e == d + 1) { buf_add(o, "$", 1); s = d + 1; continue; }
        const char *v = env_lookup(envs, d + 1, e - d - 1);
        if (v) buf_str(o, v); else buf_add(o, d, e - d);
        s = e;
    }
}

static void lookup_var(J *vars, const char *expr, size_t n, Buf *o, int *ok) {
    J *v = vars;
    const char *s = expr, *end = expr + n;
    while (s < end && v) {
        const char *dot = memchr(s, '.', end - s);
        size_t l = (dot ? dot : end) - s;
        J *next = NULL;
        if (v->t == JOBJ) for (J *m = v->kid; m; m = m->next) if (m->kn == l && !memcmp(m->k, s, l)) next = m;
        v = next;
        s = dot ? dot + 1 : end;
    }
    if (!v || v->t == JARR || v->t == JOBJ) { *ok = v != NULL; if (v) buf_str(o, "[object]"); return; }
    if (v->t == JSTR || v->t == JNUM) buf_add(o, v->s, v->n);
    else if (v->t == JBOOL) buf_str(o, v->n ? "true" : "false");
}

/* A Tera subset: {{ literal | name.path }}, {# comments #}; {% %} is refused. 0 on error. */
static int render(Buf *o, const char *s, J *vars, const char **err) {
    for (;;) {
        const char *t = strchr(s, '{');
        while (t && t[1] != '{' && t[1] != '%' && t[1] != '#') t = strchr(t + 1, '{');
        if (!t) { buf_str(o, s); return 1; }
        buf_add(o, s, t - s);
        const char *closer = t[1] == '{' ? "}}" : t[1] == '%' ? "%}" : "#}";
        const char *end = strstr(t + 2, closer);
        if (!end || t[1] == '%') { *err = "Failed to parse template"; return 0; }
        s = end + 2;
        if (t[1] == '#') continue;
        const char *a = t + 2, *b = end;
        if (*a == '-') { a++; while (o->n && strchr(" \t\n\r", o->p[o->n - 1])) o->p[--o->n] = 0; }
        int trim = b > a && b[-1] == '-';
        if (trim) b--;
        while (a < b && strchr(" \t\n\r", *a)) a++;
        while (b > a && strchr(" \t\n\r", b[-1])) b--;
        int ok = 1;
        if (b - a >= 2 && (*a == '"' || *a == '\'' || *a == '`') && b[-1] == *a) buf_add(o, a + 1, b - a - 2);
        else if ((b - a == 4 && !memcmp(a, "true", 4)) || (b - a == 5 && !memcmp(a, "false", 5)) || (a < b && (*a == '-' || (*a >= '0' && *a <= '9')))) buf_add(o, a, b - a);
        else lookup_var(vars, a, b - a, o, &ok);
        if (!ok) { *err = "Failed to render template: Context { data: ... }"; return 0; }
        if (trim) while (*s && strchr(" \t\n\r", *s)) s++;
    }
}

/* ------------------------------------------------------------- connections and commands */

typedef struct Conn {
    struct Conn *next;
    int fd, stage, reading, dead, commands; /* stage 0 Hello, 1 Schema, 2 execute */
    Buf in, out;
} Conn;

typedef struct Cmd {
    struct Cmd *next;
    Conn *conn;
    char id[37];
    pid_t pid;
    int fd[2], reaped, status, cancelled;
    Buf line[2];
    double kill_at; /* when cancelled: SIGKILL to the shell at this time */
} Cmd;

static Conn *conns;
static Cmd *cmds;
static int cancelled, listener = -1, wake[2], urandom = -1;
static char *socket_path, sh_path[4096] = "/bin/sh";
static double exit_at;

static void flush(Conn *c) {
    while (c->out.n && !c->dead) {
        ssize_t w = write(c->fd, c->out.p, c->out.n);
        if (w > 0) { buf_drop(&c->out, w); continue; }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        c->dead = 1; /* the peer is gone: nothing more can be said */
        c->out.n = 0;
    }
}

static void frame(Conn *c, const char *type, Buf *payload, int newline) {
    if (c->dead) return;
    buf_str(&c->out, "{\"type\":\"");
    buf_str(&c->out, type);
    buf_str(&c->out, "\",\"payload\":{");
    buf_add(&c->out, payload->p, payload->n);
    buf_str(&c->out, newline ? "}}\n" : "}}");
    flush(c);
}

static void send_kv(Conn *c, const char *type, const char *k1, const char *v1, size_t n1,
                    const char *k2, const char *v2, size_t n2, int newline) {
    Buf p = {0};
    buf_str(&p, "\"");
    buf_str(&p, k1);
    buf_str(&p, "\":");
    buf_json(&p, v1, n1);
    if (k2) {
        buf_str(&p, ",\"");
        buf_str(&p, k2);
        buf_str(&p, "\":");
        buf_json(&p, v2, n2);
    }
    frame(c, type, &p, newline);
    buf_free(&p);
}

static void send_error(Conn *c, const char *id, const char *msg, int newline) {
    send_kv(c, "Error", "id", id, strlen(id), "message", msg, strlen(msg), newline);
}

static void send_exit(Conn *c, const char *id, int code) {
    Buf p = {0};
    char num[16];
    buf_str(&p, "\"id\":");
    buf_json(&p, id, strlen(id));
    snprintf(num, sizeof num, ",\"code\":%d", code);
    buf_str(&p, num);
    frame(c, "ExitStatus", &p, 1);
    buf_free(&p);
}

static void new_id(char *out) { /* a random UUID v4 */
    unsigned char r[16];
    if (urandom < 0 || read(urandom, r, 16) != 16)
        for (int i = 0; i < 16; i++) r[i] = rand();
    r[6] = (r[6] & 0x0F) | 0x40;
    r[8] = (r[8] & 0x3F) | 0x80;
    char *o = out;
    for (int i = 0; i < 16; i++) {
        o += sprintf(o, "%02x", r[i]);
        if (i == 3 || i == 5 || i == 7 || i == 9) *o++ = '-';
    }
    *o = 0;
}

static void os_error(char *out, size_t n, int err) {
    snprintf(out, n, "Command execution error: %s (os error %d)", strerror(err), err);
    if (err == E2BIG) snprintf(out, n, "Command execution error: Argument list too long (os error 7)");
}

/* Run `sh -c script` in a new process group; 0, or the errno of the failed spawn. */
static int spawn(Cmd *k, const char *script, const char *dir, J *envs) {
    int out[2], err[2], status[2];
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(status, O_CLOEXEC)) return errno;
    pid_t pid = fork();
    if (pid == 0) {
        int e;
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        dup2(out[1], 1);
        dup2(err[1], 2);
        size_t n = 0, i = 0;
        for (char **v = environ; *v; v++) n++;
        for (J *m = envs->kid; m; m = m->next) n++;
        char **envp = calloc(n + 1, sizeof *envp);
        for (char **v = environ; *v; v++) {
            size_t l = strcspn(*v, "=");
            int shadowed = 0;
            for (J *m = envs->kid; m; m = m->next) shadowed |= m->kn == l && !memcmp(m->k, *v, l);
            if (!shadowed) envp[i++] = *v;
        }
        for (J *m = envs->kid; m; m = m->next) {
            envp[i] = malloc(m->kn + m->n + 2);
            sprintf(envp[i++], "%s=%s", m->k, m->s);
        }
        char *argv[] = {"sh", "-c", (char *)script, NULL};
        if (chdir(dir) == 0) execve(sh_path, argv, envp);
        e = errno;
        (void)!write(status[1], &e, sizeof e);
        _exit(127);
    }
    int e = pid < 0 ? errno : 0;
    close(out[1]);
    close(err[1]);
    close(status[1]);
    if (pid > 0 && read(status[0], &e, sizeof e) == sizeof e) waitpid(pid, NULL, 0);
    else if (pid > 0) e = 0;
    close(status[0]);
    if (e) { close(out[0]); close(err[0]); return e; }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    k->pid = pid;
    k->fd[0] = out[0];
    k->fd[1] = err[0];
    return 0;
}

static int has_nul(J *s) { return s->t == JSTR && memchr(s->s, 0, s->n) != NULL; }

static void execute(Conn *c, Exec *ex) {
    char id[37], msg[600];
    new_id(id);
    send_kv(c, "Started", "id", id, strlen(id), NULL, NULL, 0, 1);
    Buf expanded = {0}, script = {0};
    const char *err = NULL;
    const char *home = getenv("HOME");
    const char *params = ex->params->s;
    if (home && params[0] == '~' && (params[1] == 0 || params[1] == '/')) { buf_str(&expanded, home); params++; }
    expand_vars(&expanded, params, ex->envs);
    buf_add(&script, "", 0);
    int ok = render(&script, expanded.p ? expanded.p : "", ex->vars, &err);
    int nul = has_nul(ex->params) || has_nul(ex->dir);
    for (J *m = ex->envs->kid; m; m = m->next) nul |= has_nul(m) || memchr(m->k, 0, m->kn) != NULL;
    if (!ok) {
        snprintf(msg, sizeof msg, "Command execution error: %s", err);
        send_error(c, id, msg, 1);
    } else if (ex->dry->n) {
        send_exit(c, id, 0);
    } else if (nul) {
        send_error(c, id, "Command execution error: nul byte found in provided data", 1);
    } else {
        Cmd *k = calloc(1, sizeof *k);
        int e = spawn(k, script.p, ex->dir->s, ex->envs);
        if (e) {
            os_error(msg, sizeof msg, e);
            send_error(c, id, msg, 1);
            free(k);
        } else {
            memcpy(k->id, id, sizeof id);
            k->conn = c;
            c->commands++;
            k->next = cmds;
            cmds = k;
        }
    }
    buf_free(&expanded);
    buf_free(&script);
}

/* ------------------------------------------------------------- the session */

static void cancel_all(void) { /* Shutdown or SIGINT: every command of every connection */
    if (cancelled) return;
    cancelled = 1;
    for (Conn *c = conns; c; c = c->next)
        if (c->stage == 2) c->reading = 0;
    for (Cmd *k = cmds; k; k = k->next) {
        for (int i = 0; i < 2; i++)
            if (k->fd[i] >= 0) { close(k->fd[i]); k->fd[i] = -1; buf_free(&k->line[i]); }
        if (!k->reaped) {
            kill(-k->pid, SIGTERM);
            k->cancelled = 1;
            k->kill_at = now() + KILL_DELAY;
        }
    }
}

static void handle_line(Conn *c, const char *s, size_t n) {
    char msg[400];
    const char *err = NULL;
    Exec ex;
    if (!utf8_ok((const unsigned char *)s, n)) {
        c->reading = 0; /* the read loop ends; in a handshake stage the connection is dropped */
        if (c->stage < 2) c->dead = 1;
        return;
    }
    J *j = jparse(s, n, &err);
    int kind = j ? decode(j, &ex, &err) : -1;
    if (kind < 0) {
        snprintf(msg, sizeof msg, "Invalid command format: %s", err);
        send_error(c, "parse_error", msg, 1);
        if (c->stage < 2) c->stage++;
    } else if (c->stage < 2) {
        int want = c->stage == 0 ? C_HELLO : C_SCHEMA;
        Buf p = {0};
        if (kind != want)
            send_error(c, "protocol_error", want == C_HELLO ? "Expected Hello command" : "Expected Schema command", 1);
        else if (want == C_HELLO) {
            buf_str(&p, "\"version\":\"" VERSION "\",\"features\":[]");
            frame(c, "Hello", &p, 1);
        } else {
            buf_str(&p, "\"key\":\"" KEY "\"");
            frame(c, "Schema", &p, 1);
        }
        buf_free(&p);
        c->stage++;
    } else if (kind == C_EXECUTE) {
        execute(c, &ex);
    } else if (kind == C_SHUTDOWN) {
        cancel_all();
    } else { /* the SDK forgets the newline after these two */
        send_error(c, "protocol_error", kind == C_HELLO ? "Unexpected Hello command" : "Unexpected Schema command", 0);
    }
    afree();
    if (c->stage == 2 && cancelled) c->reading = 0;
}

static void conn_read(Conn *c) {
    char chunk[65536];
    ssize_t r = read(c->fd, chunk, sizeof chunk);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r > 0) buf_add(&c->in, chunk, r);
    size_t start = 0;
    while (c->reading && c->in.n > start) {
        char *nl = memchr(c->in.p + start, '\n', c->in.n - start);
        if (!nl) break;
        size_t end = nl - c->in.p + 1;
        handle_line(c, c->in.p + start, end - start);
        start = end;
    }
    if (start) buf_drop(&c->in, start);
    if (r <= 0 && c->reading) { /* EOF: the rest is a last line, then the stages pass */
        if (c->in.n) handle_line(c, c->in.p, c->in.n);
        c->in.n = 0;
        c->reading = 0;
    }
}

static void forward(Cmd *k, int i) { /* one chunk of a command's stdout (0) or stderr (1) */
    char chunk[65536];
    ssize_t r = read(k->fd[i], chunk, sizeof chunk);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    Buf *b = &k->line[i];
    if (r > 0) buf_add(b, chunk, r);
    size_t start = 0;
    while (b->n > start) {
        char *nl = memchr(b->p + start, '\n', b->n - start);
        size_t end = nl ? (size_t)(nl - b->p) + 1 : r <= 0 ? b->n : start;
        if (end == start) break;
        if (!utf8_ok((unsigned char *)b->p + start, end - start)) { r = 0; b->n = start = 0; break; }
        send_kv(k->conn, i ? "Stderr" : "Stdout", "id", k->id, strlen(k->id), "line", b->p + start, end - start, 1);
        start = end;
    }
    if (start) buf_drop(b, start);
    if (r <= 0) { close(k->fd[i]); k->fd[i] = -1; buf_free(b); }
}

static void finish_commands(int child_event) {
    double t = now();
    for (Cmd **pk = &cmds; *pk;) {
        Cmd *k = *pk;
        int st;
        if (child_event && !k->reaped && waitpid(k->pid, &st, WNOHANG) == k->pid) {
            k->reaped = 1;
            k->status = st;
        }
        if (k->kill_at && t >= k->kill_at) {
            if (!k->reaped) kill(k->pid, SIGKILL); /* the shell only, like the SDK */
            k->kill_at = 0;
        }
        if (k->fd[0] < 0 && k->fd[1] < 0 && k->reaped && !k->kill_at) {
            int code = k->cancelled || !WIFEXITED(k->status) ? -1 : WEXITSTATUS(k->status);
            send_exit(k->conn, k->id, code);
            k->conn->commands--;
            *pk = k->next;
            free(k);
            continue;
        }
        pk = &k->next;
    }
}

static void finish_connections(void) {
    for (Conn **pc = &conns; *pc;) {
        Conn *c = *pc;
        if (!c->reading && !c->commands && c->stage >= 0) { /* then say goodbye, asked or not */
            Buf p = {0};
            buf_str(&p, "\"message\":\"Plugin shutting down\"");
            frame(c, "Shutdown", &p, 1);
            buf_free(&p);
            c->stage = -1;
        }
        if (c->stage < 0 && (c->dead || !c->out.n)) {
            close(c->fd);
            buf_free(&c->in);
            buf_free(&c->out);
            *pc = c->next;
            free(c);
            continue;
        }
        pc = &c->next;
    }
}

static void on_signal(int sig) {
    int e = errno;
    char b = sig == SIGINT ? 'I' : 'C';
    (void)!write(wake[1], &b, 1);
    errno = e;
}

static int usage(const char *prog, const char *fmt, const char *arg) {
    fprintf(stderr, "error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\nUsage: %s [OPTIONS] --socket-path <SOCKET_PATH>\n\nFor more information, try '--help'.\n", prog);
    return 2;
}

int main(int argc, char **argv) {
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    char *log_dir = NULL;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i], *v = NULL, **slot = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("Usage: %s [OPTIONS] --socket-path <SOCKET_PATH>\n", prog);
            return 0;
        }
        if (!strcmp(a, "-V") || !strcmp(a, "--version")) { printf("%s %s\n", prog, VERSION); return 0; }
        if (!strncmp(a, "--socket-path", 13) && (a[13] == 0 || a[13] == '=')) slot = &socket_path;
        else if (!strncmp(a, "--log-dir", 9) && (a[9] == 0 || a[9] == '=')) slot = &log_dir;
        else return usage(prog, "unexpected argument '%s' found", a);
        if (strchr(a, '=')) v = strchr(a, '=') + 1;
        else if (i + 1 < argc) v = argv[++i];
        else return usage(prog, "a value is required for '%s' but none was supplied", a);
        if (*slot) return usage(prog, "the argument '%s' cannot be used multiple times", a);
        *slot = v;
    }
    if (!socket_path)
        return usage(prog, "the following required arguments were not provided:\n  %s", "--socket-path <SOCKET_PATH>");

    const char *path = getenv("PATH");
    for (const char *d = path ? path : ""; *d;) {
        size_t l = strcspn(d, ":");
        char cand[4096];
        snprintf(cand, sizeof cand, "%.*s/sh", (int)l, d);
        if (l && !access(cand, X_OK)) { strcpy(sh_path, cand); break; }
        d += l + (d[l] == ':');
    }
    signal(SIGPIPE, SIG_IGN);
    if (pipe2(wake, O_CLOEXEC | O_NONBLOCK)) return 1;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGINT, &sa, NULL); /* SIGTERM keeps its default: the process dies */
    urandom = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    srand(getpid() ^ (unsigned)(now() * 1e6));

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof addr.sun_path) {
        fprintf(stderr, "Error: path must be shorter than SUN_LEN\n");
        return 1;
    }
    strcpy(addr.sun_path, socket_path);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 128)) {
        int e = errno;
        if (e == EADDRINUSE)
            fprintf(stderr, "Error: could not start %s plugin because the socket file is occupied.\n", KEY);
        fprintf(stderr, "Error: %s (os error %d)\n", strerror(e), e);
        return 1;
    }

    struct pollfd *fds = NULL;
    struct { Conn *conn; Cmd *cmd; int stream; } *tag = NULL; /* what each pollfd belongs to */
    size_t cap = 0;
    for (;;) {
        size_t n = 2, want = 2;
        for (Conn *c = conns; c; c = c->next) want++;
        for (Cmd *k = cmds; k; k = k->next) want += 2;
        if (want > cap) {
            cap = want * 2;
            if (!(fds = realloc(fds, cap * sizeof *fds)) || !(tag = realloc(tag, cap * sizeof *tag))) abort();
        }
        fds[0] = (struct pollfd){wake[0], POLLIN, 0};
        fds[1] = (struct pollfd){cancelled ? -1 : listener, POLLIN, 0};
        for (Conn *c = conns; c; c = c->next, n++) {
            short ev = (c->reading ? POLLIN : 0) | (c->out.n && !c->dead ? POLLOUT : 0);
            fds[n] = (struct pollfd){c->fd, ev, 0};
            tag[n].conn = c;
            tag[n].cmd = NULL;
        }
        for (Cmd *k = cmds; k; k = k->next)
            for (int i = 0; i < 2; i++, n++) {
                fds[n] = (struct pollfd){k->fd[i], POLLIN, 0};
                tag[n].conn = NULL;
                tag[n].cmd = k;
                tag[n].stream = i;
            }
        double next = exit_at;
        for (Cmd *k = cmds; k; k = k->next)
            if (k->kill_at && (!next || k->kill_at < next)) next = k->kill_at;
        int timeout = -1;
        if (next) { double d = next - now(); timeout = d <= 0 ? 0 : (int)(d * 1000) + 1; }
        if (poll(fds, n, timeout) < 0 && errno != EINTR) return 1;

        int child_event = 0;
        if (fds[0].revents) {
            char sig[64];
            ssize_t r;
            while ((r = read(wake[0], sig, sizeof sig)) > 0)
                for (ssize_t i = 0; i < r; i++) {
                    if (sig[i] == 'I') cancel_all();
                    else child_event = 1;
                }
        }
        /* nothing is freed before the finish_* calls below, so every tag stays valid */
        for (size_t j = 2; j < n; j++) {
            short rev = fds[j].revents;
            if (!rev || fds[j].fd < 0) continue;
            if (tag[j].conn) {
                Conn *c = tag[j].conn;
                if (rev & POLLOUT) flush(c);
                if (c->reading && rev & (POLLIN | POLLHUP | POLLERR)) conn_read(c);
            } else if (tag[j].cmd->fd[tag[j].stream] == fds[j].fd) { /* not closed meanwhile */
                forward(tag[j].cmd, tag[j].stream);
            }
        }
        if (fds[1].revents && !cancelled) {
            int fd;
            while ((fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
                Conn *c = calloc(1, sizeof *c);
                c->fd = fd;
                c->reading = 1;
                c->next = conns;
                conns = c;
            }
        }
        finish_commands(child_event);
        finish_connections();
        if (cancelled && !conns && !exit_at) exit_at = now() + EXIT_DELAY;
        if (exit_at && now() >= exit_at) {
            unlink(socket_path); /* the listener removes its file when dropped */
            return 0;
        }
    }
}
