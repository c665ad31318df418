/* registry.c — see registry.h. */
#include "collector/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ini.h"

#define DAY_US ((uint64_t)86400 * 1000000)

void registry_defaults(struct registry *r)
{
    memset(r, 0, sizeof(*r));
    r->initial_for = INITIAL_FOR_SERIOUS;
    r->final_deadline_us = 5 * DAY_US;
    r->due_soon_us = 1 * DAY_US;
    snprintf(r->confidentiality, sizeof(r->confidentiality), "%s",
             "Tài liệu hạn chế phát hành: chỉ gửi các cơ quan, đơn vị có trách nhiệm ứng cứu");
    snprintf(r->recipients, sizeof(r->recipients), "%s",
             "Cơ quan chủ quản hệ thống thông tin; Cơ quan điều phối quốc gia (VNCERT/CC); "
             "Đơn vị chuyên trách ứng cứu sự cố của tỉnh");
}

/* Where keys of the current section go. */
struct load {
    struct registry *r;
    struct registry_unit *unit;     /* [reporting] or [agency NAME] */
    struct registry_system *system; /* [system NAME] */
    bool in_reporting;
};

static int grow(void **v, size_t n, size_t size)
{
    void *p = realloc(*v, (n + 1) * size);
    if (!p)
        return -1;
    *v = p;
    memset((char *)p + n * size, 0, size);
    return 0;
}

static int on_section(void *user, const char *section, const struct cfg_at *at)
{
    struct load *l = user;
    struct registry *r = l->r;
    l->unit = NULL;
    l->system = NULL;
    l->in_reporting = false;
    if (strcmp(section, "reporting") == 0) {
        l->in_reporting = true;
        l->unit = &r->soc;
        r->soc.line = at->line;
        return 0;
    }
    if (strncmp(section, "agency ", 7) == 0 && section[7]) {
        const char *name = section + 7;
        for (size_t i = 0; i < r->n_agencies; i++)
            if (strcmp(r->agencies[i].name, name) == 0)
                return cfg_fail(at->err, at->file, at->line, "[agency %s] twice (first at line %d)",
                                name, r->agencies[i].line);
        if (grow((void **)&r->agencies, r->n_agencies, sizeof(*r->agencies)) < 0)
            return cfg_fail(at->err, at->file, at->line, "out of memory");
        l->unit = &r->agencies[r->n_agencies++];
        l->unit->line = at->line;
        return value_string(at, name, l->unit->name, sizeof(l->unit->name));
    }
    if (strncmp(section, "system ", 7) == 0 && section[7]) {
        if (grow((void **)&r->systems, r->n_systems, sizeof(*r->systems)) < 0)
            return cfg_fail(at->err, at->file, at->line, "out of memory");
        l->system = &r->systems[r->n_systems++];
        l->system->line = at->line;
        return value_string(at, section + 7, l->system->asset, sizeof(l->system->asset));
    }
    return cfg_fail(at->err, at->file, at->line,
                    "unknown section [%s] (expected [reporting], [agency NAME] or [system ASSET])",
                    section);
}

#define TEXT(dst) value_string(at, value, dst, sizeof(dst))

static int policy_key(struct registry *r, const char *key, const char *value,
                      const struct cfg_at *at)
{
    if (strcmp(key, "initial_for") == 0) {
        if (strcmp(value, "serious") == 0)
            r->initial_for = INITIAL_FOR_SERIOUS;
        else if (strcmp(value, "confirmed") == 0)
            r->initial_for = INITIAL_FOR_CONFIRMED;
        else
            return value_fail(at, "'%s' is not serious or confirmed", value);
        return 0;
    }
    if (strcmp(key, "final_deadline") == 0)
        return value_duration(at, value, 1, &r->final_deadline_us);
    if (strcmp(key, "due_soon") == 0)
        return value_duration(at, value, 1, &r->due_soon_us);
    if (strcmp(key, "confidentiality") == 0)
        return TEXT(r->confidentiality);
    if (strcmp(key, "recipients") == 0)
        return TEXT(r->recipients);
    return 1; /* not a policy key */
}

/* A text key of a section: where its value goes and how long it may be. */
struct text_key {
    const char *key;
    char *dst;
    size_t size;
};

