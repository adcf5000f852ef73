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

// A link to an archived document, and the box its metadata opens in: for a
// match "doc-link" and "meta", for a passage's source "source-link" and
// "source-meta" (a paragraph can have both, for the same document).
function archiveLink(documentId, kind) {
  const link = el("a", kind === "match" ? "doc-link" : "source-link", `archived document ${documentId}`);
  link.href = "#";
  const meta = el("span", kind === "match" ? "meta" : "source-meta", "loading metadata…");
  meta.hidden = true;
  link.addEventListener("click", (event) => {
    event.preventDefault();
    meta.hidden = false;
    showDocument(documentId, meta);
  });
  return { link, meta };
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
    const { link, meta } = archiveLink(match.document_id, "match");
    line.append(link, `, paragraph ${match.paragraph_index + 1}`);
    line.metaBox = meta;
  }
  line.append(` · similarity ${pct(match.similarity)} · containment ${pct(match.containment)}`);
  line.append(el("span", "quote", match.text.length > 220 ? match.text.slice(0, 219) + "…" : match.text));
  if (line.metaBox) line.append(line.metaBox);
  return line;
}

// ---- Passages: reused words highlighted in the paragraph, the source beside them.

// The API counts characters (code points) as Python does, not UTF-16 units:
// offsets are mapped on arrays of code points, so that an emoji or a rare
// ideograph before a passage does not shift its highlight.
const codePoints = (text) => Array.from(text);

// Where a passage's text sits in its paragraph's text, in code points, or
// null. For plain text the body offsets give it directly; for HTML (body
// offsets count the markup) the occurrence nearest the offsets' proportion.
function passageRange(paragraph, passage) {
  const text = codePoints(paragraph.text);
  const quoted = codePoints(passage.text);
  if (!quoted.length) return null;
  const at = passage.start - paragraph.start;
  if (text.slice(at, at + quoted.length).join("") === passage.text) return [at, at + quoted.length];
  const span = Math.max(1, paragraph.end - paragraph.start);
  const expected = (at / span) * text.length;
  let best = null;
  for (let i = paragraph.text.indexOf(passage.text); i >= 0; i = paragraph.text.indexOf(passage.text, i + 1)) {
    const start = codePoints(paragraph.text.slice(0, i)).length;
    if (best === null || Math.abs(start - expected) < Math.abs(best - expected)) best = start;
  }
  return best === null ? null : [best, best + quoted.length];
}

// The paragraph's text with each passage's words in a <mark>; overlapping
// passages (the same words shared with two sources) share the first mark.
function highlightedText(paragraph, passages) {
  const text = codePoints(paragraph.text);
  const ranges = passages
    .map((passage, n) => [passageRange(paragraph, passage), n])
    .filter(([range]) => range !== null)
    .sort((a, b) => a[0][0] - b[0][0]);
  const node = el("span", "text");
  let done = 0;
  for (const [[start, end], n] of ranges) {
    if (end <= done) continue;
    const from = Math.max(start, done);
    if (from > done) node.append(text.slice(done, from).join(""));
    const mark = el("mark", "reused", text.slice(from, end).join(""));
    mark.dataset.passage = String(n);
    node.append(mark);
    done = end;
  }
  if (done < text.length) node.append(text.slice(done).join(""));
  return node;
}

// Tokens as the index sees them: one per Han, kana or Thai character (those
// scripts write no spaces), one per run of other letters and digits, one per
// punctuation mark or symbol. Whitespace separates tokens and is kept.
const TOKEN = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Thai}]|[^\s\p{P}\p{S}\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Thai}]+|[\p{P}\p{S}]/gu;
const TYPOGRAPHY = { "’": "'", "‘": "'", "ʼ": "'", "“": '"', "”": '"', "«": '"', "»": '"', "–": "-", "—": "-" };

function tokens(text) {
  return Array.from(text.matchAll(TOKEN), (m) => ({
    start: m.index,
    end: m.index + m[0].length,
    word: !/^[\p{P}\p{S}]$/u.test(m[0]),
    // compared as the index compares them: case, width and typography aside
    key: m[0].normalize("NFKC").toLowerCase().replace(/./gu, (c) => TYPOGRAPHY[c] ?? c),
  }));
}

// Past this many cells the longest common subsequence is not computed: the
// middle (after the shared head and tail) is shown as differing.
const MAX_DIFF_CELLS = 4_000_000;

