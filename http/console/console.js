// riposte's operator console. One file, no framework, no build step.
//
// Rules this file keeps (the page's Content-Security-Policy enforces the
// first two):
// - no inline script or style, no other origin;
// - nothing a model, a user or a tenant wrote is ever parsed as HTML: every
//   value reaches the page through textContent or createTextNode, and the
//   only links are the console's own (#/...), built from encoded ids;
// - the API key is sent as the Authorization header and kept in this tab's
//   sessionStorage, never put in a URL.
'use strict';

const keyStore = 'riposte.console.key';
const view = () => document.getElementById('view');

// --- building the page -----------------------------------------------------

// el('td', {class: 'num'}, 'text', child, ...): an element whose children are
// text nodes (for strings and numbers) or elements. Attributes are set one by
// one; `href` takes only the console's own links.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'href' && !String(value).startsWith('#/')) continue;
    if (name.startsWith('on')) {
      node.addEventListener(name.slice(2), value);
      continue;
    }
    node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  append(node, children);
  return node;
}

function show(...children) {
  const v = view();
  v.replaceChildren();
  append(v, children);
}

function say(message) {
  document.getElementById('status').textContent = message || '';
}

const link = (route, text) => el('a', { href: route }, text);
const responseLink = (id) => link(`#/r/${encodeURIComponent(id)}`, id);
const conversationLink = (id) => link(`#/c/${encodeURIComponent(id)}`, id);
const listLink = (params, text) => link(`#/?${new URLSearchParams(params)}`, text);
const dash = (v) => (v === null || v === undefined || v === '' ? '—' : v);
const fixed = (ms) => (ms === null || ms === undefined ? '—' : Number(ms).toFixed(1));
const when = (seconds) => new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19);
const pretty = (value) => el('pre', {}, JSON.stringify(value, null, 2));

function card(key, value, extra) {
  return el('div', { class: 'card', 'data-k': key }, el('div', { class: 'k' }, key),
    el('div', { class: `v ${extra || ''}` }, dash(value)));
}

// --- the API ---------------------------------------------------------------

function headers() {
  const key = sessionStorage.getItem(keyStore);
  return key ? { authorization: `Bearer ${key}` } : {};
}

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...headers(), ...(init.headers || {}) } });
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const message = body && body.error ? body.error.message : `HTTP ${res.status}`;
    throw new ApiError(`${res.status}: ${message}`, res.status);
  }
  return body;
}

// Every page of a paged list, oldest first: a stream's events (after a
// seq), its items or a listing of the index (after an id).
async function allPages(path, signal, cursor = (last) => String(last.seq), params = {}) {
  const out = [];
  let after = null;
  for (let round = 0; round < 10000; ++round) {
    const q = new URLSearchParams({ ...params, order: 'asc', limit: '100' });
    if (after !== null) q.set('after', after);
    const page = await api(`${path}?${q}`, { signal });
    out.push(...page.data);
    if (!page.has_more || page.data.length === 0) break;
    after = cursor(page.data[page.data.length - 1]);
  }
  return out;
}

// --- the list of responses -------------------------------------------------

const responseFields = [
  ['tenant', 'text'], ['status', ['', 'queued', 'in_progress', 'completed', 'incomplete', 'failed', 'cancelled']],
  ['model', 'text'], ['mode', ['', 'blocking', 'stream', 'background']], ['error_code', 'text'],
  ['conversation', 'text'], ['previous_response_id', 'text'], ['created_after', 'datetime-local'],
  ['created_before', 'datetime-local'], ['min_tokens', 'number'], ['max_tokens', 'number'],
  ['min_duration_ms', 'number'], ['max_duration_ms', 'number'], ['min_first_token_ms', 'number'],
  ['max_first_token_ms', 'number'], ['include_deleted', ['', 'true']],
];

