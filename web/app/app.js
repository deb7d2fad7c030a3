// The boxoffice web client: a hash-routed single page over the public REST API (the same contract as /openapi.json).
// Screens: home (search), theater, movie, seat map, booking (hold countdown, payment, confirmation), my bookings,
// log in, register. Each screen is a function that renders into <main> and may return a cleanup (timers).

import { Problem, call, get, newKey, session } from './api.js';
import { announce, clock, dateLabel, day, focusHeading, h, localDate, money, notice, render } from './dom.js';
import { KINDS, legend, seatMap } from './seatmap.js';

const main = document.getElementById('main');
const SEARCH = 'boxoffice.search';
const PENDING = 'boxoffice.pending';
const POLL_MS = 2000;

let cleanup = null;
let me = null;

// ---------------------------------------------------------------------------------------------------------------
// Routing

function parseHash() {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(1) : '/';
  const [path, query = ''] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query) };
}

export function go(path) {
  location.hash = `#${path}`;
}

async function route() {
  if (location.hash && !location.hash.startsWith('#/')) return; // the skip link's #main
  if (cleanup) cleanup();
  cleanup = null;
  const { parts, params } = parseHash();
  const [first, id, extra] = parts;
  const screens = {
    undefined: () => home(params),
    theaters: () => theaterScreen(id, params),
    movies: () => movieScreen(id, params),
    showtimes: () => showtimeScreen(id),
    bookings: () => (id ? bookingScreen(id) : myBookings()),
    login: () => loginScreen(params),
    register: () => registerScreen(params),
  };
  const screen = screens[first] || (() => notFound());
  main.setAttribute('aria-busy', 'true');
  try {
    cleanup = (await screen(extra)) || null;
  } catch (error) {
    if (!(error instanceof Problem)) console.error('boxoffice:', error);
    render(main, h('h1', {}, 'Something went wrong'), problemNotice(error), h('p', {}, h('a', { href: '#/' }, 'Back to the search')));
  }
  main.removeAttribute('aria-busy');
  focusHeading();
}

function notFound() {
  document.title = 'Not found · boxoffice';
  render(main, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '#/' }, 'Search theaters')));
}

/** A readable message for any error: never a raw document. */
function problemNotice(error) {
  const message = error instanceof Problem ? error.message : 'Something went wrong. Please try again.';
  return notice('error', message);
}

/** Asks the API who is logged in (once per login), then draws the account menu. */
async function refreshAccount() {
  me = null;
  if (session.token) {
    try {
      me = (await get('/users/me')).data;
    } catch {
      me = null;
    }
  }
  renderAccount();
}

/** The account menu; its "Log in" and "Register" links come back to the current screen. */
function renderAccount() {
  const list = document.getElementById('account');
  const next = encodeURIComponent(currentPath());
  if (me) {
    render(list,
      h('li', {}, h('a', { href: '#/bookings' }, 'My bookings')),
      h('li', {}, h('button', { type: 'button', class: 'link', onclick: logout }, `Log out ${me.name}`)));
  } else {
    render(list,
      h('li', {}, h('a', { href: `#/login?next=${next}` }, 'Log in')),
      h('li', {}, h('a', { href: `#/register?next=${next}` }, 'Register')));
  }
}

function currentPath() {
  const path = location.hash.startsWith('#/') ? location.hash.slice(1) : '/';
  return path.startsWith('/login') || path.startsWith('/register') ? '/' : path;
}

function logout() {
  session.token = null;
  refreshAccount();
  announce('You are logged out.');
  go('/');
}

