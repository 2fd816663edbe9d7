// seckill — the shop's pages. Plain JS, no build step: each page is a shell whose
// `data-page` picks one of the functions below; everything live comes from the JSON API with the
// session cookie.
"use strict";

// $, $$, el and requestJson come from dom.js.
const page = $("main.page");

const MESSAGES = {
  NOT_STARTED: "活动尚未开始",
  PAUSED: "本场已结束，请等待下一场",
  ENDED: "活动已结束",
  DISABLED: "活动已下线",
  SOLD_OUT: "已售罄",
  LIMIT_EXCEEDED: "已达到每人限购数量",
  QUANTITY_TOO_LARGE: "超过每单限购数量",
  NOT_RESERVED: "本活动仅限预约用户购买",
  LEVEL_TOO_LOW: "会员等级不足",
  BAD_PURCHASE_TOKEN: "抢购资格已过期，请重试",
  UNKNOWN_SKU: "该规格不在活动中",
  UNKNOWN_ADDRESS: "请选择有效的收货地址",
  RATE_LIMITED: "操作太频繁，请稍后再试",
  OVERLOADED: "人太多了，正在排队…",
  BAD_ORDER_STATE: "订单状态已变化",
  UNAUTHENTICATED: "请先登录",
  BAD_CREDENTIALS: "用户名或密码错误",
  USERNAME_TAKEN: "用户名已被占用",
  VALIDATION_FAILED: "请检查填写的内容",
  RESERVATION_CLOSED: "预约已截止",
};
const STATE_LABEL = {
  upcoming: "即将开始", running: "抢购中", paused: "场间休息", sold_out: "已售罄", ended: "已结束", disabled: "已下线",
};
const ORDER_STATUS = {
  pending_payment: "待付款", paid: "已付款", shipped: "已发货", completed: "已完成", cancelled: "已取消",
};

const api = requestJson;

function errorText(reply) {
  const err = reply.body && reply.body.error;
  if (!err) return "出错了，请重试";
  if (err.fields) return (MESSAGES[err.code] || err.message) + "：" + Object.values(err.fields).join("；");
  return MESSAGES[err.code] || err.message;
}

function yuan(cents) {
  return (cents / 100).toFixed(2);
}

function toast(text) {
  const t = document.createElement("div");
  t.className = "toast";
  t.textContent = text;
  document.body.appendChild(t);
  setTimeout(() => t.remove(), 2600);
}

/** A product image, or a placeholder with its initial. */
function picture(url, name, eager) {
  if (url) return el("img", { src: url, alt: name, loading: eager ? "eager" : "lazy" });
  return el("div", { class: "ph", text: (name || "?").trim().charAt(0) });
}

// Dates for people in the shop's language and in the shop's time zone (`/api/time` names it),
// the zone the product pages and time slots are written in — a shopper abroad sees one clock
// on every page, not the slots in one zone and the orders in another.
let shopZone;
const inShopZone = (options) => (shopZone ? { ...options, timeZone: shopZone } : options);
const when = (t) => new Date(t).toLocaleString("zh-CN", inShopZone({ month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }));
const clock = (t) => new Date(t).toLocaleTimeString("zh-CN", inShopZone({ hour12: false }));

// ---- the server's clock ---------------------------------------------------------------------
// Countdowns follow the server, not the phone: three samples of /api/time, the one with the
// shortest round trip wins, its offset corrected by half the round trip.
let clockOffset = 0;
async function syncClock() {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    const r = await api("GET", "/api/time");
    const t1 = Date.now();
    if (!r.ok) continue;
    if (r.body.timezone) shopZone = r.body.timezone;
    const rtt = t1 - t0;
    if (rtt < best) {
      best = rtt;
      clockOffset = Date.parse(r.body.now) - (t0 + t1) / 2;
    }
  }
}
const serverNow = () => Date.now() + clockOffset;

function countdownParts(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const pad = (n) => String(n).padStart(2, "0");
  const hms = [pad(Math.floor((s % 86400) / 3600)), pad(Math.floor((s % 3600) / 60)), pad(s % 60)];
  return { d, hms };
}

