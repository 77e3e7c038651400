// The JSON API. Every failure becomes an ApiError whose message key the page can translate.
export class ApiError extends Error {
  constructor(key, vars = {}) {
    super(key);
    this.key = key;
    this.vars = vars;
  }
}

/** FastAPI's `detail`: a string, or a list of validation errors with a `msg` each. */
export function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (!Array.isArray(detail)) return "";
  return detail
    .map((e) => (e && typeof e.msg === "string" ? e.msg.replace(/^Value error, /, "") : ""))
    .filter(Boolean)
    .join("; ");
}

const KEY_STORAGE = "qa-api-key"; // this tab only: sessionStorage, cleared when it closes

/** Remember the API key (QA_API_KEY) for this tab's requests; an empty one forgets it. */
export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

function keyHeader() {
  const key = sessionStorage.getItem(KEY_STORAGE);
  return key ? { "X-API-Key": key } : {};
}

function errorFor(status, body) {
  const detail = detailText(body?.detail);
  if (status === 401) return new ApiError("error_key"); // the page then asks for the key
  if (status === 400 || status === 422) return new ApiError("error_invalid", { detail: detail || `HTTP ${status}` });
  if (status === 503) return new ApiError("error_unavailable", { detail: detail || "HTTP 503" });
  if (status === 404) return new ApiError("error_not_found", { detail: detail || "HTTP 404" });
  if (status === 429) return new ApiError("error_rate_limited");
  if (status >= 400 && status < 500 && detail) return new ApiError("error_refused", { detail }); // 401, 413…
  return new ApiError("error_http", { status });
}

async function request(path, options = {}) {
  let response;
  try {
    const headers = { Accept: "application/json", ...keyHeader(), ...options.headers };
    response = await fetch(path, { ...options, headers });
  } catch {
    throw new ApiError("error_network");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null; // a proxy's HTML error page, say; the status still tells what happened
  }
  if (!response.ok) throw errorFor(response.status, body);
  if (body === null) throw new ApiError("error_bad_response");
  return body;
}

/** Ask a question; resolves to the chat response. */
export function ask(question, topK = 3) {
  return request("api/chat", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ question, top_k: topK }),
  });
}

/** The indexed documents. */
export function listDocuments() {
  return request("api/documents");
}

const documents = new Map();

/** One document with its text; cached, since citations often point into the same one. */
export function getDocument(docId) {
  if (!documents.has(docId)) {
    const pending = request(`api/documents/${encodeURIComponent(docId)}`);
    pending.catch(() => documents.delete(docId)); // retry after a failure
    documents.set(docId, pending);
  }
  return documents.get(docId);
}