/** Sends a person to log in, coming back to `next` afterwards. */
function requireLogin(next) {
  go(`/login?next=${encodeURIComponent(next)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Home: search by city (with suggestions), ZIP, or near me

function lastSearch() {
  try {
    return JSON.parse(sessionStorage.getItem(SEARCH)) || null;
  } catch {
    return null;
  }
}

function searchQuery(search) {
  const q = new URLSearchParams();
  for (const k of ['city', 'state', 'country', 'zip', 'near']) if (search[k]) q.set(k, search[k]);
  return q.toString();
}

async function home(params) {
  document.title = 'Find a theater · boxoffice';
  const search = {};
  for (const k of ['city', 'state', 'country', 'zip', 'near']) if (params.get(k)) search[k] = params.get(k);
  const input = h('input', {
    id: 'where', name: 'where', type: 'text', autocomplete: 'off', required: true, role: 'combobox',
    'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': 'suggestions',
    'aria-describedby': 'where-hint', placeholder: 'e.g. Montréal or 10036',
    value: search.city || search.zip || '',
  });
  const list = h('ul', { id: 'suggestions', role: 'listbox', class: 'suggestions', hidden: true, 'aria-label': 'Cities' });
  const results = h('section', { 'aria-labelledby': 'results-title', class: 'results' });
  const error = h('div');
  let chosen = search.state ? { name: search.city, state: search.state, country: search.country } : null;
  let active = -1;
  let requestNo = 0;

  function closeList() {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  }
  function pick(city) {
    chosen = city;
    input.value = city.name;
    closeList();
    submit();
  }
  function highlight(i) {
    const items = [...list.children];
    if (!items.length) return;
    active = (i + items.length) % items.length;
    items.forEach((li, n) => li.setAttribute('aria-selected', n === active ? 'true' : 'false'));
    input.setAttribute('aria-activedescendant', items[active].id);
  }
  input.addEventListener('input', async () => {
    chosen = null;
    const text = input.value.trim();
    const no = ++requestNo;
    if (text.length < 2 || /^\d/.test(text)) return closeList();
    try {
      const { data } = await get(`/cities?q=${encodeURIComponent(text)}&limit=8`, { auth: false });
      if (no !== requestNo) return;
      render(list, data.map((c, n) => h('li', {
        id: `city-${n}`, role: 'option', 'aria-selected': 'false',
        onmousedown: (e) => { e.preventDefault(); pick(c); },
      }, `${c.name}, ${c.state}`, h('span', { class: 'muted' }, ` ${c.country}`))));
      list.hidden = data.length === 0;
      input.setAttribute('aria-expanded', data.length ? 'true' : 'false');
      if (data.length) announce(`${data.length} ${data.length === 1 ? 'city matches' : 'cities match'}; use the arrow keys to choose.`);
      list._cities = data;
    } catch {
      closeList();
    }
  });
  input.addEventListener('keydown', (event) => {
    if (list.hidden) return;
    if (event.key === 'ArrowDown') { event.preventDefault(); highlight(active + 1); }
    else if (event.key === 'ArrowUp') { event.preventDefault(); highlight(active - 1); }
    else if (event.key === 'Escape') closeList();
    else if (event.key === 'Enter' && active >= 0) { event.preventDefault(); pick(list._cities[active]); }
  });
  input.addEventListener('blur', () => setTimeout(closeList, 100));

  function submit(event) {
    if (event) event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const next = /^[0-9][0-9A-Za-z -]*$/.test(text) ? { zip: text } : chosen && chosen.name === text
      ? { city: chosen.name, state: chosen.state, country: chosen.country } : { city: text };
    go(`/?${searchQuery(next)}`);
  }

  const nearMe = h('button', { type: 'button', class: 'secondary', onclick: () => {
    if (!navigator.geolocation) {
      render(error, notice('error', 'This browser cannot tell where you are: type a city or ZIP instead.'));
      return;
    }
    nearMe.disabled = true;
    navigator.geolocation.getCurrentPosition((pos) => {
      nearMe.disabled = false;
      go(`/?near=${pos.coords.latitude.toFixed(4)},${pos.coords.longitude.toFixed(4)}`);
    }, () => {
      nearMe.disabled = false;
      render(error, notice('error', 'Your position is not available (permission refused?): type a city or ZIP instead.'));
    }, { timeout: 10000 });
  } }, 'Near me');

  render(main,
    h('h1', {}, 'Find a movie near you'),
    h('form', { class: 'search', role: 'search', onsubmit: submit },
      h('label', { for: 'where' }, 'City or ZIP code'),
      h('div', { class: 'combo' }, input, list),
      h('p', { id: 'where-hint', class: 'hint' }, 'Suggestions appear as you type a city; accents and case do not matter.'),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Search'), nearMe)),
    error, results);

  if (!Object.keys(search).length) return null;
  sessionStorage.setItem(SEARCH, JSON.stringify(search));
  const what = search.near ? 'your position' : search.zip ? `ZIP ${search.zip}` : search.city;
  try {
    const { data } = await get(`/theaters?${searchQuery(search)}&limit=20`);
    render(results,
      h('h2', { id: 'results-title' }, data.items.length ? `Theaters near ${what}` : `No theaters found for ${what}`),
      data.items.length ? h('ul', { class: 'cards' }, data.items.map(theaterCard)) :
        h('p', {}, 'Check the spelling, or try a ZIP code or “Near me”.'));
    announce(`${data.items.length} theaters found.`);
  } catch (e) {
    render(results, h('h2', { id: 'results-title' }, 'Search failed'), problemNotice(e));
  }
  return null;
}

function theaterCard(t) {
  return h('li', { class: 'card' },
    h('h3', {}, h('a', { href: `#/theaters/${t.id}` }, t.name)),
    h('p', {}, `${t.address}, ${t.city}, ${t.state} ${t.zip}`),
    t.distanceKm != null ? h('p', { class: 'muted' }, `${t.distanceKm.toFixed(1)} km away`) : null);
}

