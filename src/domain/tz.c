/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tz.c — IANA time zones from TZif files (RFC 8536), with no global state
 * but a mutex-guarded cache of loaded zones.
 *
 * Loading: the whole file is read (bounded), every count, index and offset
 * is checked, and the v2+ 64-bit block and its footer TZ string are used
 * when present. The footer rule is expanded into the table from the last
 * transition (2037 in "fat" files, earlier in slim ones) to the end of
 * 2099, so lookups of this century are one binary search; later instants
 * evaluate the rule (some ten times slower).
 * Civil dates use Howard Hinnant's algorithms (as core/clock.c).
 */
#include "core/common.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "domain/tz.h"

#define ZONEINFO_DIR_DEFAULT "/usr/share/zoneinfo"
#define HEADER_BYTES         44
#define UTOFF_S_MIN          (-89999) /* RFC 8536 3.2: more than -25 hours */
#define UTOFF_S_MAX          93599    /* and less than 26 hours */
#define RULE_TIME_H_MAX      167      /* RFC 8536 3.3.1: a rule time within a week */
#define EXPAND_YEAR_LAST     2099     /* footer rules are expanded into the table to here */
#define S_PER_DAY            86400
#define MS_PER_DAY           86400000

struct tz_type {
    int32_t utoff_s;
    bool dst;
};

/* A date of a POSIX TZ rule: Jn (1–365, no 29 Feb), n (0–365) or Mm.w.d. */
struct tz_rule_date {
    char kind; /* 'J', 'N' or 'M' */
    int32_t n, month, week, weekday;
    int32_t time_s; /* local time of day of the change, may be negative or > 24 h */
};

/* The footer rule: std offset [dst [offset],start[/time],end[/time]]. */
struct tz_footer {
    bool present, has_dst;
    int32_t std_s, dst_s; /* UTC offsets, east positive */
    struct tz_rule_date start, end;
};

