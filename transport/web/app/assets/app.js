// app.js: Swiper's web app. Views are chosen by the location hash
// (#/login, #/profile, #/deck, #/matches, #/chat/42); one Live socket
// carries events and calls while signed in.

import { api, ApiError, onLoggedOut, setToken, token, upload } from "./api.js";
import { Live } from "./live.js";
import { age, ask, clock, field, h, photo, randomID, replace, toast } from "./ui.js";

const main = document.getElementById("main");
const bar = document.getElementById("bar");

const state = {
  me: null, // User
  profile: null,
  birthday: null,
  friends: new Map(), // id -> User + since, last_message, unread
  live: null,
  matchShown: new Set(), // friend ids whose match was shown this session
  deck: null, // the deck view's state while it is open
  chat: null, // the chat view's state while it is open
  job: null, // the avatar job in flight
};

// ---- session ---------------------------------------------------------

onLoggedOut(() => signedOut("You were signed out. Please log in again."));

function signedOut(message) {
  if (state.live) state.live.stop();
  state.live = null;
  state.me = null;
  state.friends.clear();
  setToken("");
  if (message) toast(message, "error");
  go("#/login");
}

async function start() {
  if (!token()) return go("#/login", true);
  try {
    const me = await api("GET", "/me");
    await signedIn(me.user, me.profile, me.birthday);
  } catch (err) {
    if (err.code !== 1002) toast(err.message, "error");
    if (!state.me) go("#/login", true);
  }
}

async function signedIn(user, profile, birthday) {
  state.me = user;
  state.profile = profile;
  state.birthday = birthday;
  await loadFriends();
  if (state.live) state.live.stop();
  state.live = new Live(user.id, {
    onEvent: event,
    onState: (s) => {
      document.body.dataset.live = s;
      replace(document.getElementById("conn"), s === "reconnecting" ? "Reconnecting…" : s === "connecting" ? "Connecting…" : "");
    },
    onRevoked: () => signedOut("Your session ended. Please log in again."),
    onFailing: () => api("GET", "/me").catch(() => {}), // a 1002 signs out
  });
  state.live.start();
  bar.hidden = false;
  if (!location.hash || location.hash === "#/login") go(needsProfile() ? "#/profile" : "#/deck", true);
  else route();
}

function needsProfile() {
  const u = state.me;
  return !u.nickname || !u.sex || !state.birthday || !u.location;
}

async function loadFriends() {
  const r = await api("GET", "/friends");
  state.friends = new Map(r.friends.map((f) => [f.id, f]));
  badge();
}

function badge() {
  let n = 0;
  for (const f of state.friends.values()) n += f.unread || 0;
  const el = document.getElementById("unread-total");
  el.hidden = n === 0;
  replace(el, String(n));
  el.setAttribute("aria-label", n + " unread");
}

// call goes over the socket when it is open, else over HTTP. A call
// lost with the socket is sent again over HTTP only if retrySafe (a
// swipe or a message with its client_id is; a rewind is not: it would
// undo a second swipe).
async function call(method, params, http, retrySafe = true) {
  if (state.live && state.live.open) {
    try {
      return await state.live.call(method, params);
    } catch (err) {
      if (err.status !== 0 || !(retrySafe || err.unsent)) throw err;
    }
  }
  return http();
}

// fresh says whether an event is news rather than a replay of old ones
// (a new device resumes from the start of the kept stream).
function fresh(frame) {
  return Math.abs(Date.now() - Date.parse(frame.at)) < 60000;
}

// ---- events ----------------------------------------------------------

function event(name, data, frame) {
  switch (name) {
    case "match":
      matched(data.friend, fresh(frame));
      break;
    case "unmatched":
      lost(data.user_id, "This conversation has ended.");
      break;
    case "message":
      message(data.message);
      break;
    case "read":
      if (state.chat && state.chat.id === data.user_id) {
        state.chat.seenUpTo = Math.max(state.chat.seenUpTo, data.up_to);
        renderSeen();
      }
      break;
    case "avatar.ready":
      if (state.job === data.job_id || (!state.job && fresh(frame))) {
        state.me.avatar_url = data.url;
        avatarDone("Your new photo is live.");
      }
      break;
    case "avatar.failed":
      if (state.job === data.job_id) avatarFailed(data.error || "The photo could not be stored.");
      break;
    case "superliked":
      if (fresh(frame)) {
        toast((data.user && data.user.nickname ? data.user.nickname : "Someone") + " superliked you. They are first in your deck.");
      }
      break;
  }
}

function matched(friend, news = true) {
  const known = state.friends.has(friend.id);
  state.friends.set(friend.id, { last_message: null, unread: 0, ...state.friends.get(friend.id), ...friend });
  if (state.deck) state.deck.drop(friend.id);
  if (location.hash === "#/matches") route();
  if (!known && news && !state.matchShown.has(friend.id)) showMatch(friend);
}

