"use strict";
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};
const pct = (x) => `${Math.round(x * 100)}%`;

function headers(json) {
  const h = json ? { "content-type": "application/json" } : {};
  const key = $("key").value.trim();
  if (key) h.authorization = `Bearer ${key}`;
  return h;
}

function detectFormat(text) {
  const chosen = $("format").value;
  if (chosen !== "auto") return chosen;
  return /<\s*(p|div|h[1-6]|li|article|body|br)\b/i.test(text) ? "html" : "text";
}

$("file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  $("article").value = await file.text();
  if (/\.html?$/i.test(file.name)) $("format").value = "html";
});

// The id travels whole in the query string: in a path, the browser would
// resolve "." and ".." segments (and "%2e%2e") before sending, so archived
// document "x/../a1" would fetch document "a1", or another route altogether.
const documentUrl = (id) => `/documents?${new URLSearchParams({ id })}`;

// The body of an answer that may not be JSON (a proxy's error page, say).
async function readJson(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { detail: `${response.status} ${response.statusText}: the answer was not JSON` };
  }
}

const detailText = (body) => (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail));

async function showDocument(id, target) {
  try {
    const response = await fetch(documentUrl(id), { headers: headers(false) });
    const body = await readJson(response);
    target.textContent = response.ok
      ? `document ${body.id} · ${body.paragraphs.length} paragraphs\n${JSON.stringify(body.metadata, null, 1)}`
      : `document ${id}: ${detailText(body)}`;
  } catch (err) {
    target.textContent = `document ${id}: paradup could not be reached: ${err}`;
  }
}

function renderMatch(match) {
  const line = el("div", "match");
  if (match.source === "article") {
    line.append("↳ repeats ");
    const link = el("a", null, `paragraph ${match.paragraph_index + 1} of this article`);
    link.href = `#p-${match.paragraph_index}`;
    line.append(link);
  } else {
    line.append("↳ published in ");
    const link = el("a", "doc-link", `archived document ${match.document_id}`);
    link.href = "#";
    const meta = el("span", "meta", "loading metadata…");
    meta.hidden = true;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      meta.hidden = false;
      showDocument(match.document_id, meta);
    });
    line.append(link, `, paragraph ${match.paragraph_index + 1}`);
    line.metaBox = meta;
  }
  line.append(` · similarity ${pct(match.similarity)} · containment ${pct(match.containment)}`);
  line.append(el("span", "quote", match.text.length > 220 ? match.text.slice(0, 219) + "…" : match.text));
  if (line.metaBox) line.append(line.metaBox);
  return line;
}

function render(body) {
  const results = $("results");
  results.replaceChildren();
  const dups = body.paragraphs.filter((p) => p.status === "duplicate").length;
  const summary = $("summary");
  summary.className = dups ? "bad" : "good";
  summary.textContent = dups
    ? `${dups} of ${body.paragraphs.length} paragraphs repeat earlier text`
    : `No duplicates among ${body.paragraphs.length} paragraphs`;
  for (const p of body.paragraphs) {
    const classes = ["para", p.status];
    if (p.boilerplate) classes.push("boilerplate");
    if (p.short) classes.push("short");
    const box = el("div", classes.join(" "));
    box.id = `p-${p.index}`;
    box.dataset.status = p.status;
    box.append(el("span", "num", `¶${p.index + 1}`), el("span", "text", p.text));
    if (p.status === "duplicate") box.append(el("span", "tag duplicate", "duplicate"));
    if (p.boilerplate) {
      box.append(el("span", "tag boilerplate", "boilerplate"));
      box.append(el("div", "match", `recurs in ${p.boilerplate_documents} archived documents`));
    }
    for (const match of p.matches) box.append(renderMatch(match));
    results.append(box);
  }
}

$("check").addEventListener("click", async () => {
  const text = $("article").value;
  $("error").textContent = "";
  if (!text.trim()) { $("error").textContent = "Paste or upload an article first."; return; }
  $("check").disabled = true;
  try {
    const response = await fetch("/check", {
      method: "POST",
      headers: headers(true),
      body: JSON.stringify({ text, format: detectFormat(text) }),
    });
    const body = await readJson(response);
    if (!response.ok) {
      $("error").textContent = `${response.status}: ${detailText(body)}`;
      return;
    }
    render(body);
  } catch (err) {
    $("error").textContent = `paradup could not be reached: ${err}`;
  } finally {
    $("check").disabled = false;
  }
});