struct cpm_tz {
    char name[CPM_TZ_NAME_BYTES_MAX + 1];
    int32_t count;      /* transitions, the file's and the expanded ones */
    int32_t file_count; /* the file's alone */
    int64_t *at_s;      /* ascending */
    uint16_t *type_of;  /* index into types */
    int32_t type_count;
    struct tz_type types[CPM_TZ_TYPES_MAX + 2]; /* + the footer's std and dst */
    struct tz_footer footer;
    struct cpm_tz *next; /* in the cache */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cpm_tz *cache;
static int cache_count;

/* ---- civil time ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && ((a < 0) != (b < 0)));
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int32_t days_in_month(int64_t y, int32_t m)
{
    static const int32_t dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return dim[m - 1] + (m == 2 && is_leap(y));
}

static int64_t days_from_civil(int64_t y, int32_t m, int32_t d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int32_t *m, int32_t *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int32_t)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int32_t)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t year_of(int64_t local_s)
{
    int64_t y;
    int32_t m, d;
    civil_from_days(floor_div(local_s, S_PER_DAY), &y, &m, &d);
    return y;
}

/* ---- the footer's POSIX TZ rule ---- */

/* The day (since the epoch) on which date falls in year y. */
static int64_t rule_day(const struct tz_rule_date *date, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    if (date->kind == 'J')
        return jan1 + date->n - 1 + (is_leap(y) && date->n >= 60);
    if (date->kind == 'N')
        return jan1 + date->n;
    int64_t first = days_from_civil(y, date->month, 1);
    int64_t first_weekday = (first % 7 + 7 + 4) % 7; /* 0 = Sunday; day 0 was a Thursday */
    int64_t day = first + (date->weekday - first_weekday + 7) % 7 + 7 * (date->week - 1);
    if (day >= first + days_in_month(y, date->month))
        day -= 7; /* week 5: the last such weekday */
    return day;
}

/* The UTC instant (s) of date in year y, its time read with the offset in effect before. */
static int64_t rule_at_s(const struct tz_rule_date *date, int64_t y, int32_t utoff_before_s)
{
    return rule_day(date, y) * S_PER_DAY + date->time_s - utoff_before_s;
}

static bool footer_is_dst(const struct tz_footer *f, int64_t t)
{
    if (!f->has_dst)
        return false;
    int64_t y = year_of(t + f->std_s);
    for (int64_t yy = y - 1; yy <= y + 1; yy++) {
        int64_t start = rule_at_s(&f->start, yy, f->std_s);
        int64_t end = rule_at_s(&f->end, yy, f->dst_s);
        if (end <= start) /* southern hemisphere: DST runs into the next year */
            end = rule_at_s(&f->end, yy + 1, f->dst_s);
        if (start <= t && t < end)
            return true;
    }
    return false;
}

/* The first rule change after t, or INT64_MAX. */
static int64_t footer_next_s(const struct tz_footer *f, int64_t t)
{
    if (!f->has_dst)
        return INT64_MAX;
    int64_t best = INT64_MAX;
    int64_t y = year_of(t + f->std_s);
    for (int64_t yy = y - 1; yy <= y + 2; yy++) {
        int64_t start = rule_at_s(&f->start, yy, f->std_s);
        int64_t end = rule_at_s(&f->end, yy, f->dst_s);
        if (start > t && start < best)
            best = start;
        if (end > t && end < best)
            best = end;
    }
    return best;
}

/* Reads up to max_digits digits as a number in [0, max]; NULL on failure. */
static const char *parse_number(const char *p, int max_digits, int32_t max, int32_t *out)
{
    int32_t v = 0;
    int n = 0;
    for (; n < max_digits && *p >= '0' && *p <= '9'; n++, p++)
        v = v * 10 + (*p - '0');
    if (n == 0 || v > max)
        return NULL;
    *out = v;
    return p;
}

/* [+-]hh[:mm[:ss]] with hh <= hours_max, as seconds. */
static const char *parse_hms(const char *p, int32_t hours_max, int32_t *out_s)
{
    int32_t sign = 1, h, m = 0, s = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    p = parse_number(p, 3, hours_max, &h);
    if (p != NULL && *p == ':') {
        p = parse_number(p + 1, 2, 59, &m);
        if (p != NULL && *p == ':')
            p = parse_number(p + 1, 2, 59, &s);
    }
    if (p != NULL)
        *out_s = sign * (h * 3600 + m * 60 + s);
    return p;
}

/* A zone abbreviation: three or more letters, or <...> of [A-Za-z0-9+-]. */
static const char *parse_abbreviation(const char *p)
{
    const char *start = p;
    if (*p == '<') {
        for (start = ++p; (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                          (*p >= '0' && *p <= '9') || *p == '+' || *p == '-';
             p++)
            ;
        return *p == '>' && p - start >= 3 ? p + 1 : NULL;
    }
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - start >= 3 ? p : NULL;
}

/* ,date[/time] */
static const char *parse_rule_date(const char *p, struct tz_rule_date *date)
{
    if (p == NULL || *p++ != ',')
        return NULL;
    date->time_s = 2 * 3600;
    if (*p == 'J') {
        date->kind = 'J';
        p = parse_number(p + 1, 3, 365, &date->n);
        if (p != NULL && date->n < 1)
            return NULL;
    } else if (*p == 'M') {
        date->kind = 'M';
        p = parse_number(p + 1, 2, 12, &date->month);
        if (p == NULL || date->month < 1 || *p != '.')
            return NULL;
        p = parse_number(p + 1, 1, 5, &date->week);
        if (p == NULL || date->week < 1 || *p != '.')
            return NULL;
        p = parse_number(p + 1, 1, 6, &date->weekday);
    } else {
        date->kind = 'N';
        p = parse_number(p, 3, 365, &date->n);
    }
    if (p != NULL && *p == '/')
        p = parse_hms(p + 1, RULE_TIME_H_MAX, &date->time_s);
    return p;
}

/* The footer's TZ string; "" is valid and means no rule. */
static bool parse_footer(const char *p, struct tz_footer *f)
{
    int32_t offset_s;
    memset(f, 0, sizeof(*f));
    if (*p == '\0')
        return true;
    p = parse_abbreviation(p);
    if (p == NULL || (p = parse_hms(p, 24, &offset_s)) == NULL)
        return false;
    f->present = true;
    f->std_s = -offset_s; /* POSIX offsets count west positive */
    if (*p == '\0')
        return true;
    p = parse_abbreviation(p);
    if (p == NULL)
        return false;
    f->has_dst = true;
    f->dst_s = f->std_s + 3600;
    if (*p != ',') {
        if ((p = parse_hms(p, 24, &offset_s)) == NULL)
            return false;
        f->dst_s = -offset_s;
    }
    p = parse_rule_date(p, &f->start);
    p = parse_rule_date(p, &f->end);
    return p != NULL && *p == '\0';
}

/* ---- TZif ---- */

struct reader {
    const uint8_t *p;
    size_t left;
};

static const uint8_t *take(struct reader *r, size_t n)
{
    if (n > r->left)
        return NULL;
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct header {
    uint8_t version;
    uint32_t isut, isstd, leap, time, type, chars;
};

static bool parse_header(struct reader *r, struct header *h)
{
    const uint8_t *p = take(r, HEADER_BYTES);
    if (p == NULL || memcmp(p, "TZif", 4) != 0)
        return false;
    h->version = p[4];
    if (h->version != 0 && h->version < '2')
        return false;
    h->isut = be32(p + 20);
    h->isstd = be32(p + 24);
    h->leap = be32(p + 28);
    h->time = be32(p + 32);
    h->type = be32(p + 36);
    h->chars = be32(p + 40);
    /* The counts bound the block's size, which take() checks against the file. */
    return h->time <= CPM_TZ_TRANSITIONS_MAX && h->type <= CPM_TZ_TYPES_MAX &&
           h->chars <= CPM_TZ_FILE_BYTES_MAX && h->leap <= CPM_TZ_FILE_BYTES_MAX &&
           h->isut <= CPM_TZ_TYPES_MAX && h->isstd <= CPM_TZ_TYPES_MAX;
}

static size_t block_bytes(const struct header *h, size_t time_bytes)
{
    return h->time * time_bytes + h->time + h->type * 6 + h->chars + h->leap * (time_bytes + 4) +
           h->isstd + h->isut;
}

static bool parse_types(struct reader *r, const struct header *h, struct cpm_tz *tz)
{
    for (uint32_t i = 0; i < h->type; i++) {
        const uint8_t *p = take(r, 6);
        int32_t utoff_s = (int32_t)be32(p);
        if (utoff_s < UTOFF_S_MIN || utoff_s > UTOFF_S_MAX || p[4] > 1 || p[5] >= h->chars)
            return false;
        tz->types[i] = (struct tz_type){.utoff_s = utoff_s, .dst = p[4] == 1};
    }
    tz->type_count = (int32_t)h->type;
    return true;
}

static bool flags_valid(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (p[i] > 1)
            return false;
    return true;
}

/* One data block (its size already checked) into tz's transitions and types. */
static bool parse_block(struct reader *r, const struct header *h, size_t time_bytes,
                        struct cpm_tz *tz)
{
    if (h->type == 0 || h->chars == 0 || (h->isut != 0 && h->isut != h->type) ||
        (h->isstd != 0 && h->isstd != h->type) || h->leap != 0) /* leap seconds: refused */
        return false;
    const uint8_t *times = take(r, h->time * time_bytes);
    const uint8_t *indexes = take(r, h->time);
    for (uint32_t i = 0; i < h->time; i++) {
        const uint8_t *p = times + i * time_bytes;
        tz->at_s[i] = time_bytes == 8 ? be64(p) : (int32_t)be32(p);
        if ((i > 0 && tz->at_s[i] <= tz->at_s[i - 1]) || indexes[i] >= h->type)
            return false;
        tz->type_of[i] = indexes[i];
    }
    tz->count = tz->file_count = (int32_t)h->time;
    if (!parse_types(r, h, tz))
        return false;
    take(r, h->chars);
    return flags_valid(take(r, h->isstd), h->isstd) && flags_valid(take(r, h->isut), h->isut);
}

/* "\n<TZ string>\n" and nothing after. */
static bool parse_footer_text(struct reader *r, struct tz_footer *f)
{
    char text[CPM_TZ_FOOTER_BYTES_MAX + 1];
    if (r->left < 2 || r->left > CPM_TZ_FOOTER_BYTES_MAX + 2 || r->p[0] != '\n' ||
        r->p[r->left - 1] != '\n')
        return false;
    size_t len = r->left - 2;
    memcpy(text, r->p + 1, len);
    text[len] = '\0';
    if (strlen(text) != len || memchr(text, '\n', len) != NULL)
        return false;
    return parse_footer(text, f);
}

/* ---- expanding the footer into the table ---- */

static uint16_t type_index(struct cpm_tz *tz, int32_t utoff_s, bool dst)
{
    for (int32_t i = 0; i < tz->type_count; i++)
        if (tz->types[i].utoff_s == utoff_s && tz->types[i].dst == dst)
            return (uint16_t)i;
    CPM_ASSERT(tz->type_count < (int32_t)CPM_ARRAY_LEN(tz->types));
    tz->types[tz->type_count] = (struct tz_type){.utoff_s = utoff_s, .dst = dst};
    return (uint16_t)tz->type_count++;
}

static void append(struct cpm_tz *tz, int64_t at_s, int32_t capacity)
{
    const struct tz_footer *f = &tz->footer;
    bool dst = footer_is_dst(f, at_s);
    if (tz->count > 0 && at_s <= tz->at_s[tz->count - 1])
        return;
    if (tz->count > 0 && tz->types[tz->type_of[tz->count - 1]].dst == dst &&
        tz->types[tz->type_of[tz->count - 1]].utoff_s == (dst ? f->dst_s : f->std_s))
        return;
    CPM_ASSERT(tz->count < capacity);
    tz->at_s[tz->count] = at_s;
    tz->type_of[tz->count] = type_index(tz, dst ? f->dst_s : f->std_s, dst);
    tz->count++;
}

/* The year expansion starts with: the last transition's, or 1970 without any. */
static int64_t expand_from_year(const struct cpm_tz *tz)
{
    if (!tz->footer.has_dst || tz->count == 0)
        return tz->footer.has_dst ? 1970 : EXPAND_YEAR_LAST + 1;
    int64_t y = year_of(tz->at_s[tz->count - 1]);
    return y < 1800 ? EXPAND_YEAR_LAST + 1 : y; /* a rule that old is not worth a table */
}

/*
 * Adds the footer's changes from the last transition to the end of 2099, each
 * typed by footer_is_dst itself, so the table and the rule agree.
 */
static cpm_err expand_footer(struct cpm_tz *tz)
{
    int64_t first = expand_from_year(tz);
    if (first > EXPAND_YEAR_LAST)
        return CPM_OK;
    int32_t capacity = tz->count + (int32_t)(EXPAND_YEAR_LAST - first + 1) * 2;
    int64_t *at_s = cpm_realloc(tz->at_s, (size_t)capacity * sizeof(*at_s));
    if (at_s == NULL)
        return CPM_ERR_NOMEM;
    tz->at_s = at_s;
    uint16_t *type_of = cpm_realloc(tz->type_of, (size_t)capacity * sizeof(*type_of));
    if (type_of == NULL)
        return CPM_ERR_NOMEM;
    tz->type_of = type_of;
    const struct tz_footer *f = &tz->footer;
    for (int64_t y = first; y <= EXPAND_YEAR_LAST; y++) {
        int64_t start = rule_at_s(&f->start, y, f->std_s);
        int64_t end = rule_at_s(&f->end, y, f->dst_s);
        append(tz, start < end ? start : end, capacity);
        append(tz, start < end ? end : start, capacity);
    }
    return CPM_OK;
}

/* ---- loading ---- */

/* The TZif data in buf (len bytes) into tz; false when malformed. */
static bool parse_tzif(const uint8_t *buf, size_t len, struct cpm_tz *tz)
{
    struct reader r = {buf, len};
    struct header h;
    size_t time_bytes = 4;
    if (!parse_header(&r, &h))
        return false;
    if (h.version != 0) { /* skip the 32-bit block for the 64-bit one */
        if (take(&r, block_bytes(&h, 4)) == NULL || !parse_header(&r, &h))
            return false;
        time_bytes = 8;
    }
    if (r.left < block_bytes(&h, time_bytes))
        return false;
    size_t n = h.time > 0 ? h.time : 1;
    tz->at_s = cpm_malloc(n * sizeof(*tz->at_s));
    tz->type_of = cpm_malloc(n * sizeof(*tz->type_of));
    if (tz->at_s == NULL || tz->type_of == NULL || !parse_block(&r, &h, time_bytes, tz))
        return false;
    if (h.version != 0 && !parse_footer_text(&r, &tz->footer))
        return false;
    return h.version != 0 || r.left == 0;
}

/* Reads the whole regular file at path (at most CPM_TZ_FILE_BYTES_MAX) into an owned buffer. */
static cpm_err read_file(const char *path, uint8_t **out, size_t *out_len)
{
    cpm_err err = CPM_ERR_NOT_FOUND;
    uint8_t *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < HEADER_BYTES ||
        st.st_size > CPM_TZ_FILE_BYTES_MAX)
        goto out;
    size_t len = (size_t)st.st_size, got = 0;
    err = CPM_ERR_NOMEM;
    if ((buf = cpm_malloc(len)) == NULL)
        goto out;
    err = CPM_ERR_IO;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out;
        got += (size_t)n;
    }
    *out = buf;
    *out_len = len;
    buf = NULL;
    err = CPM_OK;
out:
    if (fd >= 0)
        close(fd);
    cpm_free(buf);
    return err;
}

static void tz_free(struct cpm_tz *tz)
{
    if (tz == NULL)
        return;
    cpm_free(tz->at_s);
    cpm_free(tz->type_of);
    cpm_free(tz);
}

/* The zone name from the zone file, or built in for "UTC"; NULL on any failure. */
static struct cpm_tz *tz_load(const char *name)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char path[4096];
    struct cpm_tz *tz = cpm_calloc(1, sizeof(*tz));
    if (tz == NULL)
        return NULL;
    cpm_strlcpy(tz->name, name, sizeof(tz->name));
    if (strcmp(name, "UTC") == 0) {
        tz->type_count = 1; /* types[0]: offset 0, no DST */
        return tz;
    }
    const char *dir = getenv("CPM_ZONEINFO_DIR");
    int n = snprintf(path, sizeof(path), "%s/%s", dir != NULL ? dir : ZONEINFO_DIR_DEFAULT, name);
    if (n < 0 || (size_t)n >= sizeof(path) || read_file(path, &buf, &len) != CPM_OK ||
        !parse_tzif(buf, len, tz) || expand_footer(tz) != CPM_OK) {
        tz_free(tz);
        tz = NULL;
    }
    cpm_free(buf);
    return tz;
}