function lost(id, why) {
  state.friends.delete(id);
  for (const d of document.querySelectorAll("dialog.match")) if (d.dataset.friend === String(id)) d.close();
  badge();
  if (state.chat && state.chat.id === id) state.chat.close(why);
  if (location.hash === "#/matches") route();
}

function message(m) {
  const other = m.from === state.me.id ? m.to : m.from;
  const f = state.friends.get(other);
  if (f && !(f.last_message && f.last_message.id >= m.id)) {
    // (A replayed message the friends list already counted is not new.)
    f.last_message = m;
    if (m.from === other && !(state.chat && state.chat.id === other && document.visibilityState === "visible")) {
      f.unread = (f.unread || 0) + 1;
    }
  }
  badge();
  if (state.chat && state.chat.id === other) state.chat.add([m]);
  else if (location.hash === "#/matches") route();
}

// ---- match dialog ----------------------------------------------------

function showMatch(friend) {
  state.matchShown.add(friend.id);
  const talk = h("button", { type: "button", class: "primary", onclick: () => { dlg.close(); go("#/chat/" + friend.id); } }, "Start talking");
  const keep = h("button", { type: "button", class: "ghost", onclick: () => dlg.close() }, "Keep swiping");
  const dlg = h("dialog", { class: "match", "aria-labelledby": "match-title", "data-friend": friend.id },
    h("h2", { id: "match-title" }, "It's a match!"),
    h("div", { class: "pair" }, photo(state.me, "avatar big"), photo(friend, "avatar big")),
    h("p", {}, "You and " + friend.nickname + " like each other."),
    h("div", { class: "row center" }, keep, talk));
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  talk.focus();
}

// ---- router ----------------------------------------------------------

function go(hash, replaceHistory = false) {
  if (location.hash === hash) return route();
  if (replaceHistory) {
    history.replaceState(null, "", hash);
    route();
  } else location.hash = hash;
}

window.addEventListener("hashchange", route);
document.querySelector(".skip").addEventListener("click", (e) => {
  e.preventDefault(); // not a route
  main.focus();
});

function route() {
  const hash = location.hash || "#/login";
  if (state.deck) state.deck.leave();
  if (state.chat) state.chat.leave();
  state.deck = state.chat = null;
  if (!state.me) {
    bar.hidden = true;
    return loginView();
  }
  for (const a of bar.querySelectorAll("a[data-nav]")) {
    if (hash.startsWith("#/" + a.dataset.nav) || (a.dataset.nav === "matches" && hash.startsWith("#/chat"))) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const chat = /^#\/chat\/(\d+)$/.exec(hash);
  if (chat) return chatView(Number(chat[1]));
  if (hash === "#/profile") return profileView();
  if (hash === "#/matches") return matchesView();
  return deckView();
}

function view(title, ...children) {
  document.title = title + " · Swiper";
  replace(main, ...children);
}

// ---- login -----------------------------------------------------------

function loginView() {
  document.body.dataset.view = "login";
  const phone = h("input", { type: "tel", name: "phone", autocomplete: "tel", required: true, placeholder: "+8613800138000", value: sessionStorage.getItem("swiper.phone") || "" });
  const code = h("input", { type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: "6", required: true });
  const note = h("p", { class: "note", id: "dev-note", "aria-live": "polite" });
  const err = h("p", { class: "form-error", role: "alert" });
  const phoneForm = h("form", { class: "stack-form", novalidate: true }, field("Phone number", phone, "With country code, e.g. +86…"),
    h("button", { class: "primary", type: "submit" }, "Send code"));
  const codeForm = h("form", { class: "stack-form", hidden: true }, field("Code from the SMS", code), note,
    h("button", { class: "primary", type: "submit" }, "Log in"),
    h("button", { class: "ghost", type: "button", onclick: () => { codeForm.hidden = true; phoneForm.hidden = false; phone.focus(); } }, "Use another number"));
  phoneForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    replace(err);
    const number = phone.value.trim().replace(/[\s-]/g, "");
    if (!/^\+[1-9]\d{6,14}$/.test(number)) {
      replace(err, "Enter your number with its country code, like +8613800138000.");
      return phone.focus();
    }
    try {
      busy(phoneForm, true);
      const r = await api("POST", "/auth/code", { phone: number });
      sessionStorage.setItem("swiper.phone", number);
      phoneForm.hidden = false;
      phoneForm.hidden = true;
      codeForm.hidden = false;
      code.value = "";
      replace(note);
      if (r.dev_code) {
        code.value = r.dev_code;
        replace(note, "Dev mode: the server sent the code back, so it is filled in for you.");
      }
      code.focus();
    } catch (x) {
      replace(err, x.message);
    } finally {
      busy(phoneForm, false);
    }
  });
  codeForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    replace(err);
    try {
      busy(codeForm, true);
      const r = await api("POST", "/auth/login", { phone: sessionStorage.getItem("swiper.phone"), code: code.value.trim() });
      setToken(r.token);
      history.replaceState(null, "", "#/login");
      const me = await api("GET", "/me");
      await signedIn(me.user, me.profile, me.birthday);
    } catch (x) {
      replace(err, x.message);
    } finally {
      busy(codeForm, false);
    }
  });
  view("Log in",
    h("section", { class: "login card-box" },
      h("img", { src: "/assets/icon.svg", alt: "", class: "logo", width: "64", height: "64" }),
      h("h1", {}, "Swiper"),
      h("p", { class: "lead" }, "Meet people who like you back."),
      phoneForm, codeForm, err,
      h("p", { class: "hint" }, "Demo: log in as +9990000000000 (or …01, …02). Some demo people like everyone back.")));
  phone.focus();
}

