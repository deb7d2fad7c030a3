// Small DOM and formatting helpers shared by the views: no framework, elements built with h() and never from HTML
// strings, so text from the API can never become markup.

/** Creates an element: h('a', {href: '#/'}, 'Home'). Attributes starting with "on" become listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the contents of `el`. */
export function render(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** Says `text` to screen readers (the polite live region). */
export function announce(text) {
  const live = document.getElementById('live');
  live.textContent = '';
  // A separate task, so that the same message twice is announced twice.
  setTimeout(() => { live.textContent = text; }, 30);
}

// Intl formatters are costly to make (a seat map names ~200 prices): one per kind and currency or zone, kept.
const formatters = new Map();
function formatter(kind, key, make) {
  const id = `${kind}|${key}`;
  if (!formatters.has(id)) formatters.set(id, make());
  return formatters.get(id);
}

/** Money in minor units: 1450, "USD" -> "$14.50". */
export function money(minor, currency) {
  return formatter('money', currency, () => new Intl.NumberFormat('en-US', { style: 'currency', currency }))
    .format(minor / 100);
}

/** A time in a zone: "7:30 PM". */
export function clock(iso, timeZone) {
  return formatter('clock', timeZone, () => new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', minute: '2-digit' }))
    .format(new Date(iso));
}

/** A date in a zone: "Mon, Dec 7". */
export function day(iso, timeZone) {
  return formatter('day', timeZone, () => new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', month: 'short', day: 'numeric' }))
    .format(new Date(iso));
}

/** Today's date (YYYY-MM-DD) in `timeZone`, plus `offset` days. */
export function localDate(timeZone, offset = 0) {
  const d = new Date(Date.now() + offset * 86400000);
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(d);
  const get = (t) => parts.find((p) => p.type === t).value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** "2026-12-07" -> "Mon, Dec 7" (a calendar date, no zone involved). */
export function dateLabel(ymd) {
  const [y, m, d] = ymd.split('-').map(Number);
  return new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', weekday: 'short', month: 'short', day: 'numeric' })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

/** A status message block; kind is "error", "ok" or "info". Errors are alerts (read at once). */
export function notice(kind, ...children) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

/** Moves focus to the page's main heading, so a screen reader hears where it arrived. */
export function focusHeading() {
  const h1 = document.querySelector('main h1');
  if (h1) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: true });
  }
}
