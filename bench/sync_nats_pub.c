/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sync_nats_pub.c — cpm-bench-nats-pub, bench/sync.sh's JetStream baseline:
 * COUNT messages of a file's bytes published with acks, the way cpmd's nats
 * destination publishes them (nats.c's js_PublishMsgAsync with an ack
 * handler; a Content-Type header, its own Nats-Msg-Id and the expected
 * stream on every message), with at most WINDOW acks outstanding (nats.c's
 * PublishAsync.MaxPending: a publish waits while WINDOW are in flight).
 *
 * Usage: cpm-bench-nats-pub URL SUBJECT STREAM COUNT WINDOW BODY_FILE
 * Prints one line: CPM_RESULT count=N failed=N seconds=S msgs_per_s=R
 * Exits 1 when it could not publish or any message was refused.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

static atomic_long acked, failed;

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)closure;
    if (pa != NULL && !pa->Duplicate) {
        atomic_fetch_add(&acked, 1);
    } else {
        if (atomic_fetch_add(&failed, 1) == 0)
            fprintf(stderr, "cpm-bench-nats-pub: first failure: %s\n",
                    pa != NULL                            ? "taken for a duplicate"
                    : pae != NULL && pae->ErrText != NULL ? pae->ErrText
                                                          : "no ack");
    }
    natsMsg_Destroy(msg);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_file(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (*len = ftell(f)) > 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)*len)) != NULL &&
        fread(buf, 1, (size_t)*len, f) != (size_t)*len) {
        free(buf);
        buf = NULL;
    }
    if (f != NULL)
        fclose(f);
    return buf;
}

static int fail(const char *what, natsStatus st)
{
    fprintf(stderr, "cpm-bench-nats-pub: %s: %s\n", what, natsStatus_GetText(st));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: cpm-bench-nats-pub URL SUBJECT STREAM COUNT WINDOW BODY_FILE\n");
        return 2;
    }
    const char *url = argv[1], *subject = argv[2], *stream = argv[3];
    long count = strtol(argv[4], NULL, 10), window = strtol(argv[5], NULL, 10), len = 0;
    char *body = read_file(argv[6], &len);
    if (count <= 0 || window <= 0 || body == NULL) {
        fprintf(stderr, "cpm-bench-nats-pub: bad COUNT, WINDOW or BODY_FILE\n");
        return 2;
    }

    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsOptions jo;
    natsStatus st = natsConnection_ConnectTo(&nc, url);
    if (st != NATS_OK)
        return fail("connect", st);
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = window;
    jo.PublishAsync.StallWait = 60000;
    jo.PublishAsync.AckHandler = on_ack;
    st = natsConnection_JetStream(&js, nc, &jo);
    if (st != NATS_OK)
        return fail("JetStream", st);

    /* Ids unique across runs: the server's duplicate window (2 minutes) outlives a run. */
    char id[80];
    struct timespec run;
    clock_gettime(CLOCK_REALTIME, &run);
    double t0 = now_s();
    for (long i = 0; i < count; i++) {
        natsMsg *msg = NULL;
        jsPubOptions po;
        snprintf(id, sizeof(id), "base-%lld%09ld-%ld", (long long)run.tv_sec, run.tv_nsec, i);
        st = natsMsg_Create(&msg, subject, NULL, body, (int)len);
        if (st == NATS_OK)
            st = natsMsgHeader_Set(msg, "Content-Type", "application/cloudevents+json");
        jsPubOptions_Init(&po);
        po.MsgId = id;
        po.ExpectStream = stream;
        if (st == NATS_OK)
            st = js_PublishMsgAsync(js, &msg, &po);
        if (st != NATS_OK) {
            natsMsg_Destroy(msg);
            return fail("publish", st);
        }
    }
    jsPubOptions done;
    jsPubOptions_Init(&done);
    done.MaxWait = 60000;
    st = js_PublishAsyncComplete(js, &done);
    double seconds = now_s() - t0;
    if (st != NATS_OK)
        return fail("waiting for the acks", st);
    long ok = atomic_load(&acked), bad = atomic_load(&failed);
    printf("CPM_RESULT count=%ld failed=%ld seconds=%.3f msgs_per_s=%.0f\n", ok, bad, seconds,
           (double)ok / seconds);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    free(body);
    nats_Close();
    return bad == 0 && ok == count ? 0 : 1;
}