function toLocalInput(seconds) {
  const d = new Date(seconds * 1000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

// A form of `fields` that filters the list at `route` (#/ or #/conversations).
function filterForm(fields, params, route) {
  const form = el('form', { class: 'filters', id: 'filters' });
  for (const [name, kind] of fields) {
    let input;
    const value = params.get(name) || '';
    if (Array.isArray(kind)) {
      input = el('select', { name }, kind.map((o) => el('option', { value: o }, o || 'any')));
      input.value = value;
    } else {
      input = el('input', { name, type: kind, min: kind === 'number' ? '0' : null });
      input.value = kind === 'datetime-local' && value ? toLocalInput(Number(value)) : value;
    }
    form.append(el('label', {}, name.replaceAll('_', ' '), input));
  }
  form.append(el('button', { type: 'submit' }, 'Filter'),
    el('button', { type: 'reset', onclick: () => setTimeout(() => { location.hash = route; }) }, 'Clear'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [name, kind] of fields) {
      const v = form.elements[name].value.trim();
      if (!v) continue;
      q.set(name, kind === 'datetime-local' ? String(Math.floor(new Date(v).getTime() / 1000)) : v);
    }
    location.hash = `${route}?${q}`;
  });
  return form;
}

// The pager under a listing: how many, how far the index is, the next page.
function pagerOf(page, params, route) {
  const pager = el('div', { class: 'pager' }, `${page.data.length} shown`);
  if (page.indexed_through !== undefined) pager.append(` · indexed through position ${page.indexed_through}`);
  if (page.has_more) {
    const next = new URLSearchParams(params);
    next.set('after', page.last_id);
    pager.append(' · ', el('a', { href: `${route}?${next}`, id: 'next-page' }, 'Next page →'));
  }
  return pager;
}

async function listPage(params, signal) {
  const table = el('table', { id: 'responses' },
    el('thead', {}, el('tr', {}, ['id', 'created', 'tenant', 'model', 'mode', 'status', 'error / reason',
      'duration ms', 'first token ms', 'tokens', 'previous'].map((h) => el('th', {}, h)))));
  const body = el('tbody');
  table.append(body);
  const pager = el('div');
  show(el('h1', {}, 'Responses'), filterForm(responseFields, params, '#/'), table, pager);
  const page = await api(`/v1/operator/responses?${params}`, { signal });
  if (signal.aborted) return;
  for (const r of page.data) {
    body.append(el('tr', { 'data-id': r.id },
      el('td', {}, responseLink(r.id)),
      el('td', { class: 'nowrap' }, when(r.created_at)),
      el('td', {}, listLink({ tenant: r.tenant }, r.tenant)),
      el('td', {}, r.model),
      el('td', {}, dash(r.mode)),
      el('td', { class: `status-${r.status}` }, r.status, r.deleted ? ' (deleted)' : ''),
      el('td', {}, dash(r.error_code || r.reason)),
      el('td', { class: 'num' }, fixed(r.duration_ms)),
      el('td', { class: 'num' }, fixed(r.time_to_first_token_ms)),
      el('td', { class: 'num' }, r.usage ? r.usage.total_tokens : '—'),
      el('td', {}, r.previous_response_id ? responseLink(r.previous_response_id) : '—')));
  }
  if (page.data.length === 0) body.append(el('tr', {}, el('td', { colspan: 11, class: 'muted' }, 'No responses.')));
  pager.replaceWith(pagerOf(page, params, '#/'));
}

// --- conversations -----------------------------------------------------------

const conversationFields = [
  ['tenant', 'text'], ['created_after', 'datetime-local'], ['created_before', 'datetime-local'],
  ['active_after', 'datetime-local'], ['active_before', 'datetime-local'], ['min_items', 'number'],
  ['max_items', 'number'], ['min_responses', 'number'], ['max_responses', 'number'],
  ['include_deleted', ['', 'true']],
];

async function conversationsPage(params, signal) {
  const table = el('table', { id: 'conversations' },
    el('thead', {}, el('tr', {}, ['id', 'created', 'last active', 'tenant', 'items', 'responses',
      'last response'].map((h) => el('th', {}, h)))));
  const body = el('tbody');
  table.append(body);
  const pager = el('div');
  show(el('h1', {}, 'Conversations'), filterForm(conversationFields, params, '#/conversations'), table, pager);
  const page = await api(`/v1/operator/conversations?${params}`, { signal });
  if (signal.aborted) return;
  for (const c of page.data) {
    body.append(el('tr', { 'data-id': c.id },
      el('td', {}, conversationLink(c.id), c.deleted ? ' (deleted)' : ''),
      el('td', { class: 'nowrap' }, when(c.created_at)),
      el('td', { class: 'nowrap' }, when(c.last_active_at)),
      el('td', {}, link(`#/conversations?${new URLSearchParams({ tenant: c.tenant })}`, c.tenant)),
      el('td', { class: 'num' }, c.items),
      el('td', { class: 'num' }, c.responses),
      el('td', {}, c.last_response_id ? responseLink(c.last_response_id) : '—')));
  }
  if (page.data.length === 0) body.append(el('tr', {}, el('td', { colspan: 7, class: 'muted' }, 'No conversations.')));
  pager.replaceWith(pagerOf(page, params, '#/conversations'));
}

// An item's words, as text: a message's text parts, a call's name and
// arguments, an output; anything else by its type.
function itemText(item) {
  if (Array.isArray(item.content))
    return item.content.map((p) => p?.text ?? p?.refusal ?? `[${p?.type}]`).join('');
  if (typeof item.content === 'string') return item.content;
  if (item.type === 'function_call') return `${item.name}(${item.arguments})`;
  if (item.output !== undefined) return typeof item.output === 'string' ? item.output : JSON.stringify(item.output);
  return '';
}

function conversationResponses(responses) {
  return el('table', { id: 'conversation-responses' },
    el('thead', {}, el('tr', {}, ['id', 'created', 'status', 'duration ms', 'tokens'].map((h) => el('th', {}, h)))),
    el('tbody', {}, responses.map((r) => el('tr', { 'data-id': r.id },
      el('td', {}, responseLink(r.id)), el('td', { class: 'nowrap' }, when(r.created_at)),
      el('td', { class: `status-${r.status}` }, r.status, r.deleted ? ' (deleted)' : ''),
      el('td', { class: 'num' }, fixed(r.duration_ms)),
      el('td', { class: 'num' }, r.usage ? r.usage.total_tokens : '—')))));
}

async function conversationPage(id, signal) {
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(id)) throw new ApiError(`'${id}' is not a conversation id.`);
  const base = `/v1/operator/conversations/${encodeURIComponent(id)}`;
  show(el('h1', {}, id), el('p', { class: 'muted' }, 'Loading…'));
  // The responses run on it are the index's, kept after it is deleted; its
  // object, items and events are read as its tenant would (404 once deleted).
  const responsesOf = allPages('/v1/operator/responses', signal, (last) => last.id,
    { conversation: id, include_deleted: 'true' });
  let conv, items, events;
  try {
    [conv, items, events] = await Promise.all([
      api(base, { signal }), allPages(`${base}/items`, signal, (last) => last.id),
      allPages(`${base}/events`, signal),
    ]);
  } catch (e) {
    responsesOf.catch(() => {});
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    const responses = await responsesOf;
    if (signal.aborted) return;
    if (!responses.length) throw e;
    show(el('h1', {}, id),
      el('p', { class: 'notice', id: 'gone' }, `${e.message} It was deleted: its items and events are no ` +
        'longer served; the responses run on it are still listed.'),
      el('h2', {}, 'Responses'), conversationResponses(responses));
    return;
  }
  const responses = await responsesOf;
  if (signal.aborted) return;
  const created = events.length ? events[0].recorded_at : 0;
  const last = events.length ? events[events.length - 1] : null;
  show(
    el('h1', {}, id),
    el('div', { class: 'cards', id: 'conversation-totals' },
      card('tenant', last ? last.tenant : null), card('created', when(conv.created_at)),
      card('last event', last ? when(last.recorded_at / 1e6) : null),
      card('items', items.length), card('responses', responses.length), card('events', events.length)),
    el('h2', {}, 'Metadata'), el('table', { id: 'metadata' }, el('tbody', {},
      Object.entries(conv.metadata || {}).map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v))))),
    el('h2', {}, 'Responses'), conversationResponses(responses),
    el('h2', {}, 'Items'),
    el('table', { id: 'items' },
      el('thead', {}, el('tr', {}, ['id', 'type', 'role', 'text'].map((h) => el('th', {}, h)))),
      el('tbody', {}, items.map((item) => el('tr', { 'data-id': item.id },
        el('td', { class: 'nowrap' }, item.id), el('td', {}, item.type), el('td', {}, dash(item.role)),
        el('td', { class: 'text' }, itemText(item)))))),
    el('h2', {}, 'Events'),
    el('table', { id: 'conversation-events' },
      el('thead', {}, el('tr', {}, ['at ms', 'event', 'response', 'items'].map((h) => el('th', {}, h)))),
      el('tbody', {}, events.map((e) => el('tr', {},
        el('td', { class: 'num' }, fixed((e.recorded_at - created) / 1000)), el('td', {}, e.type),
        el('td', {}, e.data && e.data.response_id ? responseLink(e.data.response_id) : ''),
        el('td', { class: 'num' }, e.data && Array.isArray(e.data.items) ? e.data.items.length : ''))))),
    el('details', { id: 'conversation-json' }, el('summary', {}, 'The Conversation object and raw events'),
      pretty(conv), pretty(events)));
}

