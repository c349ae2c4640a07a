/* The mock's dashboard. It reads only the admin API (specs/admin.yaml), with relative URLs
 * and the page's own cookie, and puts every piece of data into the page as text
 * (createElement, textContent), never as markup.
 *
 * Hooks for browser tests (keep them stable):
 *   #view-images #view-journal #view-deliveries #view-rules #view-play   the views; the URL
 *       hash (#images, #journal, ...) names the one shown
 *   img[data-testid="thumbnail"][data-image-id]   an image's thumbnail, in a button that
 *       opens dialog#image-dialog (the image, its message and deliveries)
 *   tr[data-testid="journal-row"][data-operation][data-status]   a journal entry; a click or
 *       Enter expands it. form#journal-filters has the fields api, operation, status;
 *       button#journal-pause stops and resumes polling
 *   form[data-testid="rule-form"]: fields operation, error, times, match (and action, fault,
 *       ms, min_ms, max_ms, fraction, chunk, interval_ms)
 *   tr[data-testid="rule-row"][data-rule-id], with a Delete button
 *   tr[data-testid="delivery-row"][data-delivery-id], with button[data-testid="replay"]
 *   form[data-testid="play-gewe"], [data-testid="play-wid"], [data-testid="play-lark"]; the
 *       reply in their [data-testid="play-result"]
 *   [data-testid="error"]   a failed request's message, where the request was made
 */
"use strict";

const JOURNAL_LIMIT = 100;  // the journal's first read; polling adds what comes after
const JOURNAL_KEEP = 500;
const POLL_MS = 1000;
const VENDORS = { gewe: "GeWe", wid: "wid", lark: "Lark" };
const ACCOUNT_KINDS = { gewe: "device appId", wid: "instance wId", lark: "app_id" };
const ORIGINS = { sent: "Sent by the bot", received: "Sent to the bot by users" };
// Fault kinds and the parameters each takes (specs/admin.yaml, Fault).
const FAULTS = {
  latency: ["ms", "min_ms", "max_ms"], reset: [], empty: [], truncate: ["fraction"],
  trickle: ["chunk", "interval_ms"],
};
const TOKEN_HELP = "The admin routes need the admin token: open /__admin/ui/?token=<admin token>"
  + " once in this browser; the page then keeps it in a cookie.";

const app = { index: { apis: {} }, credentials: {}, fixtures: [], errors: {}, basics: null };

// --- building the page -------------------------------------------------------------------

/** An element with properties (class, text, on<event>, attributes) and children (nodes or
 *  text; arrays are flattened, null and false left out). */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** A message in ``node``: plain, or an error (red, with a hook for tests). */
function say(node, message, isError = false) {
  node.replaceChildren(!message ? "" : isError
    ? el("span", { class: "error", "data-testid": "error", text: message }) : message);
}

const showError = (node, error) => say(node, error.message || String(error), true);

/** A message above every view, each once: the token is needed, or a basic read failed. */
function showNotice(message) {
  const notice = $("#notice");
  if (!$$("p", notice).some((p) => p.textContent === message)) {
    notice.append(el("p", { text: message }));
  }
  notice.hidden = false;
}

// --- formatting --------------------------------------------------------------------------