function busy(form, on) {
  for (const b of form.querySelectorAll("button")) b.disabled = on;
  form.setAttribute("aria-busy", on ? "true" : "false");
}

// ---- profile ---------------------------------------------------------

function profileView() {
  document.body.dataset.view = "profile";
  const u = state.me;
  const p = state.profile;
  const sel = (name, options, value) =>
    h("select", { name }, options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
  const controls = {
    nickname: h("input", { name: "nickname", maxlength: "32", required: true, value: u.nickname || "", autocomplete: "nickname" }),
    sex: sel("sex", [["", "Choose…"], ["female", "Woman"], ["male", "Man"]], u.sex || ""),
    birthday: h("input", { name: "birthday", type: "date", value: state.birthday || "", required: true }),
    location: h("input", { name: "location", maxlength: "64", value: u.location || "", autocomplete: "address-level2" }),
    dating_sex: sel("dating_sex", [["any", "Everyone"], ["female", "Women"], ["male", "Men"]], p.dating_sex),
    dating_location: h("input", { name: "dating_location", maxlength: "64", value: p.dating_location || "", placeholder: "My city" }),
    min_dating_age: h("input", { name: "min_dating_age", type: "number", min: "18", max: "100", value: p.min_dating_age }),
    max_dating_age: h("input", { name: "max_dating_age", type: "number", min: "18", max: "100", value: p.max_dating_age }),
  };
  const toggles = {
    vibration: h("input", { type: "checkbox", name: "vibration", checked: p.vibration }),
    only_matched: h("input", { type: "checkbox", name: "only_matched", checked: p.only_matched }),
    auto_play: h("input", { type: "checkbox", name: "auto_play", checked: p.auto_play }),
  };
  const err = h("p", { class: "form-error", role: "alert" });
  const form = h("form", { class: "stack-form", novalidate: true },
    h("fieldset", {}, h("legend", {}, "About you"),
      field("Name", controls.nickname), field("I am", controls.sex), field("Birthday", controls.birthday), field("City", controls.location)),
    h("fieldset", {}, h("legend", {}, "Who you want to meet"),
      field("Show me", controls.dating_sex), field("In", controls.dating_location, "Empty: your own city"),
      h("div", { class: "row" }, field("From age", controls.min_dating_age), field("To age", controls.max_dating_age))),
    h("fieldset", {}, h("legend", {}, "App"),
      ...Object.entries({ vibration: "Vibrate on new matches", only_matched: "Only people I matched can write to me", auto_play: "Play videos automatically" })
        .map(([k, label]) => h("label", { class: "check" }, toggles[k], " " + label))),
    err,
    h("button", { type: "submit", class: "primary" }, "Save profile"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    replace(err);
    for (const el of form.querySelectorAll("[aria-invalid]")) {
      el.removeAttribute("aria-invalid");
      replace(document.getElementById(el.id + "-err"));
    }
    const body = {};
    for (const [k, el] of Object.entries(controls)) {
      const v = el.value.trim();
      if (k.endsWith("_age")) {
        if (v !== "") body[k] = Number(v);
      } else if (v !== "" || k === "dating_location" || k === "location") body[k] = v;
    }
    for (const [k, el] of Object.entries(toggles)) body[k] = el.checked;
    try {
      busy(form, true);
      const r = await api("PATCH", "/me", body);
      state.me = r.user;
      state.profile = r.profile;
      state.birthday = r.birthday;
      toast("Profile saved.");
      status.dataset.saved = "true";
    } catch (x) {
      const bad = x.field && (controls[x.field] || toggles[x.field]);
      if (bad) {
        bad.setAttribute("aria-invalid", "true");
        replace(document.getElementById(bad.id + "-err"), x.message);
        bad.focus();
      }
      replace(err, x.message);
    } finally {
      busy(form, false);
    }
  });

  const status = h("p", { class: "upload-status", id: "avatar-status", "aria-live": "polite" });
  const bar = h("progress", { id: "avatar-progress", max: "1", value: "0", hidden: true, "aria-label": "Upload progress" });
  const file = h("input", { type: "file", id: "avatar-file", accept: "image/jpeg,image/png,image/webp", class: "visually-hidden" });
  file.addEventListener("change", () => {
    if (file.files.length) sendAvatar(file.files[0]);
    file.value = "";
  });
  const pic = h("div", { id: "avatar-box", class: "avatar-box" }, photo(u, "avatar huge"));
  const vip = u.vip_level > 0 ? h("p", { class: "vip" }, "VIP " + u.vip_level) : null;

  const blocked = h("ul", { class: "plain", id: "blocked-list" });
  api("GET", "/blocks").then((r) => {
    replace(blocked, r.users.length ? r.users.map((b) => h("li", { class: "row between" }, b.nickname || "User " + b.id,
      h("button", { type: "button", class: "ghost small", onclick: async (e) => {
        try {
          await api("DELETE", "/blocks/" + b.id);
          e.target.closest("li").remove();
          toast("Unblocked " + (b.nickname || "them") + ".");
        } catch (x) {
          toast(x.message, "error");
        }
      } }, "Unblock"))) : h("li", { class: "muted" }, "You have not blocked anyone."));
  }).catch((x) => toast(x.message, "error"));

  view("Profile",
    h("section", { class: "profile" },
      h("h1", {}, "Your profile"),
      h("div", { class: "avatar-edit" }, pic,
        h("div", {}, vip,
          h("label", { for: "avatar-file", class: "button", tabindex: "0", role: "button", onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); file.click(); } } }, "Choose a photo"),
          file, bar, status)),
      form,
      h("section", { class: "danger-zone" },
        h("h2", {}, "Blocked people"), blocked,
        h("h2", {}, "Account"),
        h("div", { class: "row" },
          h("button", { type: "button", class: "ghost", onclick: logout }, "Log out"),
          h("button", { type: "button", class: "danger", onclick: deleteAccount }, "Delete account")))));
}

