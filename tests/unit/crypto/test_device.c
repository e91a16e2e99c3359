/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_device.c — src/crypto/device.c: device credentials round trip, any
 * altered byte is refused, a credential moved to another property or made
 * under another master key is refused, and the length limits hold.
 */
#include "core/common.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>

#include "crypto/device.h"

static void keyring_from(struct cpm_keyring *kr, uint8_t master_byte)
{
    struct cpm_datadir_keys keys;
    memset(keys.master, master_byte, sizeof(keys.master));
    memset(keys.signing_seed, 1, sizeof(keys.signing_seed));
    assert_int_equal(cpm_keyring_init(kr, &keys), CPM_OK);
    cpm_datadir_keys_wipe(&keys);
}

/* A credential for (property, subject) signed by hand: what device.c must accept. */
static void forge(const uint8_t key[32], const char *property, const char *subject, char *out,
                  size_t cap)
{
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    char text[CPM_DEVICE_MAC_TEXT_BYTES + 1];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, 32);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)"cpm-device-v1", 14);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)property, strlen(property) + 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)subject, strlen(subject));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(text, sizeof(text), mac, sizeof(mac),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(out, cap, "dev1.%s.%s.%s", property, subject, text);
}

static void test_round_trip(void **state)
{
    CPM_UNUSED(state);
    struct cpm_keyring kr;
    keyring_from(&kr, 0x42);
    struct cpm_device made, opened, other;
    char token[CPM_DEVICE_TOKEN_BYTES_MAX], second[CPM_DEVICE_TOKEN_BYTES_MAX];
    cpm_device_new(&kr, "shop.web", &made, token);
    assert_true(cpm_device_subject_valid(made.subject_id));
    assert_int_equal(strlen(made.subject_id), 27);
    assert_string_equal(made.property, "shop.web");
    assert_int_equal(strncmp(token, "dev1.shop.web.anon-", 19), 0);
    assert_int_equal(cpm_device_open(&kr, token, &opened), CPM_OK);
    assert_string_equal(opened.subject_id, made.subject_id);
    assert_string_equal(opened.property, "shop.web");
    /* every device is a new subject */
    cpm_device_new(&kr, "shop.web", &other, second);
    assert_string_not_equal(other.subject_id, made.subject_id);
    /* the documented construction, signed by hand, is what is accepted */
    char by_hand[CPM_DEVICE_TOKEN_BYTES_MAX];
    forge(kr.device_key, "shop.web", made.subject_id, by_hand, sizeof(by_hand));
    assert_string_equal(by_hand, token);
    cpm_keyring_wipe(&kr);
}

static void test_any_altered_byte_refused(void **state)
{
    CPM_UNUSED(state);
    struct cpm_keyring kr;
    keyring_from(&kr, 0x42);
    struct cpm_device d, out;
    char token[CPM_DEVICE_TOKEN_BYTES_MAX];
    cpm_device_new(&kr, "shop", &d, token);
    size_t len = strlen(token);
    static const char alphabet[] = "ABab09-_.x";
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < sizeof(alphabet) - 1; k++) {
            char altered[CPM_DEVICE_TOKEN_BYTES_MAX];
            memcpy(altered, token, len + 1);
            if (altered[i] == alphabet[k])
                continue;
            altered[i] = alphabet[k];
            if (cpm_device_open(&kr, altered, &out) != CPM_ERR_UNAUTHORIZED)
                fail_msg("byte %zu set to '%c' was accepted: %s", i, alphabet[k], altered);
        }
        char cut[CPM_DEVICE_TOKEN_BYTES_MAX];
        memcpy(cut, token, i);
        cut[i] = '\0';
        assert_int_equal(cpm_device_open(&kr, cut, &out), CPM_ERR_UNAUTHORIZED);
    }
    char longer[CPM_DEVICE_TOKEN_BYTES_MAX + 8];
    snprintf(longer, sizeof(longer), "%sA", token);
    assert_int_equal(cpm_device_open(&kr, longer, &out), CPM_ERR_UNAUTHORIZED);
    assert_int_equal(cpm_device_open(&kr, "", &out), CPM_ERR_UNAUTHORIZED);
    assert_int_equal(cpm_device_open(&kr, token, &out), CPM_OK);
    cpm_keyring_wipe(&kr);
}