// ---------------------------------------------------------------------------------------------------------------
// A theater: movies and showtimes for a chosen day

function dayPicker(timeZone, chosen, hrefFor) {
  const days = [...Array(7).keys()].map((n) => localDate(timeZone, n));
  return h('nav', { class: 'days', 'aria-label': 'Day' }, h('ul', {}, days.map((d, n) => h('li', {},
    h('a', { href: hrefFor(d), 'aria-current': d === chosen ? 'date' : null },
      n === 0 ? 'Today' : n === 1 ? 'Tomorrow' : dateLabel(d))))));
}

function showtimeLinks(showtimes, timeZone) {
  return h('ul', { class: 'times' }, showtimes.map((s) => h('li', {},
    h('a', { href: `#/showtimes/${s.id}` },
      clock(s.startTime, timeZone), h('span', { class: 'free' }, ` ${s.seatsAvailable} seats free`)))));
}

async function theaterScreen(id, params) {
  const { data: t } = await get(`/theaters/${encodeURIComponent(id)}`);
  const date = params.get('date') || localDate(t.timeZone);
  document.title = `${t.name} · boxoffice`;
  const { data } = await get(`/theaters/${encodeURIComponent(id)}/movies?date=${date}&limit=50`);
  render(main,
    h('p', { class: 'crumbs' }, h('a', { href: backToSearch() }, '← Theaters')),
    h('h1', {}, t.name),
    h('p', {}, `${t.address}, ${t.city}, ${t.state} ${t.zip}`),
    dayPicker(t.timeZone, date, (d) => `#/theaters/${t.id}?date=${d}`),
    h('h2', {}, `Showtimes on ${dateLabel(date)}`),
    data.items.length ? h('ul', { class: 'cards' }, data.items.map((m) => h('li', { class: 'card' },
      h('h3', {}, h('a', { href: `#/movies/${m.id}?date=${date}` }, m.title)),
      h('p', { class: 'muted' }, `${m.rating} · ${m.durationMin} min · ${m.genre}`),
      showtimeLinks(m.showtimes, t.timeZone)))) :
      h('p', {}, 'No showtimes that day. Try another day.'));
  return null;
}

function backToSearch() {
  const search = lastSearch();
  return search ? `#/?${searchQuery(search)}` : '#/';
}

// ---------------------------------------------------------------------------------------------------------------
// A movie: where and when it plays near the chosen place