async function sendAvatar(f) {
  const bar = document.getElementById("avatar-progress");
  const status = document.getElementById("avatar-status");
  bar.hidden = false;
  bar.value = 0;
  replace(status, "Uploading…");
  try {
    const r = await upload(f, (x) => {
      bar.value = x;
      replace(status, "Uploading " + Math.round(x * 100) + "%");
    });
    bar.value = 1;
    state.job = r.job.id;
    replace(status, "Processing your photo…");
    watchJob(r.job.id);
  } catch (x) {
    bar.hidden = true;
    replace(status, x.message);
    status.classList.add("error");
  }
}

// watchJob polls the job while the socket is not open to bring
// avatar.ready (the event is the fast path; this is the safety net).
async function watchJob(id) {
  for (let wait = 1000; state.job === id; wait = Math.min(wait * 2, 8000)) {
    await new Promise((r) => setTimeout(r, wait));
    if (state.job !== id || (state.live && state.live.open)) continue;
    try {
      const { job } = await api("GET", "/me/avatar/jobs/" + id);
      if (state.job !== id) return;
      if (job.status === "done") {
        state.me.avatar_url = job.url;
        avatarDone("Your new photo is live.");
      } else if (job.status === "failed") avatarFailed(job.error);
    } catch {
      /* try again */
    }
  }
}

function avatarDone(message) {
  state.job = null;
  const box = document.getElementById("avatar-box");
  if (!box) return toast(message);
  replace(box, photo(state.me, "avatar huge"));
  document.getElementById("avatar-progress").hidden = true;
  const status = document.getElementById("avatar-status");
  status.classList.remove("error");
  replace(status, message);
}

function avatarFailed(why) {
  state.job = null;
  const status = document.getElementById("avatar-status");
  if (!status) return toast("Your photo could not be stored: " + why, "error");
  document.getElementById("avatar-progress").hidden = true;
  status.classList.add("error");
  replace(status, "Your photo could not be stored: " + why);
}

async function logout() {
  try {
    await api("POST", "/auth/logout");
  } catch {
    /* signed out locally either way */
  }
  signedOut("");
  toast("Logged out.");
}

async function deleteAccount() {
  const ok = await ask({
    title: "Delete your account?",
    text: "This erases your profile, photos, matches and messages for good. It cannot be undone.",
    confirm: "Delete my account",
    danger: true,
  });
  if (!ok) return;
  try {
    await api("DELETE", "/me");
    signedOut("");
    toast("Your account was deleted.");
  } catch (x) {
    toast(x.message, "error");
  }
}

