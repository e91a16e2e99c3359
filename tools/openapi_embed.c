/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openapi_embed.c — build-time tool: converts docs/openapi.yaml to compact
 * JSON and writes it as a C source file, so cpmd serves the API's source of
 * truth at /v1/openapi.json without reading files at run time.
 *
 *     cpm-openapi-embed IN.yaml OUT.c
 *
 * YAML is read with libyaml's event API and built into a jansson value with
 * an explicit stack (no recursion). Mappings become objects (keys are always
 * strings), sequences arrays. Plain scalars that the YAML 1.2 core schema
 * resolves to null, booleans, integers or floats become those JSON types;
 * quoted and block scalars, and every other plain scalar, stay strings.
 * Anchors, aliases, tags other than !!str, duplicate keys, non-scalar keys
 * and more than one document are refused with "IN:LINE: message".
 *
 * OUT.c defines cpm_openapi_json (the bytes as hex, NUL-terminated) and
 * cpm_openapi_json_len (without the NUL), declared in src/api/openapi.h.
 * It is written to OUT.c.tmp and renamed, so a failed run leaves no
 * half-written file for the build to pick up.
 *
 * Standalone: it includes no OpenCPM headers, and avoids the calls
 * src/core/banned.h forbids all the same.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#define DEPTH_MAX         64 /* nesting of mappings and sequences */
#define BYTES_PER_LINE    16
#define TAG_STR           "tag:yaml.org,2002:str"
#define TMP_SUFFIX        ".tmp"
#define PATH_BYTES_MAX    4096
#define SCALAR_NUMBER_MAX 64 /* longer plain scalars are never numbers we accept */

static const char *in_path = "";

static void fail_at(size_t line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%zu: ", in_path, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* One open container: the value being filled and, for a mapping, the key
 * read and waiting for its value (NULL when the next scalar is a key). */
struct frame {
    json_t *value;
    char *key;
};

struct builder {
    struct frame stack[DEPTH_MAX];
    int depth;
    json_t *root;
    int documents;
};

static bool all_of(const char *s, size_t len, const char *set)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (strchr(set, s[i]) == NULL || s[i] == '\0')
            return false;
    return true;
}

static bool one_of(const char *s, const char *const *words)
{
    for (; *words != NULL; words++)
        if (strcmp(s, *words) == 0)
            return true;
    return false;
}