async function movieScreen(id, params) {
  const { data: movie } = await get(`/movies/${encodeURIComponent(id)}`);
  document.title = `${movie.title} · boxoffice`;
  const search = lastSearch() || {};
  const q = new URLSearchParams(searchQuery(search));
  const date = params.get('date');
  if (date) q.set('date', date);
  q.set('limit', '10');
  const { data } = await get(`/movies/${encodeURIComponent(id)}/showtimes?${q}`);
  const where = search.near ? 'near you' : search.zip ? `near ${search.zip}` : search.city ? `in ${search.city}` : 'everywhere';
  render(main,
    h('p', { class: 'crumbs' }, h('a', { href: backToSearch() }, '← Theaters')),
    h('h1', {}, movie.title),
    h('p', { class: 'muted' }, `${movie.rating} · ${movie.durationMin} min · ${movie.genre}`),
    h('p', {}, movie.description),
    h('h2', {}, `Showtimes ${where}${date ? ` on ${dateLabel(date)}` : ''}`),
    data.items.length ? h('ul', { class: 'cards' }, data.items.map((g) => h('li', { class: 'card' },
      h('h3', {}, h('a', { href: `#/theaters/${g.theater.id}` }, g.theater.name)),
      g.theater.distanceKm != null ? h('p', { class: 'muted' }, `${g.theater.distanceKm.toFixed(1)} km away`) : null,
      byDay(g.showtimes, g.theater.timeZone)))) :
      h('p', {}, 'It is not playing there.'));
  return null;
}

function byDay(showtimes, timeZone) {
  const groups = new Map();
  for (const s of showtimes) {
    const d = day(s.startTime, timeZone);
    if (!groups.has(d)) groups.set(d, []);
    groups.get(d).push(s);
  }
  return h('dl', { class: 'bydays' }, [...groups].map(([d, list]) => [h('dt', {}, d), h('dd', {}, showtimeLinks(list, timeZone))]));
}

// ---------------------------------------------------------------------------------------------------------------
// The seat map, kept current by polling with If-None-Match, and the hold

async function showtimeScreen(id) {
  const [{ data: show }, first] = await Promise.all([
    get(`/showtimes/${encodeURIComponent(id)}`),
    get(`/showtimes/${encodeURIComponent(id)}/seats`),
  ]);
  performance.mark('seatmap-data'); // the end-to-end suite reports the time spent drawing after this
  let etag = first.etag;
  const data = first.data;
  const tz = show.timeZone;
  document.title = `Seats for ${show.movie.title} · boxoffice`;
  const selected = new Set();
  // A selection made before logging in comes back.
  try {
    const pending = JSON.parse(sessionStorage.getItem(PENDING));
    if (pending && pending.showtimeId === id) pending.seats.forEach((s) => selected.add(s));
  } catch { /* nothing pending */ }
  sessionStorage.removeItem(PENDING);
  let key = newKey();
  const status = h('div', { class: 'status' });
  const summary = h('p', { class: 'total', 'aria-live': 'polite' });
  const hold = h('button', { type: 'button', class: 'primary', onclick: doHold }, 'Hold these seats');
  const map = seatMap(data, selected, (label) => {
    if (selected.has(label)) selected.delete(label);
    else selected.add(label);
    key = newKey(); // a different selection is a different request
    map.paint();
    update();
  });
  for (const s of [...selected]) if (!map.seats.get(s) || !map.seats.get(s).available) selected.delete(s);
  map.paint();

  function update() {
    const seats = [...selected].map((l) => map.seats.get(l));
    const total = seats.reduce((sum, s) => sum + s.price, 0);
    render(summary, seats.length
      ? `${seats.length} ${seats.length === 1 ? 'seat' : 'seats'} (${seats.map((s) => s.label).join(', ')}): ${money(total, data.currency)}`
      : 'No seats selected yet.');
    hold.disabled = seats.length === 0;
  }

  async function doHold() {
    if (!selected.size) return;
    if (!session.token) {
      sessionStorage.setItem(PENDING, JSON.stringify({ showtimeId: id, seats: [...selected] }));
      requireLogin(`/showtimes/${id}`);
      return;
    }
    hold.disabled = true;
    hold.textContent = 'Holding…';
    try {
      const { data: booking } = await call('POST', '/bookings', { body: { showtimeId: id, seatIds: [...selected] }, key });
      go(`/bookings/${booking.id}`);
    } catch (error) {
      hold.textContent = 'Hold these seats';
      if (error instanceof Problem && error.status === 401) {
        sessionStorage.setItem(PENDING, JSON.stringify({ showtimeId: id, seats: [...selected] }));
        requireLogin(`/showtimes/${id}`);
        return;
      }
      if (error instanceof Problem && error.type === 'seats-unavailable') {
        const taken = error.unavailableSeats;
        taken.forEach((l) => selected.delete(l));
        key = newKey();
        await poll(true);
        render(status, notice('error', `Sorry: ${taken.length === 1 ? 'seat' : 'seats'} ${taken.join(', ')} ${taken.length === 1 ? 'was' : 'were'} just taken by someone else. The map is updated; please choose again.`));
      } else {
        render(status, problemNotice(error));
      }
      update();
    }
  }

  async function poll(force) {
    try {
      const next = await get(`/showtimes/${encodeURIComponent(id)}/seats`, { etag: force ? undefined : etag });
      if (next.status === 304) return;
      etag = next.etag;
      const lost = map.update(next.data);
      lost.forEach((l) => selected.delete(l));
      map.paint();
      update();
      if (lost.length && !force) {
        const text = `${lost.length === 1 ? 'Seat' : 'Seats'} ${lost.join(', ')} ${lost.length === 1 ? 'was' : 'were'} just taken by someone else.`;
        render(status, notice('error', text));
      }
    } catch { /* the next poll tries again */ }
  }

  const timer = setInterval(() => { if (!document.hidden) poll(false); }, POLL_MS);
  render(main,
    h('p', { class: 'crumbs' }, h('a', { href: `#/theaters/${show.theater.id}` }, `← ${show.theater.name}`)),
    h('h1', {}, show.movie.title),
    h('p', {}, `${day(show.startTime, tz)}, ${clock(show.startTime, tz)} · ${show.screen.name} · ${show.theater.name}`),
    data.status === 'canceled' ? notice('error', 'This showtime was canceled.') : null,
    h('h2', { id: 'pick' }, 'Pick your seats'),
    h('p', { class: 'hint' }, 'Click a seat, or Tab to the map and use the arrow keys, then Space or Enter.'),
    legend(data),
    status,
    h('div', { class: 'mapwrap' }, map.el),
    h('div', { class: 'checkout' }, summary, hold));
  update();
  return () => clearInterval(timer);
}

