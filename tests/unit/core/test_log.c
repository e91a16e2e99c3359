/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_log.c — the log (core/log.c) with stderr turned into a pipe: a
 * direct line is written at once and whole; request-log lines
 * (cpm_log_buffered) wait in their thread's buffer until cpm_log_flush, a
 * full buffer or the end of their thread, and come out whole and in
 * order; warnings are never held.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include "core/common.h"
#include "core/log.h"

static int pipe_read_end = -1;
static int saved_stderr = -1;

static int setup(void **state)
{
    CPM_UNUSED(state);
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    fcntl(fds[1], F_SETPIPE_SZ, 1 << 20); /* room for every line of a test */
    saved_stderr = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    pipe_read_end = fds[0];
    return 0;
}

static int teardown(void **state)
{
    CPM_UNUSED(state);
    cpm_log_flush();
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    close(pipe_read_end);
    return 0;
}

/* What the pipe holds now (NUL-terminated in buf); its length. */
static size_t drain(char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t got;
    while (n + 1 < cap && (got = read(pipe_read_end, buf + n, cap - 1 - n)) > 0)
        n += (size_t)got;
    buf[n] = '\0';
    return n;
}

static size_t count_lines(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void test_direct_line_at_once(void **state)
{
    CPM_UNUSED(state);
    char buf[4096];
    cpm_log(CPM_LOG_INFO, "test", "rid1", "a=1", "hello %d", 42);
    drain(buf, sizeof(buf));
    assert_non_null(strstr(buf, "level=info module=test rid=rid1 msg=\"hello 42\" a=1\n"));
}

/* Quotes and backslashes escaped, control bytes as spaces; a long line cut short still ends. */
static void test_quoting_and_long_lines(void **state)
{
    CPM_UNUSED(state);
    char buf[8192], msg[3000], q[8];
    drain(buf, sizeof(buf));
    cpm_log(CPM_LOG_INFO, "test", NULL, "b=2", "say \"hi\"\\\tnow");
    drain(buf, sizeof(buf));
    assert_non_null(strstr(buf, "module=test msg=\"say \\\"hi\\\"\\\\ now\" b=2\n"));
    memset(msg, 'x', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    cpm_log(CPM_LOG_INFO, "test", NULL, "c=3", "%s", msg);
    size_t n = drain(buf, sizeof(buf));
    assert_true(n > 1000 && n <= 2048);
    assert_int_equal(buf[n - 1], '\n');
    assert_int_equal(count_lines(buf, "\n"), 1);
    cpm_log_quote(q, sizeof(q), "abcdefgh");
    assert_string_equal(q, "\"abcd\"");
    cpm_log_quote(q, 2, "abc");
    assert_string_equal(q, "");
}

static void test_buffered_until_flush(void **state)
{
    CPM_UNUSED(state);
    char buf[8192];
    drain(buf, sizeof(buf));
    for (int i = 0; i < 5; i++)
        cpm_log_buffered(CPM_LOG_INFO, "http", NULL, "route=\"/x\"", "request");
    assert_int_equal(drain(buf, sizeof(buf)), 0); /* held */
    cpm_log_buffered(CPM_LOG_WARN, "http", NULL, "status=503", "request");
    drain(buf, sizeof(buf));
    assert_int_equal(count_lines(buf, "level=warn"), 1); /* never held back */
    assert_int_equal(count_lines(buf, "level=info"), 0);
    cpm_log_flush();
    drain(buf, sizeof(buf));
    assert_int_equal(count_lines(buf, "level=info module=http msg=\"request\" route=\"/x\"\n"), 5);
    cpm_log_set_level(CPM_LOG_WARN);
    cpm_log_buffered(CPM_LOG_INFO, "http", NULL, NULL, "request");
    cpm_log_flush();
    cpm_log_set_level(CPM_LOG_INFO);
    assert_int_equal(drain(buf, sizeof(buf)), 0); /* below the level: dropped */
}

static void test_full_buffer_written_whole(void **state)
{
    CPM_UNUSED(state);
    static char buf[1 << 20];
    drain(buf, sizeof(buf));
    char fields[64];
    for (int i = 0; i < 400; i++) {
        snprintf(fields, sizeof(fields), "n=%d", i);
        cpm_log_buffered(CPM_LOG_INFO, "http", NULL, fields, "request");
    }
    size_t before_flush = drain(buf, sizeof(buf));
    assert_true(before_flush > 0); /* the buffer filled and went out */
    cpm_log_flush();
    assert_true(drain(buf + before_flush, sizeof(buf) - before_flush) > 0); /* the rest was held */
    /* every line once, whole and in order */
    const char *p = buf;
    for (int i = 0; i < 400; i++) {
        snprintf(fields, sizeof(fields), "msg=\"request\" n=%d\n", i);
        const char *at = strstr(p, fields);
        assert_non_null(at);
        p = at + strlen(fields);
    }
}

static void *log_and_end(void *arg)
{
    CPM_UNUSED(arg);
    for (int i = 0; i < 3; i++)
        cpm_log_buffered(CPM_LOG_INFO, "http", NULL, "from=thread", "request");
    return NULL;
}

static void test_thread_end_writes_its_lines(void **state)
{
    CPM_UNUSED(state);
    char buf[8192];
    drain(buf, sizeof(buf));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, log_and_end, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    drain(buf, sizeof(buf));
    assert_int_equal(count_lines(buf, "from=thread\n"), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_direct_line_at_once),
        cmocka_unit_test(test_quoting_and_long_lines),
        cmocka_unit_test(test_buffered_until_flush),
        cmocka_unit_test(test_full_buffer_written_whole),
        cmocka_unit_test(test_thread_end_writes_its_lines),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
