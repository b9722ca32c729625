-- wrk script: durable swipes as many users, no pair twice.
--   wrk -t2 -c64 -d10s -s cmd/swiperload/wrk/swipe.lua http://127.0.0.1:8080 -- tokens.txt 100000 OFFSET
-- tokens.txt holds one token per line for users 1..N (swiperload or the
-- admin API makes them); user i swipes targets i+OFFSET+1, i+OFFSET+2, …
-- modulo the target count. Use a new OFFSET per run on the same database.
local tokens, targets, offset = {}, 100000, 0
local thread_id, counter = 0, 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  targets = tonumber(args[2] or "100000")
  offset = tonumber(args[3] or "0")
  thread_id = id
end

function request()
  -- Thread t plays users t+1, t+1+T, …: threads never share a user.
  counter = counter + 1
  local n = #tokens
  local per = math.floor(n / 2)
  local slot = (counter - 1) % per
  local round = math.floor((counter - 1) / per)
  local u = thread_id + 1 + 2 * slot
  local sid = (u + offset + round) % targets + 1
  if sid == u then sid = sid % targets + 1 end
  local mark = ((u + round) % 3 == 0) and "dislike" or "like"
  return wrk.format("POST", "/api/v1/swipes",
    {["Authorization"] = "Bearer " .. tokens[u], ["Content-Type"] = "application/json"},
    string.format('{"sid":%d,"mark":"%s"}', sid, mark))
end
