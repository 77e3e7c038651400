// Page wiring: the question box, the language toggle and the side panels. Loaded as a module.
import { ApiError, ask, setApiKey } from "./api.js";
import { chooseLanguage, translate } from "./i18n.js";
import { addAnswer, addError, addPending, addQuestion } from "./render.js";
import { closeSource, showCitation, toggleDocuments } from "./source.js";

const $ = (id) => document.getElementById(id);
const form = $("ask-form");
const box = $("question");
const send = $("send");
const keyRow = $("key-row");
const keyBox = $("api-key");
let busy = false;

function setBusy(on) {
  busy = on;
  box.disabled = on;
  send.disabled = on;
  form.classList.toggle("busy", on);
  form.setAttribute("aria-busy", String(on));
  translate($("send-label"), on ? "sending" : "send");
}

async function submitQuestion() {
  const question = box.value;
  if (busy || !question.trim()) return;
  addQuestion(question);
  box.value = "";
  if (!keyRow.hidden) setApiKey(keyBox.value.trim());
  setBusy(true);
  const pending = addPending();
  try {
    const reply = await ask(question);
    pending.remove();
    addAnswer(reply, showCitation);
  } catch (err) {
    pending.remove();
    const failure = err instanceof ApiError ? err : new ApiError("error_bad_response");
    addError(failure.key, failure.vars);
    if (!box.value) box.value = question; // let the user retry or fix it without retyping
    if (failure.key === "error_key") keyRow.hidden = false; // the server wants QA_API_KEY: ask for it
  } finally {
    setBusy(false);
    box.focus();
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  submitQuestion();
});

box.addEventListener("keydown", (event) => {
  // Enter sends; Shift+Enter falls through to a new line; IME composition keeps its Enter
  if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  form.requestSubmit();
});

// the skip link's fragment only moves the reading position; move keyboard focus too
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  box.focus();
});

document.querySelectorAll("[data-set-lang]").forEach((button) => {
  button.addEventListener("click", () => chooseLanguage(button.dataset.setLang));
});

$("docs-toggle").addEventListener("click", () => toggleDocuments());
$("docs-close").addEventListener("click", () => {
  toggleDocuments(false);
  $("docs-toggle").focus();
});
$("source-close").addEventListener("click", closeSource);
$("source-panel").addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeSource();
});
$("docs-panel").addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  toggleDocuments(false);
  $("docs-toggle").focus();
});

document.body.classList.add("ready"); // tests and styles can tell the script has run
