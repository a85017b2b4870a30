-- wrk script for bench/load.py. The requests come from the file BENCH_REQUESTS names,
-- one a line, tab-separated: method, path, headers ("Name: value" joined by "|"), body
-- (may be empty). Each thread starts at its own line and cycles through them all, so
-- the requests spread over many users. "{n}" in a body becomes a number no other
-- request of the run uses (a post's nonce, an answer's text), nor any of the runs before
-- it: each thread counts on from BENCH_FIRST_N, which bench/load.py moves past every
-- run's requests (a nonce sent again is a double submit, and an autosave with a smaller
-- number a stale one: both cheaper than what they stand for).
-- At the end prints one line: "BENCH " followed by JSON with the counts.

local threads = {}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

local lines = {}
local next_line = 0
local sent = 0
statuses = {}
queries = 0
counted = 0

local function split_headers(text)
   local headers = {}
   for pair in string.gmatch(text, "[^|]+") do
      local name, value = string.match(pair, "^([^:]+):%s*(.*)$")
      if name then headers[name] = value end
   end
   return headers
end

function init(args)
   for line in io.lines(os.getenv("BENCH_REQUESTS")) do
      local method, path, headers, body = string.match(line, "^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      if method then
         table.insert(lines, {method = method, path = path, headers = split_headers(headers), body = body})
      end
   end
   next_line = (id * 7919) % #lines
   sent = tonumber(os.getenv("BENCH_FIRST_N") or "0")
end

function request()
   next_line = next_line % #lines + 1
   local r = lines[next_line]
   local body = r.body
   if body == "" then
      body = nil
   elseif string.find(body, "{n}", 1, true) then
      sent = sent + 1
      body = string.gsub(body, "{n}", tostring(sent * 1000 + id))
   end
   return wrk.format(r.method, r.path, r.headers, body)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   local q = headers["X-Queries"]
   if q then
      queries = queries + tonumber(q)
      counted = counted + 1
   end
end

function done(summary, latency, requests)
   local all = {}
   local q, c = 0, 0
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("statuses")) do
         all[status] = (all[status] or 0) + n
      end
      q = q + thread:get("queries")
      c = c + thread:get("counted")
   end
   local parts = {}
   for status, n in pairs(all) do
      table.insert(parts, string.format('"%d": %d', status, n))
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "timeout": %d, "status_errors": %d, '
      .. '"queries": %d, "counted": %d, "statuses": {%s}}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      latency.max, e.connect, e.read, e.write, e.timeout, e.status, q, c,
      table.concat(parts, ", ")))
end
