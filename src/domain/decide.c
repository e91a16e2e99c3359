/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decide.c — the decision (see decide.h and docs/DECISIONS.md).
 */
#include "core/common.h"

#include "domain/decide.h"

#define NEXT_ROUNDS_MAX 32 /* windows, quiet hours and caps agreeing on a time */

static const char *const status_names[CPM_STATUS__COUNT] = {
    [CPM_STATUS_NONE] = "",
    [CPM_STATUS_GIVEN] = "given",
    [CPM_STATUS_REFUSED] = "refused",
    [CPM_STATUS_WITHDRAWN] = "withdrawn",
    [CPM_STATUS_EXPIRED] = "expired",
    [CPM_STATUS_RECONSENT_REQUIRED] = "reconsent_required",
    [CPM_STATUS_OBJECTED] = "objected",
};

static const char *const age_names[] = {"unknown", "adult", "minor_14_17", "child_under_14"};

const char *const cpm__channel_names[CPM_CHANNEL__COUNT + 1] = {
#define CPM_CHANNEL_NAME(name, text) text,
    CPM_CHANNELS(CPM_CHANNEL_NAME)
#undef CPM_CHANNEL_NAME
        NULL,
};

static const char *const reason_codes[] = {
#define CPM_REASON_CODE(name, text) text,
    CPM_REASONS(CPM_REASON_CODE)
#undef CPM_REASON_CODE
};
_Static_assert(CPM_ARRAY_LEN(reason_codes) == CPM_REASON__COUNT, "reason codes");
_Static_assert(CPM_REASON__COUNT <= 32, "reasons fit a 32-bit set");

static const char *const cap_periods[] = {"day", "week", "month"};

