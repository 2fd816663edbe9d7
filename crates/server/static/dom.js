// seckill — what the shop's pages (app.js) and the operators' console (admin.js) share: building
// DOM nodes safely and JSON over fetch. Loaded before either; plain script, no build step.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/** An element; `text` sets textContent, `on*` adds listeners, other keys are attributes. Data
 *  from the API only ever reaches the DOM through here (never innerHTML). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = String(v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "value") node.value = String(v);
    else if (k === "checked") node.checked = Boolean(v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

/** JSON over fetch with the session cookie; resolves to {ok, status, body, headers}. A network
 *  failure is `status: 0` with the error code `NETWORK`. */
async function requestJson(method, path, body, headers = {}) {
  const init = { method, credentials: "same-origin", headers: { accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (_) {
    return { ok: false, status: 0, body: { error: { code: "NETWORK", message: "网络错误，请重试" } }, headers: new Headers() };
  }
  let json = null;
  try { json = await res.json(); } catch (_) { /* empty body (204) */ }
  return { ok: res.ok, status: res.status, body: json, headers: res.headers };
}
