// Chat transcript messages, built with createElement/textContent only: no text is parsed as HTML.
import { translate, translateLabel } from "./i18n.js";

const MARKER = /\[(\d+)\]/g;

function transcript() {
  return document.getElementById("transcript");
}

function message(classes, whoKey) {
  const box = document.createElement("div");
  box.className = `msg ${classes}`;
  box.append(translate(paragraph("who"), whoKey));
  return box;
}

function paragraph(className) {
  const p = document.createElement("p");
  p.className = className;
  return p;
}

function append(box) {
  transcript().append(box);
  box.scrollIntoView({ block: "nearest" });
  return box;
}

/** Show the user's question. */
export function addQuestion(text) {
  const box = message("user", "you");
  const body = paragraph("text");
  body.textContent = text;
  box.append(body);
  return append(box);
}

/** Show the waiting indicator; the caller removes it when the reply arrives. */
export function addPending() {
  const box = message("bot pending", "bot");
  const body = translate(paragraph("text thinking"), "thinking");
  const dots = document.createElement("span");
  dots.className = "dots";
  dots.setAttribute("aria-hidden", "true");
  box.append(body, dots);
  return append(box);
}

/** Show an error in plain words. */
export function addError(key, vars) {
  const box = message("error", "error");
  box.append(translate(paragraph("text"), key, vars));
  return append(box);
}

function citeButton(citation, onCite) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "cite";
  button.textContent = `[${citation.n}]`;
  const page = citation.page ? ` (p. ${citation.page})` : "";
  button.title = `${citation.doc_id}${page}: ${citation.text}`;
  translateLabel(button, "cite_label", { n: citation.n });
  button.addEventListener("click", () => onCite(citation, button));
  return button;
}

/** Append answer text to `parent`, turning known [n] markers into citation buttons. */
export function appendAnswerText(parent, answer, citations, onCite) {
  const byN = new Map(citations.map((c) => [c.n, c]));
  let last = 0;
  for (const match of answer.matchAll(MARKER)) {
    const citation = byN.get(Number(match[1]));
    if (!citation) continue; // an unknown number stays plain text
    parent.append(document.createTextNode(answer.slice(last, match.index)), citeButton(citation, onCite));
    last = match.index + match[0].length;
  }
  parent.append(document.createTextNode(answer.slice(last)));
}

/** Show a reply: an answer, or an abstention styled apart from answers. */
export function addAnswer(reply, onCite) {
  const box = message(reply.abstained ? "bot abstained" : "bot answer", "bot");
  if (reply.abstained) box.append(translate(paragraph("badge"), "abstained"));
  const body = paragraph("text");
  body.lang = reply.language; // the answer's language follows the question, not the interface
  appendAnswerText(body, String(reply.answer), reply.citations || [], onCite);
  box.append(body);
  const mark = reply.highlight;
  if (mark && !reply.abstained) { // the date, number or name the question asked for, found in citation n
    box.append(translate(paragraph("short"), "short_answer", { text: String(mark.text), n: Number(mark.n) }));
  }
  const total = reply.timings_ms?.total;
  if (typeof total === "number") { // "0.0 s" says nothing: under a second, milliseconds
    box.append(total < 1000 ? translate(paragraph("meta"), "timing_ms", { ms: Math.max(1, Math.round(total)) })
                            : translate(paragraph("meta"), "timing", { s: (total / 1000).toFixed(1) }));
  }
  return append(box);
}
