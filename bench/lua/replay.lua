-- Replays one prepared HTTP request and reports what came back, as one JSON line.
--
--   wrk -t2 -c32 -d5s -s bench/lua/replay.lua http://127.0.0.1:PORT -- REQUEST_FILE [MARKER]
--
-- REQUEST_FILE holds the raw request bytes (request line, headers, blank line, body) that
-- bench/run.py wrote for one operation after its setup; they are sent as they are, so what wrk
-- sends is exactly what the file shows. MARKER, when given, is a string a 2xx body must contain
-- to count as a success: GeWe and wid refuse with HTTP 200 and an error envelope, which wrk's
-- own status counting cannot see.
--
-- done() prints "BENCH_RESULT {json}" with the request count, latency percentiles (µs), socket
-- errors, non-2xx and envelope-error counts, and the failures by status with the first reply of
-- each (cut to 300 bytes; an envelope error is listed under its 2xx status).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local raw_request
local marker
-- Globals, not locals: done() runs in wrk's main Lua state and reads them with thread:get().
non2xx = 0
envelope_errors = 0
failures = {}  -- status (as a string) -> count
samples = {}   -- status (as a string) -> the first failing reply with that status

function init(args)
  local file = assert(io.open(args[1], "rb"), "cannot open request file " .. tostring(args[1]))
  raw_request = file:read("*a")
  file:close()
  if args[2] ~= nil and args[2] ~= "" then
    marker = args[2]
  end
end

function request()
  return raw_request
end

function response(status, headers, body)
  local failed = false
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    failed = true
  elseif marker ~= nil and (body == nil or not string.find(body, marker, 1, true)) then
    envelope_errors = envelope_errors + 1
    failed = true
  end
  if failed then
    local key = tostring(status)
    failures[key] = (failures[key] or 0) + 1
    if samples[key] == nil then
      samples[key] = string.sub(body or "", 1, 300)
    end
  end
end

local function json_string(text)
  local escaped = string.gsub(text, '[%c"\\]', function(char)
    if char == '"' then return '\\"' end
    if char == "\\" then return "\\\\" end
    return string.format("\\u%04x", string.byte(char))
  end)
  return '"' .. escaped .. '"'
end

function done(summary, latency, requests)
  local total_non2xx, total_envelope, counts, firsts = 0, 0, {}, {}
  for _, thread in ipairs(threads) do
    total_non2xx = total_non2xx + (thread:get("non2xx") or 0)
    total_envelope = total_envelope + (thread:get("envelope_errors") or 0)
    local samples_of_thread = thread:get("samples") or {}
    for key, count in pairs(thread:get("failures") or {}) do
      counts[key] = (counts[key] or 0) + count
      firsts[key] = firsts[key] or samples_of_thread[key]
    end
  end
  local kinds = {}
  for key, count in pairs(counts) do
    table.insert(kinds, json_string(key) .. ':{"count":' .. count .. ',"sample":'
                 .. json_string(firsts[key] or "") .. "}")
  end
  local errors = summary.errors
  local fields = {
    '"requests":' .. summary.requests,
    '"duration_us":' .. summary.duration,
    '"bytes":' .. summary.bytes,
    '"p50_us":' .. latency:percentile(50),
    '"p90_us":' .. latency:percentile(90),
    '"p99_us":' .. latency:percentile(99),
    '"max_us":' .. latency.max,
    '"mean_us":' .. latency.mean,
    '"connect_errors":' .. errors.connect,
    '"read_errors":' .. errors.read,
    '"write_errors":' .. errors.write,
    '"timeouts":' .. errors.timeout,
    '"non2xx":' .. total_non2xx,
    '"envelope_errors":' .. total_envelope,
    '"failures":{' .. table.concat(kinds, ",") .. "}",
  }
  io.write("BENCH_RESULT {" .. table.concat(fields, ",") .. "}\n")
end