/* key's value into its field of fields[0..n); 1 when key is none of them. */
static int text_key_set(const struct text_key *fields, size_t n, const char *key, const char *value,
                        const struct cfg_at *at)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, fields[i].key) == 0)
            return value_string(at, value, fields[i].dst, fields[i].size);
    return 1;
}

static int unit_key(struct registry_unit *u, const char *key, const char *value,
                    const struct cfg_at *at)
{
    const struct text_key fields[] = {
        {"unit", u->unit, sizeof(u->unit)},
        {"address", u->address, sizeof(u->address)},
        {"phone", u->phone, sizeof(u->phone)},
        {"email", u->email, sizeof(u->email)},
        {"contact_name", u->contact_name, sizeof(u->contact_name)},
        {"contact_title", u->contact_title, sizeof(u->contact_title)},
        {"contact_phone", u->contact_phone, sizeof(u->contact_phone)},
        {"contact_email", u->contact_email, sizeof(u->contact_email)},
        {"isp", u->isp, sizeof(u->isp)},
        {"security_provider", u->security_provider, sizeof(u->security_provider)},
    };
    return text_key_set(fields, sizeof(fields) / sizeof(fields[0]), key, value, at);
}

static int system_key(struct registry_system *s, const char *key, const char *value,
                      const struct cfg_at *at)
{
    const struct text_key fields[] = {
        {"agency", s->agency, sizeof(s->agency)},
        {"title", s->title, sizeof(s->title)},
        {"owner", s->owner, sizeof(s->owner)},
        {"addresses", s->addresses, sizeof(s->addresses)},
        {"domains", s->domains, sizeof(s->domains)},
        {"isp", s->isp, sizeof(s->isp)},
        {"security_provider", s->security_provider, sizeof(s->security_provider)},
    };
    return text_key_set(fields, sizeof(fields) / sizeof(fields[0]), key, value, at);
}

static int on_key(void *user, const char *section, const char *value, const struct cfg_at *at)
{
    struct load *l = user;
    int rc = 1;
    if (l->in_reporting)
        rc = policy_key(l->r, at->key, value, at);
    if (rc > 0 && l->unit)
        rc = unit_key(l->unit, at->key, value, at);
    if (rc > 0 && l->system)
        rc = system_key(l->system, at->key, value, at);
    if (rc > 0) {
        const char *expected =
            l->system ? "agency, title, owner, addresses, domains, isp, security_provider"
            : l->in_reporting
                ? "initial_for, final_deadline, due_soon, confidentiality, recipients, unit, "
                  "address, phone, email, contact_name, contact_title, contact_phone, "
                  "contact_email, isp, security_provider"
                : "unit, address, phone, email, contact_name, contact_title, contact_phone, "
                  "contact_email, isp, security_provider";
        return cfg_fail(at->err, at->file, at->line, "unknown key '%s' in [%s] (expected %s)",
                        at->key, section, expected);
    }
    return rc;
}

int registry_load(const char *path, struct registry *r, struct cfg_err *err)
{
    static const struct ini_format format = {on_section, on_key};
    registry_defaults(r);
    if (!path || !*path)
        return 0;
    struct load l = {.r = r};
    if (ini_load(path, &format, &l, NULL, err) < 0) {
        registry_free(r);
        return -1;
    }
    return 0;
}

void registry_free(struct registry *r)
{
    free(r->agencies);
    free(r->systems);
    r->agencies = NULL;
    r->systems = NULL;
    r->n_agencies = r->n_systems = 0;
}

const struct registry_unit *registry_unit_for(const struct registry *r, const char *agency)
{
    for (size_t i = 0; agency && i < r->n_agencies; i++)
        if (strcmp(r->agencies[i].name, agency) == 0)
            return &r->agencies[i];
    return &r->soc;
}

const struct registry_system *registry_system_for(const struct registry *r, const char *agency,
                                                  const char *asset)
{
    const struct registry_system *any = NULL;
    for (size_t i = 0; asset && *asset && i < r->n_systems; i++) {
        const struct registry_system *s = &r->systems[i];
        if (strcmp(s->asset, asset) != 0)
            continue;
        if (s->agency[0] && agency && strcmp(s->agency, agency) == 0)
            return s;
        if (!s->agency[0] && !any)
            any = s;
    }
    return any;
}