// ---------------------------------------------------------------------------------------------------------------
// A booking: hold countdown and payment, or the confirmation

function statusText(status) {
  return { reserved: 'Held, not paid yet', payment_pending: 'Payment being confirmed', paid: 'Paid', canceled: 'Canceled', expired: 'Expired' }[status] || status;
}

function calendarLink(booking, show) {
  const stamp = (iso) => new Date(iso).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const esc = (s) => s.replace(/([,;\\])/g, '\\$1');
  const ics = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//boxoffice//web//EN', 'BEGIN:VEVENT',
    `UID:${booking.id}@boxoffice`, `DTSTAMP:${stamp(new Date().toISOString())}`,
    `DTSTART:${stamp(show.startTime)}`, `DTEND:${stamp(show.endTime)}`,
    `SUMMARY:${esc(show.movie.title)}`,
    `LOCATION:${esc(`${show.theater.name}, ${show.theater.city}`)}`,
    `DESCRIPTION:${esc(`${show.screen.name}, seats ${booking.seats.map((s) => s.label).join(' ')}`)}`,
    'END:VEVENT', 'END:VCALENDAR'].join('\r\n');
  const url = URL.createObjectURL(new Blob([ics], { type: 'text/calendar' }));
  return h('a', { href: url, download: `boxoffice-${booking.id.slice(0, 8)}.ics`, class: 'button secondary' }, 'Add to calendar');
}

// A paid booking's tickets: one QR code a seat, shown at the door. The API sends each as an SVG document, shown
// through an <img> of a data: URL (the CSP allows img data:, and an <img> never runs what the SVG might hold).
async function ticketList(bookingId, { compact = false } = {}) {
  let tickets = [];
  try {
    tickets = (await get(`/bookings/${encodeURIComponent(bookingId)}/tickets`)).data.tickets;
  } catch { return null; }
  if (!tickets.length) return null;
  return h('section', { class: compact ? 'tickets compact' : 'tickets', 'aria-label': 'Tickets' },
    compact ? null : h('h2', {}, 'Your tickets'),
    compact ? null : h('p', { class: 'muted' }, 'Show each code at the door; it admits once.'),
    h('ul', {}, tickets.map((t) => h('li', { class: 'ticket' },
      h('img', { class: 'ticket-qr', src: `data:image/svg+xml;base64,${btoa(t.qrSvg)}`, alt: `Ticket for seat ${t.seat}`, width: compact ? 96 : 200, height: compact ? 96 : 200 }),
      h('p', {}, `Seat ${t.seat}`, t.admission ? ' · admitted' : '')))));
}

