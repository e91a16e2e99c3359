/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_note.c — src/ledger/note.c: the shared signed checkpoint reproduced
 * byte for byte from its seed, verifier key lines, verification (tampered
 * text, wrong key, wrong name, spoilt signatures, other keys' signatures),
 * and strict checkpoint parsing.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>

#include "support/fixture.h"

#include "ledger/note.h"

#define ORIGIN  "cpm.example/log"
#define ROOT8   "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="
#define EM_DASH "\xE2\x80\x94"

static char vector_note[1024];
static size_t vector_note_len;
static char vector_vkey[256];
static uint8_t vector_root[32];

static void read_vector(const char *name, char *out, size_t cap, size_t *len)
{
    const char *root = getenv("CPM_SOURCE_DIR");
    if (root == NULL)
        fail_msg("CPM_SOURCE_DIR is not set (ctest sets it to the repository root)");
    char path[4096];
    assert_true((size_t)snprintf(path, sizeof(path), "%s/tests/vectors/%s", root, name) <
                sizeof(path));
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    *len = fread(out, 1, cap - 1, f);
    assert_false(ferror(f));
    assert_true(feof(f) || fgetc(f) == EOF);
    fclose(f);
    out[*len] = '\0';
}

static int setup(void **state)
{
    CPM_UNUSED(state);
    if (sodium_init() < 0)
        return -1;
    size_t len;
    read_vector("checkpoint_example.txt", vector_note, sizeof(vector_note), &vector_note_len);
    read_vector("checkpoint_example.vkey", vector_vkey, sizeof(vector_vkey), &len);
    vector_vkey[strcspn(vector_vkey, "\r\n")] = '\0';

    char text[64 * 1024];
    read_vector("rfc6962_vectors.json", text, sizeof(text), &len);
    json_t *vectors = json_loads(text, 0, NULL);
    const char *hex =
        json_string_value(json_object_get(json_object_get(vectors, "roots_hex"), "8"));
    size_t got = 0;
    if (hex == NULL || sodium_hex2bin(vector_root, 32, hex, strlen(hex), NULL, &got, NULL) != 0 ||
        got != 32)
        return -1;
    json_decref(vectors);
    return 0;
}

static void seed_of(uint8_t byte, uint8_t seed[32])
{
    memset(seed, byte, 32);
}

static void public_key_of(uint8_t byte, uint8_t pk[32])
{
    uint8_t seed[32], sk[64];
    seed_of(byte, seed);
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
}

/* A signature line made here, apart from note.c: "— name base64(keyid ‖ sig)\n". */
static void signature_line(const char *body, size_t body_len, const char *name, uint8_t seed_byte,
                           char *out, size_t cap)
{
    uint8_t seed[32], pk[32], sk[64], hash[32], blob[68];
    seed_of(seed_byte, seed);
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
    crypto_hash_sha256_update(&st, (const uint8_t *)"\n\x01", 2);
    crypto_hash_sha256_update(&st, pk, 32);
    crypto_hash_sha256_final(&st, hash);
    memcpy(blob, hash, 4);
    crypto_sign_detached(blob + 4, NULL, (const uint8_t *)body, body_len, sk);
    char b64[sodium_base64_ENCODED_LEN(68, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
    assert_true((size_t)snprintf(out, cap, EM_DASH " %s %s\n", name, b64) < cap);
}

static cpm_err verify(const char *note, const char *vkey)
{
    const char *body = NULL;
    size_t body_len = 0;
    return cpm_note_verify(note, strlen(note), vkey, &body, &body_len);
}

static void vkey_of(const char *name, uint8_t seed_byte, char *out, size_t cap)
{
    uint8_t pk[32];
    public_key_of(seed_byte, pk);
    cpm_note_vkey(name, pk, out, cap);
}

/* ---- the shared vector ---- */

static void test_vector(void **state)
{
    CPM_UNUSED(state);
    char body[256], note[1024], vkey[256];
    assert_int_equal(cpm_checkpoint_format(ORIGIN, 8, vector_root, body, sizeof(body)), CPM_OK);
    assert_string_equal(body, ORIGIN "\n8\n" ROOT8 "\n");
    uint8_t seed[32];
    seed_of(0x01, seed);
    assert_int_equal(cpm_note_sign(body, ORIGIN, seed, note, sizeof(note)), CPM_OK);
    assert_string_equal(note, vector_note);

    vkey_of(ORIGIN, 0x01, vkey, sizeof(vkey));
    assert_string_equal(vkey, vector_vkey);
    assert_string_equal(vkey, ORIGIN "+aa0f9554+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c");

    const char *signed_body = NULL;
    size_t body_len = 0;
    assert_int_equal(
        cpm_note_verify(vector_note, vector_note_len, vector_vkey, &signed_body, &body_len),
        CPM_OK);
    assert_ptr_equal(signed_body, vector_note);
    assert_int_equal(body_len, strlen(body));
    assert_memory_equal(signed_body, body, body_len);

    char origin[96];
    uint64_t size = 0;
    uint8_t root[32];
    assert_int_equal(
        cpm_checkpoint_parse(signed_body, body_len, origin, sizeof(origin), &size, root), CPM_OK);
    assert_string_equal(origin, ORIGIN);
    assert_int_equal(size, 8);
    assert_memory_equal(root, vector_root, 32);
}

/* ---- verification refuses ---- */

static void test_tampered(void **state)
{
    CPM_UNUSED(state);
    char note[1024], vkey[256];
    cpm_strlcpy(note, vector_note, sizeof(note));

    /* the text changed */
    char *size_line = strstr(note, "\n8\n");
    assert_non_null(size_line);
    size_line[1] = '9';
    assert_int_equal(verify(note, vector_vkey), CPM_ERR_VALIDATION);
    size_line[1] = '8';
    assert_int_equal(verify(note, vector_vkey), CPM_OK);
    note[0] = 'C';
    assert_int_equal(verify(note, vector_vkey), CPM_ERR_VALIDATION);
    note[0] = 'c';

    /* another key under the same name, the same key under another name */
    vkey_of(ORIGIN, 0x02, vkey, sizeof(vkey));
    assert_int_equal(verify(note, vkey), CPM_ERR_VALIDATION);
    vkey_of("cpm.example/other", 0x01, vkey, sizeof(vkey));
    assert_int_equal(verify(note, vkey), CPM_ERR_VALIDATION);

    /* the signature spoilt: a flipped bit, cut short, cut to invalid base64 */
    char *b64 = strstr(note, EM_DASH " " ORIGIN " ");
    assert_non_null(b64);
    b64 += strlen(EM_DASH " " ORIGIN " ");
    size_t b64_len = strcspn(b64, "\n");
    uint8_t blob[68];
    size_t blob_len = 0;
    assert_int_equal(sodium_base642bin(blob, sizeof(blob), b64, b64_len, NULL, &blob_len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(blob_len, 68);
    for (size_t byte = 4; byte < 68; byte += 9) {
        blob[byte] ^= 0x10;
        char spoilt[1024], text[100];
        sodium_bin2base64(text, sizeof(text), blob, sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
        snprintf(spoilt, sizeof(spoilt), "%.*s%s\n", (int)(b64 - note), note, text);
        assert_int_equal(verify(spoilt, vector_vkey), CPM_ERR_VALIDATION);
        blob[byte] ^= 0x10;
    }
    char cut[1024];
    snprintf(cut, sizeof(cut), "%.*s\n", (int)(b64 - note + b64_len - 4), note);
    assert_int_equal(verify(cut, vector_vkey), CPM_ERR_VALIDATION); /* 66 bytes */
    snprintf(cut, sizeof(cut), "%.*s\n", (int)(b64 - note + b64_len - 1), note);
    assert_int_equal(verify(cut, vector_vkey), CPM_ERR_VALIDATION); /* not base64 */
    snprintf(cut, sizeof(cut), "%.*s\n", (int)(b64 - note + 4), note);
    assert_int_equal(verify(cut, vector_vkey), CPM_ERR_VALIDATION); /* 3 bytes */

    /* the note's shape */
    size_t len = strlen(note);
    const char *body = NULL;
    size_t body_len = 0;
    assert_int_equal(cpm_note_verify(note, len - 1, vector_vkey, &body, &body_len),
                     CPM_ERR_VALIDATION);
    assert_int_equal(cpm_note_verify(note, 0, vector_vkey, &body, &body_len), CPM_ERR_VALIDATION);
    const char *sig_line = strstr(note, EM_DASH);
    char shape[1024];
    snprintf(shape, sizeof(shape), "%.*s", (int)(sig_line - note), note); /* no signatures */
    assert_int_equal(verify(shape, vector_vkey), CPM_ERR_VALIDATION);
    snprintf(shape, sizeof(shape), "%.*s%s", (int)(sig_line - note - 1), note, sig_line);
    assert_int_equal(verify(shape, vector_vkey), CPM_ERR_VALIDATION); /* no blank line */
    snprintf(shape, sizeof(shape), "%.*s-%s", (int)(sig_line - note), note, sig_line + 3);
    assert_int_equal(verify(shape, vector_vkey), CPM_ERR_VALIDATION); /* a hyphen, not a dash */
    snprintf(shape, sizeof(shape), "%.*s%s\n", (int)(sig_line - note), note, sig_line);
    assert_int_equal(verify(shape, vector_vkey), CPM_ERR_VALIDATION); /* empty signature line */
    snprintf(shape, sizeof(shape), "%.*s\r%s", (int)(sig_line - note - 1), note, sig_line - 1);
    assert_int_equal(verify(shape, vector_vkey), CPM_ERR_VALIDATION); /* a control character */
    snprintf(shape, sizeof(shape), "%s", note);
    shape[1] = (char)0xC0; /* not UTF-8 */
    assert_int_equal(verify(shape, vector_vkey), CPM_ERR_VALIDATION);
    /* a NUL inside the stated length */
    memcpy(shape, note, len);
    shape[3] = '\0';
    assert_int_equal(cpm_note_verify(shape, len, vector_vkey, &body, &body_len),
                     CPM_ERR_VALIDATION);

    /* a malformed verifier key */
    assert_int_equal(verify(note, "cpm.example/log"), CPM_ERR_VALIDATION);
    assert_int_equal(verify(note, ""), CPM_ERR_VALIDATION);
}

/* ---- several signatures ---- */

static void test_other_signatures(void **state)
{
    CPM_UNUSED(state);
    const char *body = ORIGIN "\n8\n" ROOT8 "\n";
    size_t body_len = strlen(body);
    char ours[256], witness[256], same_name[256], note[4096], vkey[256];
    signature_line(body, body_len, ORIGIN, 0x01, ours, sizeof(ours));
    signature_line(body, body_len, "witness.example/w", 0x02, witness, sizeof(witness));
    signature_line(body, body_len, ORIGIN, 0x03, same_name, sizeof(same_name));

    /* the test's own signing agrees with the vector */
    snprintf(note, sizeof(note), "%s\n%s", body, ours);
    assert_string_equal(note, vector_note);

    /* other keys are ignored, whatever their order, even sharing the name */
    snprintf(note, sizeof(note), "%s\n%s%s%s", body, witness, same_name, ours);
    assert_int_equal(verify(note, vector_vkey), CPM_OK);
    vkey_of("witness.example/w", 0x02, vkey, sizeof(vkey));
    assert_int_equal(verify(note, vkey), CPM_OK);
    vkey_of(ORIGIN, 0x03, vkey, sizeof(vkey));
    assert_int_equal(verify(note, vkey), CPM_OK);
    /* … but they are not ours */
    snprintf(note, sizeof(note), "%s\n%s%s", body, witness, same_name);
    assert_int_equal(verify(note, vector_vkey), CPM_ERR_VALIDATION);

    /* a second, bad signature by our key spoils the note */
    char bad[256];
    signature_line("other text\n", 11, ORIGIN, 0x01, bad, sizeof(bad));
    snprintf(note, sizeof(note), "%s\n%s%s", body, ours, bad);
    assert_int_equal(verify(note, vector_vkey), CPM_ERR_VALIDATION);

    /* up to CPM_NOTE_SIGNATURES_MAX lines, not one more */
    size_t len = (size_t)snprintf(note, sizeof(note), "%s\n%s", body, ours);
    for (int i = 1; i < CPM_NOTE_SIGNATURES_MAX; i++)
        len += (size_t)snprintf(note + len, sizeof(note) - len, "%s", witness);
    assert_true(len < sizeof(note) - sizeof(witness));
    assert_int_equal(verify(note, vector_vkey), CPM_OK);
    snprintf(note + len, sizeof(note) - len, "%s", witness);
    assert_int_equal(verify(note, vector_vkey), CPM_ERR_VALIDATION);

    /* an unknown key's malformed line spoils the note too */
    snprintf(note, sizeof(note), "%s\n%s" EM_DASH " witness.example/w AAAA\n", body, ours);
    assert_int_equal(verify(note, vector_vkey), CPM_ERR_VALIDATION);
    snprintf(note, sizeof(note), "%s\n%s" EM_DASH " witness.example/w\n", body, ours);
    assert_int_equal(verify(note, vector_vkey), CPM_ERR_VALIDATION);
}

static void test_blank_lines(void **state)
{
    CPM_UNUSED(state);
    uint8_t seed[32];
    seed_of(0x01, seed);
    char note[1024], line[256];
    /* this module never signs a text with a blank line … */
    assert_int_equal(cpm_note_sign("a\n\nb\n", ORIGIN, seed, note, sizeof(note)),
                     CPM_ERR_VALIDATION);
    /* … but, as the spec says, the last blank line of a note is the separator */
    const char *text = "Ognuno sta solo\n\ned \xC3\xA8 subito sera.\n";
    signature_line(text, strlen(text), ORIGIN, 0x01, line, sizeof(line));
    snprintf(note, sizeof(note), "%s\n%s", text, line);
    const char *body = NULL;
    size_t body_len = 0;
    assert_int_equal(cpm_note_verify(note, strlen(note), vector_vkey, &body, &body_len), CPM_OK);
    assert_int_equal(body_len, strlen(text));
    /* and what it signs verifies */
    assert_int_equal(cpm_note_sign("one line\n", ORIGIN, seed, note, sizeof(note)), CPM_OK);
    assert_int_equal(cpm_note_verify(note, strlen(note), vector_vkey, &body, &body_len), CPM_OK);
    assert_int_equal(body_len, 9);
}

/* ---- signing and formatting refuse ---- */

static void test_sign_errors(void **state)
{
    CPM_UNUSED(state);
    uint8_t seed[32];
    seed_of(0x01, seed);
    char note[1024];
    const char *bodies[] = {"", "no newline", "tab\there\n", "cr\r\n", "\xFF\n", "a\n\n"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(bodies); i++) {
        note[0] = 'x';
        assert_int_equal(cpm_note_sign(bodies[i], ORIGIN, seed, note, sizeof(note)),
                         CPM_ERR_VALIDATION);
        assert_string_equal(note, "");
    }
    const char *names[] = {
        "", "a b", "a+b", "a\tb", "nbsp\xC2\xA0here", "ideo\xE3\x80\x80sp", "\xC0\xAF"};
    for (size_t i = 0; i < CPM_ARRAY_LEN(names); i++)
        assert_int_equal(cpm_note_sign("x\n", names[i], seed, note, sizeof(note)),
                         CPM_ERR_VALIDATION);
    /* a name outside ASCII is fine */
    assert_int_equal(cpm_note_sign("x\n", "caf\xC3\xA9.example", seed, note, sizeof(note)), CPM_OK);
    /* too small a buffer, by one byte */
    assert_int_equal(cpm_note_sign("x\n", ORIGIN, seed, note, sizeof(note)), CPM_OK);
    size_t need = strlen(note) + 1;
    char small[1024];
    assert_int_equal(cpm_note_sign("x\n", ORIGIN, seed, small, need - 1), CPM_ERR_TOO_LARGE);
    assert_string_equal(small, "");
    assert_int_equal(cpm_note_sign("x\n", ORIGIN, seed, small, need), CPM_OK);
    assert_string_equal(small, note);

    char body[128];
    assert_int_equal(cpm_checkpoint_format("", 1, vector_root, body, sizeof(body)),
                     CPM_ERR_VALIDATION);
    assert_int_equal(cpm_checkpoint_format("a\nb", 1, vector_root, body, sizeof(body)),
                     CPM_ERR_VALIDATION);
    assert_int_equal(cpm_checkpoint_format("a\x01", 1, vector_root, body, sizeof(body)),
                     CPM_ERR_VALIDATION);
    size_t body_need = strlen(ORIGIN "\n8\n" ROOT8 "\n") + 1;
    assert_int_equal(cpm_checkpoint_format(ORIGIN, 8, vector_root, body, body_need - 1),
                     CPM_ERR_TOO_LARGE);
    assert_string_equal(body, "");
    assert_int_equal(cpm_checkpoint_format(ORIGIN, 8, vector_root, body, body_need), CPM_OK);
    assert_int_equal(cpm_checkpoint_format(ORIGIN, UINT64_MAX, vector_root, body, sizeof(body)),
                     CPM_OK);
    assert_string_equal(body, ORIGIN "\n18446744073709551615\n" ROOT8 "\n");
}

/* ---- verifier keys ---- */

static void test_vkey(void **state)
{
    CPM_UNUSED(state);
    char name[64];
    uint8_t pk[32], keyid[4], want_pk[32];
    public_key_of(0x01, want_pk);
    assert_int_equal(cpm_note_vkey_parse(vector_vkey, name, sizeof(name), pk, keyid), CPM_OK);
    assert_string_equal(name, ORIGIN);
    assert_memory_equal(pk, want_pk, 32);
    assert_memory_equal(keyid, "\xaa\x0f\x95\x54", 4);
    assert_int_equal(cpm_note_vkey_parse(vector_vkey, name, strlen(ORIGIN) + 1, pk, keyid), CPM_OK);
    assert_int_equal(cpm_note_vkey_parse(vector_vkey, name, strlen(ORIGIN), pk, keyid),
                     CPM_ERR_VALIDATION);

    /* base64(0x02 ‖ pk): not Ed25519 */
    uint8_t typed[33];
    typed[0] = 0x02;
    memcpy(typed + 1, want_pk, 32);
    char b64[64], line[256];
    sodium_bin2base64(b64, sizeof(b64), typed, sizeof(typed), sodium_base64_VARIANT_ORIGINAL);
    snprintf(line, sizeof(line), ORIGIN "+aa0f9554+%s", b64);
    assert_int_equal(cpm_note_vkey_parse(line, name, sizeof(name), pk, keyid), CPM_ERR_VALIDATION);

    const char *bad[] = {
        "",
        ORIGIN,
        ORIGIN "+aa0f9554",
        ORIGIN "+aa0f9554+",
        ORIGIN "+AA0F9554+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c", /* uppercase id */
        ORIGIN "+aa0f9555+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c", /* wrong id */
        ORIGIN "+aa0f955+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c",  /* short id */
        ORIGIN "+aa0f9554+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c\n",
        ORIGIN "+aa0f9554+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29",
        "cpm.example/Log+aa0f9554+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c", /* id of another
                                                                                    name */
        "+aa0f9554+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c",
        "cpm example+aa0f9554+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c",
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad); i++)
        assert_int_equal(cpm_note_vkey_parse(bad[i], name, sizeof(name), pk, keyid),
                         CPM_ERR_VALIDATION);
}

/* ---- checkpoints ---- */

static cpm_err parse(const char *body, uint64_t *size)
{
    char origin[96];
    uint8_t root[32];
    return cpm_checkpoint_parse(body, strlen(body), origin, sizeof(origin), size, root);
}

static void test_checkpoint_parse(void **state)
{
    CPM_UNUSED(state);
    uint64_t size = 7;
    char origin[96], body[256];
    uint8_t root[32];
    /* round trips */
    const uint64_t sizes[] = {0, 1, 8, 10, 1000, UINT64_MAX};
    for (size_t i = 0; i < CPM_ARRAY_LEN(sizes); i++) {
        assert_int_equal(cpm_checkpoint_format(ORIGIN, sizes[i], vector_root, body, sizeof(body)),
                         CPM_OK);
        assert_int_equal(
            cpm_checkpoint_parse(body, strlen(body), origin, sizeof(origin), &size, root), CPM_OK);
        assert_string_equal(origin, ORIGIN);
        assert_int_equal(size, sizes[i]);
        assert_memory_equal(root, vector_root, 32);
    }
    /* the body need not be NUL-terminated: only len bytes are read */
    char exact[128];
    size_t len = (size_t)snprintf(exact, sizeof(exact), ORIGIN "\n8\n" ROOT8 "\n");
    exact[len] = 'X';
    assert_int_equal(cpm_checkpoint_parse(exact, len, origin, sizeof(origin), &size, root), CPM_OK);
    assert_int_equal(size, 8);
    /* extension lines are allowed and ignored */
    assert_int_equal(parse(ORIGIN "\n8\n" ROOT8 "\next one\next two\n", &size), CPM_OK);
    /* an origin that just fits, and one that does not */
    assert_int_equal(cpm_checkpoint_parse(exact, len, origin, strlen(ORIGIN) + 1, &size, root),
                     CPM_OK);
    assert_int_equal(cpm_checkpoint_parse(exact, len, origin, strlen(ORIGIN), &size, root),
                     CPM_ERR_VALIDATION);

    const char *bad[] = {
        "",
        "\n",
        ORIGIN "\n8\n" ROOT8,                                          /* no final newline */
        ORIGIN "\n8\n",                                                /* two lines */
        "\n8\n" ROOT8 "\n",                                            /* empty origin */
        ORIGIN "\n08\n" ROOT8 "\n",                                    /* leading zero */
        ORIGIN "\n00\n" ROOT8 "\n",                                    /* leading zero */
        ORIGIN "\n\n" ROOT8 "\n",                                      /* no size */
        ORIGIN "\n-1\n" ROOT8 "\n",                                    /* a sign */
        ORIGIN "\n+8\n" ROOT8 "\n",                                    /* a sign */
        ORIGIN "\n 8\n" ROOT8 "\n",                                    /* a space */
        ORIGIN "\n8 \n" ROOT8 "\n",                                    /* a space */
        ORIGIN "\n0x8\n" ROOT8 "\n",                                   /* hex */
        ORIGIN "\n18446744073709551616\n" ROOT8 "\n",                  /* 2^64 */
        ORIGIN "\n99999999999999999999\n" ROOT8 "\n",                  /* over 64 bits */
        ORIGIN "\n100000000000000000000\n" ROOT8 "\n",                 /* 21 digits */
        ORIGIN "\n8\r\n" ROOT8 "\n",                                   /* CR */
        ORIGIN "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg\n",   /* no padding */
        ORIGIN "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=\n",  /* non-canonical */
        ORIGIN "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz-Nw7_RgQyg=\n",  /* URL-safe alphabet */
        ORIGIN "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg= \n", /* trailing space */
        ORIGIN "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg==\n", /* extra padding */
        ORIGIN "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQw==\n",  /* 31 bytes */
        ORIGIN "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQygA\n",  /* 33 bytes */
        ORIGIN "\n8\n\n",                                              /* empty root */
        ORIGIN "\n8\n" ROOT8 "\n\n",                                   /* empty extension line */
        ORIGIN "\n8\n" ROOT8 "\next\n\nmore\n",                        /* empty extension line */
        "cpm.example/\xC0\xAF\n8\n" ROOT8 "\n",                        /* not UTF-8 */
        "cpm\texample\n8\n" ROOT8 "\n",                                /* a control character */
    };
    for (size_t i = 0; i < CPM_ARRAY_LEN(bad); i++) {
        size = 7;
        if (parse(bad[i], &size) != CPM_ERR_VALIDATION)
            fail_msg("accepted bad checkpoint %zu: %s", i, bad[i]);
        assert_int_equal(size, 7); /* untouched */
    }
    /* a NUL inside the stated length */
    memcpy(body, exact, len);
    body[2] = '\0';
    assert_int_equal(cpm_checkpoint_parse(body, len, origin, sizeof(origin), &size, root),
                     CPM_ERR_VALIDATION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),           cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_other_signatures), cmocka_unit_test(test_blank_lines),
        cmocka_unit_test(test_sign_errors),      cmocka_unit_test(test_vkey),
        cmocka_unit_test(test_checkpoint_parse),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