/** A value as text; integers beyond 2^53 as the mock wrote them (see parseJson). */
function str(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object" && typeof value.rawJSON === "string") return value.rawJSON;
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function pretty(value) {
  if (value === null || value === undefined) return "(none)";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function short(text, keep) {
  const value = str(text);
  return value.length > keep + 1 ? `${value.slice(0, keep)}…` : value;
}

function bytes(count) {
  if (typeof count !== "number") return "";
  const power = Math.min(Math.floor(Math.log2(Math.max(count, 1)) / 10), 3);
  return power ? `${(count / 1024 ** power).toFixed(1)} ${["", "KiB", "MiB", "GiB"][power]}`
    : `${count} B`;
}

/** Local date and time of epoch seconds: "2026-11-26 11:27:29" (".123" with ``ms``). */
function dateTime(epochSeconds, ms = false) {
  if (typeof epochSeconds !== "number") return "";
  const d = new Date(epochSeconds * 1000);
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:`
    + `${pad(d.getMinutes())}:${pad(d.getSeconds())}${ms ? `.${pad(d.getMilliseconds(), 3)}` : ""}`;
}

const clockTime = (epochSeconds, ms = false) => dateTime(epochSeconds, ms).slice(11);

function duration(seconds) {
  const abs = Math.abs(seconds);
  const [size, unit] = [[86400, "d"], [3600, "h"], [60, "min"]].find(([s]) => abs >= s) || [1, "s"];
  return `${seconds < 0 ? "−" : "+"}${Number((abs / size).toFixed(1))} ${unit}`;
}

/** An HTTP status as HTTP tools colour it: 2xx green, 3xx blue, 4xx amber, 5xx red. */
function statusChip(status) {
  return status ? el("span", { class: `status-chip s-${Math.floor(status / 100)}xx`, text: status })
    : el("span", { class: "status-chip s-none", text: "no answer" });
}

const badge = (text, kind = "") => el("span", { class: `badge mono ${kind}`, text: str(text) });
const vendorName = (vendor) => VENDORS[vendor] || vendor;
const vendorBadge = (vendor) => badge(vendorName(vendor), `v-${vendor}`);
const stateChip = (state) => el("span", { class: `state st-${state}`, text: state });
const code = (value) => el("pre", { class: "code", text: pretty(value) });

/** The items (nodes, text; null left out) with a space between each two. */
const spaced = (...items) => items.flat().filter((i) => i != null && i !== false)
  .flatMap((item, at) => (at ? [" ", item] : [item]));

/** Monospace text, cut to ``keep`` characters when given (all of it in the title). */
const mono = (text, keep = 0) => el("span", { class: "mono", title: keep ? str(text) : null,
  text: keep ? short(text, keep) : str(text) });

function table(headers, rows, cls = null) {
  return el("div", { class: "table-wrap" }, el("table", { class: cls },
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, rows)));
}

/** A <dl> of [label, value] pairs (values may be nodes); empty values are left out. */
function facts(pairs) {
  return el("dl", { class: "facts" }, pairs.filter(([, v]) => v !== "" && v != null)
    .map(([label, value]) => [el("dt", { text: label }),
      el("dd", {}, value instanceof Node ? value : str(value))]));
}

// --- the admin API -----------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// A number of 16 digits or more, where JSON may have a number (and perhaps inside a string).
const LONG_NUMBER = /(?:^|[:,[])\s*-?\d{16}/;

/** JSON with integers beyond 2^53 (GeWe's 19-digit newMsgId) kept exact where the browser
 *  gives revivers the source text; text without so long a number is parsed as it is (fast). */
function parseJson(text) {
  if (!LONG_NUMBER.test(text)) return JSON.parse(text);
  return JSON.parse(text, (key, value, context) => {
    if (typeof value !== "number" || Number.isSafeInteger(value) || !Number.isInteger(value)
        || typeof context?.source !== "string") return value;
    return typeof JSON.rawJSON === "function" ? JSON.rawJSON(context.source) : context.source;
  });
}

/** A call to the admin API: its JSON, or an ApiError whose message says what went wrong. */
async function api(path, { method = "GET", body, params = {} } = {}) {
  const query = new URLSearchParams(Object.entries(params)
    .filter(([, v]) => v != null && v !== ""));
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const where = `${method} ${path}`;
  let response;
  try {
    response = await fetch(query.toString() ? `${path}?${query}` : path, init);
  } catch (error) {
    throw new ApiError(0, `${where}: the mock did not answer (${error.message}). Is it running?`);
  }
  const text = await response.text();
  let data;
  try { data = text ? parseJson(text) : null; } catch { data = undefined; }
  if (response.ok && data !== undefined) return data;
  const detail = typeof data?.error === "string" ? data.error
    : response.ok ? "the reply is not JSON" : `HTTP ${response.status}`;
  const { status } = response;
  if (status === 401) showNotice(TOKEN_HELP); // and the mock's own words where it was asked
  throw new ApiError(status, status === 400 ? `Refused: ${detail}`
    : `${where} answered ${status}: ${detail}`);
}

// --- start-up, views and what they share -------------------------------------------------

const views = {
  images: showImages, journal: showJournal, deliveries: showDeliveries, rules: showRules,
  play: showPlay,
};

/** The index (APIs, operations, errors), the accounts and the fixtures, read once. */
async function loadBasics() {
  const load = async (key, path, pick) => {
    try { app[key] = pick(await api(path)); } catch (error) {
      app.errors[key] = error.message;
      if (error.status !== 401) showNotice(error.message);
    }
  };
  await Promise.all([load("index", "/", (index) => ({ apis: {}, ...index })),
    load("credentials", "/__admin/credentials", (c) => c || {}),
    load("fixtures", "/__admin/fixtures", (f) => f?.fixtures || [])]);
  const { name, version } = app.index;
  if (name) {
    $("#mock-name").textContent = name;
    document.title = `${name} · dashboard`;
  }
  $("#mock-version").textContent = version ? `v${version}` : "";
}

function currentView() {
  const asked = location.hash.slice(1);
  return Object.keys(views).includes(asked) ? asked : "images";
}

function route() {
  const name = currentView();
  for (const view of Object.keys(views)) $(`#view-${view}`).hidden = view !== name;
  for (const link of $$("header nav a")) {
    if (link.hash === `#${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (name !== "journal") stopJournal();
  views[name]();
}

/** The vendor APIs of GET / (admin is the mock's own). */
const vendorApis = () => Object.entries(app.index.apis).filter(([name]) => name !== "admin");

/** The accounts configured for ``vendor`` (GET /__admin/credentials). */
function accountsOf(vendor) {
  const c = app.credentials[vendor];
  if (vendor === "lark") return Array.isArray(c) ? c.map((a) => a.app_id) : [];
  return c?.appIds || c?.wIds || [];
}

/** Options (strings, {value, label} or nodes such as optgroups), keeping the choice made. */
function fillSelect(select, options) {
  const previous = select.value;
  select.replaceChildren(...options.map((o) => (o instanceof Node ? o
    : el("option", { value: o.value ?? o, text: o.label ?? o.value ?? o }))));
  if ($$("option", select).some((o) => o.value === previous)) select.value = previous;
}

/** Runs ``work`` with the form's submit button disabled; its error shows in ``result``. */
async function submitting(form, result, work) {
  const submit = $("button[type=submit]", form);
  submit.disabled = true;
  try { await work(); } catch (error) { showError(result, error); } finally {
    submit.disabled = false;
  }
}

// --- images ------------------------------------------------------------------------------

const EAGER_STRIPS = 1;  // the strip on screen first: its thumbnails load at once
const strips = new Map();  // "vendor account origin" -> the strip of that group
let pageSize = 12;  // a strip's page: GET /__admin/images/by-account says how many

/** Every account's newest images in each direction, read in one request (beside the basics,
 *  which this view does not wait for). */
async function showImages() {
  const status = $("#images-status");
  let reply;
  try { reply = await api("/__admin/images/by-account"); } catch (error) {
    showError(status, error);
    return;
  }
  say(status, reply.groups.length ? "" : "No account is configured.");
  pageSize = reply.limit;
  const show = (group) => {
    const strip = stripOf(group);
    if (strip.offset === 0) fillStrip(strip, group.images, group.total);
    else loadStrip(strip);  // (paged on: keep its page)
  };
  // The strip on screen first; those below once it is painted, one a task, so that its
  // thumbnails come and show between them.
  const later = reply.groups.slice(EAGER_STRIPS);
  reply.groups.slice(0, EAGER_STRIPS).forEach(show);
  const next = () => { if (later.length) { show(later.shift()); setTimeout(next); } };
  requestAnimationFrame(() => setTimeout(next));
}

/** The strip of a group (vendor, account, origin), made with its account's section. */
function stripOf({ vendor, account, origin }) {
  const key = `${vendor} ${account} ${origin}`;
  if (!strips.has(key)) {
    const id = `account-${vendor}-${account}`;
    let section = document.getElementById(id);
    if (!section) {
      section = el("section", { class: "panel account", id },
        el("h2", {}, vendorBadge(vendor), ` ${ACCOUNT_KINDS[vendor] || "account"} `,
          mono(account)));
      $("#images-sections").append(section);
    }
    const strip = { vendor, account, origin, eager: strips.size < EAGER_STRIPS };
    section.append(imageStrip(strip));
    strips.set(key, strip);
  }
  return strips.get(key);
}

/** A row of one account's images of one origin, paged. */
function imageStrip(strip) {
  const move = (by) => { strip.offset = Math.max(0, strip.offset + by); loadStrip(strip); };
  Object.assign(strip, {
    offset: 0,
    prev: el("button", { type: "button", text: "‹ Previous", disabled: true,
      onclick: () => move(-pageSize) }),
    next: el("button", { type: "button", text: "Next ›", disabled: true,
      onclick: () => move(pageSize) }),
    info: el("span", { class: "pager-info", "aria-live": "polite" }),
    status: el("p", { class: "status", role: "status" }),
    list: el("ul", { class: "thumbs" }),
  });
  return el("section", { class: "strip" },
    el("div", { class: "strip-head" }, el("h3", { text: ORIGINS[strip.origin] || strip.origin }),
      el("div", { class: "pager" }, strip.prev, strip.info, strip.next)),
    strip.status, strip.list);
}

async function loadStrip(strip) {
  const asked = strip.offset;
  let reply;
  try {
    reply = await api("/__admin/images", { params: { vendor: strip.vendor,
      account: strip.account, origin: strip.origin, limit: pageSize, offset: asked } });
  } catch (error) {
    showError(strip.status, error);
    return;
  }
  if (asked !== strip.offset) return; // another page was asked for meanwhile
  const images = reply.images || [];
  const total = typeof reply.total === "number" ? reply.total : images.length;
  if (!images.length && total && asked) { // past the end (after a reset): show the last page
    strip.offset = Math.floor((total - 1) / pageSize) * pageSize;
    loadStrip(strip);
    return;
  }
  fillStrip(strip, images, total);
}

/** The strip's page from its offset: ``images`` of ``total``. */
function fillStrip(strip, images, total) {
  const from = strip.offset;
  say(strip.status, total ? "" : "None yet.");
  strip.list.replaceChildren(...images.map((image) => imageCard(image, strip.eager)));
  strip.info.textContent = total ? `${from + 1}–${from + images.length} of ${total}` : "";
  strip.prev.disabled = from === 0;
  strip.next.disabled = from + images.length >= total;
}

/** The copy an image's summary describes: the largest one, which its ``url`` serves. */
function mainVariant(image) {
  const variants = image.variants || {};
  const name = ["hd", "original", "normal"].find((n) => variants[n]) || Object.keys(variants)[0];
  return variants[name] || {};
}

/** An image's card; ``eager``: its thumbnail loads at once, not when scrolled to. */
function imageCard(image, eager = false) {
  const v = mainVariant(image);
  const label = `${vendorName(image.vendor)} image ${short(image.imageId, 14)}`;
  return el("li", { class: "card" },
    el("button", { type: "button", class: "thumb", title: `Open ${label}`,
      onclick: () => openImage(image) },
    el("img", { src: image.thumbnailUrl, alt: label, loading: eager ? "eager" : "lazy",
      fetchpriority: eager ? "high" : null, decoding: "async", width: 160, height: 160,
      "data-testid": "thumbnail", "data-image-id": image.imageId,
      onerror: (event) => event.currentTarget.classList.add("broken") })),
    image.deleted ? badge("deleted", "b-bad") : null,
    facts([["md5", mono(v.md5, 12)], ["bytes", bytes(v.length)],
      ["size", v.width ? `${v.width}×${v.height}` : ""], ["id", mono(image.imageId, 14)],
      ["owner", mono(image.owner, 14)], ["time", dateTime(image.createdAt)]]));
}

async function openImage(image) {
  const dialog = $("#image-dialog");
  const status = el("p", { class: "status", role: "status", text: "Loading its message…" });
  const more = el("div");
  $("#image-dialog-title").textContent = `${vendorName(image.vendor)} image`;
  $("#image-dialog-body").replaceChildren(el("div", { class: "detail" },
    el("a", { href: image.url, target: "_blank", rel: "noopener", class: "full" },
      el("img", { src: image.url, alt: `the image ${short(image.imageId, 14)}` })),
    el("div", {}, facts([
      ["image id", mono(image.imageId)], ["owner", mono(image.owner)], ["origin", image.origin],
      ["type", image.imageType], ["created", dateTime(image.createdAt)],
      ["deleted", image.deleted ? "yes" : ""]]),
    table(["copy", "type", "size", "bytes", "md5"], Object.entries(image.variants || {})
      .map(([name, c]) => el("tr", {}, el("td", { text: name }), el("td", { text: c.contentType }),
        el("td", { text: `${c.width}×${c.height}` }),
        el("td", { class: "num", title: `${c.length} bytes`, text: bytes(c.length) }),
        el("td", { class: "mono", text: c.md5 }))), "compact"))),
  status, more);
  if (!dialog.open) dialog.showModal();
  try {
    const detail = await api(`/__admin/images/${encodeURIComponent(image.vendor)}/`
      + encodeURIComponent(image.imageId));
    say(status, "");
    more.append(messageSection(image.vendor, detail.message),
      el("h3", { text: "Deliveries of this message" }),
      deliveryTable(detail.deliveries || [], "None: no callback URL was registered, or the bot"
        + " sent this image."));
  } catch (error) {
    showError(status, error);
  }
}

function messageSection(vendor, m) {
  const heading = el("h3", { text: "Message" });
  if (!m) return el("section", {}, heading, el("p", { class: "hint", text: "None is kept." }));
  return el("section", {}, heading, vendor === "lark"
    ? [facts([["message_id", m.message_id], ["chat_id", m.chat_id], ["chat_type", m.chat_type],
      ["sender", m.sender], ["direction", m.direction]]),
    el("h4", { text: "Event sent to the bot (im.message.receive_v1)" }),
    m.event ? code(m.event) : el("p", { class: "hint", text: "None was sent." })]
    : [facts([["fromUser", m.fromUser], ["toUser", m.toUser], ["newMsgId", m.newMsgId],
      ["direction", m.direction], ["createTime", dateTime(m.createTime)]]),
    el("h4", { text: "Callback XML" }), code(str(m.xml))]);
}

// --- journal -----------------------------------------------------------------------------

const journal = { newest: null, paused: false, active: false, timer: 0, chain: Promise.resolve() };

async function showJournal() {
  await app.basics;
  if (currentView() !== "journal") return; // left while the basics loaded
  const form = $("#journal-filters");
  if (!form.dataset.ready) {
    form.dataset.ready = "1";
    fillSelect(form.elements.api, [{ value: "", label: "any" }, ...Object.keys(app.index.apis)]);
    fillJournalOperations();
    form.addEventListener("change", (event) => {
      if (event.target.name === "api") fillJournalOperations();
      journalLoad(true);
    });
    form.addEventListener("submit", (event) => { event.preventDefault(); journalLoad(true); });
    $("#journal-pause").addEventListener("click", togglePause);
  }
  journal.active = true;
  await journalLoad(true);
  schedulePoll();
}

/** What the journal keeps: the vendors' calls, their download links (getFile), callbacks. */
function fillJournalOperations() {
  const chosen = $("#journal-filters").elements.api.value;
  const groups = Object.entries(app.index.apis)
    .filter(([name]) => !chosen || chosen === name)
    .map(([name, spec]) => [name, (spec.operations || [])
      .filter((o) => name !== "admin" || o.path.startsWith("/__files/"))])
    .filter(([, ops]) => ops.length)
    .map(([name, ops]) => el("optgroup", { label: vendorName(name) },
      ops.map((o) => el("option", { text: o.operationId }))));
  fillSelect($("#journal-filters").elements.operation, [{ value: "", label: "any" }, ...groups,
    el("option", { value: "callback", text: "callback (to the bot)" })]);
}

/** Loads the entries newer than the newest shown, or with ``reset`` the newest 200 anew.
 *  Loads run one after the other, never two at once. */
function journalLoad(reset) {
  journal.chain = journal.chain.then(() => fetchJournal(reset)).catch((error) => {
    showError($("#journal-status"), error);
    if (error.status === 401) stopJournal();
  });
  return journal.chain;
}

async function fetchJournal(reset) {
  const { api: apiName, operation, status } = $("#journal-filters").elements;
  const filters = { api: apiName.value, operation: operation.value, status: status.value.trim() };
  if (filters.status && !/^([1-5]xx|[1-5]\d\d)$/i.test(filters.status)) {
    say($("#journal-status"), "Status: a code such as 404, or a class such as 4xx.", true);
    return;
  }
  const after = reset ? null : journal.newest;
  const reply = await api("/__admin/journal", { params: {
    ...filters, order: "newest", ...(after ? { after } : { limit: JOURNAL_LIMIT }) } });
  // Ids sort in time order as strings: newest first, none shown twice.
  const entries = reply.entries.filter((e) => !after || e.id > after)
    .sort((a, b) => (a.id < b.id ? 1 : -1));
  const rows = $("#journal-rows");
  if (reset) {
    rows.replaceChildren();
    journal.newest = null;
  }
  if (entries.length) {
    rows.prepend(...entries.flatMap(journalRows));
    journal.newest = entries[0].id;
    while (rows.children.length > JOURNAL_KEEP * 2) rows.lastElementChild.remove();
  }
  const shown = rows.children.length / 2;
  say($("#journal-status"), shown ? `${shown} entries, newest first${
    journal.paused ? " (paused)" : ""}.` : "No entry matches (yet).");
}

/** An entry's row, and the row below it that shows the exchange when expanded. */
function journalRows(entry) {
  const detail = el("tr", { class: "journal-detail", hidden: true }, el("td", { colspan: 8 }));
  const toggle = () => {
    if (detail.hidden && !detail.firstChild.firstChild) detail.firstChild.append(exchange(entry));
    detail.hidden = !detail.hidden;
    row.setAttribute("aria-expanded", String(!detail.hidden));
  };
  const row = el("tr", {
    class: "journal-row", tabindex: 0, "aria-expanded": "false", "data-testid": "journal-row",
    "data-operation": entry.operation || "", "data-status": str(entry.status), onclick: toggle,
    onkeydown: (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(); }
    },
  },
  el("td", { class: "nowrap", title: dateTime(entry.time, true),
    text: clockTime(entry.time, true) }),
  el("td", { class: "mono", text: entry.method }),
  el("td", { class: "mono path", title: target(entry), text: entry.path }),
  el("td", {}, entry.operation || "", el("span", { class: "muted", text: ` ${entry.api || ""}` })),
  el("td", {}, statusChip(entry.status)),
  el("td", {}, entry.vendorCode != null ? badge(entry.vendorCode) : null),
  el("td", { class: "num", text: entry.durationMs?.toFixed(1) }),
  el("td", {}, entry.scenario ? el("span", { class: "scenario", text: entry.scenario }) : null));
  return [row, detail];
}

const target = (entry) => `${entry.path}${entry.query ? `?${entry.query}` : ""}`;

function exchange(entry) {
  return el("div", { class: "exchange" },
    el("section", {}, el("h3", { text: "Request" }),
      el("p", { class: "mono", text: `${entry.method} ${target(entry)}` }),
      el("h4", { text: "Headers" }), code(entry.requestHeaders),
      el("h4", { text: "Body" }), code(entry.requestBody)),
    el("section", {}, el("h3", {}, "Reply ", statusChip(entry.status), " ",
      entry.vendorCode != null ? badge(entry.vendorCode) : null),
    el("h4", { text: "Body" }), code(entry.responseBody)));
}

function schedulePoll() {
  clearTimeout(journal.timer);
  if (!journal.active || journal.paused) return;
  journal.timer = setTimeout(async () => {
    if (!document.hidden) await journalLoad(false);
    schedulePoll();
  }, POLL_MS);
}

function stopJournal() {
  journal.active = false;
  clearTimeout(journal.timer);
}

function togglePause(event) {
  journal.paused = !journal.paused;
  event.currentTarget.setAttribute("aria-pressed", String(journal.paused));
  event.currentTarget.textContent = journal.paused ? "Resume" : "Pause";
  if (!journal.paused && journal.active) journalLoad(false);
  schedulePoll();
}

// --- deliveries --------------------------------------------------------------------------

async function showDeliveries() {
  const status = $("#deliveries-status");
  try {
    const { deliveries } = await api("/__admin/deliveries");
    say(status, "");
    $("#deliveries-list").replaceChildren(deliveryTable([...deliveries].reverse(),
      "None yet: register a callback URL (GeWe setCallback, wid setHttpCallbackUrl, a Lark"
      + " event URL), then play the user."));
  } catch (error) {
    showError(status, error);
  }
}

function deliveryTable(deliveries, emptyText) {
  if (!deliveries.length) return el("p", { class: "hint", text: emptyText });
  return table(["Vendor", "To / message", "State", "Attempts", ""], deliveries.map(deliveryRow),
    "deliveries");
}

function deliveryRow(delivery) {
  const status = el("span", { class: "row-status", role: "status" });
  const replay = el("button", { type: "button", "data-testid": "replay", text: "Replay",
    "aria-label": `Replay delivery ${delivery.id}` });
  const row = el("tr", { "data-testid": "delivery-row", "data-delivery-id": delivery.id },
    el("td", {}, vendorBadge(delivery.vendor)),
    el("td", {}, el("div", { class: "mono path", title: delivery.url, text: delivery.url }),
      el("div", { class: "muted mono", title: "message", text: str(delivery.message) }),
      el("div", { class: "muted mono", text: delivery.id })),
    el("td", {}, stateChip(delivery.state)),
    el("td", {}, attemptList(delivery.attempts || [])),
    el("td", {}, replay, status));
  replay.addEventListener("click", async () => {
    replay.disabled = true;
    say(status, "Sending…");
    try {
      const fresh = deliveryRow(await api(`/__admin/deliveries/${encodeURIComponent(delivery.id)}`
        + "/replay", { method: "POST", body: { wait: true } }));
      row.replaceWith(fresh);
      $("[data-testid=replay]", fresh).focus();
    } catch (error) {
      showError(status, error);
      replay.disabled = false;
    }
  });
  return row;
}

/** Each attempt: when, the bot's status (or the error), how long, and its answer. */
function attemptList(attempts) {
  if (!attempts.length) return el("span", { class: "muted", text: "none yet" });
  return el("ol", { class: "attempts" }, attempts.map((a) => el("li", {}, spaced(
    el("span", { class: "nowrap", text: clockTime(a.at) }),
    a.error ? el("span", { class: "error", text: a.error }) : statusChip(a.status),
    typeof a.ms === "number" ? el("span", { class: "muted", text: `${a.ms.toFixed(0)} ms` }) : null,
    a.replay ? el("span", { class: "badge", text: "replay" }) : null),
  a.body ? el("details", {}, el("summary", { text: "answer" }), code(a.body)) : null)));
}

// --- failure on demand: rules and the clock ----------------------------------------------

async function showRules() {
  await app.basics;
  const form = $("#rule-form");
  if (!form.dataset.ready) {
    form.dataset.ready = "1";
    setUpRuleForm(form);
    setUpClockForm($("#clock-form"));
    $("#rules-refresh").addEventListener("click", () => { loadRules(); loadClock(); });
  }
  loadRules();
  loadClock();
}

/** The errors a rule for ``operation`` may ask: the operation's own, or those of every
 *  operation it names ("gewe.*", "*"). */
function errorsFor(operation) {
  const names = new Set();
  for (const [apiName, spec] of vendorApis()) {
    for (const o of spec.operations || []) {
      if ([o.operationId, `${apiName}.*`, "*"].includes(operation)) {
        (o.errors || []).forEach((e) => names.add(String(e)));
      }
    }
  }
  return [...names].sort();
}

function setUpRuleForm(form) {
  const f = form.elements;
  fillSelect(f.operation, [el("option", { value: "*", text: "* (every vendor call)" }),
    ...vendorApis().map(([name, spec]) => el("optgroup", { label: vendorName(name) },
      el("option", { value: `${name}.*`, text: `${name}.* (every ${vendorName(name)} call)` }),
      (spec.operations || []).map((o) => el("option", { value: o.operationId,
        text: `${o.operationId} (${o.method.toUpperCase()} ${o.path})` }))))]);
  const sync = () => {
    const errors = errorsFor(f.operation.value);
    fillSelect(f.error, errors.length ? errors
      : [{ value: "", label: "(none listed for it: choose a fault)" }]);
    for (const node of $$("[data-action]", form)) {
      node.hidden = node.dataset.action !== f.action.value;
    }
    for (const node of $$("[data-fault]", form)) node.hidden = node.dataset.fault !== f.fault.value;
  };
  form.addEventListener("change", sync);
  sync();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const result = $(".form-result", form);
    submitting(form, result, async () => {
      const rule = await api("/__admin/rules", { method: "POST", body: ruleBody(f) });
      say(result, `Armed ${rule.id}.`);
      loadRules();
    });
  });
}

/** ``key=value`` lines, or a JSON object; undefined when empty. */
function parseMatch(text) {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let value;
    try { value = JSON.parse(trimmed); } catch (error) {
      throw new Error(`Match is not valid JSON: ${error.message}`);
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      throw new Error("Match: a JSON object, or key=value lines.");
    }
    return value;
  }
  const lines = trimmed.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const bad = lines.find((line) => line.indexOf("=") < 1);
  if (bad) throw new Error(`Match: "${bad}" is not key=value.`);
  const pair = (line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)];
  return lines.length ? Object.fromEntries(lines.map(pair).map(([k, v]) => [k.trim(), v.trim()]))
    : undefined;
}

function ruleBody(f) {
  const body = { operation: f.operation.value, match: parseMatch(f.match.value) };
  if (f.action.value === "error") {
    if (!f.error.value) throw new Error("Choose an error (or a fault).");
    body.error = f.error.value;
  } else {
    body.fault = { fault: f.fault.value };
    for (const name of FAULTS[f.fault.value] || []) {
      if (f[name].value !== "") body.fault[name] = Number(f[name].value);
    }
  }
  if (f.times.value !== "") {
    body.times = Number(f.times.value);
    if (!Number.isInteger(body.times) || body.times < 1) {
      throw new Error("Times: a whole number from 1, or empty.");
    }
  }
  return body;
}

function actionText(action) {
  if (action.error !== undefined) return el("span", {}, "error ", badge(action.error));
  const { fault, ...parameters } = action;
  return el("span", {}, "fault ", el("strong", { text: fault || "?" }),
    Object.entries(parameters).map(([k, v]) => ` ${k}=${str(v)}`).join(""));
}

async function loadRules() {
  const status = $("#rules-status");
  try {
    const { rules } = await api("/__admin/rules");
    say(status, rules.length ? "" : "No rule is armed: every call goes through.");
    $("#rules-list").replaceChildren(rules.length
      ? table(["Operation", "Match", "Answer", "Left", ""], rules.map(ruleRow)) : "");
  } catch (error) {
    showError(status, error);
  }
}

function ruleRow(rule) {
  const match = Object.entries(rule.match || {});
  const remove = el("button", { type: "button", class: "danger", text: "Delete",
    "aria-label": `Delete rule ${rule.id}` });
  remove.addEventListener("click", async () => {
    remove.disabled = true;
    try {
      await api(`/__admin/rules/${encodeURIComponent(rule.id)}`, { method: "DELETE" });
    } catch (error) {
      showError($("#rules-status"), error);
    }
    loadRules();
  });
  return el("tr", { "data-testid": "rule-row", "data-rule-id": rule.id },
    el("td", {}, mono(rule.operation), el("div", { class: "muted mono", text: rule.id })),
    el("td", { class: "mono" }, match.length ? match.map(([k, v]) => el("div",
      { text: `${k}=${str(v)}` })) : el("span", { class: "muted", text: "every call" })),
    el("td", {}, actionText(rule.action || {})),
    el("td", { class: "num", text: rule.remaining ?? "∞" }),
    el("td", {}, remove));
}

async function loadClock() {
  try {
    const { now, offset } = await api("/__admin/clock");
    $("#clock-now").textContent = `Now ${dateTime(now)} (epoch ${Math.floor(now)}), `
      + `${duration(offset)} from the wall clock.`;
  } catch (error) {
    showError($("#clock-status"), error);
  }
}

function setUpClockForm(form) {
  const status = $("#clock-status");
  const advance = (seconds) => submitting(form, status, async () => {
    if (!Number.isFinite(seconds)) throw new Error("Advance: a number of seconds.");
    await api("/__admin/clock", { method: "POST", body: { advance: seconds } });
    say(status, `Moved ${duration(seconds)}.`);
    loadClock();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    advance(form.elements.advance.value === "" ? NaN : Number(form.elements.advance.value));
  });
  for (const button of $$("[data-advance]", form)) {
    button.addEventListener("click", () => advance(Number(button.dataset.advance)));
  }
}

// --- play the user -----------------------------------------------------------------------

async function showPlay() {
  await app.basics;
  for (const form of $$("form.play")) {
    if (form.dataset.ready) continue;
    form.dataset.ready = "1";
    if (form.dataset.fields) {  // (fields two vendors' forms share)
      form.append($(`#${form.dataset.fields}`).content.cloneNode(true));
      $(".account-kind", form).textContent = form.dataset.account;
    }
    form.append($("#play-image-fields").content.cloneNode(true));
    const f = form.elements;
    fillSelect(f.account || f.app_id, accountsOf(form.dataset.vendor));
    fillSelect(f.fixture, app.fixtures.length ? app.fixtures
      : [{ value: "", label: "the default fixture" }]);
    const sync = () => {
      f.fixture.disabled = f.source.value === "file";
      f.file.disabled = f.source.value !== "file";
      if (f.chatroom) f.chatroom.disabled = f.chat.value !== "group";
    };
    form.addEventListener("change", sync);
    sync();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const result = $("[data-testid=play-result]", form);
      say(result, "Sending…");
      submitting(form, result, async () => {
        const reply = await api(`/__admin/${form.dataset.vendor}/messages`,
          { method: "POST", body: await playBody(form) });
        result.replaceChildren(playSummary(form.dataset.vendor, reply));
      });
    });
  }
}