/* [-+]?[0-9]+ */
static bool is_decimal_int(const char *s, size_t len)
{
    size_t i = (len > 0 && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    return all_of(s + i, len - i, "0123456789");
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_float(const char *s, size_t len)
{
    size_t i = 0, digits = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < len && s[i] == '.') {
        i++;
        size_t frac = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++, frac++;
        if (digits == 0 && frac == 0)
            return false;
    } else if (digits == 0) {
        return false;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t exp = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++, exp++;
        if (exp == 0)
            return false;
    }
    return i == len;
}

/*
 * Resolves a plain scalar by the YAML 1.2 core schema. Returns a new
 * reference, or NULL after reporting a value JSON cannot hold.
 */
static json_t *resolve_plain(const char *s, size_t len, size_t line)
{
    static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    static const char *const specials[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf",
                                           "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
                                           ".NaN",  ".NAN",  NULL};
    if (len == 0 || one_of(s, nulls))
        return json_null();
    if (one_of(s, trues))
        return json_true();
    if (one_of(s, falses))
        return json_false();
    if (strlen(s) != len || len > SCALAR_NUMBER_MAX)
        return json_stringn(s, len);
    if (one_of(s, specials)) {
        fail_at(line, "'%s' is a YAML float JSON cannot represent; quote it for a string", s);
        return NULL;
    }
    int base = 0;
    const char *digits = s;
    if (is_decimal_int(s, len)) {
        base = 10;
    } else if (len > 2 && s[0] == '0' && s[1] == 'o' && all_of(s + 2, len - 2, "01234567")) {
        base = 8;
        digits = s + 2;
    } else if (len > 2 && s[0] == '0' && s[1] == 'x' &&
               all_of(s + 2, len - 2, "0123456789abcdefABCDEF")) {
        base = 16;
        digits = s + 2;
    }
    if (base != 0) {
        errno = 0;
        char *end = NULL;
        long long v = strtoll(digits, &end, base); /* json_int_t is long long */
        if (errno != 0 || *end != '\0') {
            fail_at(line, "integer '%s' is out of range; quote it for a string", s);
            return NULL;
        }
        return json_integer((json_int_t)v);
    }
    if (is_float(s, len)) {
        errno = 0;
        char *end = NULL;
        double v = strtod(s, &end);
        if (errno != 0 || *end != '\0') {
            fail_at(line, "float '%s' is out of range; quote it for a string", s);
            return NULL;
        }
        return json_real(v);
    }
    return json_stringn(s, len);
}

static json_t *scalar_value(const yaml_event_t *ev, size_t line)
{
    const char *text = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    if (tag != NULL && strcmp(tag, TAG_STR) != 0 && strcmp(tag, "!") != 0) {
        fail_at(line, "tag '%s' is not supported (only !!str)", tag);
        return NULL;
    }
    if (tag == NULL && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        return resolve_plain(text, len, line);
    return json_stringn(text, len);
}

/* Attaches value (reference taken) to the innermost container, or makes it the root. */
static bool attach(struct builder *b, json_t *value, size_t line)
{
    if (b->depth == 0) {
        b->root = value;
        return true;
    }
    struct frame *top = &b->stack[b->depth - 1];
    if (json_is_array(top->value)) {
        if (json_array_append_new(top->value, value) != 0) {
            fail_at(line, "out of memory");
            return false;
        }
        return true;
    }
    /* A mapping: value is the value of top->key, which scalar keys have set. */
    int rc = json_object_set_new(top->value, top->key, value);
    free(top->key);
    top->key = NULL;
    if (rc != 0) {
        fail_at(line, "out of memory");
        return false;
    }
    return true;
}

/* Handles a scalar: a mapping key, or a value. */
static bool on_scalar(struct builder *b, const yaml_event_t *ev, size_t line)
{
    struct frame *top = b->depth > 0 ? &b->stack[b->depth - 1] : NULL;
    if (top != NULL && json_is_object(top->value) && top->key == NULL) {
        const char *text = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        if (strlen(text) != len) {
            fail_at(line, "a mapping key contains a NUL byte");
            return false;
        }
        if (json_object_get(top->value, text) != NULL) {
            fail_at(line, "duplicate key '%s'", text);
            return false;
        }
        top->key = malloc(len + 1);
        if (top->key == NULL) {
            fail_at(line, "out of memory");
            return false;
        }
        memcpy(top->key, text, len + 1);
        return true;
    }
    json_t *value = scalar_value(ev, line);
    return value != NULL && attach(b, value, line);
}

static bool on_open(struct builder *b, json_t *container, size_t line)
{
    if (container == NULL) {
        fail_at(line, "out of memory");
        return false;
    }
    struct frame *top = b->depth > 0 ? &b->stack[b->depth - 1] : NULL;
    if (top != NULL && json_is_object(top->value) && top->key == NULL) {
        json_decref(container);
        fail_at(line, "mapping keys must be scalars");
        return false;
    }
    if (b->depth == DEPTH_MAX) {
        json_decref(container);
        fail_at(line, "nested deeper than %d levels", DEPTH_MAX);
        return false;
    }
    /* Attach first (the parent holds its reference), then push a borrowed one. */
    if (!attach(b, json_incref(container), line)) {
        json_decref(container);
        return false;
    }
    b->stack[b->depth++] = (struct frame){.value = container};
    json_decref(container);
    return true;
}

static void builder_release(struct builder *b)
{
    for (int i = 0; i < b->depth; i++)
        free(b->stack[i].key);
    b->depth = 0;
    json_decref(b->root);
    b->root = NULL;
}

static const char *anchor_of(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return (const char *)ev->data.scalar.anchor;
    case YAML_SEQUENCE_START_EVENT:
        return (const char *)ev->data.sequence_start.anchor;
    case YAML_MAPPING_START_EVENT:
        return (const char *)ev->data.mapping_start.anchor;
    default:
        return NULL;
    }
}

static const char *collection_tag(const yaml_event_t *ev)
{
    if (ev->type == YAML_SEQUENCE_START_EVENT && !ev->data.sequence_start.implicit)
        return (const char *)ev->data.sequence_start.tag;
    if (ev->type == YAML_MAPPING_START_EVENT && !ev->data.mapping_start.implicit)
        return (const char *)ev->data.mapping_start.tag;
    return NULL;
}

/* Handles one event; false after reporting an error. *done is set at stream end. */
static bool on_event(struct builder *b, const yaml_event_t *ev, bool *done)
{
    size_t line = ev->start_mark.line + 1;
    if (anchor_of(ev) != NULL) {
        fail_at(line, "anchor '&%s': anchors and aliases are not supported; write it out",
                anchor_of(ev));
        return false;
    }
    const char *tag = collection_tag(ev);
    if (tag != NULL) {
        fail_at(line, "tag '%s' is not supported", tag);
        return false;
    }
    switch (ev->type) {
    case YAML_STREAM_START_EVENT:
    case YAML_DOCUMENT_END_EVENT:
        return true;
    case YAML_DOCUMENT_START_EVENT:
        if (++b->documents > 1) {
            fail_at(line, "more than one YAML document");
            return false;
        }
        return true;
    case YAML_STREAM_END_EVENT:
        *done = true;
        return true;
    case YAML_ALIAS_EVENT:
        fail_at(line, "alias '*%s': anchors and aliases are not supported; write it out",
                (const char *)ev->data.alias.anchor);
        return false;
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev, line);
    case YAML_SEQUENCE_START_EVENT:
        return on_open(b, json_array(), line);
    case YAML_MAPPING_START_EVENT:
        return on_open(b, json_object(), line);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth == 0) {
            fail_at(line, "unbalanced end of a collection");
            return false;
        }
        b->depth--;
        return true;
    case YAML_NO_EVENT:
    default:
        fail_at(line, "unexpected YAML event %d", (int)ev->type);
        return false;
    }
}