function renderCountdown(node, ms) {
  const { d, hms } = countdownParts(ms);
  node.replaceChildren(...(d > 0 ? [el("span", { class: "seg", text: d + "天" })] : []), ...hms.flatMap((p, i) => [
    ...(i ? [":"] : []),
    el("span", { class: "seg", text: p }),
  ]));
  node.dataset.remainingMs = String(Math.max(0, Math.ceil(ms)));
}

// ---- the signed-in shopper ------------------------------------------------------------------
let me = null;
async function loadMe() {
  const r = await api("GET", "/api/me");
  me = r.ok ? r.body : null;
  const link = $('[data-role="account"]');
  if (link && me) {
    link.textContent = (me.nickname || me.username) + " · 退出";
    link.href = "#logout";
    link.addEventListener("click", async (e) => {
      e.preventDefault();
      await api("DELETE", "/api/sessions");
      location.href = "/";
    });
  }
  return me;
}

function loginUrl() {
  return "/login?next=" + encodeURIComponent(location.pathname + location.search);
}

// ---- pages ------------------------------------------------------------------------------------
const pages = {};

pages.index = async function () {
  loadMe();
  const q = new URLSearchParams(location.search).get("q");
  const card = (a) => {
    const state = a.state;
    return el("a", { class: "card deal", href: "/seckill/" + a.id, "data-testid": "deal" },
      el("div", { class: "deal-img" }, picture(a.image_url, a.product_name || a.name)),
      el("div", { class: "deal-body" },
        el("div", { class: "deal-name", text: a.product_name || a.name }),
        el("div", { class: "price-row" },
          el("span", { class: "price" }, el("small", { text: "¥" }), yuan(a.seckill_price_cents ?? 0)),
          a.price_cents ? el("span", { class: "list-price", text: "¥" + yuan(a.price_cents) }) : null),
        el("div", {}, el("span", { class: "badge " + state, text: STATE_LABEL[state] || state }))));
  };
  if (q) {
    const box = $('[data-role="results"]');
    const r = await api("GET", "/api/search?q=" + encodeURIComponent(q));
    if (!r.ok) { box.replaceChildren(el("div", { class: "empty", text: errorText(r) })); return; }
    const items = r.body.items.map((i) => ({ ...i, id: i.activity_id, product_name: i.name }));
    box.replaceChildren(...(items.length ? items.map(card) : [el("div", { class: "empty", text: "没有找到相关的秒杀商品" })]));
    return;
  }
  // Today's slots, and every sale still to come or between its slots (paused until a later
  // day's slot): a sale is never missing from the front page while it can still be bought.
  // The server's clock decides which slot is under way, not the phone's.
  const [slots, upcoming] = await Promise.all([api("GET", "/api/time-slots"), api("GET", "/api/activities"), syncClock()]);
  const tabs = $('[data-role="slots"]');
  const deals = $('[data-role="slot-deals"]');
  if (slots.ok) {
    $('[data-role="date"]').textContent = slots.body.date;
    const now = serverNow();
    const items = slots.body.items;
    // A slot under way says 抢购中 only when something in it is on sale now: a sale that starts
    // later in the slot keeps it at 即将开始, as its card says.
    const phase = (s) => {
      if (now >= Date.parse(s.ends_at)) return "已结束";
      if (now < Date.parse(s.starts_at)) return "即将开始";
      if (s.activities.some((a) => a.state === "running" || a.state === "sold_out")) return "抢购中";
      return s.activities.length ? "即将开始" : "进行中";
    };
    const show = (slot, button) => {
      $$(".slot-tab", tabs).forEach((b) => b.classList.toggle("active", b === button));
      deals.replaceChildren(...(slot.activities.length ? slot.activities.map(card) : [el("div", { class: "empty", text: "本场暂无秒杀" })]));
    };
    let current = items.findIndex((s) => phase(s) === "抢购中");
    if (current < 0) current = items.findIndex((s) => phase(s) === "即将开始");
    if (current < 0) current = 0;
    items.forEach((s, i) => {
      const b = el("button", { class: "slot-tab", type: "button", onclick: () => show(s, b) },
        el("strong", { text: s.start }), el("small", { text: phase(s) }));
      tabs.append(b);
      if (i === current) show(s, b);
    });
    if (!items.length) deals.replaceChildren(el("div", { class: "empty", text: "今日暂无场次" }));
  } else {
    deals.replaceChildren(el("div", { class: "empty", text: errorText(slots) }));
  }
  const box = $('[data-role="upcoming"]');
  if (upcoming.ok) {
    // What today's slots already show is not repeated here.
    const today = new Set(slots.ok ? slots.body.items.flatMap((s) => s.activities.map((a) => a.id)) : []);
    const later = upcoming.body.items.filter((a) => !today.has(a.id));
    box.replaceChildren(...(later.length ? later.map(card) : [el("div", { class: "empty", text: "暂无更多即将开始的秒杀" })]));
  }
};

