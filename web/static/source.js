// The side panels: a cited sentence highlighted in its document, and the list of documents.
import { ApiError, getDocument, listDocuments } from "./api.js";
import { translate, translateLabel } from "./i18n.js";

const $ = (id) => document.getElementById(id);
let loadToken = 0; // only the latest click may fill the panel when loads overlap
let returnFocus = null;

/** Map code-point offsets (the API's, from Python) to the UTF-16 indices JavaScript uses. */
export function unitIndex(text) {
  if (!/[\uD800-\uDFFF]/.test(text)) return (offset) => offset;
  const units = [];
  let unit = 0;
  for (const ch of text) {
    units.push(unit);
    unit += ch.length;
  }
  units.push(unit);
  return (offset) => units[Math.min(Math.max(offset, 0), units.length - 1)];
}

/** Paragraphs of `text` (the runs between line breaks) with their offsets; blank ones dropped. */
export function paragraphs(text) {
  const spans = [];
  let start = 0;
  for (const match of text.matchAll(/\r\n|\n|\r/g)) {
    spans.push({ start, end: match.index });
    start = match.index + match[0].length;
  }
  spans.push({ start, end: text.length });
  return spans.filter((p) => text.slice(p.start, p.end).trim() !== "");
}

function highlightRange(doc, citation) {
  const toUnit = unitIndex(doc.text);
  const start = toUnit(citation.start);
  const end = toUnit(citation.end);
  if (doc.text.slice(start, end) === citation.text || !citation.text) return { start, end };
  // offsets that disagree with the quoted sentence mean a changed document: find the quote instead
  const found = doc.text.indexOf(citation.text);
  return found >= 0 ? { start: found, end: found + citation.text.length } : { start, end };
}

function renderText(body, text, range) {
  body.replaceChildren();
  let mark = null;
  for (const para of paragraphs(text)) {
    const p = document.createElement("p");
    if (range && range.start >= para.start && range.start < para.end) {
      const end = Math.min(range.end, para.end);
      mark = document.createElement("mark");
      mark.tabIndex = -1;
      mark.textContent = text.slice(range.start, end);
      p.className = "cited";
      p.append(text.slice(para.start, range.start), mark, text.slice(end, para.end));
    } else {
      p.textContent = text.slice(para.start, para.end);
    }
    body.append(p);
  }
  return mark;
}

function setSideOpen() {
  const open = !$("docs-panel").hidden || !$("source-panel").hidden;
  $("layout").classList.toggle("with-side", open);
}

function openSource(title) {
  $("source-panel").hidden = false;
  setSideOpen();
  $("source-title").textContent = title;
  translate($("source-meta"), "loading");
  $("source-body").replaceChildren();
  return ++loadToken;
}

function reduceMotion() {
  return window.matchMedia("(prefers-reduced-motion: reduce)").matches;
}

async function loadInto(docId, token) {
  try {
    const doc = await getDocument(docId);
    return token === loadToken ? doc : null;
  } catch (err) {
    if (token !== loadToken) return null;
    const failure = err instanceof ApiError ? err : new ApiError("error_bad_response");
    translate($("source-meta"), failure.key, failure.vars);
    return null;
  }
}

/** Show the cited sentence highlighted in its paragraph, and bring it into view. */
export async function showCitation(citation, opener) {
  returnFocus = opener || null;
  const token = openSource(citation.doc_id);
  const doc = await loadInto(citation.doc_id, token);
  if (!doc) return;
  $("source-title").textContent = doc.title || doc.doc_id;
  const where = { n: citation.n, sentence: citation.sentence_index + 1, page: citation.page };
  translate($("source-meta"), citation.page ? "source_meta_page" : "source_meta", where);
  const mark = renderText($("source-body"), doc.text, highlightRange(doc, citation));
  if (!mark) return;
  mark.scrollIntoView({ block: "center", behavior: reduceMotion() ? "auto" : "smooth" });
  mark.focus({ preventScroll: true }); // keyboard and screen-reader users land on the sentence
}

/** Show a whole document without a highlight. */
export async function showDocument(summary, opener) {
  returnFocus = opener || null;
  const token = openSource(summary.title || summary.doc_id);
  const doc = await loadInto(summary.doc_id, token);
  if (!doc) return;
  translate($("source-meta"), "document_meta", { sentences: doc.sentences.length, chars: doc.text.length });
  renderText($("source-body"), doc.text, null);
  $("source-panel").scrollIntoView({ block: "start", behavior: reduceMotion() ? "auto" : "smooth" });
  $("source-heading").focus({ preventScroll: true });
}

/** Hide the source panel and return focus to whatever opened it. */
export function closeSource() {
  $("source-panel").hidden = true;
  setSideOpen();
  const target = returnFocus && returnFocus.isConnected ? returnFocus : $("question");
  target.focus();
}

function documentItem(summary) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "doc-link";
  button.textContent = summary.title || summary.doc_id;
  translateLabel(button, "open_document", { title: summary.title || summary.doc_id });
  button.addEventListener("click", () => showDocument(summary, button));
  const meta = translate(document.createElement("p"), "document_meta",
    { sentences: summary.n_sentences, chars: summary.n_chars });
  meta.className = "meta";
  const id = document.createElement("p");
  id.className = "doc-id";
  id.textContent = summary.doc_id;
  item.append(button, id, meta);
  return item;
}

async function fillDocuments() {
  const list = $("docs-list");
  translate($("docs-status"), "loading");
  try {
    const docs = await listDocuments();
    list.replaceChildren(...docs.map(documentItem));
    if (docs.length) {
      $("docs-status").textContent = "";
      delete $("docs-status").dataset.i18n;
    } else {
      translate($("docs-status"), "docs_empty");
    }
  } catch (err) {
    const failure = err instanceof ApiError ? err : new ApiError("error_bad_response");
    translate($("docs-status"), failure.key, failure.vars);
  }
}

/** Open or close the documents list (fetched fresh on each opening: the index can change). */
export function toggleDocuments(open) {
  const panel = $("docs-panel");
  const next = open ?? panel.hidden;
  panel.hidden = !next;
  $("docs-toggle").setAttribute("aria-expanded", String(next));
  setSideOpen();
  if (next) {
    fillDocuments();
    $("docs-heading").focus({ preventScroll: true });
    panel.scrollIntoView({ block: "nearest" });
  }
}