/* Parses the YAML stream in into a new JSON value, or NULL after reporting why. */
static json_t *load_yaml(FILE *in)
{
    yaml_parser_t parser;
    struct builder b = {.depth = 0};
    if (!yaml_parser_initialize(&parser)) {
        fail_at(0, "cannot initialise the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_file(&parser, in);
    bool ok = true, done = false;
    while (ok && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            fail_at(parser.problem_mark.line + 1, "%s%s%s",
                    parser.problem ? parser.problem : "YAML syntax error",
                    parser.context ? " " : "", parser.context ? parser.context : "");
            ok = false;
            break;
        }
        ok = on_event(&b, &ev, &done);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (ok && b.root == NULL) {
        fail_at(1, "the file holds no YAML document");
        ok = false;
    }
    if (ok && !json_is_object(b.root)) {
        fail_at(1, "the document must be a mapping (an OpenAPI object)");
        ok = false;
    }
    if (!ok) {
        builder_release(&b);
        return NULL;
    }
    return b.root;
}

static bool write_c(FILE *out, const char *json, size_t len)
{
    fprintf(out, "/* SPDX-License-Identifier: Apache-2.0 */\n"
                 "/* Generated by cpm-openapi-embed from docs/openapi.yaml. Do not edit. */\n"
                 "#include <stddef.h>\n\n"
                 "#include \"api/openapi.h\"\n\n"
                 "const char cpm_openapi_json[] = {\n");
    for (size_t i = 0; i < len; i++) {
        fprintf(out, "%s0x%02x,", i % BYTES_PER_LINE == 0 ? "    " : " ",
                (unsigned)(unsigned char)json[i]);
        if (i % BYTES_PER_LINE == BYTES_PER_LINE - 1)
            fputc('\n', out);
    }
    fprintf(out, "%s    0x00,\n};\n\n", len % BYTES_PER_LINE ? "\n" : "");
    fprintf(out, "const size_t cpm_openapi_json_len = %zu;\n", len);
    return !ferror(out);
}

int main(int argc, char **argv)
{
    int rc = 1;
    json_t *doc = NULL;
    char *json = NULL;
    FILE *in = NULL, *out = NULL;
    char tmp[PATH_BYTES_MAX];
    bool tmp_made = false;

    if (argc != 3) {
        fprintf(stderr, "usage: cpm-openapi-embed IN.yaml OUT.c\n");
        return 2;
    }
    in_path = argv[1];
    int n = snprintf(tmp, sizeof(tmp), "%s%s", argv[2], TMP_SUFFIX);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        fprintf(stderr, "cpm-openapi-embed: output path too long: %s\n", argv[2]);
        return 2;
    }
    in = fopen(in_path, "rb");
    if (in == NULL) {
        fprintf(stderr, "%s: cannot open: %s\n", in_path, strerror(errno));
        goto out;
    }
    doc = load_yaml(in);
    if (doc == NULL)
        goto out;
    json = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (json == NULL) {
        fprintf(stderr, "%s: cannot serialise the document as JSON\n", in_path);
        goto out;
    }
    out = fopen(tmp, "wb");
    if (out == NULL) {
        fprintf(stderr, "%s: cannot create: %s\n", tmp, strerror(errno));
        goto out;
    }
    tmp_made = true;
    bool written = write_c(out, json, strlen(json));
    if (fclose(out) != 0)
        written = false;
    out = NULL;
    if (!written) {
        fprintf(stderr, "%s: write failed: %s\n", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, argv[2]) != 0) {
        fprintf(stderr, "%s: cannot rename to %s: %s\n", tmp, argv[2], strerror(errno));
        goto out;
    }
    tmp_made = false;
    rc = 0;
out:
    if (out != NULL)
        fclose(out);
    if (tmp_made)
        remove(tmp);
    if (in != NULL)
        fclose(in);
    free(json);
    json_decref(doc);
    return rc;
}
