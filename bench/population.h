/* SPDX-License-Identifier: Apache-2.0 */
/*
 * population.h — the synthetic population of the decision benchmarks: who
 * the subjects are and what each of them decided, as a pure function of the
 * subject's number, so that cpm-bench-populate can write it and
 * cpm-bench-decide can know every expected answer without reading the store.
 *
 * Subject i (0 ≤ i < N) is "s%09u", an adult, with E events (1 ≤ E ≤ 64):
 *
 *   - event j < 8 is a decision of its consent popup on purpose (i + j) % 8:
 *     refused 15 % of the time, given otherwise;
 *   - for a quarter of the subjects the last event (when E ≥ 2 and it is
 *     one of the first 8) is instead a change of mind on the popup's first
 *     purpose, i % 8: given → withdrawn, refused or withdrawn → given;
 *   - every event j ≥ 8 is a change of mind on purpose (i + j % 8) % 8.
 *
 * So with E = 5 a subject holds a consent state on 4 or 5 of the 8
 * purposes, and marketing.sms (purpose 0) is given for about half of the
 * subjects, refused, withdrawn or never asked for the rest. Percentages come
 * from a SplitMix64 hash of (i, j), so they are spread evenly over the ids.
 *
 * bench/population-seed.json is the configuration this population needs:
 * these eight purposes (legal basis consent, general form) and notice
 * `privacy` version 1 covering them.
 */
#ifndef CPM_BENCH_POPULATION_H
#define CPM_BENCH_POPULATION_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_PURPOSES               8
#define BENCH_EVENTS_PER_SUBJECT_MAX 64
#define BENCH_SUBJECTS_MAX           999999999              /* ids are s + 9 digits */
#define BENCH_SUBJECT_ID_BYTES       16                     /* "s" + 9 digits + NUL, with room */
#define BENCH_MARKER_FILE            "bench-population"     /* in the data directory */
#define BENCH_TIME_BASE_MS           INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */

static const char *const bench_purposes[BENCH_PURPOSES] = {
    "marketing.sms",   "marketing.email", "marketing.push", "analytics",
    "personalisation", "ads.third_party", "research",       "cross_border.transfer",
};

enum bench_status { BENCH_NONE = 0, BENCH_GIVEN, BENCH_REFUSED, BENCH_WITHDRAWN };

static const char *const bench_status_names[] = {"", "given", "refused", "withdrawn"};
static const char *const bench_event_types[] = {"", "consent.given", "consent.refused",
                                                "consent.withdrawn"};

/* The SplitMix64 finaliser: a bijection on 64 bits, so distinct inputs never collide. */
static inline uint64_t bench_mix(uint64_t x)
{
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

static inline void bench_subject_id(uint64_t i, char out[BENCH_SUBJECT_ID_BYTES])
{
    snprintf(out, BENCH_SUBJECT_ID_BYTES, "s%09" PRIu64, i);
}

/*
 * Event j of subject i, which has e events: the purpose it decides and the
 * status it records. status[] is the subject's state so far (all
 * BENCH_NONE before event 0); it is updated.
 */
static inline void bench_event(uint64_t i, unsigned j, unsigned e, uint8_t status[BENCH_PURPOSES],
                               unsigned *purpose, uint8_t *decision)
{
    bool change =
        j >= BENCH_PURPOSES || (j + 1 == e && j >= 1 && bench_mix(i * 64 + 63) % 100 < 25);
    unsigned p = (unsigned)((i + (change ? (j >= BENCH_PURPOSES ? j % BENCH_PURPOSES : 0) : j)) %
                            BENCH_PURPOSES);
    uint8_t d;
    if (change)
        d = status[p] == BENCH_GIVEN ? BENCH_WITHDRAWN : BENCH_GIVEN;
    else
        d = bench_mix(i * 64 + j) % 100 < 15 ? BENCH_REFUSED : BENCH_GIVEN;
    status[p] = d;
    *purpose = p;
    *decision = d;
}

/* The final status of every purpose of subject i (e events). */
static inline void bench_final(uint64_t i, unsigned e, uint8_t status[BENCH_PURPOSES])
{
    for (unsigned p = 0; p < BENCH_PURPOSES; p++)
        status[p] = BENCH_NONE;
    for (unsigned j = 0; j < e; j++) {
        unsigned p;
        uint8_t d;
        bench_event(i, j, e, status, &p, &d);
    }
}

/* True when a decision for purpose p should allow subject i (adults, no expiry, general form). */
static inline bool bench_allowed(uint64_t i, unsigned e, unsigned p)
{
    uint8_t status[BENCH_PURPOSES];
    bench_final(i, e, status);
    return status[p] == BENCH_GIVEN;
}

#endif /* CPM_BENCH_POPULATION_H */