/* Where to go after signing in: a path on this site only. `next` is resolved as the browser
   would resolve it (so `/\\evil.example` and `/\tevil.example`, which browsers read as
   `//evil.example`, are caught) and anything that leaves this origin becomes "/". */
function sameOriginPath(next) {
  if (!next || !next.startsWith("/")) return "/";
  let url;
  try { url = new URL(next, location.origin); } catch (_) { return "/"; }
  return url.origin === location.origin ? url.pathname + url.search + url.hash : "/";
}

pages.login = function () {
  const form = $('[data-role="form"]');
  const error = $('[data-role="error"]');
  const submit = $('[data-testid="login"]');
  let mode = "login";
  const target = sameOriginPath(new URLSearchParams(location.search).get("next"));
  $$(".tabs button").forEach((b) => b.addEventListener("click", () => {
    mode = b.dataset.tab;
    $$(".tabs button").forEach((x) => x.classList.toggle("active", x === b));
    $$("[data-register]").forEach((x) => (x.hidden = mode !== "register"));
    submit.textContent = mode === "login" ? "登录" : "注册并登录";
    $("#password").autocomplete = mode === "login" ? "current-password" : "new-password";
    error.hidden = true;
  }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    const username = $("#username").value.trim();
    const password = $("#password").value;
    if (mode === "register") {
      const phone = $("#phone").value.trim();
      const r = await api("POST", "/api/users", { username, password, ...(phone ? { phone } : {}) });
      if (!r.ok) { error.textContent = errorText(r); error.hidden = false; submit.disabled = false; return; }
    }
    const r = await api("POST", "/api/sessions", { username, password });
    if (!r.ok) { error.textContent = errorText(r); error.hidden = false; submit.disabled = false; return; }
    location.href = target;
  });
};