// ---- deck ------------------------------------------------------------

function deckView() {
  document.body.dataset.view = "deck";
  const me = state.me;
  const stack = h("div", { class: "stack", id: "stack" });
  const live = h("p", { class: "visually-hidden", "aria-live": "polite", id: "deck-live" });
  const deck = {
    cards: [], // users, top first
    seen: new Set(), // ids shown or swiped this visit
    history: [], // swiped users, latest last (for rewind)
    loading: false,
    done: false,
    failed: false, // the last fetch failed: retried by the person, not in a loop
    leave() {
      document.removeEventListener("keydown", keys);
    },
    drop(id) {
      const i = this.cards.findIndex((c) => c.id === id);
      if (i >= 0) {
        this.cards.splice(i, 1);
        render();
      }
    },
  };
  state.deck = deck;

  async function more() {
    if (deck.loading) return;
    deck.loading = true;
    try {
      const r = await call("recommendations", { limit: 20 }, () => api("GET", "/recommendations?limit=20"));
      let added = 0;
      for (const u of r.users) {
        if (deck.seen.has(u.id)) continue;
        deck.seen.add(u.id);
        deck.cards.push(u);
        added++;
      }
      deck.done = added === 0;
      deck.failed = false;
    } catch (x) {
      deck.failed = true;
      toast(x.message, "error");
    } finally {
      deck.loading = false;
    }
    if (state.deck === deck) render();
  }

  // render shows the top two cards, reusing their elements, so that a
  // card being dragged is never replaced under the finger (the next
  // cards arrive while it moves).
  const els = new Map();
  function render() {
    const top = deck.cards[0], next = deck.cards[1];
    for (const id of els.keys()) if (id !== (top && top.id) && id !== (next && next.id)) els.delete(id);
    const want = [next && cardEl(next, false), top && cardEl(top, true)].filter(Boolean);
    if (!want.length && deck.failed) {
      replace(stack, h("div", { class: "empty" }, h("p", {}, "Could not load people."),
        h("button", { type: "button", class: "primary", onclick: () => { deck.failed = false; more(); render(); } }, "Try again")));
    } else if (!want.length) {
      replace(stack, h("div", { class: "empty" }, deck.loading ? h("p", {}, "Looking for people…") :
        [h("p", {}, "No one new around right now."), h("p", {}, h("a", { href: "#/profile" }, "Widen your preferences"), " or check back later.")]));
    } else {
      for (const c of [...stack.children]) if (!want.includes(c)) c.remove();
      if (want.length === 2 && stack.firstChild !== want[0]) stack.insertBefore(want[0], stack.firstChild);
      if (!want[want.length - 1].isConnected) stack.append(want[want.length - 1]);
    }
    for (const b of actions.querySelectorAll("button[data-mark]")) b.disabled = deck.cards.length === 0;
    if (deck.cards.length <= 3 && !deck.done && !deck.loading && !deck.failed) more();
  }

  function cardEl(u, isTop) {
    let el = els.get(u.id);
    if (!el) {
      el = card(u);
      els.set(u.id, el);
    }
    el.classList.toggle("top", isTop);
    el.classList.toggle("behind", !isTop);
    el.tabIndex = isTop ? 0 : -1;
    el.inert = !isTop; // the card behind, and its buttons, are out of reach
    if (isTop && !el.dataset.drag) {
      el.dataset.drag = "on";
      drag(el, u);
    }
    return el;
  }

  function card(u) {
    return h("article", { class: "card", "data-id": u.id, "aria-label": [u.nickname, age(u), u.location].filter(Boolean).join(", ") },
      photo(u, "card-photo"),
      u.superliked_me ? h("span", { class: "badge" }, "★ Superliked you") : null,
      h("span", { class: "stamp like", "aria-hidden": "true" }, "LIKE"),
      h("span", { class: "stamp nope", "aria-hidden": "true" }, "NOPE"),
      h("span", { class: "stamp super", "aria-hidden": "true" }, "SUPER"),
      h("div", { class: "card-info" },
        h("h2", {}, u.nickname || "Someone", age(u) ? h("span", { class: "age" }, " " + age(u)) : null),
        u.location ? h("p", {}, u.location) : null,
        h("div", { class: "row card-menu" },
          h("button", { type: "button", class: "link small", onclick: () => safety("block", u) }, "Block"),
          h("button", { type: "button", class: "link small", onclick: () => safety("report", u) }, "Report"))));
  }

  function drag(el, u) {
    let x0 = 0, y0 = 0, dx = 0, dy = 0, id = null;
    el.addEventListener("pointerdown", (e) => {
      if (e.target.closest("button")) return;
      id = e.pointerId;
      x0 = e.clientX;
      y0 = e.clientY;
      dx = dy = 0;
      el.setPointerCapture(id);
      el.classList.add("dragging");
    });
    el.addEventListener("pointermove", (e) => {
      if (e.pointerId !== id) return;
      dx = e.clientX - x0;
      dy = e.clientY - y0;
      el.style.transform = "translate(" + dx + "px," + dy + "px) rotate(" + dx / 20 + "deg)";
      el.dataset.hint = dy < -80 && Math.abs(dx) < 80 ? "super" : dx > 40 ? "like" : dx < -40 ? "nope" : "";
    });
    const end = (e) => {
      if (e.pointerId !== id) return;
      id = null;
      el.classList.remove("dragging");
      const mark = dy < -100 && Math.abs(dx) < 100 ? "superlike" : dx > 100 ? "like" : dx < -100 ? "dislike" : null;
      if (mark) swipe(u, mark);
      else {
        el.style.transform = "";
        el.dataset.hint = "";
      }
    };
    el.addEventListener("pointerup", end);
    el.addEventListener("pointercancel", end);
  }

  async function swipe(u, mark) {
    if (deck.cards[0] !== u) return;
    deck.cards.shift();
    deck.history.push(u);
    replace(live, (mark === "dislike" ? "Passed on " : mark === "like" ? "Liked " : "Superliked ") + u.nickname);
    render();
    try {
      const r = await call("swipe", { sid: u.id, mark }, () => api("POST", "/swipes", { sid: u.id, mark }));
      if (r.matched && r.friend) matched(r.friend);
    } catch (x) {
      if (x.code !== 1006) {
        // Not recorded: the card comes back so nothing is lost.
        deck.history.splice(deck.history.lastIndexOf(u), 1);
        if (state.deck === deck && x.code !== 1004) {
          deck.cards.unshift(u);
          render();
        }
        toast(x.message, "error");
      }
    }
  }

  async function rewind() {
    try {
      const r = await call("rewind", {}, () => api("POST", "/swipes/rewind"), false);
      const i = deck.history.findIndex((x) => x.id === r.rewound.sid);
      if (r.unmatched) lost(r.rewound.sid, "");
      if (i >= 0) {
        deck.cards.unshift(deck.history.splice(i, 1)[0]);
        render();
      } else {
        deck.seen.delete(r.rewound.sid);
        deck.done = false;
        await more();
      }
      toast("Rewound. " + r.remaining_today + (r.remaining_today === 1 ? " rewind" : " rewinds") + " left today.");
    } catch (x) {
      toast(x.message, "error");
    }
  }

  function keys(e) {
    if (e.repeat || e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || document.querySelector("dialog[open]")) return;
    if (e.target.closest && e.target.closest("input, textarea, select")) return;
    const mark = { ArrowLeft: "dislike", ArrowRight: "like", ArrowUp: "superlike" }[e.key];
    if (mark && deck.cards.length) {
      e.preventDefault();
      swipe(deck.cards[0], mark);
    } else if (e.key === "Backspace" && me.vip_level >= 2) {
      e.preventDefault();
      rewind();
    }
  }
  document.addEventListener("keydown", keys);

  const button = (mark, label, glyph, cls) =>
    h("button", { type: "button", class: "round " + cls, "data-mark": mark, "aria-label": label, title: label, onclick: () => deck.cards.length && swipe(deck.cards[0], mark) }, h("span", { "aria-hidden": "true" }, glyph));
  const actions = h("div", { class: "actions" },
    me.vip_level >= 2 ? h("button", { type: "button", class: "round rewind", id: "rewind", "aria-label": "Rewind the last swipe", title: "Rewind (Backspace)", onclick: rewind }, h("span", { "aria-hidden": "true" }, "↺")) : null,
    button("dislike", "Nope (left arrow)", "✕", "nope"),
    button("superlike", "Superlike (up arrow)", "★", "super"),
    button("like", "Like (right arrow)", "♥", "like"));

  view("Discover", h("section", { class: "deck" }, h("h1", { class: "visually-hidden" }, "Discover"), stack, actions, live,
    h("p", { class: "keys muted" }, "Drag the card, or use ← nope · → like · ↑ superlike" + (me.vip_level >= 2 ? " · Backspace rewind" : ""))));
  render();
}

