-- SPDX-License-Identifier: Apache-2.0
-- wrk script for bench/decide.sh: GET /v1/decide?subject=…&purpose=… over
-- the existing subjects of a bench population (ids s000000000 …, see
-- bench/population.h), each thread stepping through them by a large prime
-- from its own start, so consecutive requests hit unrelated subjects.
-- The same script drives nginx, so both sides build the same requests.
-- Environment (not argv, which `ps` shows): CPM_BENCH_SUBJECTS (N),
-- CPM_BENCH_KEY (a decisions:read API key), CPM_BENCH_PURPOSE (default
-- marketing.sms), and CPM_BENCH_CHECK: when set, every answer is looked at
-- (slower) and done() prints one line for the shell:
--   CPM_RESULT answers=N non200=N allowed=N first_error="…"

local n = tonumber(os.getenv("CPM_BENCH_SUBJECTS") or "")
local key = os.getenv("CPM_BENCH_KEY") or ""
local purpose = os.getenv("CPM_BENCH_PURPOSE") or "marketing.sms"
local check = (os.getenv("CPM_BENCH_CHECK") or "") ~= ""
local step = 1000003 -- a prime; N is never a multiple of it (decide.sh checks)

if n == nil or n < 1 then
  error("CPM_BENCH_SUBJECTS must be the number of subjects")
end

local threads = {}

function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

local k = 0
-- Globals, not locals: done() reads them from each thread with thread:get().
answers, non200, allowed, first_error = 0, 0, 0, ""

function init(args)
  k = ((thread_no or 1) * 7919 * 104729) % n
  wrk.headers["Authorization"] = "Bearer " .. key
end

function request()
  k = (k + step) % n
  return wrk.format("GET", string.format("/v1/decide?subject=s%09d&purpose=%s", k, purpose))
end

if check then
  function response(status, headers, body)
    answers = answers + 1
    if status ~= 200 then
      non200 = non200 + 1
      if first_error == "" then
        first_error = status .. " " .. string.sub(body or "", 1, 200)
      end
    elseif string.find(body, '"allowed":true', 1, true) then
      allowed = allowed + 1
    end
  end

  function done(summary, latency, requests)
    local a, b, c, e = 0, 0, 0, ""
    for _, t in ipairs(threads) do
      a = a + t:get("answers")
      b = b + t:get("non200")
      c = c + t:get("allowed")
      if e == "" then
        e = t:get("first_error")
      end
    end
    io.write(string.format('CPM_RESULT answers=%d non200=%d allowed=%d first_error="%s"\n', a, b, c,
      (string.gsub(e, '[%c"]', " "))))
  end
end
