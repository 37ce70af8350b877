/**
 * The web page's files, kept in the server's code (a compiled server carries them, and the
 * server needs no read grant for them): the HTML, the style sheet and the one script module.
 * The module is the DOM-free functions of `page_logic.ts` (their own source, so what the unit
 * tests run is what the browser runs) followed by the page's code in {@link PAGE_SCRIPT}.
 *
 * Every contact text reaches the page through `textContent` or an input's `value`, never as
 * HTML; the page makes no request to anything but this server.
 *
 * @module
 */

import {
  cardRows,
  differingFields,
  formatLabelled,
  importCounts,
  parseLabelled,
} from "./page_logic.ts";

/** The page. No inline script or style (the Content-Security-Policy forbids both). */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Address book</title>
<link rel="stylesheet" href="/style.css">
<script type="module" src="/app.js"></script>
</head>
<body>
<header>
  <h1>Address book</h1>
  <input id="search" type="search" placeholder="Search names, words, phone digits" autocomplete="off" aria-label="Search">
  <button id="add" type="button" hidden>Add</button>
  <span id="status" role="status">Connecting…</span>
</header>
<form id="login" hidden>
  <label>This server needs its token: <input id="token" type="password" autocomplete="off"></label>
  <button type="submit">Open</button>
  <p id="login-error" class="error"></p>
</form>
<nav id="tools" hidden>
  <button id="export-vcf" type="button">Download vCard</button>
  <button id="export-csv" type="button">Download CSV</button>
  <label id="import-label" hidden>Import a vCard or CSV file <input id="import" type="file" accept=".vcf,.vcard,.csv,text/vcard,text/csv"></label>
</nav>
<section id="import-summary" hidden>
  <p id="import-counts"></p>
  <ul id="import-skipped"></ul>
  <button id="import-close" type="button">Close</button>
</section>
<main id="main" hidden>
  <section id="list-pane">
    <p id="list-title"></p>
    <ul id="list"></ul>
    <button id="more" type="button" hidden>More</button>
  </section>
  <section id="card-pane">
    <article id="card" hidden>
      <button id="back" type="button" class="narrow-only">Back to the list</button>
      <h2 id="card-name"></h2>
      <p id="card-note" class="note" hidden></p>
      <dl id="card-rows"></dl>
      <div class="actions">
        <button id="edit" type="button" hidden>Edit</button>
        <button id="delete" type="button" hidden>Delete</button>
      </div>
    </article>
    <form id="editor" hidden>
      <h2 id="editor-title"></h2>
      <label>Name <input name="name" required maxlength="200"></label>
      <label>Phones (one a line, "label: number") <textarea name="phones" rows="3"></textarea></label>
      <label>Emails (one a line, "label: address") <textarea name="emails" rows="2"></textarea></label>
      <label>House <input name="house"></label>
      <label>Street <input name="street"></label>
      <label>Town <input name="town"></label>
      <label>Postcode <input name="postcode"></label>
      <label>Organisation <input name="org"></label>
      <label>Job title <input name="title"></label>
      <label>Notes <textarea name="notes" rows="3"></textarea></label>
      <p id="editor-error" class="error"></p>
      <div class="actions">
        <button type="submit">Save</button>
        <button id="cancel" type="button">Cancel</button>
      </div>
    </form>
    <div id="conflict" hidden>
      <h2>Someone else changed this contact meanwhile</h2>
      <div class="both">
        <div><h3>Yours</h3><dl id="conflict-mine"></dl></div>
        <div><h3>Saved meanwhile</h3><dl id="conflict-theirs"></dl></div>
      </div>
      <div class="actions">
        <button id="keep-mine" type="button">Save mine over it</button>
        <button id="keep-theirs" type="button">Keep theirs</button>
      </div>
    </div>
  </section>
</main>
</body>
</html>
`;

/** The style sheet: two panes side by side, one at a time on a narrow screen. */
export const STYLE_CSS = `* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.4 system-ui, sans-serif; color: #222; background: #f6f6f4; }
header { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; padding: .5rem 1rem;
  background: #2d4a6b; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0 1rem 0 0; }
#search { flex: 1 1 12rem; font-size: 1rem; padding: .4rem; min-width: 0; }
#status { font-size: .85rem; opacity: .85; }
button { font-size: 1rem; padding: .35rem .8rem; cursor: pointer; }
#login { padding: 1rem; }
#tools { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; padding: .5rem 1rem 0; }
#import-summary { margin: .5rem 1rem 0; background: #fff; border: 1px solid #ccc; padding: .5rem 1rem; }
#import-skipped li { overflow-wrap: anywhere; }
main { display: grid; grid-template-columns: minmax(14rem, 1fr) 2fr; gap: 1rem; padding: 1rem; }
#list { list-style: none; margin: 0; padding: 0; background: #fff; border: 1px solid #ccc; }
#list li { padding: .5rem .7rem; border-bottom: 1px solid #eee; cursor: pointer;
  overflow-wrap: anywhere; }