function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function playBody(form) {
  const f = form.elements;
  const body = {};
  if (f.source.value === "file") {
    if (!f.file.files.length) throw new Error("Choose a file, or a fixture.");
    body.image = await base64Of(f.file.files[0]);
  } else if (f.fixture.value) {
    body.fixture = f.fixture.value;
  }
  if (form.dataset.vendor === "lark") {
    for (const name of ["app_id", "sender_open_id", "chat_type", "chat_id"]) {
      if (f[name].value.trim()) body[name] = f[name].value.trim();
    }
    return body;
  }
  body.fromUser = f.fromUser.value.trim();
  if (!body.fromUser) throw new Error("From user: the sender's wxid is needed.");
  if (f.account.value) body.account = f.account.value;
  if (f.chat.value === "group") body.chatroom = f.chatroom.value.trim();
  body.hd = f.hd.checked;
  return body;
}

function playSummary(vendor, reply) {
  const deliveries = reply.deliveries || [];
  const ids = vendor === "lark"
    ? [["app_id", reply.app_id], ["message_id", reply.message_id], ["chat_id", reply.chat_id],
      ["image_key", reply.image_key]]
    : [["account", reply.account], ["fromUser", reply.fromUser], ["toUser", reply.toUser],
      ["msgId", reply.msgId], ["newMsgId", reply.newMsgId], ["image (fileId)", reply.fileId],
      ["HD copy", reply.hd ? "yes" : "no"]];
  return el("div", { class: "summary" },
    el("p", {}, el("strong", { text: "Sent (201). " }),
      el("a", { href: "#images", text: "See it in Images" })),
    facts(ids.filter(([, v]) => v != null).map(([k, v]) => [k, mono(v)])),
    deliveries.length ? el("ul", { class: "plain" }, deliveries.map((d) => el("li", {}, spaced(
      stateChip(d.state), mono(d.url), (d.attempts || []).slice(-1).map((a) => (a.error
        ? el("span", { class: "error", text: a.error }) : statusChip(a.status)))))))
      : el("p", { class: "hint", text: "Nothing delivered: no callback URL is registered for"
        + " this account." }));
}

// --- go ----------------------------------------------------------------------------------

function start() {
  const dialog = $("#image-dialog");
  dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
  dialog.addEventListener("close", () => $("#image-dialog-body").replaceChildren());
  $("#images-refresh").addEventListener("click", () => showImages());
  $("#deliveries-refresh").addEventListener("click", showDeliveries);
  app.basics = loadBasics();
  window.addEventListener("hashchange", route);
  route();
}

start();
