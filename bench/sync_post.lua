-- SPDX-License-Identifier: Apache-2.0
-- wrk script for bench/sync.sh's receiver baseline: POST the body of a real
-- delivery (a CloudEvent cpmd sent in the same run) with the headers a
-- webhook delivery carries (content type, webhook-id, -timestamp,
-- -signature), on every request. The body's file is named by the
-- CPM_SYNC_BODY environment variable. Set at load time, so wrk's own init
-- formats the request once.

local f = assert(io.open(assert(os.getenv("CPM_SYNC_BODY"), "CPM_SYNC_BODY is not set"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/cloudevents+json"
wrk.headers["webhook-id"] = "evt_00000000000000000000000000000000"
wrk.headers["webhook-timestamp"] = tostring(os.time())
wrk.headers["webhook-signature"] = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
wrk.headers["User-Agent"] = "OpenCPM-webhook/1"