// --- one response ----------------------------------------------------------

const textDeltas = new Set(['output_text_delta', 'reasoning_delta', 'function_call_arguments_delta',
  'custom_tool_call_input_delta']);

// Inter-token gaps as bars (ms), the slowest in red.
function gapChart(deltas) {
  const gaps = [];
  for (let i = 1; i < deltas.length; ++i) gaps.push((deltas[i].recorded_at - deltas[i - 1].recorded_at) / 1000);
  if (gaps.length === 0) return el('p', { class: 'muted', id: 'gap-chart' }, 'No gaps: fewer than two deltas.');
  const width = 720;
  const height = 120;
  const max = gaps.reduce((a, b) => Math.max(a, b), 0.001);
  const sorted = [...gaps].sort((a, b) => a - b);
  const p90 = sorted[Math.floor(sorted.length * 0.9)];
  const bar = width / gaps.length;
  const chart = svg('svg', { class: 'chart', id: 'gap-chart', width, height: height + 16,
    viewBox: `0 0 ${width} ${height + 16}`, role: 'img', 'aria-label': 'inter-token gaps' });
  gaps.forEach((g, i) => {
    const h = Math.max(1, (g / max) * height);
    chart.append(svg('rect', { x: i * bar, y: height - h, width: Math.max(1, bar - 1), height: h,
      class: g > p90 && g > 2 * sorted[Math.floor(sorted.length / 2)] ? 'slow' : '' },
    svg('title', {}, `gap ${i + 1}: ${g.toFixed(2)} ms`)));
  });
  chart.append(svg('text', { x: 2, y: height + 12 }, `${gaps.length} gaps · max ${max.toFixed(1)} ms`));
  return chart;
}