async function bookingScreen(id) {
  if (!session.token) return requireLogin(`/bookings/${id}`);
  const { data: booking } = await get(`/bookings/${encodeURIComponent(id)}`);
  const { data: show } = await get(`/showtimes/${booking.showtimeId}`);
  const tz = show.timeZone;
  document.title = `Booking · ${show.movie.title} · boxoffice`;
  const status = h('div', { class: 'status' });
  const seats = h('ul', { class: 'seatlist' }, booking.seats.map((s) =>
    h('li', {}, `${s.label} · ${KINDS[s.kind]} · ${money(s.price, booking.currency)}`)));
  const details = h('dl', { class: 'facts' },
    h('dt', {}, 'Movie'), h('dd', {}, show.movie.title),
    h('dt', {}, 'When'), h('dd', {}, `${day(show.startTime, tz)}, ${clock(show.startTime, tz)} (local time)`),
    h('dt', {}, 'Where'), h('dd', {}, `${show.theater.name}, ${show.theater.city} · ${show.screen.name}`),
    h('dt', {}, 'Seats'), h('dd', {}, seats),
    h('dt', {}, 'Total'), h('dd', { class: 'total' }, money(booking.total, booking.currency)),
    h('dt', {}, 'Status'), h('dd', { id: 'booking-status' }, statusText(booking.status)));
  let timer = null;
  const parts = [h('p', { class: 'crumbs' }, h('a', { href: '#/bookings' }, '← My bookings'))];

  if (booking.status === 'reserved') {
    parts.push(h('h1', {}, 'Pay for your seats'));
    const countdown = h('p', { class: 'countdown', role: 'timer', 'aria-live': 'off' });
    const expires = new Date(booking.holdExpiresAt).getTime();
    let warned = false;
    const tick = () => {
      const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
      render(countdown, 'Seats held for ', h('strong', {}, `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`));
      if (left <= 60 && !warned) { warned = true; announce('One minute left to pay.'); }
      if (left === 0) {
        clearInterval(timer);
        countdown.remove();
        main.querySelector('h1').textContent = 'This hold expired';
        document.getElementById('booking-status').textContent = statusText('expired');
        payArea.replaceWith(notice('error', 'Your hold expired and the seats were released. ', h('a', { href: `#/showtimes/${booking.showtimeId}` }, 'Pick seats again')));
      }
    };
    const payArea = await paymentForm(booking, status);
    parts.push(countdown, details, payArea, status);
    tick();
    timer = setInterval(tick, 1000);
  } else if (booking.status === 'paid') {
    parts.push(h('h1', {}, 'You’re going to the movies!'),
      notice('ok', 'Paid. A confirmation is on its way by mail.'), details, await ticketList(booking.id),
      h('div', { class: 'actions' }, calendarLink(booking, show), cancelButton(booking, status, 'Cancel and refund')), status);
  } else if (booking.status === 'payment_pending') {
    parts.push(h('h1', {}, 'Payment being confirmed'),
      notice('info', 'The payment provider has not answered yet. You will get the outcome by mail; this page shows it too once it is known.'),
      details, status);
    // The worker settles it; look again now and then, and show the outcome when there is one.
    timer = setInterval(async () => {
      try {
        if ((await get(`/bookings/${encodeURIComponent(id)}`)).data.status !== 'payment_pending') await route();
      } catch { /* the next look tries again */ }
    }, 5000);
  } else {
    parts.push(h('h1', {}, booking.status === 'expired' ? 'This hold expired' : 'Booking canceled'), details,
      h('p', {}, h('a', { href: `#/showtimes/${booking.showtimeId}` }, 'Pick seats for this showtime')));
  }
  render(main, ...parts);
  return () => clearInterval(timer);
}

