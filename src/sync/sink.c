/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink.c — the destination kinds cpmd knows, and what every sink does to
 * report a result.
 */
#include "core/common.h"

#include <stdarg.h>

#include "sync/sink.h"

static const struct cpm_sink_ops *const kinds[] = {
    &cpm_sink_webhook_ops,      &cpm_sink_nats_ops,       &cpm_sink_wecom_tags_ops,
    &cpm_sink_sms_gateway_ops,  &cpm_sink_ma_journey_ops, &cpm_sink_tencent_ads_ops,
    &cpm_sink_ocean_engine_ops,
};

const struct cpm_sink_ops *cpm_sink_find(const char *kind)
{
    for (size_t i = 0; kind != NULL && i < CPM_ARRAY_LEN(kinds); i++)
        if (strcmp(kinds[i]->kind, kind) == 0)
            return kinds[i];
    return NULL;
}

void cpm_sink_result_vset(struct cpm_sink_result *r, enum cpm_sink_outcome outcome, const char *fmt,
                          va_list ap)
{
    memset(r, 0, sizeof(*r));
    r->outcome = outcome;
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
}

void cpm_sink_result_set(struct cpm_sink_result *r, enum cpm_sink_outcome outcome, const char *fmt,
                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    cpm_sink_result_vset(r, outcome, fmt, ap);
    va_end(ap);
}
