// The seat map: the screen's real layout on a CSS grid (aisles and gaps are empty cells), one button per seat with
// an accessible name, a roving tabindex so that Tab enters and leaves the map in one step, arrow keys between seats
// (nearest seat in that direction, across aisles), Home/End along a row, Space/Enter to select.

import { h, money } from './dom.js';

/** Seat kinds as people say them, in the legend's order. */
export const KINDS = {
  standard: 'standard',
  premium: 'premium',
  accessible: 'wheelchair space',
  companion: 'companion seat',
};

function seatName(seat, currency, state) {
  return `Row ${seat.row}, seat ${seat.number}, ${KINDS[seat.kind]}, ${money(seat.price, currency)}, ${state}`;
}

/**
 * Builds the map of `data` (GET /showtimes/{id}/seats). `selected` is a Set of labels kept by the caller;
 * `onToggle(label)` is called when a person selects or releases a seat.
 */
export function seatMap(data, selected, onToggle) {
  const seats = new Map();
  const grid = h('div', { class: 'seats', role: 'group', 'aria-label': 'Seats, screen at the top' });
  grid.style.setProperty('--cols', String(data.grid.columns + 2));
  grid.style.setProperty('--cols-narrow', String(data.grid.columns + 1)); // phones drop the right-hand labels
  grid.style.setProperty('--rows', String(data.grid.rows));
  for (const row of data.rows) {
    for (const side of [1, data.grid.columns + 2]) {
      const label = h('span', { class: side === 1 ? 'rowlabel' : 'rowlabel end', 'aria-hidden': 'true' }, row.label);
      label.style.gridRow = String(row.y + 1);
      label.style.gridColumn = String(side);
      grid.append(label);
    }
    for (const s of row.seats) {
      const seat = { ...s, row: row.label };
      const button = h('button', {
        type: 'button',
        class: `seat ${s.kind}`,
        tabindex: '-1',
        dataset: { label: s.label },
        onclick: () => {
          if (!seat.available && !selected.has(seat.label)) return;
          onToggle(seat.label);
        },
      }, h('span', { 'aria-hidden': 'true' }, String(s.number)));
      button.style.gridRow = String(s.y + 1);
      button.style.gridColumn = String(s.x + 2);
      seat.button = button;
      seats.set(s.label, seat);
      grid.append(button);
    }
  }
  const ordered = [...seats.values()];
  let current = ordered.find((s) => s.available) || ordered[0];

  function paint() {
    for (const seat of seats.values()) {
      const chosen = selected.has(seat.label);
      const state = chosen ? 'selected' : seat.available ? 'available' : 'taken';
      seat.button.setAttribute('aria-label', seatName(seat, data.currency, state));
      seat.button.setAttribute('aria-pressed', chosen ? 'true' : 'false');
      seat.button.toggleAttribute('aria-disabled', !seat.available && !chosen);
      seat.button.classList.toggle('taken', !seat.available && !chosen);
      seat.button.classList.toggle('selected', chosen);
      seat.button.tabIndex = seat === current ? 0 : -1;
    }
  }

  function move(to) {
    if (!to) return;
    current.button.tabIndex = -1;
    current = to;
    current.button.tabIndex = 0;
    current.button.focus();
  }

  // The nearest seat from `from` in direction (dx, dy): same row for left/right, the nearest row that has seats for
  // up/down, then the closest column.
  function nearest(from, dx, dy) {
    let best = null;
    let bestCost = Infinity;
    for (const s of ordered) {
      const ddx = s.x - from.x;
      const ddy = s.y - from.y;
      if (dx && (ddy !== 0 || Math.sign(ddx) !== dx)) continue;
      if (dy && Math.sign(ddy) !== dy) continue;
      const cost = dx ? Math.abs(ddx) : Math.abs(ddy) * 1000 + Math.abs(ddx);
      if (cost < bestCost) {
        best = s;
        bestCost = cost;
      }
    }
    return best;
  }

  grid.addEventListener('keydown', (event) => {
    const label = event.target.dataset && event.target.dataset.label;
    if (!label) return;
    const from = seats.get(label);
    const row = ordered.filter((s) => s.y === from.y);
    const target = {
      ArrowLeft: () => nearest(from, -1, 0),
      ArrowRight: () => nearest(from, 1, 0),
      ArrowUp: () => nearest(from, 0, -1),
      ArrowDown: () => nearest(from, 0, 1),
      Home: () => row[0],
      End: () => row[row.length - 1],
    }[event.key];
    if (!target) return;
    event.preventDefault();
    move(target());
  });
  grid.addEventListener('focusin', (event) => {
    const seat = seats.get(event.target.dataset && event.target.dataset.label);
    if (seat && seat !== current) {
      current.button.tabIndex = -1;
      current = seat;
      seat.button.tabIndex = 0;
    }
  });

  paint();
  return {
    el: h('div', { class: 'map' }, h('div', { class: 'screen', 'aria-hidden': 'true' }, 'Screen'), grid),
    seats,
    paint,
    /** Applies a newer map of the same showtime; returns the selected labels that are no longer available. */
    update(next) {
      const lost = [];
      for (const row of next.rows) {
        for (const s of row.seats) {
          const seat = seats.get(s.label);
          if (!seat) continue;
          seat.available = s.available;
          seat.price = s.price;
          if (!s.available && selected.has(s.label)) lost.push(s.label);
        }
      }
      paint();
      return lost;
    },
  };
}

/** The legend: each kind with its price, and the states. */
export function legend(data) {
  const item = (cls, text) => h('li', {}, h('span', { class: `swatch seat ${cls}`, 'aria-hidden': 'true' }), text);
  return h('ul', { class: 'legend', 'aria-label': 'Legend' },
    Object.entries(KINDS).map(([kind, name]) => item(kind, `${name[0].toUpperCase()}${name.slice(1)} ${money(data.prices[kind], data.currency)}`)),
    item('standard taken', 'Taken'),
    item('standard selected', 'Your selection'));
}