bool cpm_tz_name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0' || name[0] == '/' || strstr(name, "..") != NULL)
        return false;
    size_t len = 0;
    for (const char *p = name; *p != '\0'; p++, len++) {
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '+' || c == '-' || c == '/';
        if (!ok || len >= CPM_TZ_NAME_BYTES_MAX || (c == '/' && (p[1] == '/' || p[1] == '\0')))
            return false;
    }
    return true;
}

const struct cpm_tz *cpm_tz_get(const char *name)
{
    if (!cpm_tz_name_valid(name))
        return NULL;
    pthread_mutex_lock(&cache_lock);
    struct cpm_tz *tz = cache;
    while (tz != NULL && strcmp(tz->name, name) != 0)
        tz = tz->next;
    if (tz == NULL && cache_count < CPM_TZ_ZONES_MAX && (tz = tz_load(name)) != NULL) {
        tz->next = cache;
        cache = tz;
        cache_count++;
    }
    pthread_mutex_unlock(&cache_lock);
    return tz;
}

void cpm_tz_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    while (cache != NULL) {
        struct cpm_tz *next = cache->next;
        tz_free(cache);
        cache = next;
    }
    cache_count = 0;
    pthread_mutex_unlock(&cache_lock);
}

const char *cpm_tz_name(const struct cpm_tz *tz)
{
    return tz->name;
}