// safety blocks or reports a person (a report blocks too).
async function safety(kind, u) {
  const name = u.nickname || "this person";
  let values;
  if (kind === "block") {
    values = await ask({ title: "Block " + name + "?", text: "You will not see each other again, and any match and conversation between you ends.", confirm: "Block", danger: true });
    if (!values) return;
  } else {
    const reason = h("select", { name: "reason", required: true },
      [["", "Choose a reason…"], ["spam", "Spam"], ["fake", "Fake profile"], ["abuse", "Abuse or harassment"], ["underage", "Under 18"], ["other", "Something else"]]
        .map(([v, l]) => h("option", { value: v }, l)));
    const note = h("textarea", { name: "note", maxlength: "500", rows: "3" });
    values = await ask({ title: "Report " + name, text: "Reporting also blocks them. Our moderators will look at it.", fields: [field("Reason", reason), field("What happened (optional)", note)], confirm: "Report", danger: true });
    if (!values) return;
  }
  try {
    if (kind === "block") await api("POST", "/blocks", { user_id: u.id });
    else await api("POST", "/reports", { user_id: u.id, reason: values.reason || "other", note: values.note || "" });
  } catch (x) {
    return toast(x.message, "error");
  }
  toast(kind === "block" ? name + " is blocked." : "Thank you. " + name + " is reported and blocked.");
  state.friends.delete(u.id);
  badge();
  if (state.deck) state.deck.drop(u.id);
  if (state.chat && state.chat.id === u.id) go("#/matches");
}