// Plays the text deltas at their recorded offsets (times `speed`).
function replayer(events) {
  const deltas = events.filter((e) => textDeltas.has(e.type));
  const out = el('div', { class: 'replay', id: 'replay-output' });
  const clock = el('span', { id: 'replay-clock' }, '0.0 ms');
  const speed = el('select', { id: 'replay-speed' }, ['1', '2', '10', '100'].map((s) => el('option', { value: s }, `${s}×`)));
  let timers = [];
  const stop = () => {
    timers.forEach(clearTimeout);
    timers = [];
  };
  const start = events.length ? events[0].recorded_at : 0;
  const play = () => {
    stop();
    out.replaceChildren();
    out.dataset.state = 'playing';
    const factor = Number(speed.value);
    let lastKind = null;
    deltas.forEach((d, i) => {
      timers.push(setTimeout(() => {
        if (d.type !== lastKind && lastKind !== null) out.append(document.createTextNode('\n\n'));
        if (d.type !== lastKind) out.append(el('span', { class: 'muted' }, `[${d.type}] `));
        lastKind = d.type;
        out.append(document.createTextNode(d.data.delta || ''));
        clock.textContent = `${((d.recorded_at - start) / 1000).toFixed(1)} ms`;
        if (i === deltas.length - 1) out.dataset.state = 'done';
      }, (d.recorded_at - start) / 1000 / factor));
    });
    if (deltas.length === 0) out.dataset.state = 'done';
  };
  return el('div', {},
    el('div', { class: 'replay-bar' },
      el('button', { id: 'replay', onclick: play }, 'Replay at recorded pace'),
      el('button', { onclick: () => { stop(); out.dataset.state = 'stopped'; } }, 'Stop'),
      'speed', speed, 'at', clock, `${deltas.length} deltas`),
    out);
}

