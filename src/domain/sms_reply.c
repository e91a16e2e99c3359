/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sms_reply.c — opt-out keywords in SMS replies (see the header).
 */
#include "core/common.h"

#include "domain/sms_reply.h"

static const char *const opt_outs[] = {"TD", "T", "N", "R", "退订"};

/* Reads one UTF-8 code point at *p (advancing it); 0xFFFD for a bad sequence. */
static uint32_t next_code_point(const unsigned char **p)
{
    const unsigned char *s = *p;
    uint32_t c = s[0];
    int extra = c < 0x80             ? 0
                : (c & 0xE0) == 0xC0 ? 1
                : (c & 0xF0) == 0xE0 ? 2
                : (c & 0xF8) == 0xF0 ? 3
                                     : -1;
    if (extra < 0) {
        *p = s + 1;
        return 0xFFFD;
    }
    c = extra == 0 ? c : c & (0x3F >> extra);
    for (int i = 1; i <= extra; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *p = s + i;
            return 0xFFFD;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    *p = s + 1 + extra;
    return c;
}

static size_t put_utf8(char *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    out[0] = (char)(0xE0 | (c >> 12));
    out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[2] = (char)(0x80 | (c & 0x3F));
    return 3;
}

static bool trailing_punctuation(uint32_t c)
{
    return c == '.' || c == '!' || c == 0x3002 /* 。 */ || c == 0xFF01 /* ！ */ ||
           c == 0xFF0E /* ． */;
}

/* The normalised text into out (cap bytes); false when it does not fit. */
static bool normalise(const char *text, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t len = 0;
    while (*p != '\0') {
        uint32_t c = next_code_point(&p);
        if (c >= 0xFF01 && c <= 0xFF5E) /* full-width ASCII */
            c -= 0xFEE0;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0x3000)
            continue;
        if (c >= 'a' && c <= 'z')
            c -= 'a' - 'A';
        if (len + 4 >= cap || c > 0xFFFF)
            return false;
        len += put_utf8(out + len, c);
    }
    out[len] = '\0';
    /* drop trailing punctuation, one code point at a time */
    for (;;) {
        size_t at = len;
        while (at > 0 && ((unsigned char)out[at - 1] & 0xC0) == 0x80)
            at--;
        if (at == 0)
            break;
        at--;
        const unsigned char *q = (const unsigned char *)out + at;
        if (!trailing_punctuation(next_code_point(&q)))
            break;
        len = at;
        out[len] = '\0';
    }
    return true;
}

bool cpm_sms_reply_is_opt_out(const char *text)
{
    char norm[64];
    if (text == NULL || strlen(text) > CPM_SMS_TEXT_BYTES_MAX ||
        !normalise(text, norm, sizeof(norm)))
        return false;
    for (size_t i = 0; i < CPM_ARRAY_LEN(opt_outs); i++)
        if (strcmp(norm, opt_outs[i]) == 0)
            return true;
    return false;
}