// ---- matches ---------------------------------------------------------

function matchesView() {
  document.body.dataset.view = "matches";
  const friends = [...state.friends.values()].sort((a, b) => recent(b) - recent(a));
  const list = friends.map((f) => {
    const m = f.last_message;
    const preview = m ? (m.from === state.me.id ? "You: " : "") + m.text : "New match. Say hello!";
    return h("li", {},
      h("a", { href: "#/chat/" + f.id, class: "friend", "data-id": f.id },
        photo(f, "avatar"),
        h("span", { class: "friend-text" }, h("strong", {}, f.nickname), h("span", { class: "preview" }, preview)),
        f.unread ? h("span", { class: "count", "aria-label": f.unread + " unread" }, String(f.unread)) : null));
  });
  const likedMe = state.me.vip_level >= 3 ? h("section", { class: "liked-me" }, h("h2", {}, "Liked you"), h("p", { class: "muted", id: "liked-me" }, "Loading…")) : null;
  view("Matches", h("section", { class: "matches" }, h("h1", {}, "Matches"),
    list.length ? h("ul", { class: "plain friends", id: "friends" }, list) : h("p", { class: "empty" }, "No matches yet. Keep swiping!"),
    likedMe));
  if (likedMe) {
    call("liked_me", {}, () => api("GET", "/liked-me")).then((r) => {
      const el = document.getElementById("liked-me");
      if (el) replace(el, r.users.length ? r.users.map((u) => u.nickname + (u.mark === "superlike" ? " ★" : "")).join(", ") + ". Find them in your deck." : "No one new yet.");
    }).catch((x) => toast(x.message, "error"));
  }
}

function recent(f) {
  return Date.parse(f.last_message ? f.last_message.sent_at : f.since) || 0;
}

// ---- chat ------------------------------------------------------------

