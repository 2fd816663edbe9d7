// seckill — the operators' console at /admin: one page over /api/admin. Plain JS, no build step,
// no library, nothing fetched from anywhere but this server. Hash routing (#/dashboard,
// #/products, #/products/new, #/products/{id}, #/brands, #/categories, #/slots, #/activities,
// #/activities/new, #/activities/{id}, #/orders?status=&activity_id=&user_id=&page=). Every string
// from the API reaches the DOM through textContent / attributes (el() below), never innerHTML.
// The session is the HttpOnly `seckill_admin` cookie set by POST /api/admin/sessions; any 401
// from /api/admin/* brings back the login form.
//
// Stable hooks for browser tests (keep them):
//   login          #username, #password, [data-testid=login] (submit), the refusal in
//                  [data-testid=form-error] (present but [hidden] until there is one),
//                  [data-testid=logout]; body[data-ready] once the console has drawn itself
//   navigation     a[data-testid=nav-dashboard|nav-products|nav-brands|nav-categories|nav-slots|
//                  nav-activities|nav-orders]
//   any form       [data-testid=form-error] at the top (409s with their message, a 422 summary;
//                  it carries data-code=<API code>) and [data-field-error=<API field key>] beside
//                  each field the 422 names, e.g. "single_limit", "ends_at", "skus[0].stock" (the
//                  index is the position in the request's skus array, i.e. among the *included*
//                  SKU rows). Outside the login form both exist only while there is an error, and
//                  a new submit removes them at once.
//   activities     [data-testid=new-activity], rows [data-testid=activity-row][data-id=<id>]
//                  with data-state, [data-testid=edit-activity], [data-testid=toggle-activity]
//                  (enable/disable), [data-testid=list-error] (e.g. PRODUCT_IN_ACTIVITY on enable)
//   activity form  form[data-testid=activity-form] with name, product_id (select), starts_at,
//                  ends_at (datetime-local, browser time → RFC 3339 UTC),
//                  input[name=time_slot_ids][value=<slot id>] (checkboxes),
//                  [data-testid=activity-sku][data-sku-id=<sku id>] each holding
//                  input[name=include] (checkbox), input[name=seckill_price] (yuan, "3999.00"),
//                  input[name=stock]; then single_limit, total_limit, min_level, pay_timeout_secs,
//                  reservation_required, enabled (checkboxes); [data-testid=save-activity]
//                  (submit). After a successful save the list (#/activities) is shown.
//   products       [data-testid=new-product], rows [data-testid=product-row][data-id],
//                  [data-testid=edit-product], form[data-testid=product-form] with rows
//                  [data-testid=product-sku], [data-testid=save-product]
//   brands etc.    rows [data-testid=brand-row|category-row|slot-row][data-id], buttons
//                  [data-testid=edit-brand|edit-category|edit-slot], forms
//                  form[data-testid=brand-form|category-form|slot-form] (inputs named as the API
//                  fields) with [data-testid=save-brand|save-category|save-slot];
//                  [data-testid=toggle-slot], [data-testid=delete-slot] (opens the dialog)
//   orders         rows [data-testid=admin-order-row][data-id][data-status], buttons
//                  [data-testid=ship], [data-testid=cancel]; both open a dialog
//                  [data-testid=dialog] (ship: input[name=carrier], input[name=tracking_no]) with
//                  [data-testid=dialog-confirm], [data-testid=dialog-dismiss],
//                  [data-testid=dialog-error]; after success the row is redrawn in place with its
//                  new data-status. Filters select[name=status|activity_id|per_page],
//                  input[name=user_id]; [data-testid=prev-page], [data-testid=next-page]
//   dashboard      [data-testid=dashboard], [data-testid=rps] (requests/s), [data-testid=chart]
//                  (an <svg>, requests/s over the last minute), [data-testid=live] (polling state)
"use strict";