pages.detail = async function () {
  const id = page.dataset.activity;
  const data = JSON.parse($("#sale-data").textContent);
  const buy = $('[data-role="buy"]');
  const countdown = $('[data-role="countdown"]');
  const label = $('[data-role="countdown-label"]');
  const note = $('[data-role="state-note"]');
  const badge = $('[data-role="state-badge"]');
  let sku = data.skus[0];
  let status = null;
  let token = null;
  let pollTimer = null;

  $$(".thumbs img").forEach((img) => img.addEventListener("click", () => {
    $('[data-role="main-image"] img').src = img.dataset.thumb;
    $$(".thumbs img").forEach((x) => x.classList.toggle("active", x === img));
  }));
  $$("[data-sku]").forEach((b) => b.addEventListener("click", () => {
    sku = data.skus.find((s) => String(s.sku_id) === b.dataset.sku) || sku;
    $$("[data-sku]").forEach((x) => x.classList.toggle("active", x === b));
    $('[data-role="seckill-price"]').textContent = sku.seckill_price;
    $('[data-role="list-price"]').textContent = "¥" + sku.price;
    paint();
  }));
  const reserve = $('[data-role="reserve"]');
  if (reserve) reserve.addEventListener("click", async () => {
    if (!me) { location.href = loginUrl(); return; }
    const r = await api("POST", `/api/activities/${id}/reservations`);
    toast(r.ok ? "预约成功，开抢时即可购买" : errorText(r));
    if (r.ok) { reserve.disabled = true; reserve.textContent = "已预约"; }
  });

  const remainingOf = (s) => {
    const row = status && status.skus.find((x) => x.sku_id === s.sku_id);
    return row ? row.remaining : null;
  };

  async function fetchToken() {
    if (!me || token) return;
    const r = await api("POST", `/api/activities/${id}/purchase-token`);
    if (r.ok) {
      token = r.body;
      sessionStorage.setItem("pt:" + id, JSON.stringify(token));
    } else if (r.status === 403) {
      note.textContent = errorText(r);
    }
    paint();
  }

  function paint() {
    if (!status) return;
    const state = status.state;
    badge.textContent = STATE_LABEL[state] || state;
    badge.className = "badge " + state;
    const left = remainingOf(sku);
    $('[data-role="remaining"]').textContent = left === null ? "—" : String(left);
    const pct = left === null || !sku.stock ? 0 : Math.round(((sku.stock - left) / sku.stock) * 100);
    $('[data-role="stock-bar"]').style.width = pct + "%";
    $$("[data-sku]").forEach((b) => {
      const s = data.skus.find((x) => String(x.sku_id) === b.dataset.sku);
      b.classList.toggle("gone", remainingOf(s) === 0);
    });
    let text = STATE_LABEL[state] || state;
    let enabled = false;
    if (state === "running" && left === 0) text = "已售罄";
    else if (state === "running") {
      if (!me) { text = "登录后抢购"; enabled = true; }
      else if (token) { text = "立即抢购"; enabled = true; }
      else text = "正在获取抢购资格…";
    }
    buy.textContent = text;
    buy.disabled = !enabled;
    buy.dataset.state = state === "running" && left === 0 ? "sold_out" : state;
    if (state === "upcoming" || state === "paused") {
      label.textContent = state === "paused" ? "距下一场" : "距开始";
    } else if (state === "running" || state === "sold_out") {
      label.textContent = "距本场结束";
    } else {
      label.textContent = STATE_LABEL[state] || "";
    }
    if (state === "paused" && status.next_window_start) {
      note.textContent = "下一场 " + when(status.next_window_start);
    } else if (state === "ended") {
      note.textContent = "活动已结束，感谢关注";
    } else if (state === "sold_out" || (state === "running" && left === 0)) {
      note.textContent = "已抢光，有人取消订单时会放出库存";
    }
  }

  function target() {
    if (!status) return null;
    if (status.state === "upcoming" || status.state === "paused") return status.next_window_start;
    if (status.state === "running" || status.state === "sold_out") return status.window_end;
    return null;
  }

  async function poll() {
    clearTimeout(pollTimer);
    const r = await api("GET", `/api/activities/${id}/status`);
    if (r.ok) {
      status = r.body;
      if (status.state === "running" || status.state === "sold_out") fetchToken();
      paint();
    }
    // Light polling: every 3 s, and right at the next opening.
    let wait = 3000;
    const t = target();
    if (t) wait = Math.min(wait, Math.max(200, Date.parse(t) - serverNow() + 50));
    pollTimer = setTimeout(poll, wait);
  }

  function tick() {
    const t = target();
    if (t) {
      const ms = Date.parse(t) - serverNow();
      renderCountdown(countdown, ms);
      if (ms <= 0 && (status.state === "upcoming" || status.state === "paused")) poll();
    } else {
      countdown.textContent = "--:--:--";
    }
  }

  buy.addEventListener("click", () => {
    if (!me) { location.href = loginUrl(); return; }
    location.href = `/checkout?activity=${id}&sku=${sku.sku_id}`;
  });

  await Promise.all([syncClock(), loadMe()]);
  await poll();
  tick();
  setInterval(tick, 250);
};

