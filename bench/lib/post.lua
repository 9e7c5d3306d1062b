-- wrk script of the switchyard benchmarks (bench/lib/load.ts sets the environment):
--   BENCH_BODY_FILE    the request body, POSTed as application/json
--   BENCH_HEADERS      extra headers, one "Name: value" per line
--   BENCH_USER_HEADER  when set, each request carries a different user id in this header
--   BENCH_USERS        how many distinct user ids to cycle through (default 1000)
-- At the end it prints one line, BENCH_RESULT {json}, with the percentiles of wrk's own latency
-- record (every response's latency in microseconds, not a sample), the counts and the errors.

local function read_file(path)
  local file = assert(io.open(path, "rb"), "cannot open BENCH_BODY_FILE " .. tostring(path))
  local text = file:read("*a")
  file:close()
  return text
end

wrk.method = "POST"
wrk.body = read_file(os.getenv("BENCH_BODY_FILE"))
wrk.headers["Content-Type"] = "application/json"
for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end

local user_header = os.getenv("BENCH_USER_HEADER")
local users = tonumber(os.getenv("BENCH_USERS") or "1000")

if user_header and user_header ~= "" then
  local prepared = {}
  local index = 0

  -- Each wrk thread formats its requests once, so a request costs a table lookup, not a format.
  function init(args)
    for i = 1, users do
      local headers = {}
      for name, value in pairs(wrk.headers) do headers[name] = value end
      headers[user_header] = "u-" .. i
      prepared[i] = wrk.format(nil, nil, headers)
    end
  end

  function request()
    index = index % users + 1
    return prepared[index]
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,"p50_us":%.0f,"p90_us":%.0f,' ..
    '"p99_us":%.0f,"p999_us":%.0f,"max_us":%.0f,"mean_us":%.1f,"connect":%.0f,"read":%.0f,' ..
    '"write":%.0f,"status":%.0f,"timeout":%.0f}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
