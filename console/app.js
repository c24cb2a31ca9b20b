// The operator console: one page over the coupon API on this origin.
//
// Plain JavaScript, no build step. Every value that comes from the API is
// put into the page as text (text nodes and attribute setters through h()
// and svg() below); nothing here parses markup. The server's
// Content-Security-Policy forbids inline script and style on top of that.

const TOKEN_KEY = "coupon-console.token";

// ---------------------------------------------------------------- DOM helpers

const SVG_NS = "http://www.w3.org/2000/svg";
// Set as properties after the children exist (a <select>'s value needs its
// options); everything else is an attribute.
const PROPS = new Set(["value", "checked", "disabled", "selected", "indeterminate"]);

/** An HTML element: attributes (`on*` functions become listeners), then children. */
function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, the same way. */
function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs = {}, children = []) {
  const props = [];
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (PROPS.has(name)) {
      props.push([name, value]);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  for (const [name, value] of props) el[name] = value;
  return el;
}

/** Appends nodes, and anything else as a text node; skips null and false. */
function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child == null || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's children, with append()'s rules (unlike replaceChildren, null and arrays are fine). */
function fill(el, ...children) {
  el.textContent = "";
  return append(el, children);
}

let idSeq = 0;
const newId = (prefix = "f") => `${prefix}-${++idSeq}`;

// ----------------------------------------------------------------- formatting

const numberFormat = new Intl.NumberFormat();
const fmtInt = (n) => (n == null ? "—" : numberFormat.format(n));
const todayUTC = () => new Date().toISOString().slice(0, 10);
const isoDay = (date) => date.toISOString().slice(0, 10);

function daysAgoUTC(days) {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() - days);
  return isoDay(d);
}

/** "2026-12-03 14:05 UTC": the API speaks UTC, and so does the console. */
function fmtTime(iso) {
  if (!iso) return "—";
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

function fmtDay(date, opts = { month: "short", day: "numeric" }) {
  return new Date(`${date}T00:00:00Z`).toLocaleDateString(undefined, { ...opts, timeZone: "UTC" });
}

/** XXX is ISO 4217's "no currency": the stats use it for unpriced currency. */
const currencyName = (c) => (!c || c === "XXX" ? "no currency" : c);

function fmtMoney(value, currency) {
  if (value == null) return "—";
  return currency && currency !== "XXX" ? `${value} ${currency}` : value;
}

function fmtDiscount(discount, currency) {
  if (!discount) return "none";
  return discount.type === "percent"
    ? `${discount.value} % off`
    : `${fmtMoney(discount.value, currency)} off`;
}

/** "12.50" -> 1250. Amounts are decimal strings with at most two decimals. */
function toMinor(value) {
  if (value == null) return null;
  const [whole, frac = ""] = String(value).split(".");
  return Number(whole) * 100 + Number(frac.padEnd(2, "0").slice(0, 2));
}

function fromMinor(minor) {
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

/** Only http(s) links from the API become hrefs. */
function safeUrl(url) {
  try {
    const u = new URL(url, location.origin);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------------ API

class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const token = () => sessionStorage.getItem(TOKEN_KEY);

/**
 * Calls the API with the session's token. Resolves to the parsed JSON (null
 * for 204); rejects with an ApiError whose message is the problem's
 * `detail` (else its `title`). A 401 signs the console out.
 */
async function api(path, { method = "GET", query, body, signal } = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value != null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json", Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
      credentials: "omit",
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(`Cannot reach the API (${err.message}).`, 0, "network");
  }
  const json = (res.headers.get("content-type") || "").includes("json");
  const data = res.status === 204 || !json ? null : await res.json().catch(() => null);
  if (res.ok) return data;

  let message = data?.detail || data?.title || `The API answered ${res.status} ${res.statusText}.`;
  const retry = res.headers.get("retry-after");
  if (retry && (res.status === 429 || res.status === 503)) message += ` Try again in ${retry} s.`;
  if (res.status === 401) signOut(`The API refused the token (${message}). Sign in with a valid one.`);
  throw new ApiError(message, res.status, data?.code);
}

/** Whether an error is only the view going away (navigation, sign-out). */
const isAbort = (err, signal) => err?.name === "AbortError" || signal?.aborted;

/** Waits, unless the view is left first. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("left the view", "AbortError"));
    }, { once: true });
  });
}

// ------------------------------------------------------------------ messages

let toastTimer;
/** A message in the page's live region, read out by screen readers. */
function say(text, kind = "info") {
  const status = document.getElementById("status");
  status.className = `toast ${kind}`;
  status.textContent = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { status.textContent = ""; }, kind === "error" ? 10000 : 5000);
}

const errorBox = (err) => h("p", { class: "error", role: "alert" }, err.message || String(err));
const spinner = (label) => h("p", { class: "loading" }, h("span", { class: "spinner", "aria-hidden": "true" }), " ", label);

/** Shows an error in `box` unless the view was left meanwhile. */
function fail(box, err, signal) {
  if (isAbort(err, signal)) return;
  if (!(err instanceof ApiError)) console.error(err);
  fill(box, errorBox(err));
}

/** Runs `work` with the button disabled and marked busy. */
async function busy(button, label, work) {
  const before = [...button.childNodes];
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  fill(button, h("span", { class: "spinner", "aria-hidden": "true" }), " ", label);
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    fill(button, ...before);
  }
}

// ------------------------------------------------------------------ components

function button(label, onclick, cls = "") {
  return h("button", { type: "button", class: `btn ${cls}`.trim(), onclick }, label);
}

function pageHead(title, { sub, actions = [], titleAttrs = {} } = {}) {
  document.title = `${typeof title === "string" ? title : title.textContent} · Coupon console`;
  return h("header", { class: "page-head" },
    h("div", { class: "titles" },
      h("h1", { tabindex: "-1", ...titleAttrs }, title),
      sub && h("p", { class: "sub" }, sub)),
    h("div", { class: "actions" }, actions));
}

function section(title, ...children) {
  const id = newId("s");
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), children);
}

/** A label, its control and a hint, tied together for assistive tech. */
function field(label, control, hint) {
  const id = control.id || (control.id = newId());
  const hintId = hint && `${id}-hint`;
  if (hint) control.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" },
    h("label", { for: id }, label), control, hint && h("small", { id: hintId }, hint));
}

const input = (name, attrs = {}) => h("input", { name, type: "text", autocomplete: "off", ...attrs });

function select(name, options, value) {
  return h("select", { name, value },
    options.map(([v, label]) => h("option", { value: v }, label)));
}

function checkbox(name, label, checked) {
  const id = newId();
  return h("div", { class: "check" },
    h("input", { type: "checkbox", id, name, checked }), h("label", { for: id }, label));
}

/** Pairs as a definition list; values may be nodes. */
function terms(pairs) {
  return h("dl", { class: "terms" },
    pairs.filter(Boolean).map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v ?? "—"))));
}

/**
 * A table in a box that scrolls sideways on its own, so the page never
 * does. `columns`: [label, cell(row), class?]; `rowAttrs(row)` adds data-*.
 */
