/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decide.h — "may we contact S for purpose P on channel C about topic T at
 * time t?" as a pure function of what the index knows of S, what the
 * configuration says of P, C and T, and t.
 *
 * Every reason that denies is reported (a bit set), not only the first;
 * `next_allowed_ms` is given only when nothing but time blocks (a contact
 * window, quiet hours, a frequency cap). The rules are written down for
 * people in docs/DECISIONS.md.
 *
 * Thread safety: reentrant; no allocation, no I/O.
 */
#ifndef CPM_DOMAIN_DECIDE_H
#define CPM_DOMAIN_DECIDE_H

#include "core/common.h"
#include "domain/tz.h"
#include "domain/window.h"

/* A consent's status as the index keeps it (3 bits). */
enum cpm_consent_status {
    CPM_STATUS_NONE = 0,
    CPM_STATUS_GIVEN,
    CPM_STATUS_REFUSED,
    CPM_STATUS_WITHDRAWN,
    CPM_STATUS_EXPIRED,
    CPM_STATUS_RECONSENT_REQUIRED,
    CPM_STATUS_OBJECTED, /* a non-consent purpose the person objected to (PIPL Art. 44) */
    CPM_STATUS__COUNT
};

/* The stored status text ("given", …) → the enum; CPM_STATUS_NONE when unknown. */
enum cpm_consent_status cpm_consent_status_parse(const char *s);

/* Age status (2 bits). */
enum cpm_age { CPM_AGE_UNKNOWN = 0, CPM_AGE_ADULT, CPM_AGE_MINOR_14_17, CPM_AGE_CHILD_UNDER_14 };
enum cpm_age cpm_age_parse(const char *s);

/* The contact channels (a bit each in the index). */
#define CPM_CHANNELS(X)                                                                            \
    X(SMS, "sms")                                                                                  \
    X(EMAIL, "email")                                                                              \
    X(APP_PUSH, "app_push")                                                                        \
    X(WECOM, "wecom")                                                                              \
    X(WECHAT_OA, "wechat_oa")                                                                      \
    X(VOICE, "voice")                                                                              \
    X(MAIL, "mail")

enum cpm_channel {
#define CPM_CHANNEL_ENUM(name, text) CPM_CHANNEL_##name,
    CPM_CHANNELS(CPM_CHANNEL_ENUM)
#undef CPM_CHANNEL_ENUM
        CPM_CHANNEL__COUNT,
    CPM_CHANNEL_NONE = -1
};

/* The channel names in enum order, NULL-terminated (a schema's enum values). */
extern const char *const cpm__channel_names[CPM_CHANNEL__COUNT + 1];

/* "sms" → CPM_CHANNEL_SMS; CPM_CHANNEL_NONE when not a channel. */
enum cpm_channel cpm_channel_parse(const char *s);
const char *cpm_channel_name(enum cpm_channel c);

/* The reasons a decision denies: stable codes, one bit each. */
#define CPM_REASONS(X)                                                                             \
    X(UNKNOWN_SUBJECT, "unknown_subject")                                                          \
    X(ERASED, "erased")                                                                            \
    X(NO_CONSENT, "no_consent")                                                                    \
    X(REFUSED, "refused")                                                                          \
    X(WITHDRAWN, "withdrawn")                                                                      \
    X(EXPIRED, "expired")                                                                          \
    X(RECONSENT_REQUIRED, "reconsent_required")                                                    \
    X(OBJECTED, "objected")                                                                        \
    X(GUARDIAN_REQUIRED, "guardian_required")                                                      \
    X(SEPARATE_CONSENT_MISSING, "separate_consent_missing")                                        \
    X(CHANNEL_OFF, "channel_off")                                                                  \
    X(TOPIC_OFF, "topic_off")                                                                      \
    X(PERSONALISATION_OFF, "personalisation_off")                                                  \
    X(OUTSIDE_WINDOW, "outside_window")                                                            \
    X(QUIET_HOURS, "quiet_hours")                                                                  \
    X(FREQUENCY_CAP, "frequency_cap")