/* ---- lookups ---- */

static int64_t clamp_ms(int64_t ms)
{
    return ms > CPM_TZ_MS_MAX ? CPM_TZ_MS_MAX : ms < -CPM_TZ_MS_MAX ? -CPM_TZ_MS_MAX : ms;
}

/* True when the footer rule, not the table, answers for the instant t. */
static bool in_footer(const struct cpm_tz *tz, int64_t t)
{
    if (!tz->footer.present)
        return false;
    if (tz->file_count == 0 && (tz->count == 0 || t < tz->at_s[0]))
        return true;
    return tz->count > 0 && t >= tz->at_s[tz->count - 1];
}

/*
 * The index of the last transition <= t; -1 when t is before the first.
 * A branch-free binary search (the compiler makes the step a conditional
 * move): the hot path of every decision, so no mispredicted branches.
 */
static int32_t transition_at(const struct cpm_tz *tz, int64_t t)
{
    if (tz->count == 0)
        return -1;
    const int64_t *base = tz->at_s;
    for (int32_t n = tz->count; n > 1; n -= n / 2)
        base = base[n / 2] <= t ? base + n / 2 : base;
    return (int32_t)(base - tz->at_s) - (base[0] > t);
}

static int32_t offset_at_s(const struct cpm_tz *tz, int64_t t)
{
    if (in_footer(tz, t))
        return footer_is_dst(&tz->footer, t) ? tz->footer.dst_s : tz->footer.std_s;
    int32_t i = transition_at(tz, t);
    return tz->types[i < 0 ? 0 : tz->type_of[i]].utoff_s; /* before the first: type 0 */
}