function timelineTable(t) {
  return el('table', { id: 'timeline' },
    el('thead', {}, el('tr', {}, ['at ms', 'until ms', 'event', 'count', 'detail'].map((h) => el('th', {}, h)))),
    el('tbody', {}, t.rows.map((row) => el('tr', { class: row.alert ? 'alert' : '' },
      el('td', { class: 'num' }, fixed(row.at_ms)),
      el('td', { class: 'num' }, row.count > 1 ? fixed(row.until_ms) : ''),
      el('td', {}, row.type),
      el('td', { class: 'num' }, row.count),
      el('td', {}, row.detail)))));
}

async function responsePage(id, signal) {
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(id)) throw new ApiError(`'${id}' is not a response id.`);
  const base = `/v1/operator/responses/${encodeURIComponent(id)}`;
  show(el('h1', {}, id), el('p', { class: 'muted' }, 'Loading…'));
  const [resp, timeline, events, items, next] = await Promise.all([
    api(base, { signal }), api(`${base}/timeline`, { signal }), allPages(`${base}/events`, signal),
    allPages(`${base}/input_items`, signal, (last) => last.id),
    api(`/v1/operator/responses?${new URLSearchParams({ previous_response_id: id, order: 'asc', limit: '100' })}`, { signal }),
  ]);
  if (signal.aborted) return;
  const t = timeline.totals;
  const links = el('div', { class: 'links', id: 'chain' });
  if (resp.previous_response_id) links.append(el('span', {}, '← continues ', responseLink(resp.previous_response_id)));
  for (const r of next.data) links.append(el('span', {}, 'continued by → ', responseLink(r.id)));
  if (resp.conversation && resp.conversation.id)
    links.append(el('span', {}, 'conversation ', conversationLink(resp.conversation.id)));
  if (!links.childNodes.length) links.append(el('span', { class: 'muted' }, 'Not part of a chain or a conversation.'));

  const actions = el('div', {});
  if (resp.background && (resp.status === 'queued' || resp.status === 'in_progress')) {
    actions.append(el('button', { class: 'danger', id: 'cancel', onclick: async () => {
      try {
        await api(`${base}/cancel`, { method: 'POST' });
        say('');
        route();
      } catch (e) {
        say(e.message);
      }
    } }, 'Cancel this background response'));
  }
  const deltas = events.filter((e) => e.type === 'output_text_delta');
  const error = resp.error ? `${resp.error.code}: ${resp.error.message}` : null;
  show(
    el('h1', {}, id),
    el('div', { class: 'cards', id: 'totals' },
      card('status', t.status || resp.status, `status-${resp.status}`), card('model', resp.model),
      card('tenant', events.length ? events[0].tenant : null), card('created', when(resp.created_at)),
      card('duration ms', fixed(t.duration_ms)), card('first token ms', fixed(t.time_to_first_token_ms)),
      card('deltas', t.deltas), card('gap p50 ms', fixed(t.gap_p50_ms)), card('gap max ms', fixed(t.gap_max_ms)),
      card('tool calls', t.tool_calls), card('tokens', resp.usage ? resp.usage.total_tokens : null),
      error ? card('error', error, 'status-failed') : null,
      resp.incomplete_details ? card('incomplete', resp.incomplete_details.reason, 'status-incomplete') : null),
    actions,
    el('h2', {}, 'Chain'), links,
    el('h2', {}, 'Timeline'), timelineTable(timeline),
    el('h2', {}, 'Inter-token gaps'), gapChart(deltas),
    el('h2', {}, 'Replay'), replayer(events),
    el('h2', {}, 'Response'), el('details', { id: 'response-json' }, el('summary', {}, 'The Response object'), pretty(resp)),
    el('h2', {}, 'Input items'), el('details', { id: 'input-items' }, el('summary', {}, `${items.length} items`), pretty(items)),
    el('h2', {}, 'Events'), el('details', { id: 'raw-events' }, el('summary', {}, `${events.length} events`), pretty(events)));
}