// Which tokens of a and of b belong to a longest common subsequence.
function commonTokens(a, b) {
  const sameA = new Array(a.length).fill(false);
  const sameB = new Array(b.length).fill(false);
  let head = 0;
  while (head < a.length && head < b.length && a[head].key === b[head].key) {
    sameA[head] = sameB[head] = true;
    head += 1;
  }
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail].key === b[b.length - 1 - tail].key) {
    sameA[a.length - 1 - tail] = sameB[b.length - 1 - tail] = true;
    tail += 1;
  }
  const n = a.length - head - tail;
  const m = b.length - head - tail;
  if (n === 0 || m === 0 || (n + 1) * (m + 1) > MAX_DIFF_CELLS) return [sameA, sameB];
  // lcs[i][j]: length of the LCS of a[head+i..] and b[head+j..], row-major
  const width = m + 1;
  const lcs = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      lcs[i * width + j] = a[head + i].key === b[head + j].key
        ? lcs[(i + 1) * width + j + 1] + 1
        : Math.max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
    }
  }
  for (let i = 0, j = 0; i < n && j < m;) {
    if (a[head + i].key === b[head + j].key) {
      sameA[head + i] = sameB[head + j] = true;
      i += 1;
      j += 1;
    } else if (lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
      i += 1;
    } else {
      j += 1;
    }
  }
  return [sameA, sameB];
}

// One side of the word diff: every token a span, shared or differing.
function diffLine(text, toks, same, label) {
  const line = el("div", `side ${label}`);
  line.append(el("span", "label", label === "checked" ? "this article" : "source"));
  const words = el("span", "words");
  let done = 0;
  toks.forEach((token, i) => {
    if (token.start > done) words.append(text.slice(done, token.start));
    words.append(el("span", same[i] ? "w same" : "w differs", text.slice(token.start, token.end)));
    done = token.end;
  });
  if (done < text.length) words.append(text.slice(done));
  line.append(words);
  return line;
}

function renderPassage(passage, n) {
  const box = el("div", "passage");
  box.dataset.passage = String(n);
  const checked = tokens(passage.text);
  const source = tokens(passage.source_text);
  const [sameChecked, sameSource] = commonTokens(checked, source);
  const words = checked.filter((token) => token.word).length;
  const shared = checked.filter((token, i) => token.word && sameChecked[i]).length;
  const head = el("div", "passage-head", "≈ reused passage from ");
  let meta = null;
  if (passage.source === "article") {
    const link = el("a", null, `paragraph ${passage.paragraph_index + 1} of this article`);
    link.href = `#p-${passage.paragraph_index}`;
    head.append(link);
  } else {
    const archived = archiveLink(passage.document_id, "passage");
    head.append(archived.link, `, paragraph ${passage.paragraph_index + 1}`);
    meta = archived.meta;
  }
  // Word for word (a verbatim quote, a repeated paragraph): the highlight
  // already shows the words, two equal columns would only repeat them.
  const verbatim = sameChecked.every(Boolean) && sameSource.every(Boolean);
  head.append(verbatim ? ` · word for word, ${words} words` : ` · ${shared} of ${words} words shared`);
  box.append(head);
  if (meta) box.append(meta);
  if (verbatim) return box;
  const diff = el("div", "compare");
  diff.append(
    diffLine(passage.text, checked, sameChecked, "checked"),
    diffLine(passage.source_text, source, sameSource, "source"),
  );
  box.append(diff);
  return box;
}

function summarise(body) {
  const total = body.paragraphs.length;
  const dups = body.paragraphs.filter((p) => p.status === "duplicate").length;
  const reusing = body.paragraphs.filter((p) => (p.passages || []).length).length;
  const summary = $("summary");
  if (dups) {
    summary.className = "bad";
    summary.textContent = `${dups} of ${total} paragraphs repeat earlier text`;
  } else if (reusing) {
    // passages alone leave "duplicate" false: said, not alarmed
    summary.className = "warn";
    summary.textContent = `No duplicates among ${total} paragraphs, but ${reusing} ${reusing === 1 ? "holds" : "hold"} reused passages`;
  } else {
    summary.className = "good";
    summary.textContent = `No duplicates among ${total} paragraphs`;
  }
}

function render(body) {
  const results = $("results");
  results.replaceChildren();
  summarise(body);
  for (const p of body.paragraphs) {
    // older servers send no passages
    const passages = p.passages || [];
    const classes = ["para", p.status];
    if (p.boilerplate) classes.push("boilerplate");
    if (p.short) classes.push("short");
    if (passages.length) classes.push("reuse");
    const box = el("div", classes.join(" "));
    box.id = `p-${p.index}`;
    box.dataset.status = p.status;
    box.append(el("span", "num", `¶${p.index + 1}`), highlightedText(p, passages));
    if (p.status === "duplicate") box.append(el("span", "tag duplicate", "duplicate"));
    if (p.boilerplate) {
      box.append(el("span", "tag boilerplate", "boilerplate"));
      box.append(el("div", "match", `recurs in ${p.boilerplate_documents} archived documents`));
    }
    for (const match of p.matches) box.append(renderMatch(match));
    passages.forEach((passage, n) => box.append(renderPassage(passage, n)));
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
