/** DOM building and number formatting for the dashboard page (runs in the browser). */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((e: Event) => void)>;

/** `h('div', {class: 'x', onclick: fn}, child…)`: an element with attributes, listeners and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (k in el && typeof v !== 'string') (el as unknown as Record<string, unknown>)[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return el;
}

export type Format = 'int' | 'num' | 'usd' | 's' | 'pct' | 'h' | 'text' | 'gb';

const sig = (x: number, digits = 3) => {
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a < 1e-4) return x.toExponential(digits - 1);
  return Number(x.toPrecision(digits)).toLocaleString('en-US', { maximumSignificantDigits: digits });
};

/** Seconds as a reader says them: 0.42 s, 12.3 s, 4 min 05 s, 2 h 03 min. */
export function seconds(s: number): string {
  if (!Number.isFinite(s)) return '—';
  const a = Math.abs(s);
  if (a < 60) return `${sig(s)} s`;
  if (a < 3600) return `${Math.floor(a / 60)} min ${String(Math.round(a % 60)).padStart(2, '0')} s`;
  return `${Math.floor(a / 3600)} h ${String(Math.round((a % 3600) / 60)).padStart(2, '0')} min`;
}

export function format(v: number | string | null | undefined, f: Format): string {
  if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return '—';
  if (typeof v === 'string') return v;
  switch (f) {
    case 'int': return Math.round(v).toLocaleString('en-US');
    case 'usd': return v === 0 ? '$0' : Math.abs(v) >= 100 ? `$${Math.round(v).toLocaleString('en-US')}` : `$${sig(v)}`;
    case 's': return seconds(v);
    case 'pct': return `${sig(v * 100)} %`;
    case 'h': return `${sig(v)} h`;
    case 'gb': return `${sig(v)} GB`;
    default: return sig(v);
  }
}

/** A value cell: the formatted text, the raw number in `data-value` (what the tests read). */
export function valueCell(v: number | string | null | undefined, f: Format, tag: 'td' | 'span' = 'td'): HTMLElement {
  const el = h(tag, { class: typeof v === 'number' ? 'num' : undefined }, format(v, f));
  if (typeof v === 'number' && Number.isFinite(v)) el.dataset.value = String(v);
  return el;
}

export interface Column<T> { label: string; value: (row: T) => number | string | null | undefined; format?: Format; title?: string }

/** A table whose column headers sort it (click again to reverse); past `limit` rows, a button shows the rest. */
export function table<T>(columns: Column<T>[], rows: T[], opts: { id?: string; empty?: string; limit?: number } = {}): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty', id: opts.id }, opts.empty ?? 'Nothing in this selection.');
  let sortBy = -1;
  let desc = false;
  let limit = opts.limit ?? Infinity;
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'more', onclick: () => { limit = Infinity; fill(); } }, `show all ${rows.length} rows`);
  const fill = () => {
    const sorted = sortBy < 0 ? rows : [...rows].sort((a, b) => {
      const x = columns[sortBy].value(a);
      const y = columns[sortBy].value(b);
      const c = x === y ? 0 : x === null || x === undefined ? 1 : y === null || y === undefined ? -1 : x < y ? -1 : 1;
      return desc ? -c : c;
    });
    tbody.replaceChildren(...sorted.slice(0, limit).map((r) => h('tr', {}, columns.map((c) => valueCell(c.value(r), c.format ?? 'text')))));
    more.hidden = rows.length <= limit;
  };
  const head = h('tr', {}, columns.map((c, i) => h('th', {
    title: c.title ?? 'sort', tabindex: 0,
    onclick: () => {
      desc = sortBy === i ? !desc : (c.format ?? 'text') !== 'text';
      sortBy = i;
      fill();
    },
  }, c.label)));
  fill();
  const t = h('table', { id: opts.id }, h('thead', {}, head), tbody);
  return rows.length > limit ? h('div', {}, t, more) : t;
}

/** A summary tile: label over a big value; `data-figure` names it for the tests. */
export function tile(figure: string, label: string, v: number | string | null, f: Format, hint?: string): HTMLElement {
  const value = valueCell(v, f, 'span');
  value.classList.add('value');
  return h('div', { class: 'tile', 'data-figure': figure, title: hint }, h('span', { class: 'label' }, label), value);
}

/** A section with a heading, a one-line explanation and its content. */
export function section(id: string, title: string, blurb: string, ...content: (Child | Child[])[]): HTMLElement {
  return h('section', { id }, h('h2', {}, title), blurb ? h('p', { class: 'blurb' }, blurb) : null, ...content);
}

/** `#rrggbb` mixed towards white (t > 0) or black (t < 0). */
export function shade(hex: string, t: number): string {
  const n = parseInt(hex.slice(1), 16);
  const ch = [n >> 16, (n >> 8) & 255, n & 255].map((c) => Math.round(t >= 0 ? c + (255 - c) * t : c * (1 + t)));
  return `#${ch.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}