#list li:hover, #list li.chosen { background: #e3ecf7; }
#list li .sub { display: block; font-size: .8rem; color: #666; }
#card, #editor, #conflict { background: #fff; border: 1px solid #ccc; padding: 1rem; }
#card h2 { margin-top: 0; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
dt { color: #666; }
dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
#editor label { display: block; margin: .4rem 0; }
#editor input, #editor textarea { display: block; width: 100%; font: inherit; padding: .3rem; }
.actions { display: flex; gap: .5rem; margin-top: 1rem; flex-wrap: wrap; }
.error { color: #a00; }
.note { background: #fff6d5; padding: .4rem; }
.both { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.narrow-only { display: none; }
[hidden] { display: none !important; }
@media (max-width: 640px) {
  main { grid-template-columns: 1fr; padding: .5rem; }
  main.showing-card #list-pane { display: none; }
  main:not(.showing-card) #card-pane { display: none; }
  .narrow-only { display: inline-block; }
  .both { grid-template-columns: 1fr; }
  dl { grid-template-columns: 1fr; }
  dt { margin-top: .4rem; }
}
`;

/**
 * The page's code, after the functions of `page_logic.ts`: the WebSocket's JSON-RPC calls,
 * auth, the list (browse or search, a page at a time), the card, the editor, conflicts, and
 * live changes from `watch`.
 */
export const PAGE_SCRIPT = String.raw`
const PAGE = 50;
const $ = (id) => document.getElementById(id);
const state = { access: "read-only", query: "", cursor: null, shown: null, editing: null,
  pending: null, listToken: 0 };
let socket = null;
let nextId = 1;
const waiting = new Map();

function setStatus(text) { $("status").textContent = text; }

function call(method, params) {
  return new Promise((resolve, reject) => {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      reject(new Error("Not connected to the server"));
      return;
    }
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params: params || {} }));
  });
}

class RpcFailure extends Error {
  constructor(error) {
    super(error.message);
    this.reason = error.data && error.data.reason;
    this.data = error.data || {};
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(scheme + "//" + location.host + "/rpc");
  socket.addEventListener("open", () => start().catch((error) => setStatus(error.message)));
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.id === undefined || message.id === null) {
      if (message.method === "changed") changed(message.params);
      else if (message.method === "watch_dropped") watchAgain();
      else if (message.error) setStatus(message.error.message);
      return;
    }
    const entry = waiting.get(message.id);
    if (!entry) return;
    waiting.delete(message.id);
    if (message.error) entry.reject(new RpcFailure(message.error));
    else entry.resolve(message.result);
  });
  socket.addEventListener("close", (event) => {
    for (const entry of waiting.values()) entry.reject(new Error("The connection closed"));
    waiting.clear();
    setStatus("Disconnected" + (event.reason ? ": " + event.reason : "") + "; reconnecting…");
    setTimeout(connect, 2000);
  });
}

async function start() {
  const hello = await call("hello");
  if (hello.auth) {
    const token = sessionStorage.getItem("addressbook-token");
    if (!token) { askToken(""); return; }
    try {
      const result = await call("auth", { token });
      state.access = result.access;
    } catch (error) {
      sessionStorage.removeItem("addressbook-token");
      askToken(error.message);
      return;
    }
  } else {
    state.access = "read-write";
  }
  $("login").hidden = true;
  $("main").hidden = false;
  $("tools").hidden = false;
  const writable = state.access === "read-write";
  $("import-label").hidden = !writable;
  $("add").hidden = !writable;
  $("edit").hidden = !writable;
  $("delete").hidden = !writable;
  await call("watch", {});
  setStatus(writable ? "Connected" : "Connected (read only)");
  await refreshList();
  if (state.shown) await showCard(state.shown.id);
}

function askToken(message) {
  $("main").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  setStatus("Token needed");
  $("token").focus();
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("addressbook-token", $("token").value);
  $("token").value = "";
  start().catch((error) => setStatus(error.message));
});

async function watchAgain() {
  try {
    await call("watch", {});
    await refreshList();
  } catch (error) { setStatus(error.message); }
}