// --- the audit feed ----------------------------------------------------------

// The live tail is SSE read through a fetch stream (an EventSource cannot
// send the key); leaving the page aborts it.
async function auditPage(params, signal) {
  const names = ['tenant', 'type', 'stream'];
  const form = el('form', { class: 'filters', id: 'audit-filters' },
    names.map((name) => {
      const input = el('input', { name });
      input.value = params.get(name) || '';
      return el('label', {}, name, input);
    }),
    el('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const name of names) if (form.elements[name].value.trim()) q.set(name, form.elements[name].value.trim());
    location.hash = `#/audit?${q}`;
  });
  const body = el('tbody');
  const state = el('span', { id: 'audit-state' }, 'connecting…');
  show(el('h1', {}, 'Audit feed'), form, el('div', { class: 'pager' }, state),
    el('table', { id: 'audit' }, el('thead', {}, el('tr', {}, ['position', 'recorded', 'tenant', 'stream', 'type']
      .map((h) => el('th', {}, h)))), body));
  // The tail starts at the index's position (the admin sees it), so it shows
  // what happens from now on; without the index, from the feed's start.
  let after = 0;
  try {
    after = (await api('/v1/operator/responses?limit=1', { signal })).indexed_through || 0;
  } catch {
    after = 0;
  }
  const q = new URLSearchParams({ stream: 'true', after: String(after) });
  for (const name of names) if (params.get(name)) q.set(name === 'stream' ? 'stream_id' : name, params.get(name));
  const res = await fetch(`/v1/audit/events?${q}`, { headers: headers(), signal });
  if (!res.ok) {
    const err = await res.json().catch(() => null);
    throw new ApiError(`${res.status}: ${err && err.error ? err.error.message : 'the audit feed failed'}`);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let shown = 0;
  let buffer = '';
  state.textContent = `live · through position ${after}`;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end).split('\n');
      buffer = buffer.slice(end + 2);
      const data = frame.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      if (!data) continue; // a comment: the tail is alive
      const e = JSON.parse(data);
      if (frame.includes('event: error')) throw new ApiError(`the audit feed ended: ${e.message}`);
      ++shown;
      body.prepend(el('tr', { 'data-position': e.global_position },
        el('td', { class: 'num' }, e.global_position),
        el('td', {}, new Date(e.recorded_at / 1000).toISOString()),
        el('td', {}, e.tenant),
        el('td', {}, e.stream.startsWith('resp_') ? responseLink(e.stream) : e.stream),
        el('td', {}, e.type)));
      while (body.childNodes.length > 500) body.lastChild.remove();
      state.textContent = `live · ${shown} events shown · through position ${e.global_position}`;
    }
  }
  state.textContent = `ended · ${shown} events shown (reload to follow again)`;
}

// --- routing -----------------------------------------------------------------

// The page being shown: aborted (its reads and its tail) when another
// replaces it, and a page that was left touches nothing after its reads.
let current = null;

async function route() {
  if (current) current.abort();
  const mine = new AbortController();
  current = mine;
  const hash = location.hash || '#/';
  const [path, query] = hash.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  say('');
  try {
    if (path.startsWith('/r/')) await responsePage(decodeURIComponent(path.slice(3)), mine.signal);
    else if (path.startsWith('/c/')) await conversationPage(decodeURIComponent(path.slice(3)), mine.signal);
    else if (path === '/conversations') await conversationsPage(params, mine.signal);
    else if (path === '/audit') await auditPage(params, mine.signal);
    else await listPage(params, mine.signal);
  } catch (e) {
    if (mine.signal.aborted || e.name === 'AbortError') return; // the page was left
    say(e instanceof ApiError ? e.message : `The console failed: ${e.message}`);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  const input = document.getElementById('key');
  input.value = sessionStorage.getItem(keyStore) || '';
  document.getElementById('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (input.value) sessionStorage.setItem(keyStore, input.value);
    else sessionStorage.removeItem(keyStore);
    route();
  });
  window.addEventListener('hashchange', route);
  route();
});
