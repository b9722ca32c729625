#!/usr/bin/env bash
# Swiper in a few dozen calls: a demo user logs in, edits the profile,
# becomes VIP, swipes and rewinds, uploads an avatar; the operator looks
# on; and a like that is liked back shows up on the user's WebSocket.
#
# Run it from the repository root while `make run` serves in another
# terminal:   bash docs/walkthrough.sh
# or paste its lines into a shell one by one (README.md shows them). It
# needs curl and nothing else (no jq). make test runs it against a freshly
# started node (cmd/swiperd/walkthrough_test.go), so it works top to bottom.
set -euo pipefail

# Where make run serves: the client API and the admin API.
export SWIPER_API_URL=${SWIPER_API_URL:-http://127.0.0.1:8080}
export SWIPER_ADMIN_URL=${SWIPER_ADMIN_URL:-http://127.0.0.1:9090}
API=$SWIPER_API_URL
ADMIN=$SWIPER_ADMIN_URL

# The PostgreSQL and Redis make run chose, for swiperctl.
source .dev/env.sh
bin/swiperctl check

# `call` is curl, quiet but for errors, that fails on an HTTP error status
# (and still shows the JSON error body).
call() { curl -sS --fail-with-body "$@"; }

# The operator's token: make run keeps it in .dev/admin-token.
eval "$(bin/swiperctl admin-token)"

# Log in as the first demo user. Demo phones are +999 and ten digits counting
# from 0; on a fresh database +999 with n is user n+1: +9990000000000 is
# user 1, +9990000000041 user 42. swiperctl skips the SMS code: it asks the
# admin API for the user's token.
eval "$(bin/swiperctl login +9990000000000)"
call "$API/api/v1/me" -H "Authorization: Bearer $TOKEN"
call -X PATCH "$API/api/v1/me" -H "Authorization: Bearer $TOKEN" --json '{"nickname":"Tao W.","max_dating_age":40}'

# Rewinds need VIP 2 and liked-me VIP 3: the operator makes this user VIP 3.
call -X PUT "$ADMIN/admin/v1/users/$USER_ID/vip" -H "Authorization: Bearer $ADMIN_TOKEN" --json '{"level":3}'

# Recommendations; keep the first two people's ids.
RECS=$(call "$API/api/v1/recommendations?limit=5" -H "Authorization: Bearer $TOKEN"); echo "$RECS"
SID=$(echo "$RECS" | grep -o '"id":[0-9]*' | sed -n 1p | cut -d: -f2)
OTHER=$(echo "$RECS" | grep -o '"id":[0-9]*' | sed -n 2p | cut -d: -f2)
echo "first: user $SID, second: user $OTHER"

# Swipe the second one away, then take it back.
call -X POST "$API/api/v1/swipes" -H "Authorization: Bearer $TOKEN" --json "{\"sid\":$OTHER,\"mark\":\"dislike\"}"
call -X POST "$API/api/v1/swipes/rewind" -H "Authorization: Bearer $TOKEN"
call "$API/api/v1/liked-me" -H "Authorization: Bearer $TOKEN"

# An avatar (docs/demo-avatar.jpg): checked, re-encoded, uploaded in the background.
UPLOAD=$(call -X POST "$API/api/v1/me/avatar" -H "Authorization: Bearer $TOKEN" -F avatar=@docs/demo-avatar.jpg); echo "$UPLOAD"
JOB=$(echo "$UPLOAD" | grep -o '"id":[0-9]*' | sed -n 1p | cut -d: -f2)
call "$API/api/v1/me/avatar/jobs/$JOB" -H "Authorization: Bearer $TOKEN"

# What the operator sees.
call "$ADMIN/admin/v1/actors" -H "Authorization: Bearer $ADMIN_TOKEN"
call "$ADMIN/admin/v1/users/$USER_ID/actor" -H "Authorization: Bearer $ADMIN_TOKEN"
call -X PUT "$ADMIN/admin/v1/config" -H "Authorization: Bearer $ADMIN_TOKEN" --json '{"rewind_per_day":5}'
call "$ADMIN/admin/v1/uploads?status=failed" -H "Authorization: Bearer $ADMIN_TOKEN"
call "$ADMIN/metrics" -H "Authorization: Bearer $ADMIN_TOKEN" | awk '/^swiper_(ws_sessions|upload_jobs_finished_total)/'
call "$API/readyz"

# A match, seen on the user's WebSocket: the listener replays the user's
# events (resume after 0: the avatar's too), then stops at the match with
# the first recommended person, or fails after 30 s.
bin/swiperctl listen -after 0 -until match -user "$SID" -timeout 30s &
LISTENER=$!
REPLY=$(call -X POST "$API/api/v1/swipes" -H "Authorization: Bearer $TOKEN" --json "{\"sid\":$SID,\"mark\":\"like\"}")
echo "$REPLY"
# The first recommended is usually a demo liker ("… · likes you back"),
# who superliked every demo user: the like matches at once. Otherwise that
# person logs in too and likes back: a match, pushed to both.
case "$REPLY" in
  *'"matched":true'*) ;;
  *)
    FRIEND_TOKEN=$(bin/swiperctl login -raw "$SID")
    call -X POST "$API/api/v1/swipes" -H "Authorization: Bearer $FRIEND_TOKEN" --json "{\"sid\":$USER_ID,\"mark\":\"like\"}"
    ;;
esac
wait "$LISTENER"
call "$API/api/v1/friends" -H "Authorization: Bearer $TOKEN"
call "$API/api/v1/ranking?limit=3" -H "Authorization: Bearer $TOKEN"
