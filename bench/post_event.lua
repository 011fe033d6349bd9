-- wrk script for bench/decisions.py: POST /v1/decisions with realistic comments.
--
-- Usage: wrk -t1 -c8 -d10s -s bench/post_event.lua http://127.0.0.1:PORT -- RUN_TAG [tally]
--
-- Every request carries a new event_id (RUN_TAG, thread number, counter): the
-- service answers a repeated id from its deduplication cache, which would
-- measure a dictionary lookup instead of a decision. RUN_TAG must differ
-- between runs against the same server process for the same reason.
--
-- At the end one line "BENCH_RESULT {json}" is printed for the driver: wrk's
-- own text output rounds latencies and hides which status codes came back.
-- Answers marked duplicate, or degraded (decided without state because the
-- store failed), are counted apart: they are not decisions to measure.

-- The comments cycle through these in order. The three "%s" are, in order:
-- event_id, occurred_at, author id; a fourth "%s" is the thread's post time.
-- Together they reach most rules of rules/default.yaml (noted after each), with
-- and without caller signals, short and long texts, ASCII and not.
local templates = {
  -- constructive-criticism
  [[{"event_id":"%s","account":"acme","occurred_at":"%s","channel":"instagram",]]
    .. [["text":"The app crashes when I upload a photo from the gallery, every single time. iPhone 13, latest update.",]]
    .. [["lang":"en","author":{"id":"%s","reach":1200,"is_customer":true,"verified":false},]]
    .. [["thread":{"id":"p9","published_at":"%s","by_brand":true},]]
    .. [["signals":{"tone":"negative","severity":2,"constructive":true}}]],
  -- fan-praise
  [[{"event_id":"%s","account":"acme","occurred_at":"%s","channel":"instagram",]]
    .. [["text":"Love the new app! The dark mode is gorgeous \ud83d\ude0d","lang":"en",]]
    .. [["author":{"id":"%s","reach":340},"thread":{"id":"p9","published_at":"%s","by_brand":true},]]
    .. [["signals":{"tone":"positive","severity":0}}]],
  -- insult
  [[{"event_id":"%s","account":"globex","occurred_at":"%s","channel":"x",]]
    .. [["text":"you are all clowns, worst company ever","lang":"en",]]
    .. [["author":{"id":"%s","reach":85,"is_customer":false},]]
    .. [["signals":{"tone":"hostile","severity":3}}]],
  -- multiplier-negative
  [[{"event_id":"%s","account":"acme","occurred_at":"%s","channel":"youtube",]]
    .. [["text":"Third outage this month. I am telling my followers to stay away until you fix your servers.",]]
    .. [["lang":"en","author":{"id":"%s","reach":250000,"is_customer":true,"verified":true},]]
    .. [["thread":{"id":"v-launch","published_at":"%s","by_brand":false},]]
    .. [["signals":{"tone":"negative","severity":2}}]],
  -- customer-question
  [[{"event_id":"%s","account":"initech","occurred_at":"%s","channel":"facebook",]]
    .. [["text":"Do you ship to Belgium? And how long does delivery usually take?","lang":"en",]]
    .. [["author":{"id":"%s","reach":410,"is_customer":true},"signals":{"tone":"neutral","severity":0}}]],
  -- threat-or-hate
  [[{"event_id":"%s","account":"globex","occurred_at":"%s","channel":"x",]]
    .. [["text":"I know where your CEO lives. Watch your back.","lang":"en",]]
    .. [["author":{"id":"%s","reach":12,"verified":false},]]
    .. [["signals":{"tone":"hostile","severity":5}}]],
  -- emotional-non-customer
  [[{"event_id":"%s","account":"initech","occurred_at":"%s","channel":"x",]]
    .. [["text":"this brand is a joke, everyone knows it","lang":"en",]]
    .. [["author":{"id":"%s","reach":2300,"is_customer":false},]]
    .. [["signals":{"tone":"negative","severity":1}}]],
  -- nothing-to-do: no signals at all, the service fills in its defaults
  [[{"event_id":"%s","account":"acme","occurred_at":"%s","channel":"instagram",]]
    .. [["text":"Habe die Werbung heute im Kino gesehen, ganz nett gemacht. Grüße aus Köln!",]]
    .. [["lang":"de","author":{"id":"%s"},"thread":{"id":"p12","published_at":"%s","by_brand":true}}]],
  -- serious-risk, with a long text as people write when they are worried
  [[{"event_id":"%s","account":"globex","occurred_at":"%s","channel":"facebook",]]
    .. [["text":"I am writing here because nobody answers the hotline. Last Tuesday I bought the new ]]
    .. [[SPF 50 sunscreen for my daughter (she is 6) and put it on her before school. By noon her ]]
    .. [[face and arms were covered in red blisters and the school nurse called me. We spent the ]]
    .. [[afternoon at the emergency room and the doctor said it looks like a chemical burn. She is ]]
    .. [[fine now, thank God, but she was in pain all night. I still have the bottle, batch number ]]
    .. [[L2291-B, bought at the pharmacy on Main Street. I have read two other reports like mine in ]]
    .. [[a parents group this week. Is this batch being recalled? What is in it? Other parents need ]]
    .. [[to know before the weekend, so please do not send me a coupon, tell us what happened.",]]
    .. [["lang":"en","author":{"id":"%s","reach":640,"is_customer":true,"verified":false},]]
    .. [["thread":{"id":"p-summer","published_at":"%s","by_brand":true},]]
    .. [["signals":{"tone":"negative","severity":4,"constructive":false}}]],
}

-- Every target gets the same headers; the service checks the bearer token
-- (BENCH_TOKEN, from bench/decisions.py), the bare app ignores it.
local headers = { ["Content-Type"] = "application/json" }
local token = os.getenv("BENCH_TOKEN")
if token then
  headers["Authorization"] = "Bearer " .. token
end
local threads = {}

-- BENCH_ACCOUNTS=N spreads the comments over N accounts (acme-0, globex-1, ...)
-- instead of the three above, so that on a Redis Cluster they land on every
-- primary. The variants are written once here, not per request.
local spread = tonumber(os.getenv("BENCH_ACCOUNTS") or "0") or 0
local variants = nil
if spread > 0 then
  variants = {}
  for a = 0, spread - 1 do
    variants[a] = {}
    for t, template in ipairs(templates) do
      variants[a][t] = string.gsub(template, '"account":"(%w+)"', '"account":"%1-' .. a .. '"', 1)
    end
  end
end

function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  run_tag = args[1] or tostring(os.time())
  tally = args[2] == "tally"
  counter = 0
  non200 = {}
  sample = nil
  duplicates = 0
  degraded = 0
  rules = {}
  stamped_at = -1
end

function request()
  counter = counter + 1
  local now = os.time()
  if now ~= stamped_at then
    -- os.date per request would cost more client CPU than the formatting itself.
    stamped_at = now
    occurred_at = os.date("!%Y-%m-%dT%H:%M:%SZ", now - 90)
    posted_at = os.date("!%Y-%m-%dT%H:%M:%SZ", now - 3 * 3600)
  end
  local chosen = variants and variants[counter % spread] or templates
  local body = string.format(
    chosen[counter % #templates + 1],
    string.format("b-%s-%d-%d", run_tag, thread_no, counter),
    occurred_at,
    "u" .. counter % 997,
    posted_at
  )
  return wrk.format("POST", "/v1/decisions", headers, body)
end

function response(status, headers, body)
  if status ~= 200 then
    non200[status] = (non200[status] or 0) + 1
    sample = sample or string.format("HTTP %d: %s", status, string.sub(body or "", 1, 400))
    return
  end
  if string.find(body, '"duplicate":true', 1, true) then
    duplicates = duplicates + 1
  elseif string.find(body, '"degraded":true', 1, true) then
    degraded = degraded + 1
  end
  if tally then
    local rule = string.match(body, '"rule":"([^"]*)"') or "?"
    rules[rule] = (rules[rule] or 0) + 1
  end
end

local function quote(text)
  return '"' .. string.gsub(text, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

local function object(counts)
  local parts = {}
  for key, count in pairs(counts) do
    table.insert(parts, quote(tostring(key)) .. ":" .. count)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local statuses, rule_counts, dup_total, degraded_total, first_sample = {}, {}, 0, 0, nil
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("non200")) do
      statuses[status] = (statuses[status] or 0) + count
    end
    for rule, count in pairs(thread:get("rules")) do
      rule_counts[rule] = (rule_counts[rule] or 0) + count
    end
    dup_total = dup_total + thread:get("duplicates")
    degraded_total = degraded_total + thread:get("degraded")
    first_sample = first_sample or thread:get("sample")
  end
  local e = summary.errors
  io.write(
    "BENCH_RESULT {",
    string.format('"requests":%d,"duration_us":%d,', summary.requests, summary.duration),
    string.format(
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d},',
      latency:percentile(50),
      latency:percentile(90),
      latency:percentile(99),
      latency.mean,
      latency.max
    ),
    string.format(
      '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},',
      e.connect,
      e.read,
      e.write,
      e.timeout
    ),
    '"non_200":',
    object(statuses),
    ',"duplicates":',
    dup_total,
    ',"degraded":',
    degraded_total,
    ',"rules":',
    object(rule_counts),
    ',"error_sample":',
    first_sample and quote(first_sample) or "null",
    "}\n"
  )
end