async function paymentForm(booking, status) {
  let tokens = [];
  try {
    tokens = (await get('/payments/options')).data.testTokens;
  } catch { /* no options: the plain field stays */ }
  let key = null;
  let lastToken = null;
  const field = h('input', { id: 'card', name: 'card', type: 'text', required: true, autocomplete: 'off', 'aria-describedby': 'card-hint', value: tokens.length ? tokens[0].token : '' });
  const pay = h('button', { type: 'submit', class: 'primary' }, `Pay ${money(booking.total, booking.currency)}`);
  const form = h('form', { class: 'pay', 'aria-labelledby': 'pay-title', onsubmit: async (event) => {
    event.preventDefault();
    const token = field.value.trim();
    if (!token) return;
    // The same token again after a failure that left the outcome open is a retry: same key, charged at most once.
    if (token !== lastToken || !key) key = newKey();
    lastToken = token;
    pay.disabled = true;
    pay.textContent = 'Paying…';
    try {
      await call('PUT', `/bookings/${booking.id}/finalize`, { body: { payment: { token } }, key });
      announce('Payment accepted.');
      await route();
    } catch (error) {
      pay.disabled = false;
      pay.textContent = `Pay ${money(booking.total, booking.currency)}`;
      if (!(error instanceof Problem)) throw error;
      if (error.status === 402) {
        key = null;
        render(status, notice('error', 'Your card was declined. Your seats are still held: try another card before the time runs out.'));
      } else if (error.status === 504 || error.status === 502 || error.type === 'payment-in-progress') {
        render(status, notice('info', 'The payment is pending: the provider has not confirmed it yet. We will mail you the outcome; your seats stay held meanwhile.'));
        form.remove();
        document.getElementById('booking-status').textContent = statusText('payment_pending');
      } else {
        if (error.status < 500) key = null;
        render(status, problemNotice(error));
      }
    }
  } },
  h('h2', { id: 'pay-title' }, 'Card'),
  h('label', { for: 'card' }, 'Card token'),
  field,
  tokens.length ? h('div', { id: 'card-hint', class: 'hint' },
    h('p', {}, 'Sandbox payments: no real card is charged. Test cards:'),
    h('ul', { class: 'tokens' }, tokens.map((t) => h('li', {},
      h('button', { type: 'button', class: 'link', onclick: () => { field.value = t.token; field.focus(); } }, t.token), ` ${t.outcome}`)))) :
    h('p', { id: 'card-hint', class: 'hint' }, 'The token your card provider gave you.'),
  pay);
  return form;
}

function cancelButton(booking, status, label) {
  const key = newKey();
  const button = h('button', { type: 'button', class: 'danger', onclick: async () => {
    if (!window.confirm('Cancel this booking? A paid booking is refunded.')) return;
    button.disabled = true;
    try {
      await call('DELETE', `/bookings/${booking.id}`, { key });
      announce('Booking canceled.');
      await route();
    } catch (error) {
      button.disabled = false;
      render(status, problemNotice(error));
    }
  } }, label);
  return button;
}