function table(columns, rowAttrs = () => ({}), label = "Table") {
  const tbody = h("tbody");
  // Focusable, so a keyboard can scroll it sideways.
  const el = h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label },
    h("table", {},
      h("thead", {}, h("tr", {}, columns.map(([label, , cls]) => h("th", { scope: "col", class: cls }, label)))),
      tbody));
  const add = (rows) => {
    for (const row of rows) {
      tbody.append(h("tr", rowAttrs(row), columns.map(([, cell, cls]) => h("td", { class: cls }, cell(row)))));
    }
  };
  return { el, add, get size() { return tbody.rows.length; } };
}

/**
 * Pages through a list route (`has_more`, `next_cursor`) into a table, with
 * a "Load more" button. A page may be empty while `has_more` holds (the
 * redemption log reads its index in slices), so a few are read in a row.
 */
function pager({ load, tbl, empty, signal }) {
  let cursor = null;
  const status = h("div", { class: "pager" });
  const more = button("Load more", () => next(), "ghost");
  async function next() {
    const refocus = document.activeElement === more; // keep a keyboard user's place
    fill(status, spinner("Loading…"));
    try {
      let page;
      let found = 0;
      for (let tries = 0; tries < 5; tries++) {
        page = await load(cursor, signal);
        cursor = page.next_cursor;
        tbl.add(page.data);
        found += page.data.length;
        if (found || !page.has_more || !cursor) break;
      }
      const hasMore = page.has_more && cursor;
      tbl.el.hidden = !tbl.size;
      if (!tbl.size && !hasMore) fill(status, h("p", { class: "empty" }, empty));
      else if (!tbl.size) fill(status, h("p", { class: "empty" }, "Nothing in the latest slice. "), more);
      else fill(status, hasMore ? more : "");
      if (refocus && more.isConnected) more.focus();
    } catch (err) {
      fail(status, err, signal);
      if (!isAbort(err, signal)) status.append(more);
    }
  }
  return { el: h("div", {}, tbl.el, status), next };
}

function badge(text, kind) {
  return h("span", { class: `badge ${kind}` }, text);
}

function couponState(c) {
  const now = new Date().toISOString();
  if (!c.active) return badge("switched off", "off");
  if (c.expiry_date && c.expiry_date < now) return badge("expired", "off");
  if (c.availability_count === 0) return badge("used up", "warn");
  if (c.starts_at && c.starts_at > now) return badge("scheduled", "warn");
  return badge("active", "ok");
}

const codeLink = (code) => h("a", { class: "mono", href: `#/coupons/${encodeURIComponent(code)}` }, code);
const campaignLink = (id, label = id) => h("a", { href: `#/campaigns/${encodeURIComponent(id)}` }, label);

// ------------------------------------------------------- session and routing

const app = { view: null };

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  app.view?.abort();
  app.view = null;
  renderSignIn(message);
}

function renderSignIn(message) {
  document.getElementById("top").hidden = true;
  document.title = "Sign in · Coupon console";
  const tokenInput = input("token", { type: "password", required: true, spellcheck: "false", autocapitalize: "off" });
  const submit = h("button", { type: "submit", class: "btn primary" }, "Sign in");
  const note = h("div", { class: "form-note" }, message && h("p", { class: "error", role: "alert" }, message));
  const form = h("form", { class: "signin", onsubmit: async (e) => {
    e.preventDefault();
    const value = tokenInput.value.trim().replace(/^Bearer\s+/i, ""); // pasted with its scheme
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    try {
      // A cheap authenticated read proves the token before the console shows.
      await busy(submit, "Signing in…", () => api("/coupon", { query: { limit: 1 } }));
    } catch (err) {
      if (err.status === 401) return; // api() signed out and said why
      sessionStorage.removeItem(TOKEN_KEY);
      fill(note, errorBox(err));
      return;
    }
    say("Signed in.");
    firstRoute = false; // the sign-in form goes away: focus the new page's heading
    if (!location.hash.startsWith("#/")) location.hash = "#/overview";
    else route();
  } },
  h("img", { src: "/console/icon.svg", alt: "", width: "40", height: "40" }),
  h("h1", { tabindex: "-1" }, "Coupon console"),
  h("p", { class: "sub" }, "Paste a tenant token. It stays in this tab's session storage only and is sent to this site's API as a bearer token."),
  field("Tenant token", tokenInput),
  note,
  submit);
  fill(document.getElementById("main"), form);
  tokenInput.focus();
}

