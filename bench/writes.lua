-- SPDX-License-Identifier: Apache-2.0
-- wrk script for bench/writes.sh: POST /v1/subjects/{id}/consents with a
-- new subject id on every request (run tag, thread number and a per-thread
-- counter) and a body of 1 or 4 decisions. Anything but 201 is an error.
-- Arguments (after --): TAG DECISIONS NOTICE_SHA256; the API key comes from
-- the CPM_BENCH_KEY environment variable (not argv, which `ps` shows).
-- done() prints one line for the shell to parse:
--   CPM_RESULT ok=N non201=N socket_errors=N seconds=S p50_us=N p99_us=N max_us=N first_error="…"

local threads = {}

function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

local tag, body, headers
local counter = 0
-- Globals, not locals: done() reads them from each thread with thread:get().
ok, non201, first_error = 0, 0, ""

local decision_sets = {
  ["1"] = '{"purpose":"marketing.sms","decision":"given"}',
  ["4"] = '{"purpose":"marketing.sms","decision":"given"},'
    .. '{"purpose":"marketing.email","decision":"given"},'
    .. '{"purpose":"marketing.push","decision":"refused"},'
    .. '{"purpose":"analytics","decision":"given"}',
}

function init(args)
  tag = args[1] or "run"
  local decisions = decision_sets[args[2] or "1"]
  local sha = args[3] or ""
  if decisions == nil then
    error("DECISIONS must be 1 or 4")
  end
  body = '{"property":"shop","channel":"web","locale":"en","method":"click",'
    .. '"notice":{"id":"privacy","version":1,"sha256":"' .. sha .. '"},'
    .. '"context":{"ip":"203.0.113.7","user_agent":"Mozilla/5.0 (OpenCPM bench)"},'
    .. '"decisions":[' .. decisions .. ']}'
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. (os.getenv("CPM_BENCH_KEY") or ""),
  }
end

function request()
  counter = counter + 1
  local path = string.format("/v1/subjects/b%s-t%d-%d/consents", tag, thread_no, counter)
  return wrk.format("POST", path, headers, body)
end

function response(status, _, resp_body)
  if status == 201 then
    ok = ok + 1
  else
    non201 = non201 + 1
    if first_error == "" then
      first_error = tostring(status) .. " " .. string.sub(resp_body or "", 1, 200)
    end
  end
end

function done(summary, latency, _)
  local total_ok, total_bad, err_text = 0, 0, ""
  for _, t in ipairs(threads) do
    total_ok = total_ok + (t:get("ok") or 0)
    total_bad = total_bad + (t:get("non201") or 0)
    local e = t:get("first_error") or ""
    if err_text == "" and e ~= "" then
      err_text = e
    end
  end
  local e = summary.errors
  local socket = e.connect + e.read + e.write + e.timeout
  err_text = string.gsub(string.gsub(err_text, '[\r\n"]', " "), "%s+", " ")
  io.write(string.format(
    'CPM_RESULT ok=%d non201=%d socket_errors=%d seconds=%.3f p50_us=%d p99_us=%d max_us=%d first_error="%s"\n',
    total_ok, total_bad, socket, summary.duration / 1e6, latency:percentile(50),
    latency:percentile(99), latency.max, err_text))
end