function chatView(id) {
  document.body.dataset.view = "chat";
  const friend = state.friends.get(id);
  if (!friend) {
    return view("Chat", h("section", { class: "chat" }, h("p", { class: "empty" }, "This conversation is not open. ", h("a", { href: "#/matches" }, "Back to matches"))));
  }
  const list = h("ol", { class: "messages", id: "messages", "aria-live": "polite", "aria-label": "Messages with " + friend.nickname, tabindex: "0" });
  const older = h("button", { type: "button", class: "ghost small", id: "older", hidden: true, onclick: () => loadOlder() }, "Show earlier messages");
  const input = h("input", { type: "text", name: "text", maxlength: "2000", autocomplete: "off", required: true, id: "compose" });
  const sendButton = h("button", { type: "submit", class: "primary" }, "Send");
  const closed = h("p", { class: "closed", id: "chat-closed", role: "status", hidden: true });
  const form = h("form", { class: "composer" }, h("label", { for: "compose", class: "visually-hidden" }, "Message to " + friend.nickname), input, sendButton);

  const chat = {
    id,
    messages: new Map(), // id -> Message
    pending: new Map(), // client_id -> li
    oldest: 0,
    readUpTo: 0, // theirs marked read by us
    seenUpTo: 0, // ours read by them (from read events)
    leave() {},
    add(ms) {
      const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
      for (const m of ms) {
        if (this.messages.has(m.id)) continue;
        this.messages.set(m.id, m);
        const p = m.client_id && this.pending.get(m.client_id);
        if (p) {
          p.remove();
          this.pending.delete(m.client_id);
        }
        if (!this.oldest || m.id < this.oldest) this.oldest = m.id;
      }
      draw(atBottom || ms.some((m) => m.from === state.me.id));
      markRead();
    },
    close(why) {
      input.disabled = sendButton.disabled = true;
      closed.hidden = false;
      replace(closed, why || "This conversation has ended.");
      document.body.dataset.chat = "closed";
    },
  };
  state.chat = chat;
  document.body.dataset.chat = "open";

  function bubble(m) {
    const mine = m.from === state.me.id;
    return h("li", { class: "msg " + (mine ? "mine" : "theirs"), "data-id": m.id },
      h("span", { class: "text" }, m.text), h("time", { datetime: m.sent_at }, clock(m.sent_at)));
  }

  function draw(scroll) {
    const sorted = [...chat.messages.values()].sort((a, b) => a.id - b.id);
    replace(list, sorted.map(bubble), [...chat.pending.values()]);
    renderSeen();
    if (scroll) list.scrollTop = list.scrollHeight;
  }

  async function page(before) {
    const params = { with: id, limit: 30 };
    if (before) params.before = before;
    const q = "?limit=30" + (before ? "&before=" + before : "");
    return call("messages", params, () => api("GET", "/friends/" + id + "/messages" + q));
  }

  async function loadOlder() {
    if (!chat.oldest || older.disabled) return;
    older.disabled = true;
    const height = list.scrollHeight;
    try {
      const r = await page(chat.oldest);
      older.hidden = r.messages.length < 30;
      for (const m of r.messages) {
        chat.messages.set(m.id, m);
        chat.oldest = Math.min(chat.oldest, m.id);
      }
      draw(false);
      list.scrollTop = list.scrollHeight - height; // keep the reader's place
    } catch (x) {
      toast(x.message, "error");
    } finally {
      older.disabled = false;
    }
  }
  list.addEventListener("scroll", () => {
    if (list.scrollTop < 20 && !older.hidden) loadOlder();
  });

  async function markRead() {
    let top = 0;
    for (const m of chat.messages.values()) if (m.from === id && m.id > top) top = m.id;
    if (top <= chat.readUpTo || document.visibilityState !== "visible" || state.chat !== chat) return;
    chat.readUpTo = top;
    const f = state.friends.get(id);
    if (f) f.unread = 0;
    badge();
    try {
      await call("read", { with: id, up_to: top }, () => api("POST", "/friends/" + id + "/messages/read", { up_to: top }));
    } catch (x) {
      if (x.code === 1103) chat.close();
    }
  }
  document.addEventListener("visibilitychange", markRead);
  chat.leave = () => document.removeEventListener("visibilitychange", markRead);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const cid = randomID();
    const li = h("li", { class: "msg mine pending", "data-client-id": cid }, h("span", { class: "text" }, text), h("time", {}, "Sending…"));
    chat.pending.set(cid, li);
    list.append(li);
    list.scrollTop = list.scrollHeight;
    input.value = "";
    try {
      const r = await call("send_message", { to: id, text, client_id: cid },
        () => api("POST", "/friends/" + id + "/messages", { text, client_id: cid }));
      chat.add([r.message]);
    } catch (x) {
      li.remove();
      chat.pending.delete(cid);
      if (x.code === 1103) chat.close("This conversation has ended.");
      else {
        if (!input.value) input.value = text;
        toast(x.message, "error");
      }
    }
  });

  const title = h("div", { class: "chat-title" }, photo(friend, "avatar"), h("h1", {}, friend.nickname));
  view("Chat with " + friend.nickname, h("section", { class: "chat" },
    h("header", { class: "chat-head" }, h("a", { href: "#/matches", class: "back", "aria-label": "Back to matches" }, "‹"), title,
      h("div", { class: "row" },
        h("button", { type: "button", class: "ghost small", onclick: () => unmatch(friend) }, "Unmatch"),
        h("button", { type: "button", class: "ghost small", onclick: () => safety("block", friend) }, "Block"),
        h("button", { type: "button", class: "ghost small", onclick: () => safety("report", friend) }, "Report"))),
    older, list, closed, form));
  input.focus();
  page(0).then((r) => {
    older.hidden = r.messages.length < 30;
    chat.add(r.messages);
    draw(true);
  }).catch((x) => {
    if (x.code === 1103) chat.close();
    else toast(x.message, "error");
  });
}

function renderSeen() {
  const chat = state.chat;
  const list = document.getElementById("messages");
  if (!chat || !list) return;
  for (const el of list.querySelectorAll(".seen")) el.remove();
  let last = null;
  for (const li of list.querySelectorAll("li.msg.mine[data-id]")) if (Number(li.dataset.id) <= chat.seenUpTo) last = li;
  if (last) last.append(h("span", { class: "seen" }, "Seen"));
}

async function unmatch(friend) {
  const ok = await ask({ title: "Unmatch " + friend.nickname + "?", text: "You will no longer be friends, and this conversation ends.", confirm: "Unmatch", danger: true });
  if (!ok) return;
  try {
    await api("DELETE", "/friends/" + friend.id);
    lost(friend.id, "");
    go("#/matches");
  } catch (x) {
    toast(x.message, "error");
  }
}

start();