static void test_wrong_property_or_key_refused(void **state)
{
    CPM_UNUSED(state);
    struct cpm_keyring kr, other_kr;
    keyring_from(&kr, 0x42);
    keyring_from(&other_kr, 0x43);
    struct cpm_device d, out;
    char token[CPM_DEVICE_TOKEN_BYTES_MAX], moved[CPM_DEVICE_TOKEN_BYTES_MAX + 16];
    cpm_device_new(&kr, "shop", &d, token);
    /* the same subject and MAC, relabelled for another property */
    const char *mac = strrchr(token, '.') + 1;
    snprintf(moved, sizeof(moved), "dev1.app.%s.%s", d.subject_id, mac);
    assert_int_equal(cpm_device_open(&kr, moved, &out), CPM_ERR_UNAUTHORIZED);
    /* a property name that swallows part of the subject */
    snprintf(moved, sizeof(moved), "dev1.shop.anon.%s", token + strlen("dev1.shop."));
    assert_int_equal(cpm_device_open(&kr, moved, &out), CPM_ERR_UNAUTHORIZED);
    /* another installation's master key */
    assert_int_equal(cpm_device_open(&other_kr, token, &out), CPM_ERR_UNAUTHORIZED);
    cpm_keyring_wipe(&kr);
    cpm_keyring_wipe(&other_kr);
}

static void test_limits(void **state)
{
    CPM_UNUSED(state);
    struct cpm_keyring kr;
    keyring_from(&kr, 0x42);
    struct cpm_device d, out;
    char token[CPM_DEVICE_TOKEN_BYTES_MAX], big[CPM_DEVICE_TOKEN_BYTES_MAX + 8];
    char property[CPM_ID_BYTES_MAX + 2];
    /* the longest property id fits */
    memset(property, 'p', CPM_ID_BYTES_MAX);
    property[CPM_ID_BYTES_MAX] = '\0';
    cpm_device_new(&kr, property, &d, token);
    assert_int_equal(strlen(token), CPM_DEVICE_TOKEN_BYTES_MAX - 1);
    assert_int_equal(cpm_device_open(&kr, token, &out), CPM_OK);
    assert_string_equal(out.property, property);
    /* one byte more is refused before anything is computed, even correctly signed */
    property[CPM_ID_BYTES_MAX] = 'p';
    property[CPM_ID_BYTES_MAX + 1] = '\0';
    forge(kr.device_key, property, d.subject_id, big, sizeof(big));
    assert_int_equal(strlen(big), CPM_DEVICE_TOKEN_BYTES_MAX);
    assert_int_equal(cpm_device_open(&kr, big, &out), CPM_ERR_UNAUTHORIZED);
    /* correctly signed, but not a device subject or not a property id */
    forge(kr.device_key, "shop", "anon-short", big, sizeof(big));
    assert_int_equal(cpm_device_open(&kr, big, &out), CPM_ERR_UNAUTHORIZED);
    forge(kr.device_key, "shop", "user-AAAAAAAAAAAAAAAAAAAAAA", big, sizeof(big));
    assert_int_equal(cpm_device_open(&kr, big, &out), CPM_ERR_UNAUTHORIZED);
    forge(kr.device_key, "Shop", d.subject_id, big, sizeof(big));
    assert_int_equal(cpm_device_open(&kr, big, &out), CPM_ERR_UNAUTHORIZED);
    forge(kr.device_key, "shop", d.subject_id, big, sizeof(big));
    assert_int_equal(cpm_device_open(&kr, big, &out), CPM_OK);
    cpm_keyring_wipe(&kr);
}

static void test_reserved_subjects(void **state)
{
    CPM_UNUSED(state);
    assert_true(cpm_device_subject_reserved("anon-"));
    assert_true(cpm_device_subject_reserved("anon-anything"));
    assert_false(cpm_device_subject_reserved("anon"));
    assert_false(cpm_device_subject_reserved("Anon-x"));
    assert_false(cpm_device_subject_reserved("user-1"));
    assert_true(cpm_device_subject_valid("anon-AAAAAAAAAAAAAAAAAAAA-_"));
    assert_false(cpm_device_subject_valid("anon-AAAAAAAAAAAAAAAAAAAA-"));
    assert_false(cpm_device_subject_valid("anon-AAAAAAAAAAAAAAAAAAAA-__"));
    assert_false(cpm_device_subject_valid("anon-AAAAAAAAAAAAAAAAAAAA+/"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_any_altered_byte_refused),
        cmocka_unit_test(test_wrong_property_or_key_refused),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_reserved_subjects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