async function myBookings() {
  if (!session.token) return requireLogin('/bookings');
  document.title = 'My bookings · boxoffice';
  const { data } = await get('/users/me/bookings?limit=50');
  const shows = new Map();
  await Promise.all([...new Set(data.items.map((b) => b.showtimeId))].map(async (sid) => {
    try { shows.set(sid, (await get(`/showtimes/${sid}`)).data); } catch { /* shown without details */ }
  }));
  const tickets = new Map();
  await Promise.all(data.items.filter((b) => b.status === 'paid').map(async (b) => {
    tickets.set(b.id, await ticketList(b.id, { compact: true }));
  }));
  render(main, h('h1', {}, 'My bookings'),
    data.items.length ? h('ul', { class: 'cards' }, data.items.map((b) => {
      const show = shows.get(b.showtimeId);
      return h('li', { class: 'card' }, tickets.get(b.id),
        h('h2', { class: 'h3' }, h('a', { href: `#/bookings/${b.id}` }, show ? show.movie.title : 'Booking')),
        show ? h('p', {}, `${day(show.startTime, show.timeZone)}, ${clock(show.startTime, show.timeZone)} · ${show.theater.name}`) : null,
        h('p', { class: 'muted' }, `${b.seats.map((s) => s.label).join(', ')} · ${money(b.total, b.currency)} · ${statusText(b.status)}`));
    })) : h('p', {}, 'No bookings yet. ', h('a', { href: '#/' }, 'Find a movie')));
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Log in and register, with the API's validation messages next to their fields

function field(name, label, attrs = {}) {
  const input = h('input', { id: name, name, 'aria-describedby': `${name}-error`, ...attrs });
  return h('div', { class: 'field' }, h('label', { for: name }, label), input, h('p', { id: `${name}-error`, class: 'field-error' }));
}

function showFieldErrors(form, error, status) {
  for (const p of form.querySelectorAll('.field-error')) p.textContent = '';
  for (const input of form.querySelectorAll('input')) input.removeAttribute('aria-invalid');
  const marked = [];
  for (const e of error.errors || []) {
    const name = e.field.replace(/^body\./, '');
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!input) continue;
    input.setAttribute('aria-invalid', 'true');
    document.getElementById(`${name}-error`).textContent = e.message;
    marked.push(input);
  }
  // Field messages stand by their fields; the summary names the fields instead of repeating the API's detail.
  const names = marked.map((input) => form.querySelector(`label[for="${input.id}"]`).textContent);
  render(status, marked.length ? notice('error', `Please correct: ${names.join(', ')}.`) : problemNotice(error));
  if (marked.length) marked[0].focus();
}

function safeNext(params) {
  const next = params.get('next') || '/';
  return next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

async function login(email, password) {
  const { data } = await call('POST', '/auth/token', { body: { email, password }, auth: false });
  session.token = data.accessToken;
  await refreshAccount();
}

function loginScreen(params) {
  document.title = 'Log in · boxoffice';
  const status = h('div', { class: 'status' });
  const form = h('form', { class: 'account', novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    try {
      await login(values.email, values.password);
      announce('You are logged in.');
      go(safeNext(params));
    } catch (error) {
      showFieldErrors(form, error, status);
    }
  } },
  field('email', 'Email', { type: 'email', autocomplete: 'email', required: true }),
  field('password', 'Password', { type: 'password', autocomplete: 'current-password', required: true }),
  h('button', { type: 'submit', class: 'primary' }, 'Log in'));
  render(main, h('h1', {}, 'Log in'), status, form,
    h('p', {}, 'New here? ', h('a', { href: `#/register?next=${encodeURIComponent(safeNext(params))}` }, 'Create an account')));
  return null;
}

function registerScreen(params) {
  document.title = 'Register · boxoffice';
  const status = h('div', { class: 'status' });
  const form = h('form', { class: 'account', novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    try {
      await call('POST', '/users', { body: values, auth: false });
      await login(values.email, values.password);
      announce('Your account is ready and you are logged in.');
      go(safeNext(params));
    } catch (error) {
      showFieldErrors(form, error, status);
    }
  } },
  field('name', 'Name', { type: 'text', autocomplete: 'name', required: true }),
  field('email', 'Email', { type: 'email', autocomplete: 'email', required: true }),
  field('phoneNumber', 'Phone number', { type: 'tel', autocomplete: 'tel', required: true, placeholder: '+12125550100' }),
  field('password', 'Password', { type: 'password', autocomplete: 'new-password', required: true }),
  h('button', { type: 'submit', class: 'primary' }, 'Create account'));
  render(main, h('h1', {}, 'Create an account'), status, form,
    h('p', {}, 'Already registered? ', h('a', { href: `#/login?next=${encodeURIComponent(safeNext(params))}` }, 'Log in')));
  return null;
}

// ---------------------------------------------------------------------------------------------------------------

window.addEventListener('hashchange', async () => {
  await route();
  renderAccount();
});
document.getElementById('skip').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
// The account menu and the first screen load side by side.
Promise.all([refreshAccount(), route()]).then(() => {
  // What the browser measured up to now: read by the end-to-end tests (time to interactive).
  document.documentElement.dataset.ready = String(Math.round(performance.now()));
});