enum cpm_reason {
#define CPM_REASON_ENUM(name, text) CPM_REASON_##name,
    CPM_REASONS(CPM_REASON_ENUM)
#undef CPM_REASON_ENUM
        CPM_REASON__COUNT
};
#define CPM_REASON_BIT(r) (1u << (r))
/* The reasons only time cures: with no other, next_allowed_ms is set. */
#define CPM_REASONS_TIME                                                                           \
    (CPM_REASON_BIT(CPM_REASON_OUTSIDE_WINDOW) | CPM_REASON_BIT(CPM_REASON_QUIET_HOURS) |          \
     CPM_REASON_BIT(CPM_REASON_FREQUENCY_CAP))

const char *cpm_reason_code(enum cpm_reason r);

/* Frequency cap periods: rolling, ending at the decision's time. */
enum cpm_cap_period { CPM_CAP_DAY = 0, CPM_CAP_WEEK, CPM_CAP_MONTH };
#define CPM_CAP_DAY_MS   (24LL * 3600 * 1000)
#define CPM_CAP_WEEK_MS  (7 * CPM_CAP_DAY_MS)
#define CPM_CAP_MONTH_MS (30 * CPM_CAP_DAY_MS) /* a rolling month is 30 days */
int64_t cpm_cap_period_ms(enum cpm_cap_period p);
/* "day", "week", "month" → the period; -1 when none of them. */
int cpm_cap_period_parse(const char *s);

struct cpm_cap {
    uint16_t max;   /* sends allowed in the period, >= 1 */
    uint8_t period; /* enum cpm_cap_period */
};

/* What decide needs of one subject: a consistent copy taken from the index. */
struct cpm_decide_subject {
    bool known, erased;
    enum cpm_age age;
    /* the consent on the asked purpose (and recipient) */
    enum cpm_consent_status status;
    bool by_guardian;   /* given by a guardian for the subject */
    int64_t seq;        /* its deciding event; 0 when none */
    int64_t expires_ms; /* 0: no expiry */
    /* preferences, as they bear on the question */
    bool channel_off, topic_off, personalisation_off;
    const struct cpm_tz *tz; /* the subject's zone for its windows; NULL: the default zone */
    const struct cpm_window *windows; /* contact windows; none: any time */
    size_t window_count;
    const struct cpm_cap *caps; /* the caps on the asked channel */
    size_t cap_count;
    const int64_t *sends; /* sends on the asked channel, oldest first (the last 30 days at least) */
    size_t send_count;
};

/* What the configuration says of the asked purpose. */
struct cpm_decide_purpose {
    bool consent_basis; /* legal basis consent; otherwise allowed unless objected */
    bool separate;      /* separate (or written) consent form */
    bool necessary;     /* necessary for the service: the consent state is not asked */
    bool personalised;  /* personalised marketing: the personalisation switch applies */
};

/* What the configuration says of the asked channel (NULL when none was asked). */
struct cpm_decide_channel {
    const struct cpm_tz *tz;          /* of the allowed hours */
    const struct cpm_window *allowed; /* outside: quiet hours; none: any time */
    size_t allowed_count;
};

struct cpm_decision {
    bool allowed;
    uint32_t reasons;        /* CPM_REASON_BIT()s */
    int64_t deciding_seq;    /* the consent event the answer rests on; 0 when none */
    int64_t next_allowed_ms; /* when only time blocks: the earliest time it would not; else 0 */
};

/*
 * Decides at at_ms. channel is NULL when no channel was asked; the subject's
 * channel and cap fields are then ignored. default_tz is the zone of
 * subjects who set none (never NULL).
 */
void cpm_decide(const struct cpm_decide_subject *s, const struct cpm_decide_purpose *p,
                const struct cpm_decide_channel *channel, const struct cpm_tz *default_tz,
                int64_t at_ms, struct cpm_decision *out);

#endif /* CPM_DOMAIN_DECIDE_H */
