// Interface strings. Both languages arrive in <body data-strings>, so switching needs no request.
const LANGS = ["id", "en"];
const strings = readStrings();
let current = LANGS.includes(document.body.dataset.lang) ? document.body.dataset.lang : "en";

function readStrings() {
  try {
    return JSON.parse(document.body.dataset.strings || "{}");
  } catch {
    return {};
  }
}

function varsOf(el) {
  try {
    return JSON.parse(el.dataset.i18nVars || "{}");
  } catch {
    return {};
  }
}

/** The current interface language ("id" or "en"). */
export function lang() {
  return current;
}

/** The string for `key` in the current language, with {name} placeholders filled in. */
export function t(key, vars = {}) {
  const template = strings[current]?.[key] ?? strings.en?.[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Set an element's text from `key`; it is re-rendered whenever the language changes. */
export function translate(el, key, vars) {
  el.dataset.i18n = key;
  if (vars) el.dataset.i18nVars = JSON.stringify(vars);
  else delete el.dataset.i18nVars;
  el.textContent = t(key, vars);
  return el;
}

/** Set an element's aria-label from `key`, re-rendered on language changes like `translate`. */
export function translateLabel(el, key, vars) {
  el.dataset.i18nLabel = key;
  if (vars) el.dataset.i18nVars = JSON.stringify(vars);
  el.setAttribute("aria-label", t(key, vars));
  return el;
}

/** Re-render every translatable text and attribute in `next`. */
export function applyLanguage(next) {
  if (!LANGS.includes(next)) return;
  current = next;
  document.documentElement.lang = next;
  document.querySelectorAll("[data-i18n]").forEach((el) => {
    el.textContent = t(el.dataset.i18n, varsOf(el));
  });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
  });
  document.querySelectorAll("[data-i18n-label]").forEach((el) => {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel, varsOf(el)));
  });
  document.querySelectorAll("[data-set-lang]").forEach((button) => {
    button.setAttribute("aria-pressed", String(button.dataset.setLang === next));
  });
}

/** Switch language by the user's choice and remember it for the next visit. */
export function chooseLanguage(next) {
  applyLanguage(next);
  // a cookie rather than localStorage, so the server renders the chosen language straight away
  document.cookie = `lang=${current}; path=/; max-age=31536000; samesite=lax`;
}