function summary(contact) {
  const phone = (contact.phones || [])[0];
  const email = (contact.emails || [])[0];
  return [phone ? phone.number : "", email ? email.address : "", contact.town || ""]
    .filter((part) => part).join(" · ");
}

async function loadPage(append) {
  const token = ++state.listToken;
  const params = { limit: PAGE };
  if (append && state.cursor) params.cursor = state.cursor;
  const page = state.query
    ? await call("search", Object.assign({ query: state.query }, params))
    : await call("list", params);
  if (token !== state.listToken) return;
  const list = $("list");
  if (!append) list.replaceChildren();
  for (const contact of page.contacts) {
    const item = document.createElement("li");
    item.dataset.id = contact.id;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = contact.name;
    const sub = document.createElement("span");
    sub.className = "sub";
    sub.textContent = summary(contact);
    item.append(name, sub);
    if (state.shown && state.shown.id === contact.id) item.classList.add("chosen");
    item.addEventListener("click", () => showCard(contact.id));
    list.append(item);
  }
  state.cursor = page.cursor;
  $("more").hidden = page.cursor === null;
  const count = list.children.length;
  $("list-title").textContent = state.query
    ? (count === 0 ? "Nothing matches" : "Matches" + (page.cursor ? " (more below)" : ""))
    : (count === 0 ? "The book is empty" : "Everyone, by name");
}

function refreshList() {
  return loadPage(false).catch((error) => setStatus(error.message));
}

let typing = null;
$("search").addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(() => {
    state.query = $("search").value.trim();
    refreshList();
  }, 150);
});
$("more").addEventListener("click", () => loadPage(true).catch((error) => setStatus(error.message)));

function fillRows(dl, contact) {
  dl.replaceChildren();
  for (const [label, text] of cardRows(contact)) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = text;
    dl.append(dt, dd);
  }
}

function showPane(which) {
  $("card").hidden = which !== "card";
  $("editor").hidden = which !== "editor";
  $("conflict").hidden = which !== "conflict";
  $("main").classList.toggle("showing-card", which !== "none");
}

function renderCard(contact, note) {
  state.shown = contact;
  $("card-name").textContent = contact.name;
  fillRows($("card-rows"), contact);
  $("card-note").textContent = note || "";
  $("card-note").hidden = !note;
  for (const item of $("list").children) {
    item.classList.toggle("chosen", item.dataset.id === contact.id);
  }
  showPane("card");
}

async function showCard(id, note) {
  try {
    renderCard(await call("get", { id }), note);
  } catch (error) {
    if (error.reason === "NOT_FOUND") {
      state.shown = null;
      showPane("none");
      setStatus("That contact was deleted");
    } else setStatus(error.message);
  }
}

$("back").addEventListener("click", () => showPane("none"));

function openEditor(contact) {
  state.editing = contact;
  const form = $("editor");
  $("editor-title").textContent = contact ? "Edit " + contact.name : "Add a contact";
  $("editor-error").textContent = "";
  for (const field of ["name", "house", "street", "town", "postcode", "org", "title", "notes"]) {
    form.elements[field].value = contact ? contact[field] || "" : "";
  }
  form.elements.phones.value = contact
    ? formatLabelled((contact.phones || []).map((p) => ({ label: p.label, value: p.number })))
    : "";
  form.elements.emails.value = contact
    ? formatLabelled((contact.emails || []).map((e) => ({ label: e.label, value: e.address })))
    : "";
  showPane("editor");
  form.elements.name.focus();
}

function fromEditor() {
  const form = $("editor");
  const base = state.editing ? Object.assign({}, state.editing) : {};
  for (const key of ["id", "version", "created", "updated"]) delete base[key];
  for (const field of ["name", "house", "street", "town", "postcode", "org", "title", "notes"]) {
    base[field] = form.elements[field].value;
  }
  base.phones = parseLabelled(form.elements.phones.value)
    .map((row) => ({ label: row.label, number: row.value }));
  base.emails = parseLabelled(form.elements.emails.value)
    .map((row) => ({ label: row.label, address: row.value }));
  return base;
}

$("add").addEventListener("click", () => openEditor(null));
$("edit").addEventListener("click", () => state.shown && openEditor(state.shown));
$("cancel").addEventListener("click", () => state.shown ? renderCard(state.shown) : showPane("none"));