static int find(const char *const *names, int count, const char *s)
{
    for (int i = 0; s != NULL && i < count; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

enum cpm_consent_status cpm_consent_status_parse(const char *s)
{
    int i = s != NULL && s[0] ? find(status_names, CPM_STATUS__COUNT, s) : -1;
    return i < 0 ? CPM_STATUS_NONE : (enum cpm_consent_status)i;
}

enum cpm_age cpm_age_parse(const char *s)
{
    int i = find(age_names, (int)CPM_ARRAY_LEN(age_names), s);
    return i < 0 ? CPM_AGE_UNKNOWN : (enum cpm_age)i;
}

enum cpm_channel cpm_channel_parse(const char *s)
{
    int i = find(cpm__channel_names, CPM_CHANNEL__COUNT, s);
    return i < 0 ? CPM_CHANNEL_NONE : (enum cpm_channel)i;
}

const char *cpm_channel_name(enum cpm_channel c)
{
    CPM_ASSERT(c >= 0 && c < CPM_CHANNEL__COUNT);
    return cpm__channel_names[c];
}

const char *cpm_reason_code(enum cpm_reason r)
{
    CPM_ASSERT((unsigned)r < CPM_REASON__COUNT);
    return reason_codes[r];
}

int64_t cpm_cap_period_ms(enum cpm_cap_period p)
{
    static const int64_t ms[] = {CPM_CAP_DAY_MS, CPM_CAP_WEEK_MS, CPM_CAP_MONTH_MS};
    CPM_ASSERT((unsigned)p < CPM_ARRAY_LEN(ms));
    return ms[p];
}

int cpm_cap_period_parse(const char *s)
{
    return find(cap_periods, (int)CPM_ARRAY_LEN(cap_periods), s);
}

/* ---- the consent ------------------------------------------------------------ */

static uint32_t consent_reasons(const struct cpm_decide_subject *s,
                                const struct cpm_decide_purpose *p, int64_t at_ms)
{
    if (p->necessary)
        return 0; /* necessary for the service: never refused (PIPL Art. 16) */
    if (!p->consent_basis)
        return s->status == CPM_STATUS_OBJECTED ? CPM_REASON_BIT(CPM_REASON_OBJECTED) : 0;
    /* consent a child gave itself does not count, whatever else is wrong with it (PIPL Art. 31) */
    uint32_t child = s->age == CPM_AGE_CHILD_UNDER_14 && !s->by_guardian
                         ? CPM_REASON_BIT(CPM_REASON_GUARDIAN_REQUIRED)
                         : 0;
    switch (s->status) {
    case CPM_STATUS_GIVEN:
        if (s->expires_ms != 0 && at_ms >= s->expires_ms)
            return CPM_REASON_BIT(CPM_REASON_EXPIRED) | child;
        return child;
    case CPM_STATUS_REFUSED:
        return CPM_REASON_BIT(CPM_REASON_REFUSED);
    case CPM_STATUS_WITHDRAWN:
        return CPM_REASON_BIT(CPM_REASON_WITHDRAWN);
    case CPM_STATUS_EXPIRED:
        return CPM_REASON_BIT(CPM_REASON_EXPIRED) | child;
    case CPM_STATUS_RECONSENT_REQUIRED:
        return CPM_REASON_BIT(CPM_REASON_RECONSENT_REQUIRED) | child;
    case CPM_STATUS_NONE:
    case CPM_STATUS_OBJECTED:
    case CPM_STATUS__COUNT:
        break;
    }
    uint32_t r = CPM_REASON_BIT(CPM_REASON_NO_CONSENT);
    if (p->separate)
        r |= CPM_REASON_BIT(CPM_REASON_SEPARATE_CONSENT_MISSING);
    if (s->age == CPM_AGE_CHILD_UNDER_14)
        r |= CPM_REASON_BIT(CPM_REASON_GUARDIAN_REQUIRED);
    return r;
}

/* ---- time: windows, quiet hours, caps ---------------------------------------- */

/* The earliest time >= t at which no cap is full; t when none is. */
static int64_t caps_clear(const struct cpm_decide_subject *s, int64_t t)
{
    int64_t clear = t;
    for (size_t c = 0; c < s->cap_count; c++) {
        int64_t period = cpm_cap_period_ms((enum cpm_cap_period)s->caps[c].period);
        size_t first = 0, count = 0;
        for (size_t i = 0; i < s->send_count; i++) {
            if (s->sends[i] <= t - period)
                first = i + 1;
            else if (s->sends[i] <= t)
                count++;
        }
        if (count >= s->caps[c].max) {
            /* enough of the oldest sends must leave the rolling period */
            int64_t leaves = s->sends[first + count - s->caps[c].max] + period;
            if (leaves > clear)
                clear = leaves;
        }
    }
    return clear;
}

static int64_t windows_next(const struct cpm_decide_subject *s, const struct cpm_tz *tz, int64_t t)
{
    return s->window_count == 0 ? t : cpm_window_next(s->windows, s->window_count, tz, t);
}

static int64_t quiet_next(const struct cpm_decide_channel *c, int64_t t)
{
    return c->allowed_count == 0 ? t : cpm_window_next(c->allowed, c->allowed_count, c->tz, t);
}

/* The earliest time >= at when windows, quiet hours and caps all allow; 0 when none soon. */
static int64_t next_allowed(const struct cpm_decide_subject *s, const struct cpm_tz *tz,
                            const struct cpm_decide_channel *c, int64_t at_ms)
{
    int64_t t = at_ms;
    for (int round = 0; round < NEXT_ROUNDS_MAX; round++) {
        int64_t u = caps_clear(s, t);
        if (u != INT64_MAX)
            u = windows_next(s, tz, u);
        if (u != INT64_MAX)
            u = quiet_next(c, u);
        if (u == INT64_MAX)
            return 0;
        if (u == t)
            return t;
        t = u;
    }
    return 0;
}

static uint32_t time_reasons(const struct cpm_decide_subject *s, const struct cpm_tz *tz,
                             const struct cpm_decide_channel *c, int64_t at_ms)
{
    uint32_t r = 0;
    if (s->window_count > 0 && !cpm_window_contains(s->windows, s->window_count, tz, at_ms))
        r |= CPM_REASON_BIT(CPM_REASON_OUTSIDE_WINDOW);
    if (c->allowed_count > 0 && !cpm_window_contains(c->allowed, c->allowed_count, c->tz, at_ms))
        r |= CPM_REASON_BIT(CPM_REASON_QUIET_HOURS);
    if (s->cap_count > 0 && caps_clear(s, at_ms) != at_ms)
        r |= CPM_REASON_BIT(CPM_REASON_FREQUENCY_CAP);
    return r;
}

/* ---- the decision ------------------------------------------------------------ */

void cpm_decide(const struct cpm_decide_subject *s, const struct cpm_decide_purpose *p,
                const struct cpm_decide_channel *channel, const struct cpm_tz *default_tz,
                int64_t at_ms, struct cpm_decision *out)
{
    *out = (struct cpm_decision){.deciding_seq = s->seq};
    if (!s->known || s->erased) {
        out->reasons = CPM_REASON_BIT(s->known ? CPM_REASON_ERASED : CPM_REASON_UNKNOWN_SUBJECT);
        out->deciding_seq = s->known ? s->seq : 0;
        return;
    }
    uint32_t r = consent_reasons(s, p, at_ms);
    if (p->personalised && s->personalisation_off)
        r |= CPM_REASON_BIT(CPM_REASON_PERSONALISATION_OFF); /* PIPL Art. 24 */
    if (s->topic_off)
        r |= CPM_REASON_BIT(CPM_REASON_TOPIC_OFF);
    if (channel != NULL) {
        const struct cpm_tz *tz = s->tz != NULL ? s->tz : default_tz;
        if (s->channel_off)
            r |= CPM_REASON_BIT(CPM_REASON_CHANNEL_OFF);
        uint32_t t = time_reasons(s, tz, channel, at_ms);
        if (t != 0 && (r & ~CPM_REASONS_TIME) == 0)
            out->next_allowed_ms = next_allowed(s, tz, channel, at_ms);
        /* a consent that has expired by then will not allow it: no time to offer */
        if (s->expires_ms != 0 && out->next_allowed_ms >= s->expires_ms)
            out->next_allowed_ms = 0;
        r |= t;
    }
    out->reasons = r;
    out->allowed = r == 0;
}