const ROUTES = [
  [/^#\/overview$/, "overview", viewOverview],
  [/^#\/coupons$/, "coupons", viewCoupons],
  [/^#\/coupons\/new$/, "coupons", viewNewCoupon],
  [/^#\/coupons\/([^/]+)$/, "coupons", viewCoupon],
  [/^#\/campaigns$/, "campaigns", viewCampaigns],
  [/^#\/campaigns\/([^/]+)$/, "campaigns", viewCampaign],
  [/^#\/jobs\/([^/]+)$/, "coupons", viewJob],
  [/^#\/exports$/, "exports", viewExports],
];

let firstRoute = true;

function route() {
  if (!token()) return renderSignIn();
  const hash = location.hash || "#/overview";
  // Only "#/…" is a route. "#main" (the skip link's target, typed or
  // bookmarked) is not, but a page loaded with it still needs a view.
  if (!hash.startsWith("#/")) {
    if (!app.view) location.replace("#/overview");
    return;
  }
  const found = ROUTES.map(([re, sec, view]) => [hash.match(re), sec, view]).find(([m]) => m);
  if (!found) {
    location.replace("#/overview");
    return;
  }
  const [match, sec, view] = found;

  app.view?.abort();
  const controller = new AbortController();
  app.view = controller;

  document.getElementById("top").hidden = false;
  for (const link of document.querySelectorAll("nav a[data-section]")) {
    if (link.dataset.section === sec) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const root = h("div", { class: "view" });
  fill(document.getElementById("main"), root);
  const params = match.slice(1).map(decodeURIComponent);
  view({ root, params, signal: controller.signal });
  // Views draw their heading at once: move focus there so screen readers
  // announce the new page (not on the first load, where the page is new).
  if (!firstRoute) root.querySelector("h1")?.focus();
  firstRoute = false;
}

// ------------------------------------------------------------------ overview

function viewOverview({ root, signal }) {
  let days = 30;
  let currency = null;
  let stats = null;
  let width = 0; // the chart's, to redraw when it changes
  let loads = 0; // only the latest load's answer is drawn (the range can change meanwhile)

  const rangeSelect = select("range", [["7", "Last 7 days"], ["30", "Last 30 days"], ["90", "Last 90 days"], ["365", "Last 365 days"]], "30");
  rangeSelect.setAttribute("aria-label", "Range");
  rangeSelect.addEventListener("change", () => { days = Number(rangeSelect.value); load(); });
  const refresh = button("Refresh", () => load(), "ghost");
  refresh.id = "refresh-stats";

  const cards = h("div", { class: "cards" });
  const currencyBox = h("div", { class: "currency-pick" });
  const legend = h("div", { class: "legend" });
  const chartBox = h("div", { class: "chart-box" });
  const statsError = h("div");
  const updated = h("p", { class: "sub small" });
  const latest = h("div");

  root.append(
    pageHead("Overview", {
      sub: "Redemptions and discount per UTC day, updated from the event stream, usually within seconds.",
      actions: [rangeSelect, refresh],
    }),
    statsError,
    cards,
    section("Redemptions per day", h("div", { class: "chart-head" }, legend, currencyBox), chartBox, updated),
    section("Latest redemptions", latest),
  );

  function renderStats() {
    const totals = stats.totals;
    const currencies = totals.discount.map((d) => d.currency);
    if (!currencies.includes(currency)) {
      // The currency with the most discount given.
      currency = [...totals.discount].sort((a, b) => b.given_minor - a.given_minor)[0]?.currency ?? null;
    }
    fill(cards,
      card("Redemptions", fmtInt(totals.redemptions), "stat-redemptions"),
      card("Reversals", fmtInt(totals.reversals), "stat-reversals"),
      card("Net uses", fmtInt(totals.redemptions - totals.reversals), "stat-net"),
      card("Discount given",
        totals.discount.length
          ? totals.discount.map((d) => h("span", { class: "money-line" },
            fmtMoney(fromMinor(d.given_minor - d.reversed_minor), d.currency === "XXX" ? "" : d.currency),
            d.currency === "XXX" ? " (no currency)" : "",
            d.reversed_minor ? h("small", {}, ` after ${d.reversed} reversed`) : ""))
          : "—",
        "stat-discount"),
    );
    if (currencies.length > 1) {
      const pick = select("currency", currencies.map((c) => [c, currencyName(c)]), currency);
      pick.addEventListener("change", () => { currency = pick.value; renderStats(); });
      fill(currencyBox, field("Discount currency", pick));
    } else {
      fill(currencyBox);
    }
    fill(legend,
      h("span", { class: "key bars" }, "Redemptions"),
      currency ? h("span", { class: "key line" }, `Discount given (${currencyName(currency)})`)
        : h("span", { class: "key muted" }, "No priced redemptions in this range"));
    drawChart(chartBox, stats, currency);
    width = chartBox.clientWidth;
    updated.textContent = `${fmtDay(stats.from, { dateStyle: "medium" })} to ${fmtDay(stats.to, { dateStyle: "medium" })}, UTC. Loaded ${new Date().toLocaleTimeString()}.`;
  }

  async function load() {
    const to = todayUTC();
    const from = daysAgoUTC(days - 1);
    const mine = ++loads;
    refresh.disabled = true;
    refresh.setAttribute("aria-busy", "true");
    if (!stats) fill(chartBox, spinner("Loading the figures…"));
    try {
      const answer = await api("/stats", { query: { from, to }, signal });
      if (mine !== loads) return;
      stats = answer;
      fill(statsError);
      renderStats();
    } catch (err) {
      if (isAbort(err, signal)) return;
      // The rest of the console works without the figures.
      fill(statsError, errorBox(new Error(`The figures could not be loaded: ${err.message}`)));
      if (!stats) {
        fill(cards, card("Redemptions", "—"), card("Reversals", "—"), card("Net uses", "—"), card("Discount given", "—"));
        fill(chartBox, h("p", { class: "empty" }, "No chart without the figures."));
      }
    } finally {
      refresh.disabled = false;
      refresh.removeAttribute("aria-busy");
    }
    loadLatest();
  }

  async function loadLatest() {
    const tbl = table([
      ["When", (r) => fmtTime(r.consumed_at)],
      ["Code", (r) => codeLink(r.code)],
      ["Kind", (r) => kindBadge(r)],
      ["Order", (r) => fmtMoney(r.pricing?.order_amount, r.pricing?.currency), "num"],
      ["Discount", (r) => fmtMoney(r.pricing?.discount_amount, r.pricing?.currency), "num"],
    ], (r) => ({ "data-redemption-id": r.redemption_id }), "Latest redemptions");
    // One page only: the overview shows the latest; the log is in exports.
    const p = pager({
      tbl, signal, empty: "No redemptions lately.",
      load: (cursor) => api("/redemptions", { query: { limit: 8, cursor }, signal }),
    });
    fill(latest, p.el);
    await p.next();
    p.el.querySelector(".pager button")?.remove();
  }

  // Redraw at the new width when the box changes size (rotation, resize).
  const resize = new ResizeObserver(() => {
    if (stats && Math.abs(chartBox.clientWidth - width) > 8) {
      width = chartBox.clientWidth;
      drawChart(chartBox, stats, currency);
    }
  });
  resize.observe(chartBox);
  signal.addEventListener("abort", () => resize.disconnect());
  load();
}

function card(label, value, id) {
  return h("div", { class: "card", id }, h("div", { class: "card-label" }, label), h("div", { class: "card-value" }, value));
}

function kindBadge(r) {
  if (r.object === "reversal") return badge("reversal", "warn");
  return r.rolled_back_by ? badge("rolled back", "off") : badge("redeemed", "ok");
}

/** Ticks from 0 for values up to `max`: about four steps of 1, 2, 2.5 or 5 × 10^k. */
function axis(max, integer) {
  const raw = Math.max(max, integer ? 1 : 0.01) / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw);
  if (integer) step = Math.max(1, Math.ceil(step));
  const top = Math.max(step, Math.ceil(max / step - 1e-9) * step);
  const ticks = [];
  for (let i = 0; i * step <= top + step / 2; i++) ticks.push(i * step);
  return { top, ticks };
}

function fmtAxis(v) {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  return String(+v.toFixed(2));
}

/**
 * Draws redemptions per day (bars, left axis) and the discount given per day
 * in one currency (line, right axis) at the box's width. Each bar carries
 * its day's figures as data-* attributes and a <title> for hover; a table
 * of the same figures follows for screen readers and copying.
 */
function drawChart(box, stats, currency) {
  const days = stats.days;
  const W = Math.max(280, Math.floor(box.clientWidth || 640));
  const H = W < 560 ? 220 : 280;
  const m = { top: 22, right: currency ? 52 : 14, bottom: 28, left: 40 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const band = pw / days.length;
  const given = (d) => d.discount.find((x) => x.currency === currency);
  const uses = axis(Math.max(0, ...days.map((d) => d.redemptions)), true);
  const money = axis(Math.max(0, ...days.map((d) => (given(d)?.given_minor ?? 0) / 100)), false);
  const yUses = (v) => m.top + ph - (v / uses.top) * ph;
  const yMoney = (v) => m.top + ph - (v / money.top) * ph;
  const today = todayUTC();

  const titleId = newId("chart-title");
  const descId = newId("chart-desc");
  const chart = svg("svg", {
    class: "chart", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
    "aria-labelledby": `${titleId} ${descId}`,
    "data-chart": "stats", "data-from": stats.from, "data-to": stats.to,
    "data-currency": currency || "", "data-days": days.length,
  },
  svg("title", { id: titleId }, `Redemptions per day, ${stats.from} to ${stats.to}`),
  svg("desc", { id: descId }, `${stats.totals.redemptions} redemptions and ${stats.totals.reversals} reversals in all.`));

  const grid = svg("g", { class: "grid" });
  for (const t of uses.ticks) {
    grid.append(
      svg("line", { x1: m.left, x2: m.left + pw, y1: yUses(t), y2: yUses(t) }),
      svg("text", { class: "tick", x: m.left - 6, y: yUses(t) + 4, "text-anchor": "end" }, fmtInt(t)));
  }
  if (currency) {
    for (const t of money.ticks) {
      grid.append(svg("text", { class: "tick money", x: m.left + pw + 6, y: yMoney(t) + 4 }, fmtAxis(t)));
    }
    grid.append(svg("text", { class: "axis-name money", x: W - 4, y: 12, "text-anchor": "end" }, currencyName(currency)));
  }
  grid.append(svg("text", { class: "axis-name", x: 4, y: 12 }, "uses"));
  chart.append(grid);

  // Day labels from today backwards, so the newest day is always named.
  const every = Math.ceil(days.length / Math.max(2, Math.floor(pw / 64)));
  const labels = svg("g", { class: "x-labels" });
  for (let i = days.length - 1; i >= 0; i -= every) {
    labels.append(svg("text", { class: "tick", x: m.left + band * (i + 0.5), y: H - 8, "text-anchor": "middle" }, fmtDay(days[i].date)));
  }
  chart.append(labels, svg("line", { class: "baseline", x1: m.left, x2: m.left + pw, y1: m.top + ph, y2: m.top + ph }));

  const bars = svg("g", { class: "bars" });
  const barW = Math.max(1, Math.min(band * 0.72, 28));
  days.forEach((d, i) => {
    const g = given(d);
    const top = yUses(d.redemptions);
    const x = m.left + band * (i + 0.5);
    const tip = [`${fmtDay(d.date, { dateStyle: "medium" })}: ${fmtInt(d.redemptions)} redemption${d.redemptions === 1 ? "" : "s"}`,
      d.reversals ? `, ${fmtInt(d.reversals)} reversed` : "",
      d.discount.map((x) => `, ${fmtMoney(x.given, currencyName(x.currency))} discount`).join("")].join("");
    bars.append(svg("g", { class: `day${d.date === today ? " today" : ""}` },
      svg("title", {}, tip),
      // The whole column answers hover, so empty days show their tooltip too.
      svg("rect", { class: "hit", x: m.left + band * i, y: m.top, width: band, height: ph }),
      svg("rect", {
        class: "bar", x: x - barW / 2, y: top, width: barW, height: m.top + ph - top,
        "data-date": d.date, "data-redemptions": d.redemptions, "data-reversals": d.reversals,
        "data-discount-minor": g?.given_minor ?? 0,
      })));
  });
  chart.append(bars);

  if (currency) {
    const points = days.map((d, i) => [m.left + band * (i + 0.5), yMoney((given(d)?.given_minor ?? 0) / 100)]);
    chart.append(svg("path", { class: "line", d: points.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join("") }));
    if (band >= 8) { // dots only where they do not crowd
      const dots = svg("g", { class: "dots" });
      points.forEach(([x, y], i) => dots.append(svg("circle", { cx: x, cy: y, r: 2.5, "data-date": days[i].date })));
      chart.append(dots);
    }
  }

  const data = table([
    ["Day (UTC)", (d) => d.date],
    ["Redemptions", (d) => fmtInt(d.redemptions), "num"],
    ["Reversals", (d) => fmtInt(d.reversals), "num"],
    ["Discount given", (d) => d.discount.map((x) => fmtMoney(x.given, currencyName(x.currency))).join(", ") || "—", "num"],
  ], (d) => ({ "data-date": d.date }), "Figures per day");
  data.add([...days].reverse());
  fill(box, chart, h("details", { class: "chart-data" }, h("summary", {}, "Figures as a table"), data.el));
}

// ------------------------------------------------------------------- coupons

function viewCoupons({ root, signal }) {
  const codeInput = input("code", { spellcheck: "false", autocapitalize: "characters", placeholder: "SUMMER-24", maxlength: "64" });
  const findNote = h("div");
  const find = h("form", { class: "inline-form", role: "search", onsubmit: async (e) => {
    e.preventDefault();
    const code = codeInput.value.trim();
    if (!code) return;
    fill(findNote);
    try {
      const c = await busy(find.querySelector("button"), "Looking…", () => api("/coupon", { query: { code }, signal }));
      location.hash = `#/coupons/${encodeURIComponent(c.code)}`;
    } catch (err) {
      fail(findNote, err, signal);
    }
  } }, field("Find a code", codeInput), h("button", { type: "submit", class: "btn" }, "Open"));

  const tbl = table([
    ["Code", (c) => codeLink(c.code)],
    ["State", (c) => couponState(c)],
    ["Discount", (c) => fmtDiscount(c.discount, c.currency)],
    ["Uses left", (c) => fmtInt(c.availability_count), "num"],
    ["Redeemed", (c) => fmtInt(c.redeemed_count), "num"],
    ["Product", (c) => c.product_id ?? "—", "wrap"],
    ["Expires", (c) => fmtTime(c.expiry_date)],
  ], (c) => ({ "data-code": c.code }), "Coupons");
  const list = pager({
    tbl, signal, empty: "No coupons yet. Create the first one.",
    load: (cursor) => api("/coupon", { query: { limit: 25, cursor }, signal }),
  });

  root.append(
    pageHead("Coupons", {
      sub: "Every code of this tenant, in code order.",
      actions: [h("a", { class: "btn primary", href: "#/coupons/new" }, "New coupon")],
    }),
    h("div", { class: "panel" }, find, findNote),
    section("All coupons", list.el));
  list.next();
}

function viewCoupon({ root, params: [code], signal }) {
  const body = h("div", {}, spinner("Loading the coupon…"));
  root.append(pageHead(code, { sub: "Coupon", titleAttrs: { class: "mono", "data-code": code } }), body);
  let loads = 0;
  load();

  // Refresh may be pressed while a load is on its way: only the latest
  // load's answer is drawn, so an older one cannot land over it.
  async function load() {
    const mine = ++loads;
    let c;
    try {
      c = await api("/coupon", { query: { code }, signal });
    } catch (err) {
      if (mine === loads) fail(body, err, signal);
      return;
    }
    if (mine === loads) render(c);
  }

  // `focus`: the action button to give the focus back to after a re-render.
  function render(c, focus) {
    const heading = root.querySelector("h1");
    heading.textContent = c.code; // the API's spelling (upper case)
    heading.dataset.code = c.code;
    const actionsBox = root.querySelector(".page-head .actions");
    const panel = h("div");
    const toggle = button(c.active ? "Switch off" : "Switch on", () => busy(toggle, "Saving…", async () => {
      try {
        const updated = await api(`/coupon/${encodeURIComponent(c.code)}`, { method: "PUT", body: { active: !c.active }, signal });
        say(updated.active ? `${c.code} is on again.` : `${c.code} is switched off: consumes are refused as inactive.`);
        render(updated, "toggle");
      } catch (err) {
        fail(panel, err, signal);
      }
    }), "ghost");
    toggle.dataset.action = "toggle";
    const edit = button("Edit terms", () => openEdit(c, panel, (updated) => render(updated, "edit"), signal), "ghost");
    edit.dataset.action = "edit";
    fill(actionsBox,
      button("Refresh", () => load(), "ghost"),
      edit,
      toggle,
      button("Delete…", () => confirmDelete(c, panel, signal), "danger"));
    fill(root.querySelector(".page-head .sub"), couponState(c), c.campaign_id ? [" in campaign ", campaignLink(c.campaign_id)] : "");

    const redemptions = table([
      ["When", (r) => fmtTime(r.consumed_at)],
      ["Kind", (r) => kindBadge(r)],
      ["Order", (r) => fmtMoney(r.pricing?.order_amount, r.pricing?.currency), "num"],
      ["Discount", (r) => fmtMoney(r.pricing?.discount_amount, r.pricing?.currency), "num"],
      ["Paid", (r) => fmtMoney(r.pricing?.final_amount, r.pricing?.currency), "num"],
      ["Customer", (r) => r.customer_id ?? "—", "wrap"],
      ["Product", (r) => r.product_id ?? "—", "wrap"],
      ["Redemption id", (r) => h("span", { class: "mono small" }, r.redemption_id)],
    ], (r) => ({ "data-redemption-id": r.redemption_id, "data-kind": r.object }), "Redemptions of this code");
    const log = pager({
      tbl: redemptions, signal, empty: "Not redeemed yet.",
      load: (cursor) => api("/redemptions", { query: { code: c.code, limit: 25, cursor }, signal }),
    });

    const meta = Object.entries(c.metadata || {});
    const metaTable = table([["Key", ([k]) => k, "wrap"], ["Value", ([, v]) => v, "wrap"]], () => ({}), "Metadata");
    metaTable.add(meta);

    fill(body,
      panel,
      section("Terms", terms([
        ["Discount", fmtDiscount(c.discount, c.currency)],
        ["Currency", c.currency],
        ["Uses left", fmtInt(c.availability_count)],
        ["Redeemed", fmtInt(c.redeemed_count)],
        ["Held by reservations", fmtInt(c.reserved_count)],
        ["Product", c.product_ids?.length ? c.product_ids.join(", ") : c.product_id],
        ["Promo type", c.promo_type],
        ["Minimum order", fmtMoney(c.min_order_amount, c.currency)],
        c.max_discount_amount && ["Most discount per use", fmtMoney(c.max_discount_amount, c.currency)],
        ["Uses per customer", c.max_uses_per_customer == null ? "unlimited" : fmtInt(c.max_uses_per_customer)],
        ["Starts", fmtTime(c.starts_at)],
        ["Expires", fmtTime(c.expiry_date)],
        ["Active", c.active ? "yes" : "no"],
        c.high_demand && ["High demand", "yes: uses spread over counter shards"],
        c.customer_id && ["Personal code of", c.customer_id],
        c.campaign_id && ["Campaign", campaignLink(c.campaign_id)],
        ["Created", fmtTime(c.created_at)],
        ["Updated", fmtTime(c.updated_at)],
      ])),
      section("Metadata", meta.length ? metaTable.el : h("p", { class: "empty" }, "No metadata.")),
      section("Redemptions", log.el));
    log.next();
    if (focus) actionsBox.querySelector(`[data-action="${focus}"]`)?.focus();
  }
}

function confirmDelete(c, panel, signal) {
  const cancel = button("Cancel", () => { fill(panel); }, "ghost");
  const del = button(`Delete ${c.code}`, () => busy(del, "Deleting…", async () => {
    try {
      await api(`/coupon/${encodeURIComponent(c.code)}`, { method: "DELETE", signal });
      say(`${c.code} deleted. Its redemption log stays.`);
      location.hash = "#/coupons";
    } catch (err) {
      fail(note, err, signal);
    }
  }), "danger");
  const note = h("div");
  fill(panel, h("div", { class: "panel confirm", role: "group", "aria-label": "Confirm deletion" },
    h("p", {}, "Delete ", h("strong", { class: "mono" }, c.code), "? The code stops working at once; its redemption log stays. This cannot be undone."),
    note, h("div", { class: "actions" }, del, cancel)));
  cancel.focus(); // the safe choice has the focus
}

// The coupon terms form, shared by create and edit. Field names are the API's.

const DATE_HINT = "UTC. Empty: none.";
const localValue = (iso) => (iso ? iso.slice(0, 16) : "");
const toApiDate = (local) => (local ? `${local}:00Z` : "");

function termsFieldset(c = {}, { campaign = false } = {}) {
  const discountType = select("discount_type", [["", "No discount"], ["fixed", "Fixed amount"], ["percent", "Percentage"]], c.discount?.type ?? "");
  const discountValue = input("discount_value", { inputmode: "decimal", value: c.discount?.value ?? "", placeholder: "5.00" });
  const syncDiscount = () => { discountValue.disabled = !discountType.value; };
  discountType.addEventListener("change", syncDiscount);
  syncDiscount();
  const uses = field("Uses", input("availability_count", { type: "number", min: "0", step: "1", value: c.availability_count ?? "1", required: true }), "How many times the code can be consumed (left, when editing).");
  const active = checkbox("active", "Active (when off, every consume is refused)", c.active ?? true);
  if (campaign) {
    return h("fieldset", {}, h("legend", {}, "Terms"),
      h("p", { class: "sub" }, "The other terms are the campaign's; change them on the campaign."),
      h("div", { class: "grid" }, uses), active);
  }
  return h("fieldset", {}, h("legend", {}, "Terms"),
    h("div", { class: "grid" },
      uses,
      field("Discount", discountType),
      field("Discount value", discountValue, "An amount, or a percentage; two decimals at most."),
      field("Currency", input("currency", { value: c.currency ?? "", maxlength: "3", placeholder: "EUR", autocapitalize: "characters" }), "ISO 4217; needed for a fixed amount to be priced."),
      field("Product id", input("product_id", { value: c.product_id ?? "", maxlength: "128" }), "Empty: any product."),
      field("Promo type", input("promo_type", { value: c.promo_type ?? "", maxlength: "64", placeholder: "voucher" })),
      field("Minimum order", input("min_order_amount", { inputmode: "decimal", value: c.min_order_amount ?? "" })),
      field("Uses per customer", input("max_uses_per_customer", { type: "number", min: "1", step: "1", value: c.max_uses_per_customer ?? "" }), "Empty: unlimited."),
      field("Starts (UTC)", input("starts_at", { type: "datetime-local", value: localValue(c.starts_at) }), DATE_HINT),
      field("Expires (UTC)", input("expiry_date", { type: "datetime-local", value: localValue(c.expiry_date) }), DATE_HINT)),
    active);
}

/** The form's terms as the API names them; "" for empty. */
function readTerms(form) {
  const v = (name) => form.elements[name]?.value.trim() ?? "";
  const t = {
    availability_count: v("availability_count"),
    active: form.elements.active.checked,
  };
  if (!form.elements.discount_type) return t; // a campaign's code
  const type = v("discount_type");
  Object.assign(t, {
    discount_fixed: type === "fixed" ? v("discount_value") : "",
    discount_percent: type === "percent" ? v("discount_value") : "",
    currency: v("currency").toUpperCase(),
    product_id: v("product_id"),
    promo_type: v("promo_type"),
    min_order_amount: v("min_order_amount"),
    max_uses_per_customer: v("max_uses_per_customer"),
    starts_at: toApiDate(v("starts_at")),
    expiry_date: toApiDate(v("expiry_date")),
  });
  return t;
}

/** The same shape from a coupon, to find what an edit changed. */
function termsOf(c) {
  return {
    availability_count: String(c.availability_count),
    active: c.active,
    discount_fixed: c.discount?.type === "fixed" ? c.discount.value : "",
    discount_percent: c.discount?.type === "percent" ? c.discount.value : "",
    currency: c.currency ?? "",
    product_id: c.product_id ?? "",
    promo_type: c.promo_type ?? "",
    min_order_amount: c.min_order_amount ?? "",
    max_uses_per_customer: c.max_uses_per_customer == null ? "" : String(c.max_uses_per_customer),
    starts_at: toApiDate(localValue(c.starts_at)),
    expiry_date: toApiDate(localValue(c.expiry_date)),
  };
}

/** Key/value rows for metadata; value() is the object to send. */
function metadataEditor(initial = {}) {
  const rows = h("div", { class: "meta-rows" });
  const addRow = (key = "", value = "") => {
    const n = rows.children.length + 1;
    const row = h("div", { class: "meta-row" },
      field(`Key ${n}`, input("meta_key", { value: key, maxlength: "40", placeholder: "order_id" })),
      field(`Value ${n}`, input("meta_value", { value, maxlength: "500" })),
      h("button", { type: "button", class: "btn ghost icon", "aria-label": `Remove key ${n}`, onclick: () => row.remove() }, "Remove"));
    rows.append(row);
    return row;
  };
  for (const [k, v] of Object.entries(initial)) addRow(k, v);
  const el = h("fieldset", {}, h("legend", {}, "Metadata"),
    h("p", { class: "sub" }, "Your own key/value texts (order, CRM or campaign ids): up to 50 keys of 1 to 40 characters."),
    rows,
    button("Add a key", () => addRow().querySelector("input").focus(), "ghost"));
  const value = () => {
    const out = {};
    for (const row of rows.children) {
      const [k, v] = row.querySelectorAll("input");
      if (k.value.trim()) out[k.value.trim()] = v.value;
    }
    return out;
  };
  return { el, value };
}

function openEdit(c, panel, render, signal) {
  const campaign = Boolean(c.campaign_id);
  const meta = metadataEditor(c.metadata);
  const note = h("div");
  const save = h("button", { type: "submit", class: "btn primary" }, "Save changes");
  const form = h("form", { class: "panel", onsubmit: async (e) => {
    e.preventDefault();
    const before = termsOf(c);
    const after = readTerms(form);
    const body = {};
    for (const [k, v] of Object.entries(after)) if (v !== before[k]) body[k] = v === "" ? null : v;
    // A discount is one of the two: setting one clears the other.
    if ("discount_fixed" in body && body.discount_fixed != null) body.discount_percent = null;
    if ("discount_percent" in body && body.discount_percent != null) body.discount_fixed = null;
    if (!campaign && JSON.stringify(meta.value()) !== JSON.stringify(c.metadata || {})) body.metadata = meta.value();
    if (!Object.keys(body).length) {
      fill(note, h("p", { class: "sub" }, "Nothing changed."));
      return;
    }
    try {
      const updated = await busy(save, "Saving…", () => api(`/coupon/${encodeURIComponent(c.code)}`, { method: "PUT", body, signal }));
      say(`${c.code} saved.`);
      render(updated);
    } catch (err) {
      fail(note, err, signal);
    }
  } },
  h("h2", { tabindex: "-1" }, "Edit terms"),
  termsFieldset(c, { campaign }),
  !campaign && meta.el,
  note,
  h("div", { class: "actions" }, save, button("Cancel", () => fill(panel), "ghost")));
  fill(panel, form);
  form.querySelector("h2").focus();
}

function viewNewCoupon({ root, signal }) {
  const meta = metadataEditor();
  const note = h("div");
  const result = h("div");
  const submit = h("button", { type: "submit", class: "btn primary" }, "Create coupon");

  const mode = (value, label, checked) => {
    const id = newId();
    return h("span", { class: "check" }, h("input", { type: "radio", name: "mode", id, value, checked }), h("label", { for: id }, label));
  };
  const codeField = field("Code", input("code", { maxlength: "64", spellcheck: "false", autocapitalize: "characters", placeholder: "Empty: generated" }), "Letters, digits, - and _; upper-cased. Leave empty to generate one.");
  const quantityField = field("How many", input("quantity", { type: "number", min: "1", max: "1000000", step: "1", value: "100" }), "Up to 1,000 at once; more are written by a job whose progress shows here.");
  const format = h("div", { class: "grid" },
    field("Random characters", input("code_length", { type: "number", min: "4", max: "64", value: "8" })),
    field("Prefix", input("prefix", { maxlength: "32", autocapitalize: "characters", placeholder: "XMAS-" })),
    field("Suffix", input("suffix", { maxlength: "32", autocapitalize: "characters" })),
    field("Characters", select("charset", [["readable", "Readable (no 0/O, 1/I/L)"], ["alphanumeric", "Letters and digits"], ["alphabetic", "Letters"], ["numbers", "Digits"]], "readable")));

  const form = h("form", { class: "create", onsubmit: async (e) => {
    e.preventDefault();
    fill(note);
    const batch = form.elements.mode.value === "batch";
    const v = (name) => form.elements[name].value.trim();
    const body = {};
    for (const [k, val] of Object.entries(readTerms(form))) if (val !== "") body[k] = val;
    if (!batch && v("code")) {
      body.code = v("code");
    } else {
      Object.assign(body, { code_length: v("code_length"), charset: v("charset") });
      if (v("prefix")) body.prefix = v("prefix");
      if (v("suffix")) body.suffix = v("suffix");
      if (batch) body.quantity = v("quantity");
    }
    const metadata = meta.value();
    if (Object.keys(metadata).length) body.metadata = metadata;
    try {
      const made = await busy(submit, "Creating…", () => api("/coupon", { method: "POST", body, signal }));
      if (made.object === "coupon") {
        say(`Coupon ${made.code} created.`);
        location.hash = `#/coupons/${encodeURIComponent(made.code)}`;
      } else if (made.object === "job") {
        say(`A job writes the ${fmtInt(made.quantity)} codes.`);
        location.hash = `#/jobs/${encodeURIComponent(made.job_id)}`;
      } else {
        showBatch(made.data);
      }
    } catch (err) {
      fail(note, err, signal);
    }
  } },
  h("fieldset", {}, h("legend", {}, "Codes"),
    h("div", { class: "modes", role: "radiogroup", "aria-label": "What to create" }, mode("one", "One coupon", true), mode("batch", "A batch")),
    codeField, quantityField,
    h("details", { class: "format" }, h("summary", {}, "Generated code format"), format)),
  termsFieldset(),
  meta.el,
  note,
  h("div", { class: "actions" }, submit, h("a", { class: "btn ghost", href: "#/coupons" }, "Cancel")));

  // One coupon: a custom code or a generated one. A batch: generated only.
  const sync = () => {
    const batch = form.elements.mode.value === "batch";
    const custom = !batch && form.elements.code.value.trim() !== "";
    codeField.hidden = batch;
    quantityField.hidden = !batch;
    for (const el of format.querySelectorAll("input, select")) el.disabled = custom;
    submit.textContent = batch ? "Create coupons" : "Create coupon";
  };
  form.addEventListener("input", sync);
  form.addEventListener("change", sync);
  sync();

  function showBatch(coupons) {
    const tbl = table([
      ["Code", (c) => codeLink(c.code)],
      ["Uses", (c) => fmtInt(c.availability_count), "num"],
      ["Discount", (c) => fmtDiscount(c.discount, c.currency)],
    ], (c) => ({ "data-code": c.code }));
    tbl.add(coupons);
    const codes = coupons.map((c) => c.code).join("\n");
    fill(result, section(`${fmtInt(coupons.length)} coupons created`,
      h("div", { class: "actions" }, button("Copy the codes", () => copy(codes, `${coupons.length} codes copied.`), "ghost")),
      tbl.el));
    say(`${coupons.length} coupons created.`);
    result.querySelector("h2").setAttribute("tabindex", "-1");
    result.querySelector("h2").focus();
  }

  root.append(pageHead("New coupon", { sub: "One code, or a batch of generated codes with the same terms." }), form, result);
}

async function copy(text, done) {
  try {
    await navigator.clipboard.writeText(text);
    say(done);
  } catch {
    say("The browser did not allow copying.", "error");
  }
}

// ----------------------------------------------------------------------- jobs

function viewJob({ root, params: [id], signal }) {
  const status = h("div", {}, spinner("Loading the job…"));
  const notice = h("div");
  const codes = h("div");
  root.append(pageHead("Job", { sub: h("span", { class: "mono" }, id) }), notice, section("Progress", status), codes);
  poll();

  // Polls until the job ends or the view is left; rides out passing
  // failures (429, 503, a dropped connection) and stops on others.
  async function poll() {
    for (;;) {
      let wait = 1500;
      try {
        const job = await api(`/coupon/jobs/${encodeURIComponent(id)}`, { signal });
        renderJob(job);
        if (job.status === "succeeded" || job.status === "failed") return showCodes(job);
      } catch (err) {
        if (isAbort(err, signal)) return;
        const passing = err.status === 0 || err.status === 429 || err.status >= 500;
        if (!passing || !status.querySelector(".job-state")) return fail(status, err, signal);
        fill(notice, errorBox(new Error(`${err.message} Trying again…`)));
        wait = 5000;
      }
      try {
        await sleep(wait, signal);
      } catch {
        return;
      }
    }
  }

  function renderJob(job) {
    fill(notice);
    const done = job.kind === "delete_campaign_codes" ? job.deleted ?? 0 : job.created ?? 0;
    const verb = { generate: "written", import: "imported", delete_campaign_codes: "deleted" }[job.kind] ?? "done";
    const pct = job.quantity ? Math.floor((done / job.quantity) * 100) : 0;
    const bar = h("progress", { max: job.quantity || 1, value: job.status === "succeeded" ? job.quantity || 1 : done, "aria-label": "Job progress" });
    if (job.status === "pending") bar.removeAttribute("value"); // indeterminate until it starts
    fill(status,
      h("div", { class: "job-state", "data-status": job.status },
        badge(job.status, { succeeded: "ok", failed: "off" }[job.status] ?? "warn"),
        " ", `${fmtInt(done)} of ${fmtInt(job.quantity)} codes ${verb} (${pct} %)`),
      bar,
      job.error && h("p", { class: "error", role: "alert" }, job.error),
      terms([
        ["Kind", { generate: "Generate codes", import: "Import into a campaign", delete_campaign_codes: "Delete a campaign's codes" }[job.kind] ?? job.kind],
        job.campaign_id && ["Campaign", campaignLink(job.campaign_id)],
        job.skipped != null && ["Skipped (existed)", fmtInt(job.skipped)],
        ["Started", fmtTime(job.created_at)],
        ["Last progress", fmtTime(job.updated_at)],
        ["Finished", fmtTime(job.completed_at)],
      ]));
  }

  async function showCodes(job) {
    if (job.status !== "succeeded") return;
    try {
      const page = await api(`/coupon/jobs/${encodeURIComponent(id)}/codes`, { signal });
      if (!page.data.length) return;
      const text = page.data.join("\n");
      fill(codes, section(`Codes (first ${fmtInt(page.count)})`,
        h("p", { class: "sub" }, "The API pages the codes 10,000 at a time: ", h("span", { class: "mono" }, `GET /coupon/jobs/${id}/codes`), "."),
        h("div", { class: "actions" }, button("Copy these codes", () => copy(text, `${page.count} codes copied.`), "ghost")),
        h("pre", { class: "codes", tabindex: "0" }, page.data.slice(0, 500).join("\n"), page.data.length > 500 ? "\n…" : "")));
    } catch (err) {
      fail(codes, err, signal);
    }
  }
}

// ------------------------------------------------------------------ campaigns

function budgetLeft(c) {
  const parts = [];
  if (c.budget_uses != null) parts.push(`${fmtInt(c.budget_uses_left)} uses`);
  if (c.budget_amount != null) parts.push(fmtMoney(c.budget_amount_left, c.currency));
  return parts.join(", ") || "unlimited";
}

function viewCampaigns({ root, signal }) {
  const tbl = table([
    ["Name", (c) => campaignLink(c.campaign_id, c.name), "wrap"],
    ["State", (c) => (c.active ? badge("active", "ok") : badge("switched off", "off"))],
    ["Offer", (c) => fmtDiscount(c.discount, c.currency)],
    ["Codes", (c) => fmtInt(c.coupon_count), "num"],
    ["Redeemed", (c) => fmtInt(c.redeemed_count), "num"],
    ["Discount given", (c) => fmtMoney(c.discount_total, c.currency), "num"],
    ["Budget left", (c) => budgetLeft(c)],
  ], (c) => ({ "data-campaign-id": c.campaign_id }), "Campaigns");
  const list = pager({
    tbl, signal, empty: "No campaigns yet. Create them with POST /campaigns.",
    load: (cursor) => api("/campaigns", { query: { limit: 25, cursor }, signal }),
  });
  root.append(pageHead("Campaigns", { sub: "One offer and one budget for many codes; newest first." }), section("All campaigns", list.el));
  list.next();
}

/** A labelled bar of what a budget has spent. */
function budgetBar(label, used, total, usedText, leftText) {
  const id = newId();
  return h("div", { class: "budget" },
    h("div", { class: "budget-label", id }, h("strong", {}, label), h("span", {}, `${usedText} used · ${leftText} left`)),
    h("progress", { max: total || 1, value: Math.min(used, total), "aria-labelledby": id }));
}

function viewCampaign({ root, params: [id], signal }) {
  const body = h("div", {}, spinner("Loading the campaign…"));
  root.append(pageHead("Campaign", { sub: h("span", { class: "mono" }, id) }), body);
  load();

  async function load() {
    let c;
    try {
      c = await api(`/campaigns/${encodeURIComponent(id)}`, { signal });
    } catch (err) {
      return fail(body, err, signal);
    }
    root.querySelector("h1").textContent = c.name;
    document.title = `${c.name} · Coupon console`;
    fill(root.querySelector(".page-head .sub"),
      c.active ? badge("active", "ok") : badge("switched off", "off"), " ", h("span", { class: "mono small" }, c.campaign_id));

    const budgets = [];
    if (c.budget_uses != null) {
      const used = c.budget_uses - c.budget_uses_left;
      budgets.push(budgetBar("Uses", used, c.budget_uses, fmtInt(used), fmtInt(c.budget_uses_left)));
    }
    if (c.budget_amount != null) {
      const total = toMinor(c.budget_amount);
      const used = total - toMinor(c.budget_amount_left);
      budgets.push(budgetBar("Amount", used, total, fmtMoney(fromMinor(used), c.currency), fmtMoney(c.budget_amount_left, c.currency)));
    }

    const parts = [
      section("Budget",
        budgets.length ? budgets : h("p", { class: "empty" }, "No budget: its codes spend without a limit."),
        terms([
          ["Redeemed", fmtInt(c.redeemed_count)],
          ["Discount given", fmtMoney(c.discount_total, c.currency)],
          ["Held by reservations", `${fmtInt(c.reserved_count)} (${fmtMoney(c.reserved_amount, c.currency)})`],
        ])),
      section("Offer", terms([
        ["Discount", fmtDiscount(c.discount, c.currency)],
        ["Currency", c.currency],
        ["Products", c.product_ids.length ? c.product_ids.join(", ") : c.product_id ?? "any"],
        ["Promo type", c.promo_type],
        ["Minimum order", fmtMoney(c.min_order_amount, c.currency)],
        ["Most discount per use", fmtMoney(c.max_discount_amount, c.currency)],
        ["Uses per customer", c.max_uses_per_customer == null ? "unlimited" : fmtInt(c.max_uses_per_customer)],
        ["Starts", fmtTime(c.starts_at)],
        ["Expires", fmtTime(c.expiry_date)],
        ["Codes", fmtInt(c.coupon_count)],
        ["Created", fmtTime(c.created_at)],
        ["Updated", fmtTime(c.updated_at)],
        ...Object.entries(c.metadata || {}).map(([k, v]) => [`Metadata: ${k}`, v]),
      ])),
    ];
    // The codes section only when there are codes to list.
    if (c.coupon_count > 0) {
      const tbl = table([
        ["Code", (x) => codeLink(x.code)],
        ["State", (x) => couponState(x)],
        ["Uses left", (x) => fmtInt(x.availability_count), "num"],
        ["Redeemed", (x) => fmtInt(x.redeemed_count), "num"],
        ["Customer", (x) => x.customer_id ?? "—", "wrap"],
      ], (x) => ({ "data-code": x.code }), "Codes of this campaign");
      const list = pager({
        tbl, signal, empty: "No codes.",
        load: (cursor) => api("/coupon", { query: { campaign_id: c.campaign_id, limit: 25, cursor }, signal }),
      });
      parts.push(section(`Codes (${fmtInt(c.coupon_count)})`, list.el));
      list.next();
    }
    fill(body, ...parts);
  }
}

// -------------------------------------------------------------------- exports

function viewExports({ root, signal }) {
  const today = todayUTC();
  const from = input("from", { type: "date", value: today, required: true });
  const to = input("to", { type: "date", value: today, required: true, max: today });
  const progress = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "btn primary" }, "Create export");
  const listBox = h("div");

  const form = h("form", { class: "inline-form", onsubmit: async (e) => {
    e.preventDefault();
    fill(progress,
      h("p", { class: "loading" }, "Exporting the redemption log…"),
      h("progress", { "aria-label": "Export in progress" }));
    try {
      const made = await busy(submit, "Exporting…", () => api("/exports", { method: "POST", body: { from: from.value, to: to.value }, signal }));
      fill(progress, h("p", { class: "ok-note" }, `Export ready: ${fmtInt(made.rows)} row${made.rows === 1 ? "" : "s"}. `, downloadLink(made)));
      say(`Export ready: ${made.rows} rows.`);
      loadList();
    } catch (err) {
      fail(progress, err, signal);
    }
  } },
  field("From (UTC day)", from), field("To (UTC day)", to), submit);

  function loadList() {
    const tbl = table([
      ["Created", (x) => fmtTime(x.created_at)],
      ["Days", (x) => `${x.from.slice(0, 10)} to ${x.to.slice(0, 10)}`],
      ["Rows", (x) => fmtInt(x.rows), "num"],
      ["File", (x) => downloadLink(x)],
      ["Link expires", (x) => fmtTime(x.expires_at)],
    ], (x) => ({ "data-export-key": x.key }), "Exports");
    const list = pager({
      tbl, signal, empty: "No exports yet.",
      load: (cursor) => api("/exports", { query: { limit: 25, cursor }, signal }),
    });
    fill(listBox, list.el);
    list.next();
  }

  root.append(
    pageHead("Exports", { sub: "The redemption log as an Excel workbook, for accounting. Links are presigned and expire; this list makes fresh ones." }),
    h("div", { class: "panel" }, form, progress),
    section("Recent exports", listBox));
  loadList();
}

/** The presigned S3 link; the file downloads from the bucket's host. */
function downloadLink(x) {
  const href = safeUrl(x.url);
  if (!href) return "—";
  return h("a", { href, download: "", rel: "noopener noreferrer", class: "download", "data-export-key": x.key }, "Download .xlsx");
}

// ----------------------------------------------------------------------- boot

document.getElementById("sign-out").addEventListener("click", () => {
  history.replaceState(null, "", location.pathname);
  signOut("Signed out.");
  say("Signed out.");
});
// The skip link moves focus without touching the hash, which holds the route.
document.querySelector(".skip").addEventListener("click", (e) => {
  e.preventDefault();
  (document.querySelector("main h1") || document.getElementById("main")).focus();
});
// Escape dismisses the message.
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") fill(document.getElementById("status"));
});
window.addEventListener("hashchange", route);
route();