async function save(contact, version) {
  const editing = state.editing;
  try {
    const saved = editing
      ? await call("update", { id: editing.id, version, contact })
      : await call("add", { contact });
    state.editing = null;
    renderCard(saved, editing ? "Saved" : "Added");
    await refreshList();
  } catch (error) {
    if (error.reason === "CONFLICT" && editing && error.data.current) {
      showConflict(contact, error.data.current);
    } else {
      showPane("editor");
      $("editor-error").textContent = error.message;
    }
  }
}

$("editor").addEventListener("submit", (event) => {
  event.preventDefault();
  save(fromEditor(), state.editing ? state.editing.version : undefined);
});

function showConflict(mine, theirs) {
  state.pending = { mine, theirs };
  const fields = differingFields(mine, theirs);
  const pick = (contact) => {
    const shown = {};
    for (const field of fields) shown[field] = contact[field];
    return shown;
  };
  fillRows($("conflict-mine"), Object.assign({ name: mine.name }, pick(mine)));
  fillRows($("conflict-theirs"), Object.assign({ name: theirs.name }, pick(theirs)));
  for (const [dl, contact] of [[$("conflict-mine"), mine], [$("conflict-theirs"), theirs]]) {
    if (fields.includes("name")) {
      const dt = document.createElement("dt");
      dt.textContent = "Name";
      const dd = document.createElement("dd");
      dd.textContent = contact.name;
      dl.prepend(dt, dd);
    }
  }
  showPane("conflict");
}

$("keep-mine").addEventListener("click", () => {
  const pending = state.pending;
  if (!pending) return;
  state.pending = null;
  state.editing = pending.theirs;
  save(pending.mine, pending.theirs.version);
});
$("keep-theirs").addEventListener("click", () => {
  const pending = state.pending;
  if (!pending) return;
  state.pending = null;
  state.editing = null;
  renderCard(pending.theirs, "Kept the version saved meanwhile");
});

$("delete").addEventListener("click", async () => {
  const contact = state.shown;
  if (!contact) return;
  if (!confirm("Delete " + contact.name + "?")) return;
  try {
    await call("remove", { id: contact.id, version: contact.version });
    state.shown = null;
    showPane("none");
    setStatus("Deleted " + contact.name);
    await refreshList();
  } catch (error) {
    setStatus(error.message);
  }
});

let refreshing = null;
function changed(change) {
  clearTimeout(refreshing);
  refreshing = setTimeout(refreshList, 100);
  const shown = state.shown;
  if (!shown || shown.id !== change.id || $("card").hidden) return;
  if (change.type === "removed") {
    state.shown = null;
    showPane("none");
    setStatus(change.name + " was deleted elsewhere");
  } else if (change.version !== shown.version) {
    showCard(change.id, "Changed elsewhere just now");
  }
}

function authHeaders() {
  const token = sessionStorage.getItem("addressbook-token");
  return token ? { authorization: "Bearer " + token } : {};
}

async function download(path, name) {
  try {
    const reply = await fetch(path, { headers: authHeaders() });
    if (!reply.ok) { setStatus(await reply.text()); return; }
    const url = URL.createObjectURL(await reply.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    setStatus("Downloaded " + name);
  } catch (error) { setStatus(error.message); }
}

$("export-vcf").addEventListener("click", () => download("/export.vcf", "addressbook.vcf"));
$("export-csv").addEventListener("click", () => download("/export.csv", "addressbook.csv"));

$("import").addEventListener("change", async () => {
  const file = $("import").files[0];
  if (!file) return;
  setStatus("Importing " + file.name + "…");
  try {
    const reply = await fetch("/import", { method: "POST", headers: authHeaders(), body: file });
    if (!reply.ok) { setStatus(await reply.text()); return; }
    const summary = await reply.json();
    $("import-counts").textContent = file.name + ": " + importCounts(summary);
    const list = $("import-skipped");
    list.replaceChildren();
    for (const issue of summary.skipped.concat(summary.warnings)) {
      const item = document.createElement("li");
      item.textContent = (issue.name ? issue.name + ": " : "") + issue.reason;
      list.append(item);
    }
    $("import-summary").hidden = false;
    setStatus("Imported " + file.name);
    await refreshList();
  } catch (error) {
    setStatus(error.message);
  } finally {
    $("import").value = "";
  }
});
$("import-close").addEventListener("click", () => { $("import-summary").hidden = true; });

connect();
`;

/** The one script module the page loads. */
export const APP_JS = [
  "// Address book page: plain JavaScript, no framework, no request but to this server.",
  parseLabelled.toString(),
  formatLabelled.toString(),
  cardRows.toString(),
  differingFields.toString(),
  importCounts.toString(),
  PAGE_SCRIPT,
].join("\n");