int32_t cpm_tz_offset_s(const struct cpm_tz *tz, int64_t utc_ms)
{
    return offset_at_s(tz, floor_div(clamp_ms(utc_ms), 1000));
}

int64_t cpm_tz_next_change_ms(const struct cpm_tz *tz, int64_t utc_ms)
{
    if (utc_ms >= CPM_TZ_MS_MAX)
        return INT64_MAX;
    int64_t t = floor_div(clamp_ms(utc_ms), 1000), next_s = INT64_MAX;
    if (in_footer(tz, t))
        next_s = footer_next_s(&tz->footer, t);
    int32_t i = transition_at(tz, t);
    if (i + 1 < tz->count && tz->at_s[i + 1] < next_s)
        next_s = tz->at_s[i + 1];
    if (next_s > CPM_TZ_MS_MAX / 1000)
        return INT64_MAX;
    return next_s * 1000;
}

void cpm_tz_local(const struct cpm_tz *tz, int64_t utc_ms, struct cpm_local_time *out)
{
    int64_t ms = clamp_ms(utc_ms);
    int64_t local_s = floor_div(ms, 1000) + offset_at_s(tz, floor_div(ms, 1000));
    int64_t days = floor_div(local_s, S_PER_DAY);
    int64_t second_of_day = local_s - days * S_PER_DAY;
    int64_t y;
    civil_from_days(days, &y, &out->month, &out->day);
    out->year = (int32_t)y;
    out->weekday = (int32_t)((days % 7 + 7 + 3) % 7); /* day 0 was a Thursday */
    out->minute = (int32_t)(second_of_day / 60);
    out->second = (int32_t)(second_of_day % 60);
}