(() => {
  const root = document.getElementById("console");
  if (!root) return;

  // ---- words ------------------------------------------------------------------------------------
  const MESSAGES = {
    BAD_CREDENTIALS: "用户名或密码错误",
    UNAUTHENTICATED: "登录已过期，请重新登录",
    FORBIDDEN: "当前登录的是顾客账号，请用运营账号登录",
    RATE_LIMITED: "操作太频繁，请稍后再试",
    OVERLOADED: "服务器繁忙，请稍后再试",
    VALIDATION_FAILED: "请修正标出的内容",
    BAD_REQUEST: "请求格式有误",
    NOT_FOUND: "记录不存在",
    SLOT_OVERLAP: "与已启用的场次时间重叠",
    SLOT_IN_USE: "该场次正被未结束的活动使用，不能删除",
    PRODUCT_IN_ACTIVITY: "该商品已在时间重叠的已启用活动中",
    STOCK_BELOW_SOLD: "秒杀库存不能低于已售数量",
    BAD_ORDER_STATE: "订单状态已变化，不能执行此操作",
    UNAVAILABLE: "服务暂不可用，请稍后重试",
    INTERNAL: "服务器内部错误",
    NETWORK: "网络错误，请检查连接后重试",
  };
  const REJECTIONS = {
    NOT_STARTED: "未开始", PAUSED: "场间休息", ENDED: "已结束", DISABLED: "已停用", SOLD_OUT: "已售罄",
    LIMIT_EXCEEDED: "超过每人限购", QUANTITY_TOO_LARGE: "超过每单限购", NOT_RESERVED: "未预约",
    LEVEL_TOO_LOW: "会员等级不足", BAD_PURCHASE_TOKEN: "抢购令牌无效", UNKNOWN_SKU: "SKU 不在活动中",
    UNKNOWN_ADDRESS: "地址无效", RATE_LIMITED: "限流", OVERLOADED: "过载削峰", RESERVATION_CLOSED: "预约已截止",
  };
  const STATE_LABEL = {
    upcoming: "即将开始", running: "抢购中", paused: "场间休息", sold_out: "已售罄", ended: "已结束", disabled: "已停用",
  };
  const ORDER_STATUS = {
    pending_payment: "待付款", paid: "已付款", shipped: "已发货", completed: "已完成", cancelled: "已取消",
  };
  const CANCEL_REASON = { timeout: "超时未付", user: "用户取消", admin: "运营取消" };
  const NAV = [
    ["dashboard", "实时大盘"], ["activities", "秒杀活动"], ["orders", "订单"], ["products", "商品"],
    ["brands", "品牌"], ["categories", "分类"], ["slots", "场次"],
  ];

  // ---- small helpers ------------------------------------------------------------------------------
  // $, $$ and el come from dom.js.

  const SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs = {}, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
    for (const c of children) if (c) node.append(c);
    return node;
  }

  const intFmt = new Intl.NumberFormat("en-US");
  const num = (n) => intFmt.format(n);

  /** Cents as money, `123400` → `¥1,234.00`. */
  function money(cents) {
    const c = Math.round(Math.abs(Number(cents) || 0));
    return (cents < 0 ? "-" : "") + "¥" + intFmt.format(Math.floor(c / 100)) + "." + String(c % 100).padStart(2, "0");
  }
  /** Cents as an input value, `399900` → `3999.00`. */
  const yuanValue = (cents) => (cents / 100).toFixed(2);

  /** What the operator typed in yuan, as cents; -1 when it is not an amount (the API says why). */
  function centsOf(text) {
    const t = String(text).trim().replace(/[,¥\s]/g, "");
    const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(t);
    if (!m) return -1;
    const cents = Number(m[2]) * 100 + Number((m[3] || "0").padEnd(2, "0"));
    if (!Number.isSafeInteger(cents)) return -1;
    return m[1] ? -cents : cents;
  }
  /** An integer field; blank → `blank`, anything else that is not an integer → -1 (the API says why). */
  function intOf(text, blank = -1) {
    const t = String(text).trim();
    if (t === "") return blank;
    if (!/^-?\d+$/.test(t)) return -1;
    const n = Number(t);
    return Number.isSafeInteger(n) ? n : -1;
  }

  const pad2 = (n) => String(n).padStart(2, "0");
  /** An RFC 3339 instant as the browser's local wall clock, for display. */
  function when(iso, withSeconds = true) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const now = new Date();
    const date = (d.getFullYear() === now.getFullYear() ? "" : d.getFullYear() + "-") + pad2(d.getMonth() + 1) + "-" + pad2(d.getDate());
    return `${date} ${pad2(d.getHours())}:${pad2(d.getMinutes())}${withSeconds ? ":" + pad2(d.getSeconds()) : ""}`;
  }
  /** An RFC 3339 instant as a datetime-local value (browser time, seconds kept). */
  function localInput(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }
  /** A datetime-local value (browser time) as RFC 3339 UTC; what is not a time goes as typed. */
  function utcOf(local) {
    const v = String(local || "").trim();
    if (!v) return "";
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) return v;
    return d.toISOString().replace(/\.\d{3}Z$/, "Z");
  }
  /** The zone time slots are in (`SECKILL_TIMEZONE`, from /api/time), named wherever slots are. */
  let shopZone = "服务器时区";
  const browserZone = (() => {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "本地"; } catch (_) { return "本地"; }
  })();

  function toast(text, kind = "") {
    const t = el("div", { class: "toast c-toast " + kind, role: "status", text });
    document.body.append(t);
    setTimeout(() => t.remove(), 3200);
  }

  function badge(state) {
    return el("span", { class: "badge " + state, text: STATE_LABEL[state] || state });
  }

  function picture(url, name, cls = "c-thumb") {
    if (url) return el("img", { class: cls, src: url, alt: "", loading: "lazy" });
    return el("span", { class: cls + " c-thumb-ph", text: (name || "?").trim().charAt(0) });
  }

  // ---- the API ------------------------------------------------------------------------------------
  /** JSON over fetch with the session cookie; resolves to {ok, status, body, headers}. */
  async function api(method, path, body) {
    const reply = await requestJson(method, path, body);
    const signingIn = path === "/api/admin/sessions";
    if (!signingIn && (reply.status === 401 || reply.status === 403) && path.startsWith("/api/admin/")) {
      // Several requests may fail together: the first one shows the form, the rest leave it be.
      if (session || !document.getElementById("username")) {
        showLogin(errorCode(reply) === "FORBIDDEN" ? MESSAGES.FORBIDDEN : session ? MESSAGES.UNAUTHENTICATED : "");
      }
    }
    return reply;
  }

  const errorCode = (reply) => (reply.body && reply.body.error && reply.body.error.code) || (reply.status ? "HTTP_" + reply.status : "NETWORK");

  /** The operator's sentence for a failed reply: our words for the code, then the server's message. */
  function errorText(reply) {
    const err = reply.body && reply.body.error;
    if (!err) return `请求失败（HTTP ${reply.status}）`;
    let text = MESSAGES[err.code] || REJECTIONS[err.code] || err.code;
    if (err.code === "RATE_LIMITED" || err.code === "OVERLOADED") {
      const after = reply.headers.get("retry-after");
      if (after) text += `（${after} 秒后）`;
    }
    return text;
  }

  /** An error box for a failed reply (code and the server's own message included). */
  function errorBox(reply, testid, extra) {
    const err = (reply.body && reply.body.error) || {};
    return el("div", { class: "c-alert", role: "alert", "data-testid": testid, "data-code": err.code || errorCode(reply) },
      el("strong", { text: errorText(reply) }),
      err.message && err.code !== "VALIDATION_FAILED" ? el("span", { class: "c-alert-detail", text: `${err.code} · ${err.message}` }) : null,
      extra || null);
  }

  /**
   * Shows a failed reply on `form`: the summary at the top ([data-testid=form-error]) and each of
   * `error.fields` beside its field. `locate(key)` names the element a field's message goes in
   * (default: the `[data-field=<key>]` inside the form); fields with no place are listed on top.
   */
  function showFormErrors(form, reply, locate) {
    clearFormErrors(form);
    const err = (reply.body && reply.body.error) || {};
    const fields = err.fields || {};
    const homeless = [];
    let first = null;
    for (const [key, message] of Object.entries(fields)) {
      const place = (locate && locate(key)) || $(`[data-field="${CSS.escape(key)}"]`, form);
      if (!place) { homeless.push(`${key}: ${message}`); continue; }
      place.classList.add("has-error");
      // The API speaks cents; the form speaks yuan: echo the amount as money after its message.
      const text = String(message).replace(/(-?\d+) cents\b/g, (m, c) => `${m}（${money(Number(c))}）`);
      place.append(el("div", { class: "c-field-error", "data-field-error": key, role: "alert", text }));
      first = first || place;
    }
    const count = Object.keys(fields).length;
    const extra = err.code === "VALIDATION_FAILED"
      ? el("span", { class: "c-alert-detail", text: (count ? `共 ${count} 处` : "") + (homeless.length ? "：" + homeless.join("；") : "") })
      : null;
    const box = errorBox(reply, "form-error", extra);
    const slot = $("[data-role=form-error-slot]", form);
    if (slot) slot.append(box); else form.prepend(box);
    (first && err.code === "VALIDATION_FAILED" ? first : box).scrollIntoView({ block: "center" });
  }
  function clearFormErrors(form) {
    $$("[data-field-error], [data-testid=form-error], [data-testid=dialog-error]", form).forEach((n) => n.remove());
    $$(".has-error", form).forEach((n) => n.classList.remove("has-error"));
  }

  /** Submits with the button busy, so a double click never posts twice. */
  async function busy(button, work) {
    if (button.disabled) return;
    const label = button.textContent;
    button.disabled = true;
    button.classList.add("is-busy");
    try { return await work(); } finally {
      button.disabled = false;
      button.classList.remove("is-busy");
      button.textContent = label;
    }
  }

  // ---- cached look-ups (names for ids) ------------------------------------------------------------
  const cache = { products: null, brands: null, categories: null, slots: null };
  function forget(...what) { for (const w of what) cache[w] = null; }

  async function allProducts() {
    if (cache.products) return cache.products;
    const items = [];
    for (let page = 1; page < 50; page++) {
      const r = await api("GET", `/api/admin/products?per_page=200&page=${page}`);
      if (!r.ok) return null;
      items.push(...r.body.items);
      if (items.length >= r.body.total || !r.body.items.length) break;
    }
    cache.products = items;
    return items;
  }
  async function listOf(what, path) {
    if (cache[what]) return cache[what];
    const r = await api("GET", path);
    if (!r.ok) return null;
    cache[what] = r.body.items;
    return cache[what];
  }
  const allBrands = () => listOf("brands", "/api/admin/brands");
  const allCategories = () => listOf("categories", "/api/admin/categories");
  const allSlots = () => listOf("slots", "/api/admin/time-slots");

  /** sku id → {sku, product} over the products we know. */
  function skuIndex(products) {
    const index = new Map();
    for (const p of products || []) for (const s of p.skus) index.set(s.id, { sku: s, product: p });
    return index;
  }
  function skuLabel(index, skuId) {
    const hit = index.get(skuId);
    return hit ? `${hit.product.name} · ${hit.sku.name}` : `SKU #${skuId}`;
  }

  /** Categories as a tree, depth-first, each with its depth. */
  function categoryTree(categories) {
    const children = new Map();
    const ids = new Set(categories.map((c) => c.id));
    for (const c of categories) {
      const parent = c.parent_id && ids.has(c.parent_id) ? c.parent_id : 0;
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(c);
    }
    const out = [];
    const seen = new Set();
    const walk = (parent, depth) => {
      for (const c of children.get(parent) || []) {
        if (seen.has(c.id)) continue;
        seen.add(c.id);
        out.push({ ...c, depth });
        walk(c.id, depth + 1);
      }
    };
    walk(0, 0);
    for (const c of categories) if (!seen.has(c.id)) out.push({ ...c, depth: 0 });
    return out;
  }

  // ---- the session and the shell ----------------------------------------------------------------
  let session = null; // {id, expires_at} of the signed-in operator
  let main = null; // where views render
  let view = null; // {seq, timers, stops}: the view on screen, torn down on navigation
  let viewSeq = 0;

  function stopView() {
    if (!view) return;
    for (const stop of view.stops) try { stop(); } catch (_) { /* best effort */ }
    view = null;
  }

  function showLogin(message) {
    stopView();
    session = null;
    document.body.classList.remove("c-signed-in");
    const error = el("p", { class: "c-alert", role: "alert", "data-testid": "form-error", hidden: !message, text: message || "" });
    const username = el("input", { id: "username", name: "username", autocomplete: "username", autocapitalize: "off", spellcheck: "false" });
    const password = el("input", { id: "password", name: "password", type: "password", autocomplete: "current-password" });
    const submit = el("button", { class: "btn btn-primary btn-block", type: "submit", "data-testid": "login", text: "登录" });
    const form = el("form", { class: "c-login-form", novalidate: true },
      el("div", { class: "field" }, el("label", { for: "username", text: "运营账号" }), username),
      el("div", { class: "field" }, el("label", { for: "password", text: "密码" }), password),
      error, submit);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      busy(submit, async () => {
        submit.textContent = "登录中…";
        const r = await api("POST", "/api/admin/sessions", { username: username.value, password: password.value });
        if (!r.ok) {
          error.textContent = errorText(r);
          error.hidden = false;
          password.select();
          return;
        }
        await start();
      });
    });
    root.replaceChildren(el("div", { class: "c-login" },
      el("div", { class: "c-login-card card" },
        el("div", { class: "c-login-brand" }, el("span", { class: "brand-mark", text: "秒杀" }), el("span", { text: "seckill 运营控制台" })),
        el("p", { class: "muted", text: "活动配置、订单处理与实时大盘。仅限运营人员使用。" }),
        form)));
    (message ? password : username).focus();
    document.body.dataset.ready = "1";
  }

  function renderShell() {
    document.body.classList.add("c-signed-in");
    const logout = el("button", { class: "c-logout", type: "button", "data-testid": "logout", text: "退出" });
    logout.addEventListener("click", async () => {
      await api("DELETE", "/api/admin/sessions");
      session = null;
      for (const k of Object.keys(cache)) cache[k] = null;
      showLogin("");
    });
    const nav = el("nav", { class: "c-nav", "aria-label": "控制台导航" }, el("div", { class: "c-nav-inner" },
      NAV.map(([key, label]) => el("a", { href: "#/" + key, "data-testid": "nav-" + key, "data-nav": key }, el("span", { text: label })))));
    main = el("main", { class: "c-main", id: "c-main", tabindex: "-1" });
    root.replaceChildren(
      el("header", { class: "c-top" },
        el("div", { class: "c-top-inner" },
          el("a", { class: "brand", href: "#/dashboard" }, el("span", { class: "brand-mark", text: "秒杀" }), "seckill", el("span", { class: "c-top-sub", text: "运营控制台" })),
          el("div", { class: "c-top-right" },
            el("a", { class: "c-top-link", href: "/", target: "_blank", rel: "noopener", text: "打开商城 ↗" }),
            el("span", { class: "c-who", text: `运营 #${session.id}` }),
            logout))),
      el("div", { class: "c-shell" }, nav, main));
  }

  async function start() {
    const [r, time] = await Promise.all([api("GET", "/api/admin/session"), api("GET", "/api/time")]);
    if (time.ok && time.body.timezone) shopZone = time.body.timezone;
    if (!r.ok) return; // api() has shown the login form (or the network error below)
    session = r.body;
    renderShell();
    route();
    document.body.dataset.ready = "1";
  }

  // ---- routing --------------------------------------------------------------------------------------
  function parseHash() {
    const raw = location.hash.replace(/^#/, "") || "/dashboard";
    const [path, query] = raw.split("?");
    return { parts: path.split("/").filter(Boolean), params: new URLSearchParams(query || "") };
  }

  function go(hash) {
    if (location.hash === hash) route(); else location.hash = hash;
  }

  function route() {
    if (!session || !main) return;
    stopView();
    const seq = ++viewSeq;
    view = { seq, stops: [] };
    const ctx = {
      alive: () => view !== null && view.seq === seq,
      every(ms, fn) {
        // A poll that never overlaps itself, paused while the tab is hidden.
        let timer = null;
        let running = false;
        const tick = async () => {
          timer = null;
          if (!ctx.alive() || document.hidden || running) return;
          running = true;
          const t0 = Date.now();
          try { await fn(); } finally { running = false; }
          if (ctx.alive() && !document.hidden) timer = setTimeout(tick, Math.max(100, ms - (Date.now() - t0)));
        };
        const onVisibility = () => {
          if (document.hidden) { clearTimeout(timer); timer = null; ctx.onPause && ctx.onPause(); } else if (!timer && !running) { ctx.onResume && ctx.onResume(); tick(); }
        };
        document.addEventListener("visibilitychange", onVisibility);
        view.stops.push(() => { clearTimeout(timer); document.removeEventListener("visibilitychange", onVisibility); });
        tick();
      },
    };
    const { parts, params } = parseHash();
    const section = parts[0] || "dashboard";
    $$(".c-nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === section));
    // At phone width the navigation is a strip that scrolls sideways: keep the current entry in it.
    const current = $(".c-nav a.active");
    if (current) current.parentNode.scrollLeft = Math.max(0, current.offsetLeft - 24);
    main.replaceChildren(el("div", { class: "c-loading", text: "加载中…" }));
    const views = { dashboard, products, brands, categories, slots, activities, orders };
    const fn = views[section];
    if (!fn) {
      main.replaceChildren(page("页面不存在", null, el("div", { class: "card c-empty", text: "没有这个页面。" })));
      return;
    }
    window.scrollTo(0, 0);
    fn(ctx, parts.slice(1), params);
  }

  /** A page: title, actions on the right, then the body. */
  function page(title, actions, ...body) {
    return el("div", { class: "c-page" },
      el("div", { class: "c-page-head" }, el("h1", { text: title }), actions ? el("div", { class: "c-actions" }, actions) : null),
      ...body);
  }

  function failed(reply) {
    return page("出错了", null, errorBox(reply, "list-error"));
  }

  /**
   * A table that turns into cards at phone width. `columns`: [{label, cls, cell(item) → node|text}];
   * `rowAttrs(item)` gives each row's attributes.
   */
  function table(columns, items, rowAttrs, empty = "暂无记录") {
    if (!items.length) return el("div", { class: "card c-empty", text: empty });
    return el("div", { class: "card c-table-wrap" },
      el("table", { class: "c-table" },
        el("thead", {}, el("tr", {}, columns.map((c) => el("th", { class: c.cls || null, text: c.label })))),
        el("tbody", {}, items.map((item) => el("tr", rowAttrs ? rowAttrs(item) : {},
          columns.map((c) => {
            const v = c.cell(item);
            const empty = v === null || v === undefined;
            return el("td", { class: [c.cls, empty ? "is-empty" : null].filter(Boolean).join(" ") || null, "data-label": c.label }, empty ? "—" : v);
          }))))));
  }

  // ---- dialogs --------------------------------------------------------------------------------------
  /**
   * A modal dialog with optional fields; `action(values)` runs on confirm and answers an API reply.
   * Resolves to the reply on success, or null when dismissed.
   */
  function dialog({ title, text, fields = [], confirm = "确定", danger = false, action }) {
    return new Promise((resolve) => {
      const inputs = fields.map((f) => el("input", { name: f.name, id: "dlg-" + f.name, placeholder: f.placeholder || "", autocomplete: "off" }));
      const slot = el("div", { "data-role": "form-error-slot" });
      const ok = el("button", { class: "btn " + (danger ? "c-btn-danger" : "btn-primary"), type: "submit", "data-testid": "dialog-confirm", text: confirm });
      const dismiss = el("button", { class: "btn btn-ghost", type: "button", "data-testid": "dialog-dismiss", text: "返回" });
      const form = el("form", { class: "c-dialog-body", novalidate: true },
        el("h2", { text: title }),
        text ? el("p", { class: "muted", text }) : null,
        slot,
        fields.map((f, i) => el("div", { class: "field", "data-field": f.name }, el("label", { for: "dlg-" + f.name, text: f.label }), inputs[i])),
        el("div", { class: "c-dialog-actions" }, dismiss, ok));
      const dlg = el("dialog", { class: "c-dialog", "data-testid": "dialog" }, form);
      const close = (value) => { dlg.close(); dlg.remove(); resolve(value); };
      dismiss.addEventListener("click", () => close(null));
      dlg.addEventListener("cancel", (e) => { e.preventDefault(); close(null); });
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        clearFormErrors(form);
        busy(ok, async () => {
          const values = Object.fromEntries(fields.map((f, i) => [f.name, inputs[i].value.trim()]));
          const r = await action(values);
          if (r.ok) close(r);
          else if (r.status !== 401) {
            // 409 (state moved on) and 422 (a field) both stay in the dialog, the codes with them.
            const box = errorBox(r, "dialog-error");
            showFormErrors(form, r);
            const top = $("[data-testid=form-error]", form);
            if (top) top.replaceWith(box);
          } else close(null);
        });
      });
      document.body.append(dlg);
      dlg.showModal();
      (inputs[0] || ok).focus();
    });
  }

  // =================================================================================================
  // Dashboard: GET /api/admin/stats every second, activity views every few seconds.
  // =================================================================================================
  async function dashboard(ctx) {
    const rps = el("span", { class: "c-kpi-value", "data-testid": "rps", text: "—" });
    const orders = el("span", { class: "c-kpi-value", text: "—" });
    const rejected = el("span", { class: "c-kpi-value", text: "—" });
    const soldUnits = el("span", { class: "c-kpi-value", text: "—" });
    const soldNote = el("small", { class: "muted", text: "在售活动" });
    const rejectedNote = el("small", { class: "muted", text: "自本实例启动" });
    const live = el("span", { class: "c-live", "data-testid": "live", "data-state": "starting", text: "连接中…" });
    const chart = svg("svg", { class: "c-chart", "data-testid": "chart", role: "img", "aria-label": "最近 60 秒每秒请求数" });
    const chartPeak = el("small", { class: "muted", text: "" });
    const rejections = el("div", { class: "c-rejections" });
    const stock = el("div", { class: "c-stock" });
    const hot = el("div", {});
    const soldOut = el("div", {});
    const kpi = (label, value, note) => el("div", { class: "card c-kpi" }, el("span", { class: "c-kpi-label", text: label }), value, note);

    main.replaceChildren(page("实时大盘", live,
      el("div", { class: "c-dash", "data-testid": "dashboard" },
        el("div", { class: "c-kpis" },
          kpi("请求 / 秒", rps, el("small", { class: "muted", text: "最近 10 秒的下单请求" })),
          kpi("已创建订单", orders, el("small", { class: "muted", text: "自本实例启动" })),
          kpi("拒绝次数", rejected, rejectedNote),
          kpi("已售件数", soldUnits, soldNote)),
        el("section", { class: "card c-panel c-span2" },
          el("div", { class: "c-panel-head" }, el("h2", { text: "每秒请求数 · 最近 60 秒" }), chartPeak),
          el("div", { class: "c-chart-box" }, chart)),
        el("section", { class: "card c-panel" }, el("div", { class: "c-panel-head" }, el("h2", { text: "拒绝原因" })), rejections),
        el("section", { class: "card c-panel c-span2" }, el("div", { class: "c-panel-head" }, el("h2", { text: "各 SKU 售出 / 库存" }), el("small", { class: "muted", text: "未结束的活动" })), stock),
        el("section", { class: "card c-panel" },
          el("div", { class: "c-panel-head" }, el("h2", { text: "热门 SKU" }), el("small", { class: "muted", text: "按请求速率" })), hot,
          el("div", { class: "c-panel-head c-panel-sub" }, el("h2", { text: "售罄时间" })), soldOut))));

    let index = skuIndex(await allProducts());
    let figures = new Map(); // activity id → admin view (orders, paid, product)
    let lastActivities = 0;

    async function refreshActivities() {
      const r = await api("GET", "/api/admin/activities");
      if (!r.ok) return;
      figures = new Map(r.body.items.map((a) => [a.id, a]));
      lastActivities = Date.now();
      // A SKU we have no name for: its product is new since the cache was filled.
      if (r.body.items.some((a) => a.skus.some((s) => !index.has(s.sku_id)))) {
        forget("products");
        index = skuIndex(await allProducts());
      }
    }

    ctx.onPause = () => { live.dataset.state = "paused"; live.textContent = "已暂停（页面不在前台）"; };
    ctx.every(1000, async () => {
      if (Date.now() - lastActivities > 3000) await refreshActivities();
      const r = await api("GET", "/api/admin/stats");
      if (!ctx.alive()) return;
      if (!r.ok) {
        live.dataset.state = "error";
        live.textContent = errorText(r);
        return;
      }
      const s = r.body;
      live.dataset.state = "live";
      live.textContent = "实时 · " + when(s.now);
      rps.textContent = s.requests_per_sec >= 100 ? num(Math.round(s.requests_per_sec)) : s.requests_per_sec.toFixed(1);
      orders.textContent = num(s.orders_created);
      const rej = Object.entries(s.rejections || {}).sort((a, b) => b[1] - a[1]);
      rejected.textContent = num(rej.reduce((n, [, v]) => n + v, 0));
      const units = s.activities.flatMap((a) => a.skus);
      const sold = units.reduce((n, k) => n + k.sold, 0);
      const total = units.reduce((n, k) => n + k.stock, 0);
      soldUnits.textContent = num(sold);
      soldNote.textContent = total ? `共 ${num(total)} 件库存 · ${Math.round((sold / total) * 100)}%` : "暂无在售活动";
      const peak = Math.max(0, ...s.requests_series);
      chartPeak.textContent = `峰值 ${num(peak)} / 秒`;
      drawChart(chart, s.requests_series);
      drawRejections(rejections, rej);
      drawStock(stock, s.activities, s.sold_out, index, figures);
      drawHot(hot, s.hot_skus, index, s.activities);
      drawSoldOut(soldOut, s.sold_out, index, s.activities);
    });
  }

  /** Requests per second over the last minute as an area chart, drawn by hand. */
  function drawChart(node, series) {
    const width = Math.max(240, Math.round(node.parentNode.clientWidth || 600));
    const height = width < 500 ? 150 : 190;
    const padL = 40, padR = 10, padT = 12, padB = 22;
    const w = width - padL - padR, h = height - padT - padB;
    const values = series.length ? series : [0];
    const peak = Math.max(...values);
    const top = niceCeil(Math.max(peak, 4));
    const x = (i) => padL + (values.length === 1 ? w : (i / (values.length - 1)) * w);
    const y = (v) => padT + h - (v / top) * h;
    node.setAttribute("viewBox", `0 0 ${width} ${height}`);
    node.setAttribute("width", String(width));
    node.setAttribute("height", String(height));
    const parts = [];
    const defs = svg("defs", {}, svg("linearGradient", { id: "c-area", x1: 0, y1: 0, x2: 0, y2: 1 },
      svg("stop", { offset: "0%", "stop-color": "#ff6a00", "stop-opacity": ".35" }),
      svg("stop", { offset: "100%", "stop-color": "#ff6a00", "stop-opacity": "0" })));
    parts.push(defs);
    for (const f of [0, 0.5, 1]) {
      const v = top * f;
      parts.push(svg("line", { class: "c-grid", x1: padL, x2: padL + w, y1: y(v), y2: y(v) }));
      const label = svg("text", { class: "c-axis", x: padL - 6, y: y(v) + 4, "text-anchor": "end" });
      label.textContent = compact(v);
      parts.push(label);
    }
    for (const [i, text] of [[0, "-60s"], [Math.floor((values.length - 1) / 2), "-30s"], [values.length - 1, "现在"]]) {
      const label = svg("text", { class: "c-axis", x: x(i), y: height - 6, "text-anchor": i === 0 ? "start" : i === values.length - 1 ? "end" : "middle" });
      label.textContent = text;
      parts.push(label);
    }
    const line = values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join("");
    parts.push(svg("path", { class: "c-area", d: `${line}L${x(values.length - 1).toFixed(1)},${y(0)}L${x(0).toFixed(1)},${y(0)}Z`, fill: "url(#c-area)" }));
    parts.push(svg("path", { class: "c-line", d: line }));
    const last = values.length - 1;
    parts.push(svg("circle", { class: "c-dot", cx: x(last), cy: y(values[last]), r: 3.5 }));
    // One invisible column per second, so hovering tells the figure.
    const step = values.length > 1 ? w / (values.length - 1) : w;
    values.forEach((v, i) => {
      const hit = svg("rect", { class: "c-hit", x: x(i) - step / 2, y: padT, width: step, height: h });
      const tip = svg("title");
      tip.textContent = `${values.length - 1 - i} 秒前：${num(v)} 次请求`;
      hit.append(tip);
      parts.push(hit);
    });
    node.replaceChildren(...parts);
  }
  function niceCeil(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }
  function compact(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(v % 1e6 ? 1 : 0) + "M";
    if (v >= 1e4) return (v / 1e3).toFixed(v % 1e3 ? 1 : 0) + "k";
    return num(Math.round(v));
  }

  function drawRejections(node, entries) {
    if (!entries.length) { node.replaceChildren(el("p", { class: "c-muted-box", text: "还没有被拒绝的请求" })); return; }
    const max = entries[0][1] || 1;
    node.replaceChildren(...entries.map(([code, n]) => el("div", { class: "c-rej", "data-code": code },
      el("div", { class: "c-rej-head" },
        el("span", {}, el("strong", { text: REJECTIONS[code] || MESSAGES[code] || code }), " ", el("code", { text: code })),
        el("span", { class: "c-num", text: num(n) })),
      el("div", { class: "bar c-bar-muted" }, el("span", { style: `width:${Math.max(2, (n / max) * 100).toFixed(1)}%` })))));
  }

  function drawStock(node, activities, soldOut, index, figures) {
    if (!activities.length) {
      node.replaceChildren(el("p", { class: "c-muted-box" }, "暂无未结束的活动。", el("a", { href: "#/activities/new", text: "新建活动" })));
      return;
    }
    const outAt = new Map(soldOut.map((s) => [`${s.activity_id}:${s.sku_id}`, s.at]));
    node.replaceChildren(...activities.map((a) => {
      const f = figures.get(a.id);
      return el("div", { class: "c-stock-activity", "data-activity-id": a.id },
        el("div", { class: "c-stock-head" },
          el("a", { href: `#/activities/${a.id}`, class: "c-stock-name", text: a.name }), badge(a.state),
          f ? el("small", { class: "muted", text: `订单 ${num(f.figures.orders)} · 已付 ${num(f.figures.paid)}` }) : null),
        a.skus.map((k) => {
          const pct = k.stock ? (k.sold / k.stock) * 100 : 0;
          const at = outAt.get(`${a.id}:${k.sku_id}`);
          const hit = index.get(k.sku_id);
          return el("div", { class: "c-sku-bar", "data-sku-id": k.sku_id },
            el("div", { class: "c-sku-bar-head" },
              el("span", { class: "c-ellipsis", text: hit ? hit.sku.name : `SKU #${k.sku_id}` }),
              el("span", { class: "c-num" }, el("strong", { text: num(k.sold) }), ` / ${num(k.stock)}`,
                el("small", { class: "muted", text: ` · ${pct.toFixed(pct > 0 && pct < 10 ? 1 : 0)}%` }))),
            el("div", { class: "bar c-bar" + (k.remaining === 0 ? " is-out" : "") }, el("span", { style: `width:${Math.min(100, pct).toFixed(2)}%` })),
            k.remaining === 0 ? el("small", { class: "c-out", text: at ? `${when(at)} 售罄` : "已售罄" }) : null);
        }));
    }));
  }

  function activityName(activities, id) {
    const a = activities.find((x) => x.id === id);
    return a ? a.name : `活动 #${id}`;
  }

  function drawHot(node, hot, index, activities) {
    if (!hot.length) { node.replaceChildren(el("p", { class: "c-muted-box", text: "最近一分钟没有下单请求" })); return; }
    node.replaceChildren(el("ol", { class: "c-hot" }, hot.map((h) => el("li", {},
      el("div", { class: "c-hot-name" }, el("span", { class: "c-ellipsis", title: skuLabel(index, h.sku_id), text: skuLabel(index, h.sku_id) }), el("small", { class: "muted c-ellipsis", text: activityName(activities, h.activity_id) })),
      el("div", { class: "c-num c-hot-rate" }, el("strong", { text: h.requests_per_sec >= 100 ? num(Math.round(h.requests_per_sec)) : h.requests_per_sec.toFixed(1) }), el("small", { class: "muted", text: ` /秒 · 1 分钟 ${num(h.requests_last_minute)}` }))))));
  }

  function drawSoldOut(node, soldOut, index, activities) {
    if (!soldOut.length) { node.replaceChildren(el("p", { class: "c-muted-box", text: "还没有售罄的 SKU" })); return; }
    const sorted = [...soldOut].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    node.replaceChildren(el("ul", { class: "c-soldout" }, sorted.map((s) => el("li", {},
      el("span", { class: "c-ellipsis", title: `${skuLabel(index, s.sku_id)} · ${activityName(activities, s.activity_id)}` }, el("span", { text: skuLabel(index, s.sku_id) }), el("small", { class: "muted", text: " · " + activityName(activities, s.activity_id) })),
      el("time", { datetime: s.at, class: "c-num", text: when(s.at) })))));
  }

  // =================================================================================================
  // Activities
  // =================================================================================================
  async function activities(ctx, rest, params) {
    if (rest[0] === "new") return activityForm(ctx, null);
    if (rest[0]) return activityForm(ctx, Number(rest[0]));
    const stateFilter = params.get("state") || "";
    const [r, products] = await Promise.all([
      api("GET", "/api/admin/activities" + (stateFilter ? "?state=" + encodeURIComponent(stateFilter) : "")),
      allProducts(),
    ]);
    if (!ctx.alive()) return;
    if (!r.ok) { main.replaceChildren(failed(r)); return; }
    const productName = new Map((products || []).map((p) => [p.id, p.name]));
    const notice = el("div", {});
    const filters = el("div", { class: "c-chips", role: "tablist" },
      [["", "全部"], ...Object.entries(STATE_LABEL)].map(([k, label]) => el("a", {
        class: "c-chip" + (k === stateFilter ? " active" : ""), href: "#/activities" + (k ? "?state=" + k : ""), text: label,
      })));
    const rows = new Map(); // id → {row cells to refresh}
    const columns = [
      { label: "活动", cls: "c-col-main", cell: (a) => el("div", { class: "c-cell-main" },
        el("a", { href: `#/activities/${a.id}`, class: "c-strong", text: a.name }),
        el("small", { class: "muted", text: `#${a.id} · ${productName.get(a.product_id) || "商品 #" + a.product_id}` })) },
      { label: "状态", cls: "c-head2", cell: (a) => { const n = el("span", { "data-role": "state" }, badge(a.state)); rows.get(a.id).state = n; return n; } },
      { label: "时间", cls: "c-nowrap", cell: (a) => el("div", { class: "c-cell-main" },
        el("span", { text: when(a.starts_at, false) }), el("small", { class: "muted", text: "至 " + when(a.ends_at, false) })) },
      { label: "场次", cell: (a) => el("div", { class: "c-tags" }, a.slots.map((s) => el("span", { class: "c-tag" + (s.enabled ? "" : " off"), text: `${s.start}–${s.end}` }))) },
      { label: "秒杀价", cls: "c-nowrap", cell: (a) => priceRange(a.skus.map((s) => s.seckill_price_cents)) },
      { label: "售出 / 库存 · 订单", cls: "c-progress-cell", cell: (a) => { const n = el("div", {}); rows.get(a.id).progress = n; paintProgress(n, a); return n; } },
      { label: "操作", cls: "c-row-actions", cell: (a) => {
        const toggle = el("button", { class: "btn btn-small btn-ghost", type: "button", "data-testid": "toggle-activity" });
        const paintToggle = (on) => { toggle.textContent = on ? "停用" : "启用"; toggle.dataset.enabled = String(on); };
        paintToggle(a.enabled);
        rows.get(a.id).paintToggle = paintToggle;
        toggle.addEventListener("click", () => busy(toggle, async () => {
          const on = toggle.dataset.enabled === "true";
          const reply = await api("POST", `/api/admin/activities/${a.id}/${on ? "disable" : "enable"}`);
          notice.replaceChildren();
          if (!reply.ok) { notice.append(errorBox(reply, "list-error")); return; }
          toast(on ? "活动已停用，1 秒内在所有实例生效" : "活动已启用");
          refreshRow(reply.body);
        }));
        return el("div", { class: "c-btns" }, el("a", { class: "btn btn-small btn-ghost", href: `#/activities/${a.id}`, "data-testid": "edit-activity", text: "编辑" }), toggle);
      } },
    ];
    const items = r.body.items.slice().sort((a, b) => b.id - a.id);
    for (const a of items) rows.set(a.id, {});
    const refreshRow = (a) => {
      const row = rows.get(a.id);
      if (!row) return;
      row.state && row.state.replaceChildren(badge(a.state));
      row.tr && (row.tr.dataset.state = a.state);
      row.progress && paintProgress(row.progress, a);
      row.paintToggle && row.paintToggle(a.enabled);
    };
    const list = table(columns, items, (a) => ({ "data-testid": "activity-row", "data-id": a.id, "data-state": a.state }),
      stateFilter ? "没有处于该状态的活动" : "还没有秒杀活动，点右上角新建");
    for (const tr of $$("tr[data-id]", list)) rows.get(Number(tr.dataset.id)).tr = tr;
    main.replaceChildren(page("秒杀活动",
      el("a", { class: "btn btn-primary", href: "#/activities/new", "data-testid": "new-activity", role: "button", text: "+ 新建活动" }),
      filters, notice, list));
    // Live figures: refreshed in place, so buttons stay the same elements.
    let first = true;
    ctx.every(4000, async () => {
      if (first) { first = false; return; }
      const again = await api("GET", "/api/admin/activities" + (stateFilter ? "?state=" + encodeURIComponent(stateFilter) : ""));
      if (ctx.alive() && again.ok) again.body.items.forEach(refreshRow);
    });
  }

  function priceRange(cents) {
    if (!cents.length) return "—";
    const lo = Math.min(...cents), hi = Math.max(...cents);
    return el("span", { class: "c-price", text: lo === hi ? money(lo) : `${money(lo)} – ${money(hi)}` });
  }
  function paintProgress(node, a) {
    const stock = a.skus.reduce((n, s) => n + s.stock, 0);
    const pct = stock ? (a.figures.sold / stock) * 100 : 0;
    node.replaceChildren(
      el("div", { class: "c-progress-text" }, el("span", { class: "c-num" }, el("strong", { text: num(a.figures.sold) }), ` / ${num(stock)}`), el("small", { class: "muted", text: `剩 ${num(a.figures.remaining)}` })),
      el("div", { class: "bar" + (a.figures.remaining === 0 && stock ? " is-out" : "") }, el("span", { style: `width:${Math.min(100, pct).toFixed(2)}%` })),
      el("small", { class: "c-orders muted" }, "订单 ", el("strong", { text: num(a.figures.orders) }), " · 已付 ", el("strong", { class: "c-paid", text: num(a.figures.paid) })));
  }

  async function activityForm(ctx, id) {
    const editing = id !== null;
    const [current, products, slotList] = await Promise.all([
      editing ? api("GET", `/api/admin/activities/${id}`) : Promise.resolve(null),
      allProducts(),
      allSlots(),
    ]);
    if (!ctx.alive()) return;
    if (editing && !current.ok) { main.replaceChildren(failed(current)); return; }
    const a = editing ? current.body : null;
    const field = (name, label, input, hint) => el("div", { class: "field", "data-field": name }, el("label", { for: "f-" + name, text: label }), input, hint ? el("small", { class: "c-hint", text: hint }) : null);

    const name = el("input", { id: "f-name", name: "name", value: a ? a.name : "", autocomplete: "off", placeholder: "例如：Mate 70 Pro 限时秒杀" });
    const product = el("select", { id: "f-product_id", name: "product_id" },
      el("option", { value: "", text: "— 选择商品 —" }),
      (products || []).map((p) => el("option", { value: p.id, text: `${p.name}（#${p.id}）` })));
    if (a) product.value = String(a.product_id);
    const startsAt = el("input", { id: "f-starts_at", name: "starts_at", type: "datetime-local", step: "1", value: a ? localInput(a.starts_at) : "" });
    const endsAt = el("input", { id: "f-ends_at", name: "ends_at", type: "datetime-local", step: "1", value: a ? localInput(a.ends_at) : "" });
    const utcHint = (input) => {
      const hint = el("small", { class: "c-hint c-utc" });
      const paint = () => { const v = utcOf(input.value); hint.textContent = v ? "UTC " + v : `按浏览器时区（${browserZone}）填写`; };
      input.addEventListener("input", paint);
      input.addEventListener("change", paint);
      paint();
      return hint;
    };
    const chosenSlots = new Set(a ? a.time_slot_ids : []);
    const slotBoxes = el("div", { class: "c-checks" }, (slotList || []).map((s) => el("label", { class: "c-check" + (s.enabled ? "" : " off") },
      el("input", { type: "checkbox", name: "time_slot_ids", value: s.id, checked: chosenSlots.has(s.id) }),
      el("span", {}, el("strong", { text: `${s.start}–${s.end}` }), " ", el("small", { class: "muted", text: s.name + (s.enabled ? "" : "（已停用）") })))));
    if (!(slotList || []).length) slotBoxes.append(el("p", { class: "muted" }, "还没有场次，", el("a", { href: "#/slots", text: "先去新建场次" })));

    const skuBox = el("div", { class: "c-sku-rows" });
    const skuHead = el("div", { class: "c-sku-row c-sku-row-head", "aria-hidden": "true" },
      el("span", { text: "参与" }), el("span", { text: "SKU" }), el("span", { text: "秒杀价（元）" }), el("span", { text: "秒杀库存" }));
    const saleOf = new Map(a ? a.skus.map((s) => [s.sku_id, s]) : []);
    function paintSkus() {
      const p = (products || []).find((x) => String(x.id) === product.value);
      if (!p) { skuBox.replaceChildren(el("p", { class: "c-muted-box", text: "先选择商品，再设置各 SKU 的秒杀价和库存" })); return; }
      skuBox.replaceChildren(skuHead, ...p.skus.map((s) => {
        const sale = saleOf.get(s.id);
        const include = el("input", { type: "checkbox", name: "include", checked: Boolean(sale), "aria-label": "参与秒杀：" + s.name });
        const price = el("input", { name: "seckill_price", inputmode: "decimal", autocomplete: "off", placeholder: yuanValue(s.price_cents), value: sale ? yuanValue(sale.seckill_price_cents) : "" });
        const stockIn = el("input", { name: "stock", type: "number", min: "1", step: "1", inputmode: "numeric", autocomplete: "off", placeholder: "件数", value: sale ? sale.stock : "" });
        const row = el("div", { class: "c-sku-row" + (sale ? " on" : ""), "data-testid": "activity-sku", "data-sku-id": s.id },
          el("label", { class: "c-sku-include" }, include),
          el("div", { class: "c-sku-info", "data-field": "sku_id" },
            el("strong", { text: s.name }),
            el("small", { class: "muted", text: [s.spec, "原价 " + money(s.price_cents), "商品库存 " + num(s.stock)].filter(Boolean).join(" · ") }),
            sale ? el("small", { class: "c-sold", text: `已售 ${num(sale.sold)} · 剩 ${num(sale.remaining)}` }) : null),
          el("div", { class: "c-sku-input", "data-field": "seckill_price_cents" }, el("span", { class: "c-sku-label", text: "秒杀价（元）" }), el("div", { class: "c-money" }, el("span", { text: "¥" }), price)),
          el("div", { class: "c-sku-input", "data-field": "stock" }, el("span", { class: "c-sku-label", text: "秒杀库存" }), stockIn));
        include.addEventListener("change", () => row.classList.toggle("on", include.checked));
        return row;
      }));
    }
    product.addEventListener("change", paintSkus);
    paintSkus();

    const singleLimit = el("input", { id: "f-single_limit", name: "single_limit", type: "number", min: "1", step: "1", inputmode: "numeric", placeholder: "例如 1", value: a ? a.single_limit : "" });
    const totalLimit = el("input", { id: "f-total_limit", name: "total_limit", type: "number", min: "1", step: "1", inputmode: "numeric", placeholder: "例如 2", value: a ? a.total_limit : "" });
    const minLevel = el("input", { id: "f-min_level", name: "min_level", type: "number", min: "0", step: "1", inputmode: "numeric", placeholder: "0（不限）", value: a ? a.min_level : "" });
    const payTimeout = el("input", { id: "f-pay_timeout_secs", name: "pay_timeout_secs", type: "number", min: "1", step: "1", inputmode: "numeric", placeholder: "900", value: a ? a.pay_timeout_secs : "" });
    const reservation = el("input", { id: "f-reservation_required", name: "reservation_required", type: "checkbox", checked: a ? a.reservation_required : false });
    const enabled = el("input", { id: "f-enabled", name: "enabled", type: "checkbox", checked: a ? a.enabled : true });
    const save = el("button", { class: "btn btn-primary", type: "submit", "data-testid": "save-activity", text: editing ? "保存修改" : "创建活动" });

    const form = el("form", { class: "c-form", "data-testid": "activity-form", novalidate: true },
      el("div", { "data-role": "form-error-slot" }),
      a ? el("div", { class: "card c-section c-figures" },
        el("div", {}, el("small", { class: "muted", text: "状态" }), badge(a.state)),
        el("div", {}, el("small", { class: "muted", text: "已售" }), el("strong", { text: num(a.figures.sold) })),
        el("div", {}, el("small", { class: "muted", text: "剩余" }), el("strong", { text: num(a.figures.remaining) })),
        el("div", {}, el("small", { class: "muted", text: "订单" }), el("strong", { text: num(a.figures.orders) })),
        el("div", {}, el("small", { class: "muted", text: "已付" }), el("strong", { text: num(a.figures.paid) }))) : null,
      el("section", { class: "card c-section" },
        el("h2", { text: "基本信息" }),
        el("div", { class: "c-grid2" }, field("name", "活动名称", name), field("product_id", "商品", product))),
      el("section", { class: "card c-section" },
        el("h2", { text: "时间" }),
        el("div", { class: "c-grid2" },
          field("starts_at", "开始时间", startsAt, null), field("ends_at", "结束时间", endsAt, null)),
        el("div", { class: "field", "data-field": "time_slot_ids" }, el("span", { class: "c-label", text: `场次（每天在这些时段开抢，按 ${shopZone} 时间）` }), slotBoxes)),
      el("section", { class: "card c-section", "data-field": "skus" },
        el("h2", { text: "参与秒杀的 SKU" }),
        el("p", { class: "c-hint", text: "勾选参与的 SKU，填写秒杀价（元）和秒杀库存。秒杀价不高于原价，库存不超过商品库存。" }),
        skuBox),
      el("section", { class: "card c-section" },
        el("h2", { text: "规则" }),
        el("div", { class: "c-grid4" },
          field("single_limit", "每单限购（件）", singleLimit),
          field("total_limit", "每人限购（件）", totalLimit),
          field("min_level", "最低会员等级", minLevel),
          field("pay_timeout_secs", "支付时限（秒）", payTimeout)),
        el("div", { class: "c-switches" },
          el("label", { class: "c-switch", "data-field": "reservation_required" }, reservation, el("span", { text: "仅限预约用户购买" })),
          el("label", { class: "c-switch", "data-field": "enabled" }, enabled, el("span", { text: "启用（停用的活动不会开售）" })))),
      el("div", { class: "c-form-foot" },
        el("a", { class: "btn btn-ghost", href: "#/activities", text: "取消" }), save));
    // The UTC echo sits under each time input.
    $("[data-field=starts_at]", form).append(utcHint(startsAt));
    $("[data-field=ends_at]", form).append(utcHint(endsAt));

    let sentRows = []; // the SKU rows in the order of the request's `skus`, for skus[i].* errors
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      clearFormErrors(form);
      busy(save, async () => {
        save.textContent = "保存中…";
        const rowsOn = $$("[data-testid=activity-sku]", form).filter((row) => $("input[name=include]", row).checked);
        sentRows = rowsOn;
        const body = {
          name: name.value,
          product_id: intOf(product.value, 0),
          starts_at: utcOf(startsAt.value),
          ends_at: utcOf(endsAt.value),
          time_slot_ids: $$("input[name=time_slot_ids]:checked", form).map((c) => Number(c.value)),
          skus: rowsOn.map((row) => ({
            sku_id: Number(row.dataset.skuId),
            seckill_price_cents: centsOf($("input[name=seckill_price]", row).value),
            stock: intOf($("input[name=stock]", row).value),
          })),
          single_limit: intOf(singleLimit.value),
          total_limit: intOf(totalLimit.value),
          reservation_required: reservation.checked,
          enabled: enabled.checked,
        };
        const level = intOf(minLevel.value, null);
        if (level !== null) body.min_level = level;
        const timeout = intOf(payTimeout.value, null);
        if (timeout !== null) body.pay_timeout_secs = timeout;
        const r = editing ? await api("PUT", `/api/admin/activities/${id}`, body) : await api("POST", "/api/admin/activities", body);
        if (!ctx.alive()) return;
        if (!r.ok) {
          showFormErrors(form, r, (key) => {
            const m = /^skus\[(\d+)\]\.(\w+)$/.exec(key);
            if (!m) return null;
            const row = sentRows[Number(m[1])];
            if (!row) return null;
            return $(`[data-field="${m[2]}"]`, row) || row;
          });
          return;
        }
        toast(editing ? "活动已保存" : `活动 #${r.body.id} 已创建`);
        go("#/activities");
      });
    });

    main.replaceChildren(page(editing ? `编辑活动 #${id}` : "新建秒杀活动",
      el("a", { class: "btn btn-ghost", href: "#/activities", text: "← 返回列表" }), form));
  }

  // =================================================================================================
  // Orders
  // =================================================================================================
  async function orders(ctx, rest, params) {
    const filter = {
      status: params.get("status") || "",
      activity_id: params.get("activity_id") || "",
      user_id: params.get("user_id") || "",
      page: Math.max(1, Number(params.get("page")) || 1),
      per_page: Number(params.get("per_page")) || 20,
    };
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== "" && v !== null) query.set(k, String(v));
    const [r, acts, products] = await Promise.all([
      api("GET", "/api/admin/orders?" + query.toString()),
      api("GET", "/api/admin/activities"),
      allProducts(),
    ]);
    if (!ctx.alive()) return;
    const index = skuIndex(products);
    const activityList = acts.ok ? acts.body.items : [];

    const status = el("select", { name: "status", "aria-label": "状态" }, el("option", { value: "", text: "全部状态" }),
      Object.entries(ORDER_STATUS).map(([k, v]) => el("option", { value: k, text: v })));
    status.value = filter.status;
    const activity = el("select", { name: "activity_id", "aria-label": "活动" }, el("option", { value: "", text: "全部活动" }),
      activityList.map((a) => el("option", { value: a.id, text: `#${a.id} ${a.name}` })));
    activity.value = filter.activity_id;
    const user = el("input", { name: "user_id", inputmode: "numeric", placeholder: "用户 ID", value: filter.user_id, "aria-label": "用户 ID" });
    const perPage = el("select", { name: "per_page", "aria-label": "每页" }, [20, 50, 100, 200].map((n) => el("option", { value: n, text: `每页 ${n}` })));
    perPage.value = String(filter.per_page);
    const apply = (over = {}) => {
      const q = new URLSearchParams();
      const next = { status: status.value, activity_id: activity.value, user_id: user.value.trim(), per_page: perPage.value, page: 1, ...over };
      for (const [k, v] of Object.entries(next)) if (v !== "" && !(k === "page" && Number(v) === 1) && !(k === "per_page" && Number(v) === 20)) q.set(k, String(v));
      go("#/orders" + (q.toString() ? "?" + q.toString() : ""));
    };
    const filters = el("form", { class: "card c-filters", novalidate: true }, status, activity, user, perPage,
      el("button", { class: "btn btn-primary btn-small", type: "submit", text: "筛选" }),
      el("a", { class: "btn btn-ghost btn-small", href: "#/orders", text: "重置" }));
    filters.addEventListener("submit", (e) => { e.preventDefault(); apply(); });
    status.addEventListener("change", () => apply());
    activity.addEventListener("change", () => apply());
    perPage.addEventListener("change", () => apply());

    if (!r.ok) { main.replaceChildren(page("订单", null, filters, errorBox(r, "list-error"))); return; }
    const { items, total, page: current, per_page } = r.body;
    const pages = Math.max(1, Math.ceil(total / per_page));
    const actName = (idOf) => { const a = activityList.find((x) => x.id === idOf); return a ? a.name : `活动 #${idOf}`; };

    const actionsOf = (o) => {
      const box = el("div", { class: "c-btns" });
      if (o.status === "paid") {
        const ship = el("button", { class: "btn btn-small btn-primary", type: "button", "data-testid": "ship", text: "发货" });
        ship.addEventListener("click", async () => {
          const done = await dialog({
            title: `订单 #${o.id} 发货`, text: `${skuLabel(index, o.sku_id)} × ${o.quantity} · ${o.address.contact} ${o.address.phone}`,
            fields: [{ name: "carrier", label: "快递公司", placeholder: "例如 顺丰速运" }, { name: "tracking_no", label: "运单号", placeholder: "例如 SF1234567890" }],
            confirm: "确认发货",
            action: (v) => api("POST", `/api/admin/orders/${o.id}/ship`, v),
          });
          if (done) { toast(`订单 #${o.id} 已发货`); replaceRow(done.body); }
        });
        box.append(ship);
      }
      if (o.status === "pending_payment" || o.status === "paid") {
        const cancel = el("button", { class: "btn btn-small btn-ghost c-danger-text", type: "button", "data-testid": "cancel", text: "取消订单" });
        cancel.addEventListener("click", async () => {
          const done = await dialog({
            title: `取消订单 #${o.id}？`,
            text: (o.status === "paid" ? `已付款 ${money(o.amount_cents)}，取消后会登记退款。` : "订单尚未付款。") + "库存会立即回到秒杀池。",
            confirm: "确认取消", danger: true,
            action: () => api("POST", `/api/admin/orders/${o.id}/cancel`),
          });
          if (done) { toast(`订单 #${o.id} 已取消`); replaceRow(done.body); }
        });
        box.append(cancel);
      }
      return box.childNodes.length ? box : null;
    };
    const columns = [
      { label: "订单", cell: (o) => el("div", { class: "c-cell-main" }, el("strong", { text: `#${o.id}` }), el("small", { class: "muted", text: when(o.created_at) })) },
      { label: "商品", cell: (o) => el("div", { class: "c-cell-main" }, el("span", { text: skuLabel(index, o.sku_id) }), el("small", { class: "muted", text: actName(o.activity_id) })) },
      { label: "数量", cls: "c-num", cell: (o) => `× ${o.quantity}` },
      { label: "金额", cls: "c-num c-nowrap", cell: (o) => el("span", { class: "c-price", text: money(o.amount_cents) }) },
      { label: "用户", cell: (o) => el("div", { class: "c-cell-main" }, el("a", { href: `#/orders?user_id=${o.user_id}`, text: `#${o.user_id}` }), el("small", { class: "muted", text: `${o.address.contact} ${o.address.phone}` })) },
      { label: "状态", cls: "c-head2", cell: (o) => el("div", { class: "c-cell-main" },
        el("span", { class: "status " + o.status, text: ORDER_STATUS[o.status] || o.status }),
        el("small", { class: "muted", text: statusNote(o) })) },
      { label: "操作", cls: "c-row-actions", cell: actionsOf },
    ];
    const rowAttrs = (o) => ({ "data-testid": "admin-order-row", "data-id": o.id, "data-status": o.status });
    const list = table(columns, items, rowAttrs, "没有符合条件的订单");
    function replaceRow(o) {
      const old = $(`tr[data-testid=admin-order-row][data-id="${o.id}"]`, list);
      if (!old) return;
      const fresh = $("tbody tr", table(columns, [o], rowAttrs));
      old.replaceWith(fresh);
      fresh.classList.add("c-flash");
    }
    const prev = el("button", { class: "btn btn-ghost btn-small", type: "button", disabled: current <= 1, "data-testid": "prev-page", text: "‹ 上一页" });
    const next = el("button", { class: "btn btn-ghost btn-small", type: "button", disabled: current >= pages, "data-testid": "next-page", text: "下一页 ›" });
    prev.addEventListener("click", () => apply({ page: current - 1 }));
    next.addEventListener("click", () => apply({ page: current + 1 }));
    main.replaceChildren(page("订单", el("span", { class: "muted", text: `共 ${num(total)} 单` }),
      filters, list,
      el("div", { class: "c-pager" }, prev, el("span", { class: "muted", text: `第 ${current} / ${pages} 页` }), next)));
  }

  function statusNote(o) {
    if (o.status === "pending_payment") return "付款截止 " + when(o.pay_deadline);
    if (o.status === "paid") return "付款于 " + when(o.paid_at);
    if (o.status === "shipped") return `${o.carrier || ""} ${o.tracking_no || ""}`.trim() || "发货于 " + when(o.shipped_at);
    if (o.status === "cancelled") {
      // Paid, then cancelled by an operator: the money goes back (the refund is noted).
      const refund = o.paid_at ? ` · 已付款 ${money(o.amount_cents)}，应退款` : "";
      return (CANCEL_REASON[o.cancel_reason] || o.cancel_reason || "") + refund + (o.closed_at ? " · " + when(o.closed_at) : "");
    }
    if (o.status === "completed") return "完成于 " + when(o.closed_at);
    return "";
  }

  // =================================================================================================
  // Products
  // =================================================================================================
  async function products(ctx, rest, params) {
    if (rest[0] === "new") return productForm(ctx, null);
    if (rest[0]) return productForm(ctx, Number(rest[0]));
    const q = params.get("q") || "";
    const pageNo = Math.max(1, Number(params.get("page")) || 1);
    const query = new URLSearchParams({ page: String(pageNo), per_page: "20" });
    if (q) query.set("q", q);
    const [r, brandList, categoryList] = await Promise.all([api("GET", "/api/admin/products?" + query), allBrands(), allCategories()]);
    if (!ctx.alive()) return;
    if (!r.ok) { main.replaceChildren(failed(r)); return; }
    const brandName = new Map((brandList || []).map((b) => [b.id, b.name]));
    const categoryName = new Map((categoryList || []).map((c) => [c.id, c.name]));
    const search = el("input", { type: "search", name: "q", placeholder: "按名称搜索商品", value: q, "aria-label": "搜索商品" });
    const searchForm = el("form", { class: "c-search", role: "search" }, search, el("button", { class: "btn btn-ghost btn-small", type: "submit", text: "搜索" }));
    searchForm.addEventListener("submit", (e) => { e.preventDefault(); go("#/products" + (search.value.trim() ? "?q=" + encodeURIComponent(search.value.trim()) : "")); });
    const columns = [
      { label: "商品", cell: (p) => el("div", { class: "c-product" }, picture(p.image_urls[0], p.name),
        el("div", { class: "c-cell-main" }, el("a", { href: `#/products/${p.id}`, class: "c-strong", text: p.name }),
          el("small", { class: "muted", text: `#${p.id}` + (p.skus.some((s) => s.seckill) ? " · 秒杀中" : "") }))) },
      { label: "品牌", cell: (p) => (p.brand_id ? brandName.get(p.brand_id) || `#${p.brand_id}` : null) },
      { label: "分类", cell: (p) => (p.category_id ? categoryName.get(p.category_id) || `#${p.category_id}` : null) },
      { label: "SKU", cell: (p) => el("ul", { class: "c-sku-list" }, p.skus.map((s) => el("li", {},
        el("span", { class: "c-ellipsis", text: s.name }), el("span", { class: "c-num muted", text: `${money(s.price_cents)} · 库存 ${num(s.stock)}` }),
        s.seckill ? el("span", { class: "badge running", text: "秒杀" }) : null))) },
      { label: "操作", cls: "c-row-actions", cell: (p) => el("a", { class: "btn btn-small btn-ghost", href: `#/products/${p.id}`, "data-testid": "edit-product", text: "编辑" }) },
    ];
    const { items, total, page: current, per_page } = r.body;
    const pages = Math.max(1, Math.ceil(total / per_page));
    const link = (n) => "#/products?" + new URLSearchParams({ ...(q ? { q } : {}), page: String(n) });
    main.replaceChildren(page("商品",
      el("a", { class: "btn btn-primary", href: "#/products/new", "data-testid": "new-product", role: "button", text: "+ 新建商品" }),
      searchForm,
      table(columns, items, (p) => ({ "data-testid": "product-row", "data-id": p.id }), q ? "没有匹配的商品" : "还没有商品"),
      el("div", { class: "c-pager" },
        el("a", { class: "btn btn-ghost btn-small" + (current <= 1 ? " is-disabled" : ""), href: current <= 1 ? null : link(current - 1), text: "‹ 上一页" }),
        el("span", { class: "muted", text: `第 ${current} / ${pages} 页 · 共 ${num(total)} 个` }),
        el("a", { class: "btn btn-ghost btn-small" + (current >= pages ? " is-disabled" : ""), href: current >= pages ? null : link(current + 1), text: "下一页 ›" }))));
  }

  async function productForm(ctx, id) {
    const editing = id !== null;
    const [current, brandList, categoryList] = await Promise.all([
      editing ? api("GET", `/api/admin/products/${id}`) : Promise.resolve(null), allBrands(), allCategories()]);
    if (!ctx.alive()) return;
    if (editing && !current.ok) { main.replaceChildren(failed(current)); return; }
    const p = editing ? current.body : null;
    const field = (key, label, input) => el("div", { class: "field", "data-field": key }, el("label", { for: "p-" + key, text: label }), input);
    const name = el("input", { id: "p-name", name: "name", value: p ? p.name : "", autocomplete: "off" });
    const brand = el("select", { id: "p-brand_id", name: "brand_id" }, el("option", { value: "", text: "— 无 —" }),
      (brandList || []).map((b) => el("option", { value: b.id, text: b.name })));
    brand.value = p && p.brand_id ? String(p.brand_id) : "";
    const category = el("select", { id: "p-category_id", name: "category_id" }, el("option", { value: "", text: "— 无 —" }),
      categoryTree(categoryList || []).map((c) => el("option", { value: c.id, text: "　".repeat(c.depth) + c.name })));
    category.value = p && p.category_id ? String(p.category_id) : "";
    const description = el("textarea", { id: "p-description", name: "description", rows: "4" });
    description.value = p ? p.description : "";
    const images = el("textarea", { id: "p-image_urls", name: "image_urls", rows: "3", placeholder: "每行一个图片地址：https://… 或 /static/…", spellcheck: "false" });
    images.value = p ? p.image_urls.join("\n") : "";
    const previews = el("div", { class: "c-previews" });
    const imageList = () => images.value.split("\n").map((s) => s.trim()).filter(Boolean);
    const paintPreviews = () => previews.replaceChildren(...imageList().filter((u) => /^(https?:\/\/|\/(?!\/))/.test(u)).map((u) => el("img", { src: u, alt: "", loading: "lazy" })));
    // Repaint while typing, never on blur: a layout shift between mousedown and mouseup would
    // swallow the click on whatever button the operator was reaching for.
    images.addEventListener("input", paintPreviews);
    paintPreviews();

    const skuRows = el("div", { class: "c-psku-rows" });
    const addSku = (s) => {
      const row = el("div", { class: "c-psku-row", "data-testid": "product-sku", "data-sku-id": s && s.id ? s.id : null },
        el("div", { class: "field", "data-field": "name" }, el("label", { text: "名称" }), el("input", { name: "sku_name", value: s ? s.name : "", placeholder: "例如 曜石黑 12+256G" })),
        el("div", { class: "field", "data-field": "spec" }, el("label", { text: "规格" }), el("input", { name: "spec", value: s ? s.spec : "", placeholder: "例如 black / 12GB / 256GB" })),
        el("div", { class: "field", "data-field": "price_cents" }, el("label", { text: "价格（元）" }), el("div", { class: "c-money" }, el("span", { text: "¥" }), el("input", { name: "price", inputmode: "decimal", value: s ? yuanValue(s.price_cents) : "", placeholder: "0.00" }))),
        el("div", { class: "field", "data-field": "stock" }, el("label", { text: "库存" }), el("input", { name: "stock", type: "number", min: "0", step: "1", value: s ? s.stock : "", placeholder: "0" })),
        el("button", { class: "c-icon-btn", type: "button", title: "删除此 SKU", "aria-label": "删除此 SKU", text: "×", onclick: () => row.remove() }),
        s && s.seckill ? el("small", { class: "c-psku-note", text: "该 SKU 正在秒杀中" }) : null);
      skuRows.append(row);
    };
    (p ? p.skus : [null]).forEach(addSku);
    const save = el("button", { class: "btn btn-primary", type: "submit", "data-testid": "save-product", text: editing ? "保存修改" : "创建商品" });
    const form = el("form", { class: "c-form", "data-testid": "product-form", novalidate: true },
      el("div", { "data-role": "form-error-slot" }),
      el("section", { class: "card c-section" }, el("h2", { text: "基本信息" }),
        field("name", "商品名称", name),
        el("div", { class: "c-grid2" }, field("brand_id", "品牌", brand), field("category_id", "分类", category)),
        field("description", "描述", description),
        el("div", { class: "field", "data-field": "image_urls" }, el("label", { for: "p-image_urls", text: "图片地址" }), images, previews)),
      el("section", { class: "card c-section", "data-field": "skus" }, el("h2", { text: "SKU" }),
        el("p", { class: "c-hint", text: "删掉的 SKU 会从商品中移除；价格按元填写。" }),
        skuRows,
        el("button", { class: "btn btn-ghost btn-small", type: "button", text: "+ 添加 SKU", onclick: () => addSku(null) })),
      el("div", { class: "c-form-foot" }, el("a", { class: "btn btn-ghost", href: "#/products", text: "取消" }), save));
    let sent = [];
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      clearFormErrors(form);
      busy(save, async () => {
        save.textContent = "保存中…";
        sent = $$(".c-psku-row", skuRows);
        const body = {
          name: name.value,
          brand_id: brand.value ? Number(brand.value) : null,
          category_id: category.value ? Number(category.value) : null,
          description: description.value,
          image_urls: imageList(),
          skus: sent.map((row) => {
            const sku = {
              name: $("input[name=sku_name]", row).value,
              spec: $("input[name=spec]", row).value,
              price_cents: centsOf($("input[name=price]", row).value),
              stock: intOf($("input[name=stock]", row).value),
            };
            if (row.dataset.skuId) sku.id = Number(row.dataset.skuId);
            return sku;
          }),
        };
        const r = editing ? await api("PUT", `/api/admin/products/${id}`, body) : await api("POST", "/api/admin/products", body);
        if (!ctx.alive()) return;
        if (!r.ok) {
          showFormErrors(form, r, (key) => {
            const m = /^skus\[(\d+)\]\.(\w+)$/.exec(key);
            if (m && sent[Number(m[1])]) return $(`[data-field="${m[2]}"]`, sent[Number(m[1])]) || sent[Number(m[1])];
            if (/^image_urls\[\d+\]$/.test(key)) return $("[data-field=image_urls]", form);
            return null;
          });
          return;
        }
        forget("products");
        toast(editing ? "商品已保存" : `商品 #${r.body.id} 已创建`);
        go("#/products");
      });
    });
    main.replaceChildren(page(editing ? `编辑商品 #${id}` : "新建商品", el("a", { class: "btn btn-ghost", href: "#/products", text: "← 返回列表" }), form));
  }

  // =================================================================================================
  // Brands, categories, time slots: a list beside a small form (create, or edit the picked row).
  // =================================================================================================
  /**
   * A list-and-form page. `fields`: [{key, label, input() → element, read(el) → value, fill(el, item)}];
   * `save(body, item)` answers the API reply; `columns` for the list.
   */
  function listAndForm(ctx, { title, items, columns, kind, fields, save, intro, rowExtra }) {
    const formTitle = el("h2", {});
    const inputs = fields.map((f) => f.input());
    const submit = el("button", { class: "btn btn-primary", type: "submit", "data-testid": "save-" + kind });
    const reset = el("button", { class: "btn btn-ghost", type: "button", text: "新建" });
    const form = el("form", { class: "card c-section c-side-form", "data-testid": kind + "-form", novalidate: true },
      formTitle, el("div", { "data-role": "form-error-slot" }),
      fields.map((f, i) => f.bare ? el("div", { "data-field": f.key }, inputs[i]) : el("div", { class: "field", "data-field": f.key }, el("label", { for: inputs[i].id, text: f.label }), inputs[i], f.hint ? el("small", { class: "c-hint", text: f.hint }) : null)),
      el("div", { class: "c-form-foot" }, reset, submit));
    let editing = null;
    const fill = (item) => {
      editing = item;
      clearFormErrors(form);
      fields.forEach((f, i) => f.fill(inputs[i], item));
      formTitle.textContent = item ? `编辑 #${item.id}` : "新建";
      submit.textContent = item ? "保存" : "创建";
      reset.hidden = !item;
      form.dataset.editing = item ? String(item.id) : "";
      $$("tr.is-editing", main).forEach((tr) => tr.classList.remove("is-editing"));
      if (item) {
        const tr = $(`tr[data-id="${item.id}"]`, main);
        tr && tr.classList.add("is-editing");
        if (window.matchMedia("(max-width: 899px)").matches) form.scrollIntoView({ block: "start" });
        inputs[0].focus();
      }
    };
    reset.addEventListener("click", () => fill(null));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      clearFormErrors(form);
      busy(submit, async () => {
        const body = Object.fromEntries(fields.map((f, i) => [f.key, f.read(inputs[i])]));
        const r = await save(body, editing);
        if (!ctx.alive()) return;
        if (!r.ok) { showFormErrors(form, r); return; }
        toast(editing ? "已保存" : "已创建");
        route();
      });
    });
    const withEdit = [...columns, { label: "操作", cls: "c-row-actions", cell: (item) => el("div", { class: "c-btns" },
      el("button", { class: "btn btn-small btn-ghost", type: "button", "data-testid": "edit-" + kind, text: "编辑", onclick: () => fill(item) }),
      rowExtra ? rowExtra(item) : null) }];
    main.replaceChildren(page(title, null,
      intro ? el("p", { class: "c-intro muted", text: intro }) : null,
      el("div", { class: "c-split" },
        el("div", {}, el("div", { "data-role": "list-notice" }), table(withEdit, items, (item) => ({ "data-testid": kind + "-row", "data-id": item.id }))),
        form)));
    fill(null);
  }

  const textField = (key, label, opts = {}) => ({
    key, label, hint: opts.hint,
    input: () => el("input", { id: "x-" + key, name: key, autocomplete: "off", placeholder: opts.placeholder || "", inputmode: opts.inputmode || null }),
    read: (i) => (opts.read ? opts.read(i.value) : i.value),
    fill: (i, item) => { i.value = item && item[key] !== undefined && item[key] !== null ? String(item[key]) : ""; },
  });
  const sortField = () => textField("sort", "排序", { placeholder: "0", inputmode: "numeric", hint: "越小越靠前", read: (v) => intOf(v, 0) });

  async function brands(ctx) {
    forget("brands");
    const list = await allBrands();
    if (!ctx.alive()) return;
    if (!list) { main.replaceChildren(failed({ status: 0, body: null, headers: new Headers() })); return; }
    listAndForm(ctx, {
      title: "品牌", kind: "brand", items: list,
      intro: "品牌用于商品归类和品牌索引（首字母）。接口暂不支持删除品牌。",
      columns: [
        { label: "品牌", cell: (b) => el("div", { class: "c-product" }, picture(b.image_url, b.name), el("div", { class: "c-cell-main" }, el("strong", { text: b.name }), el("small", { class: "muted", text: `#${b.id}` }))) },
        { label: "首字母", cell: (b) => b.letter || null },
        { label: "排序", cls: "c-num", cell: (b) => String(b.sort) },
      ],
      fields: [
        textField("name", "名称", { placeholder: "例如 华为 HUAWEI" }),
        textField("image_url", "Logo 地址", { placeholder: "https://… 或 /static/…（可选）", read: (v) => (v.trim() ? v.trim() : null) }),
        textField("letter", "首字母", { placeholder: "留空则取名称的首个英文字母", read: (v) => (v.trim() ? v.trim() : null) }),
        sortField(),
      ],
      save: (body, item) => { forget("brands"); return item ? api("PUT", `/api/admin/brands/${item.id}`, body) : api("POST", "/api/admin/brands", body); },
    });
  }

  async function categories(ctx) {
    forget("categories");
    const list = await allCategories();
    if (!ctx.alive()) return;
    if (!list) { main.replaceChildren(failed({ status: 0, body: null, headers: new Headers() })); return; }
    const tree = categoryTree(list);
    const nameOf = new Map(list.map((c) => [c.id, c.name]));
    const parentField = {
      key: "parent_id", label: "上级分类",
      input: () => el("select", { id: "x-parent_id", name: "parent_id" }, el("option", { value: "", text: "— 顶级分类 —" }),
        tree.map((c) => el("option", { value: c.id, text: "　".repeat(c.depth) + c.name }))),
      read: (i) => (i.value ? Number(i.value) : null),
      fill: (i, item) => { i.value = item && item.parent_id ? String(item.parent_id) : ""; },
    };
    listAndForm(ctx, {
      title: "分类", kind: "category", items: tree,
      intro: "分类可以有上级，组成一棵树。接口暂不支持删除分类。",
      columns: [
        { label: "分类", cell: (c) => el("div", { class: "c-cell-main", style: `padding-left:${c.depth * 1.25}em` }, el("strong", { text: (c.depth ? "└ " : "") + c.name }), el("small", { class: "muted", text: `#${c.id}` })) },
        { label: "上级", cell: (c) => (c.parent_id ? nameOf.get(c.parent_id) || `#${c.parent_id}` : null) },
        { label: "排序", cls: "c-num", cell: (c) => String(c.sort) },
      ],
      fields: [textField("name", "名称", { placeholder: "例如 手机 Phones" }), parentField, sortField()],
      save: (body, item) => { forget("categories"); return item ? api("PUT", `/api/admin/categories/${item.id}`, body) : api("POST", "/api/admin/categories", body); },
    });
  }

  async function slots(ctx) {
    forget("slots");
    const list = await allSlots();
    if (!ctx.alive()) return;
    if (!list) { main.replaceChildren(failed({ status: 0, body: null, headers: new Headers() })); return; }
    const put = (s, over) => api("PUT", `/api/admin/time-slots/${s.id}`, { name: s.name, start: s.start, end: s.end, enabled: s.enabled, sort: s.sort, ...over });
    const notice = () => $("[data-role=list-notice]", main);
    const enabledField = {
      key: "enabled", label: "启用", bare: true,
      input: () => el("label", { class: "c-switch" }, el("input", { type: "checkbox", name: "enabled", id: "x-enabled" }), el("span", { text: "启用（启用的场次之间不能重叠）" })),
      read: (i) => $("input", i).checked,
      fill: (i, item) => { $("input", i).checked = item ? item.enabled : true; },
    };
    listAndForm(ctx, {
      title: "场次", kind: "slot", items: list,
      intro: `场次是每天固定的抢购时段，时间按 ${shopZone} 时间。活动在其选中的场次内开售，场次之间为“场间休息”。`,
      columns: [
        { label: "时段", cell: (s) => el("div", { class: "c-cell-main" }, el("strong", { class: "c-num", text: `${s.start} – ${s.end}` }), el("small", { class: "muted", text: `#${s.id}` })) },
        { label: "名称", cell: (s) => s.name },
        { label: "状态", cls: "c-head2", cell: (s) => el("span", { class: "badge " + (s.enabled ? "on" : "disabled"), text: s.enabled ? "启用" : "停用" }) },
        { label: "排序", cls: "c-num", cell: (s) => String(s.sort) },
      ],
      rowExtra: (s) => {
        const toggle = el("button", { class: "btn btn-small btn-ghost", type: "button", "data-testid": "toggle-slot", text: s.enabled ? "停用" : "启用" });
        toggle.addEventListener("click", () => busy(toggle, async () => {
          const r = await put(s, { enabled: !s.enabled });
          if (!ctx.alive()) return;
          if (!r.ok) { notice().replaceChildren(errorBox(r, "list-error")); return; }
          toast(s.enabled ? "场次已停用" : "场次已启用");
          route();
        }));
        const del = el("button", { class: "btn btn-small btn-ghost c-danger-text", type: "button", "data-testid": "delete-slot", text: "删除" });
        del.addEventListener("click", async () => {
          const done = await dialog({
            title: `删除场次 ${s.start}–${s.end}？`, text: "被未结束的活动使用的场次不能删除。", confirm: "删除", danger: true,
            action: () => api("DELETE", `/api/admin/time-slots/${s.id}`),
          });
          if (done) { toast("场次已删除"); route(); }
        });
        return [toggle, del];
      },
      fields: [
        textField("name", "名称", { placeholder: "例如 10点场" }),
        textField("start", "开始（HH:MM）", { placeholder: "10:00", inputmode: "numeric" }),
        textField("end", "结束（HH:MM）", { placeholder: "12:00", inputmode: "numeric", hint: "可以写 24:00 表示到午夜" }),
        enabledField,
        sortField(),
      ],
      save: (body, item) => { forget("slots"); return item ? api("PUT", `/api/admin/time-slots/${item.id}`, body) : api("POST", "/api/admin/time-slots", body); },
    });
  }

  // ---- boot -------------------------------------------------------------------------------------------
  window.addEventListener("hashchange", route);
  root.replaceChildren(el("div", { class: "c-loading", text: "加载中…" }));
  start().then(() => {
    if (!session && !$("#username")) {
      // Neither signed in nor turned away: the server did not answer.
      root.replaceChildren(el("div", { class: "c-login" }, el("div", { class: "c-login-card card" },
        el("p", { class: "c-alert", role: "alert", text: MESSAGES.NETWORK }),
        el("button", { class: "btn btn-primary btn-block", type: "button", text: "重试", onclick: () => location.reload() }))));
    }
  });
})();
