// ui.js: building DOM from data without ever parsing it as HTML, toasts,
// and modal dialogs.

// h builds an element. attrs: "on…" keys are listeners, "class", "for"
// and the rest are attributes (false/null/undefined leave one out);
// children are nodes or strings (always text, never markup).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace swaps el's children for these.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const HUES = [200, 260, 330, 20, 160, 290];

// photo is a user's avatar, or their initial on a colour of their own.
export function photo(user, cls) {
  if (user.avatar_url) {
    return h("img", { class: cls, src: user.avatar_url, alt: "Photo of " + (user.nickname || "this person"), draggable: "false" });
  }
  const hue = HUES[Math.abs(Number(user.id) || 0) % HUES.length];
  const ph = h("div", { class: cls + " ph", role: "img", "aria-label": "No photo of " + (user.nickname || "this person") },
    (user.nickname || "?").trim().charAt(0).toUpperCase() || "?");
  ph.style.setProperty("--hue", String(hue));
  return ph;
}

// toast shows a short message; kind "error" is announced assertively.
export function toast(message, kind = "info") {
  const box = document.getElementById(kind === "error" ? "alerts" : "notes");
  const t = h("p", { class: "toast " + kind }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

// ask shows a modal dialog and resolves to the form's values (an object,
// possibly empty) when confirmed, or null when cancelled.
export function ask({ title, text, fields = [], confirm = "OK", danger = false }) {
  return new Promise((resolve) => {
    const form = h("form", { method: "dialog", class: "dialog-form" });
    const id = "dlg-" + Math.random().toString(36).slice(2);
    const heading = h("h2", { id: id + "-t" }, title);
    const dlg = h("dialog", { "aria-labelledby": id + "-t" }, form);
    form.append(heading);
    if (text) form.append(h("p", {}, text));
    for (const f of fields) form.append(f);
    const ok = h("button", { type: "submit", value: "ok", class: danger ? "danger" : "primary" }, confirm);
    const cancel = h("button", { type: "submit", value: "cancel", formnovalidate: true, class: "ghost" }, "Cancel");
    form.append(h("div", { class: "row end" }, cancel, ok));
    document.body.append(dlg);
    dlg.addEventListener("close", () => {
      const values = Object.fromEntries(new FormData(form).entries());
      dlg.remove();
      resolve(dlg.returnValue === "ok" ? values : null);
    });
    dlg.showModal();
    (fields.length ? form.querySelector("input, select, textarea") : cancel).focus();
  });
}

// field is a labelled form control.
export function field(label, control, hint) {
  const id = control.id || "f-" + Math.random().toString(36).slice(2);
  control.id = id;
  const hintEl = hint ? h("small", { id: id + "-hint", class: "hint" }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", id + "-hint");
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl,
    h("small", { class: "field-error", id: id + "-err", "aria-live": "polite" }));
}

export function age(user) {
  return user.age === null || user.age === undefined ? "" : String(user.age);
}

export function clock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// randomID is a client_id for a retry-safe send (crypto.randomUUID needs
// a secure context; getRandomValues does not).
export function randomID() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