pages.checkout = async function () {
  const params = new URLSearchParams(location.search);
  const id = params.get("activity");
  const skuId = Number(params.get("sku"));
  const error = $('[data-role="error"]');
  const submit = $('[data-testid="submit-order"]');
  const qtyInput = $('[data-testid="quantity"]');
  const result = $('[data-role="result"]');
  const orderStatus = $('[data-role="order-status"]');
  const show = (msg) => { error.textContent = msg; error.hidden = !msg; };
  // The server's clock and zone, for the opening time and the payment deadline.
  const [, signedIn] = await Promise.all([syncClock(), loadMe()]);
  if (!signedIn) { location.href = loginUrl(); return; }
  // Nothing to buy here: say so, and show no form to fill.
  const nothing = (text, back) => {
    $('[data-role="item"]').replaceChildren(el("div", { class: "empty" }, text,
      ...(back ? [el("br"), el("a", { href: back, text: "返回活动页" })] : [])));
    $$('.checkout > .card:not([data-role="item"])').forEach((c) => (c.hidden = true));
    submit.disabled = true;
  };
  const detail = await api("GET", `/api/activities/${encodeURIComponent(id || "")}`);
  if (!detail.ok) { nothing("找不到这个秒杀活动"); return; }
  const a = detail.body;
  // A link naming a SKU this sale does not sell must not quietly sell another one.
  const sku = params.has("sku") ? a.skus.find((s) => s.sku_id === skuId) : a.skus[0];
  if (!sku) { nothing("这个规格不在本场秒杀中", "/seckill/" + a.id); return; }
  const maxQty = Math.max(1, a.rules.single_limit);
  $('[data-role="item"]').replaceChildren(el("div", { class: "line-item" },
    el("div", { class: "thumb" }, picture(a.product.image_urls[0], a.product.name)),
    el("div", {},
      el("div", { class: "deal-name", text: a.product.name }),
      el("small", { class: "muted", text: sku.name + (sku.spec ? " · " + sku.spec : "") }),
      el("div", { class: "price-row" },
        el("span", { class: "price" }, el("small", { text: "¥" }), yuan(sku.seckill_price_cents)),
        el("span", { class: "list-price", text: "¥" + yuan(sku.price_cents) })))));
  $('[data-role="limits"]').textContent = `每单最多 ${a.rules.single_limit} 件，每人限购 ${a.rules.total_limit} 件`;
  qtyInput.max = String(maxQty);
  const qty = () => Math.min(maxQty, Math.max(1, Number(qtyInput.value) || 1));
  const total = () => { qtyInput.value = String(qty()); $('[data-role="total"]').textContent = "¥" + yuan(sku.seckill_price_cents * qty()); };
  $$("[data-step]").forEach((b) => b.addEventListener("click", () => { qtyInput.value = String(qty() + Number(b.dataset.step)); total(); }));
  qtyInput.addEventListener("change", total);
  total();

  // Reached before the open (or after the end): say so rather than offer a button that can
  // only fail; a sale about to open unlocks itself when it does.
  const status = await api("GET", `/api/activities/${a.id}/status`);
  const closed = { upcoming: "还没开抢：开抢后即可提交", paused: "本场已结束：下一场开抢后即可提交", sold_out: "已售罄", ended: "活动已结束", disabled: "活动已下架" };
  if (status.ok && closed[status.body.state]) {
    const st = status.body;
    submit.disabled = true;
    show(closed[st.state] + (st.next_window_start ? `（${when(st.next_window_start)}）` : ""));
    if (st.next_window_start) {
      setTimeout(() => { submit.disabled = false; show(""); }, Math.max(0, Date.parse(st.next_window_start) - serverNow()));
    }
  }

  const list = $('[data-role="addresses"]');
  async function loadAddresses(select) {
    const r = await api("GET", "/api/me/addresses");
    const items = r.ok ? r.body.items : [];
    list.replaceChildren(...items.map((ad) => el("label", { class: "address-option" },
      el("input", { type: "radio", name: "address", value: ad.id, checked: select ? ad.id === select : ad.is_default }),
      el("div", {}, el("strong", { text: `${ad.contact} ${ad.phone}` }), el("br"),
        el("small", { text: `${ad.province} ${ad.city} ${ad.district} ${ad.detail}` })))));
    if (!items.length) { list.replaceChildren(el("p", { class: "muted", text: "还没有收货地址，请先新增" })); $('[data-role="new-address"]').open = true; }
    else if (!$('input[name="address"]:checked')) $('input[name="address"]').checked = true;
  }
  await loadAddresses();
  $('[data-role="address-form"]').addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = Object.fromEntries(f.entries());
    const r = await api("POST", "/api/me/addresses", body);
    const err = $('[data-role="address-error"]');
    if (!r.ok) { err.textContent = errorText(r); err.hidden = false; return; }
    err.hidden = true;
    e.target.reset();
    $('[data-role="new-address"]').open = false;
    await loadAddresses(r.body.id);
  });

  // One key for this checkout: a retry of the same submission can never make a second order.
  const keyName = `idem:${id}:${sku.sku_id}`;
  let key = sessionStorage.getItem(keyName);
  if (!key) { key = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()); sessionStorage.setItem(keyName, key); }

  async function purchaseToken(fresh) {
    const saved = JSON.parse(sessionStorage.getItem("pt:" + id) || "null");
    if (!fresh && saved && Date.parse(saved.expires_at) - serverNow() > 5000) return saved.token;
    const r = await api("POST", `/api/activities/${id}/purchase-token`);
    if (!r.ok) throw r;
    sessionStorage.setItem("pt:" + id, JSON.stringify(r.body));
    return r.body.token;
  }

  function done(order) {
    sessionStorage.removeItem(keyName);
    result.hidden = false;
    orderStatus.dataset.status = "created";
    orderStatus.replaceChildren(el("h3", { text: "抢购成功！" }),
      el("p", { text: `订单 #${order.id}，请在 ${clock(order.pay_deadline)} 前付款` }));
    $('[data-role="result-actions"]').replaceChildren(
      el("button", { class: "btn btn-primary", type: "button", "data-testid": "pay", onclick: () => pay(order.id) }, "去付款"),
      el("a", { class: "btn btn-ghost", href: "/orders" }, "查看订单"));
    submit.disabled = true;
    submit.textContent = "已下单";
  }

  async function pay(orderId) {
    const r = await api("POST", `/api/me/orders/${orderId}/payments`);
    if (r.ok) location.href = r.body.pay_url; else toast(errorText(r));
  }

  async function waitTicket(ticket) {
    for (let i = 0; i < 120; i++) {
      const r = await api("GET", "/api/tickets/" + ticket);
      if (r.ok && r.body.status === "created") {
        const o = await api("GET", "/api/me/orders/" + r.body.order_id);
        if (o.ok) return done(o.body);
      }
      if (r.ok && r.body.status === "rejected") { show(MESSAGES[r.body.error.code] || r.body.error.message); return; }
      await new Promise((res) => setTimeout(res, 500));
    }
    show("下单结果确认超时，请到“我的订单”查看");
  }

  submit.addEventListener("click", async () => {
    const address = $('input[name="address"]:checked');
    if (!address) { show("请选择收货地址"); return; }
    show("");
    submit.disabled = true;
    submit.textContent = "抢购中…";
    result.hidden = true;
    let fresh = false;
    for (let attempt = 0; attempt < 8; attempt++) {
      let tokenValue;
      try { tokenValue = await purchaseToken(fresh); } catch (r) { show(errorText(r)); break; }
      const body = { sku_id: sku.sku_id, quantity: qty(), address_id: Number(address.value), pay_type: "online", purchase_token: tokenValue };
      const r = await api("POST", `/api/activities/${id}/orders`, body, { "Idempotency-Key": key });
      if (r.status === 201) return done(r.body.order);
      if (r.status === 202) { orderStatus.dataset.status = "queued"; submit.textContent = "排队中…"; return waitTicket(r.body.ticket); }
      const code = r.body && r.body.error && r.body.error.code;
      if (code === "BAD_PURCHASE_TOKEN" && !fresh) { fresh = true; continue; }
      if (r.status === 429 || r.status === 503) {
        const wait = Number(r.headers.get("retry-after") || "1");
        submit.textContent = "排队中…";
        await new Promise((res) => setTimeout(res, Math.min(5, Math.max(1, wait)) * 1000));
        continue;
      }
      orderStatus.dataset.status = "rejected";
      show(errorText(r));
      break;
    }
    submit.disabled = false;
    submit.textContent = "提交订单";
  });
};

pages.orders = async function () {
  if (!(await loadMe())) { location.href = loginUrl(); return; }
  await syncClock();
  const box = $('[data-role="orders"]');
  // Product name, picture and SKU of each order, from the public activity detail (one call
  // per activity, cached by the browser and the edge).
  const activities = new Map();
  async function activity(id) {
    if (!activities.has(id)) activities.set(id, api("GET", `/api/activities/${id}`).then((r) => (r.ok ? r.body : null)));
    return activities.get(id);
  }
  async function load() {
    const r = await api("GET", "/api/me/orders");
    if (!r.ok) { box.replaceChildren(el("div", { class: "empty", text: errorText(r) })); return; }
    const details = new Map(await Promise.all([...new Set(r.body.items.map((o) => o.activity_id))].map(async (id) => [id, await activity(id)])));
    if (!r.body.items.length) { box.replaceChildren(el("div", { class: "card empty" }, "还没有订单，", el("a", { href: "/", text: "去看看今天的秒杀" }))); return; }
    box.replaceChildren(...r.body.items.map((o) => {
      const actions = el("div", { class: "order-actions" });
      if (o.status === "pending_payment") {
        actions.append(
          el("button", { class: "btn btn-primary btn-small", type: "button", "data-testid": "pay", onclick: async () => {
            const p = await api("POST", `/api/me/orders/${o.id}/payments`);
            if (p.ok) location.href = p.body.pay_url; else { toast(errorText(p)); load(); }
          } }, "去付款"),
          el("button", { class: "btn btn-ghost btn-small", type: "button", "data-testid": "cancel", onclick: async () => {
            if (!confirm("确定取消这个订单吗？")) return;
            const c = await api("POST", `/api/me/orders/${o.id}/cancel`);
            toast(c.ok ? "订单已取消" : errorText(c));
            load();
          } }, "取消订单"));
      }
      if (o.status === "shipped") {
        actions.append(el("button", { class: "btn btn-ghost btn-small", type: "button", onclick: async () => {
          const c = await api("POST", `/api/me/orders/${o.id}/confirm`);
          toast(c.ok ? "已确认收货" : errorText(c));
          load();
        } }, "确认收货"));
      }
      const a = details.get(o.activity_id);
      const product = a && a.product;
      const sku = a && a.skus.find((x) => x.sku_id === o.sku_id);
      const skuName = sku ? sku.name + (sku.spec ? " · " + sku.spec : "") : "";
      let extra = "";
      if (o.status === "pending_payment") extra = "请在 " + clock(o.pay_deadline) + " 前付款";
      if (o.status === "shipped" && o.carrier) extra = `${o.carrier} ${o.tracking_no || ""}`;
      if (o.status === "cancelled") {
        extra = { timeout: "超时未付款", user: "已由你取消", admin: "商家取消" }[o.cancel_reason] || "";
        // Paid before the shop cancelled it: say where the money goes.
        if (o.paid_at) extra += ` · 已付 ¥${yuan(o.amount_cents)} 将原路退回`;
      }
      return el("article", { class: "card order", "data-testid": "order-row", "data-status": o.status, "data-order": o.id },
        el("div", { class: "order-head" }, el("span", { text: `订单 #${o.id}` }),
          el("span", { text: when(o.created_at) })),
        el("div", { class: "order-main" },
          product ? el("div", { class: "thumb" }, picture(product.image_urls[0], product.name, true)) : null,
          el("div", { class: "order-info" },
            product ? el("div", { class: "deal-name", text: product.name }) : null,
            skuName ? el("small", { class: "muted", text: skuName }) : null,
            el("div", {}, el("span", { class: "status " + o.status, text: ORDER_STATUS[o.status] || o.status })),
            el("div", { class: "muted", text: `${o.quantity} 件 · ¥${yuan(o.amount_cents)}` }),
            extra ? el("small", { class: "muted", text: extra }) : null),
          actions));
    }));
  }
  await load();
};

document.addEventListener("DOMContentLoaded", () => {
  const run = pages[page && page.dataset.page];
  // `data-ready` marks the page as wired up (browser tests wait for it).
  Promise.resolve(run ? run() : loadMe()).finally(() => { document.body.dataset.ready = "1"; });
});
