// The operator's console in a real headless Chromium (Debian's `chromium`,
// driven by puppeteer-core) against a real riposte and the scripted backend:
// the list and its filters, a tenant key's view, a response's timeline, gap
// chart and replay at its recorded pace, chain links, the live audit tail,
// cancelling a background response, and what a model or a user wrote never
// running as script. Screenshots go to $CONSOLE_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { startStack } from '../../sdk/harness.mjs';

const admin = 'sk-admin-console';
const acme = 'sk-acme-console';
const globex = 'sk-globex-console';
const artifacts = process.env.CONSOLE_ARTIFACTS || join(process.cwd(), 'console-artifacts');
mkdirSync(artifacts, { recursive: true });

// Everything a hostile model or user might write, in one string.
const hostile = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">' +
  '<a href="javascript:window.__pwned = 3">click</a>';
const words = ['Plain', ' words', ' then ', hostile, ' and', ' more', ' words', ' at', ' the', ' end.'];

const script = {
  rules: [
    { match: { contains: 'tell me' }, reply: { chunks: words.map((content) => ({ content })), delay_ms: 40 } },
    { match: { contains: 'break' }, reply: { status: 500, error: `<img src=x onerror="window.__pwned = 4">` } },
    // (runs for ten minutes: still running whenever the cancel test comes)
    { match: { contains: 'slowly' }, reply: { chunks: Array.from({ length: 1200 }, () => ({ content: ' w' })), delay_ms: 500 } },
  ],
};

let stack;
let browser;
let page;
let base;
const seen = { urls: [], errors: [] };
const ids = {};
let conversation;
let deleted;

async function create(key, body) {
  const res = await fetch(`${stack.baseURL}/responses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'llama3.2:1b', ...body }),
  });
  if (body.stream) { // the whole stream; its first event names the response
    const found = /"id":"(resp_[^"]+)"/.exec(await res.text());
    return { id: found && found[1] };
  }
  return res.json();
}

async function waitFor(what, check, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// What the index lists (the admin's view), once it holds `n` responses.
async function indexed(n) {
  return waitFor(`${n} indexed responses`, async () => {
    const res = await fetch(`${stack.baseURL}/operator/responses?limit=100&include_deleted=true`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const body = await res.json();
    return body.data && body.data.length >= n ? body.data : null;
  });
}

async function useKey(key) {
  await page.evaluate(() => { document.getElementById('key').value = ''; });
  await page.type('#key', key);
  await page.click('#key-form button');
}

const rowIds = () => page.$$eval('#responses tbody tr[data-id]', (rows) => rows.map((r) => r.dataset.id));
const nothingRan = async () => {
  // What proves it: the DOM holds only the console's own script, and no
  // image or javascript: link was made of the hostile text (the CSP would
  // also stop an inline handler or script from running: a second line).
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'hostile text ran as script');
  assert.deepEqual(await page.$$eval('script', (s) => s.map((x) => new URL(x.src).pathname)), ['/console/console.js']);
  assert.equal(await page.$$eval('img', (i) => i.length), 0);
  assert.equal(await page.$$eval('a[href^="javascript"]', (a) => a.length), 0);
};

before(async () => {
  stack = await startStack({
    script,
    riposteArgs: ['--api-key', `${acme}:acme`, '--api-key', `${globex}:globex`, '--admin-key', admin],
  });
  base = stack.baseURL.replace(/\/v1$/, '');
  ids.first = (await create(acme, { input: `tell me something ${hostile}`, stream: true })).id;
  ids.second = (await create(acme, { input: 'and then?', previous_response_id: ids.first })).id;
  ids.failed = (await create(globex, { input: 'break it', stream: true })).id;
  ids.globexOk = (await create(globex, { input: 'hello from globex' })).id;
  ids.background = (await create(acme, { input: 'go slowly', background: true })).id;
  // A conversation whose metadata and items are hostile, and a turn on it.
  const conv = await fetch(`${stack.baseURL}/conversations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${acme}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      metadata: { topic: hostile },
      items: [{ type: 'message', role: 'user', content: `first ${hostile}` }],
    }),
  });
  conversation = (await conv.json()).id;
  ids.onConversation = (await create(acme, { input: 'tell me more', conversation })).id;
  // Another, deleted after a turn: its page still lists the turn.
  const doomed = await fetch(`${stack.baseURL}/conversations`, {
    method: 'POST', headers: { authorization: `Bearer ${acme}`, 'content-type': 'application/json' }, body: '{}',
  });
  deleted = (await doomed.json()).id;
  ids.onDeleted = (await create(acme, { input: 'and gone', conversation: deleted })).id;
  const gone = await fetch(`${stack.baseURL}/conversations/${deleted}`, {
    method: 'DELETE', headers: { authorization: `Bearer ${acme}` },
  });
  assert.equal(gone.status, 200);
  assert.ok(Object.values(ids).every((id) => /^resp_/.test(id)), JSON.stringify(ids));
  assert.match(conversation, /^conv_/);
  await indexed(7);

  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  page.on('request', (r) => seen.urls.push(r.url()));
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') seen.errors.push(m.text()); });
});

after(async () => {
  if (browser) await browser.close();
  if (stack) await stack.stop();
});

test('the console is served with a policy that allows no inline script and no other origin', async () => {
  const res = await fetch(`${base}/console`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html; charset=utf-8/);
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const html = await res.text();
  assert.equal(/<script(?![^>]*\bsrc=)/i.test(html), false, 'an inline script');
  assert.equal(/\son[a-z]+=/i.test(html), false, 'an inline handler');
  assert.equal((await fetch(`${base}/console/console.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal((await fetch(`${base}/console/nothing.js`)).status, 404);
});

test('the list shows every tenant to the admin, filters, and shows a tenant key its own only', async () => {
  await page.goto(`${base}/console`);
  await useKey(admin);
  await page.waitForSelector('#responses tbody tr[data-id]');
  assert.deepEqual(new Set(await rowIds()), new Set(Object.values(ids)));
  await page.screenshot({ path: join(artifacts, 'list.png'), fullPage: true });

  // Filters through the form.
  await page.select('#filters select[name=status]', 'failed');
  await page.click('#filters button[type=submit]');
  await waitFor('the failed filter', async () => (await rowIds()).join() === ids.failed);
  assert.match(page.url(), /#\/\?status=failed$/);
  await page.goto(`${base}/console#/?tenant=acme&mode=background`);
  await waitFor('tenant and mode', async () => (await rowIds()).join() === ids.background);
  await page.goto(`${base}/console#/?tenant=acme&limit=1&order=asc`);
  await waitFor('a page of one', async () => (await rowIds()).join() === ids.first);
  await page.click('#next-page');
  await waitFor('the next page', async () => (await rowIds()).join() === ids.second);

  // A tenant key: its own tenant only; naming another is refused, and says so.
  await page.goto(`${base}/console#/`);
  await useKey(globex);
  await waitFor('globex only', async () => new Set(await rowIds()).size === 2 &&
    (await rowIds()).every((id) => id === ids.failed || id === ids.globexOk));
  await page.goto(`${base}/console#/?tenant=acme`);
  await waitFor('the refusal', async () => /403: A tenant's key lists its own/.test(await page.$eval('#status', (s) => s.textContent)));
  await page.goto(`${base}/console#/r/${ids.first}`);
  await waitFor('another tenant\'s response not found', async () => /^404/.test(await page.$eval('#status', (s) => s.textContent)));
  await nothingRan();
  await useKey(admin);
});

test("a response's page shows its timeline, gaps and chain, and hostile text stays text", async () => {
  await page.goto(`${base}/console#/r/${ids.first}`);
  await page.waitForSelector('#timeline');
  const rows = await page.$$eval('#timeline tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  const deltas = rows.find((r) => r[2] === 'output_text_delta');
  assert.ok(deltas, JSON.stringify(rows));
  assert.equal(Number(deltas[3]), words.length, 'text deltas collapse into one run');
  assert.ok(rows.some((r) => r[2] === 'response_completed'));
  const card = async (k) => page.$eval(`#totals .card[data-k="${k}"] .v`, (v) => v.textContent);
  assert.equal(await card('status'), 'completed');
  assert.equal(await card('tenant'), 'acme');
  assert.ok(Number(await card('first token ms')) >= 0);
  assert.equal(await page.$$eval('#gap-chart rect', (r) => r.length), words.length - 1);
  // The chain, both ways.
  assert.match(await page.$eval('#chain', (c) => c.textContent), new RegExp(`continued by → ${ids.second}`));
  // The hostile output and input are on the page as text.
  await page.click('#response-json summary');
  await page.click('#input-items summary');
  const text = await page.$eval('main', (m) => m.textContent);
  assert.ok(text.includes('<script>window.__pwned = 1</script>'), 'the output is shown as text');
  assert.ok(text.includes('tell me something <script>'), 'the input is shown as text');
  await page.screenshot({ path: join(artifacts, 'response.png'), fullPage: true });
  await nothingRan();

  // Along the chain: the second response links back to the first.
  await page.goto(`${base}/console#/r/${ids.second}`);
  await page.waitForSelector('#chain a');
  await page.click('#chain a');
  await waitFor('the first response', async () => page.url().endsWith(`#/r/${ids.first}`));
  await page.waitForSelector('#timeline');

  // A failed response: its error, highlighted, as text.
  await page.goto(`${base}/console#/r/${ids.failed}`);
  await page.waitForSelector('#timeline');
  assert.match(await card('error'), /onerror/);
  assert.ok(await page.$$eval('#timeline tr.alert', (r) => r.length) >= 1);
  await nothingRan();
});

test("the conversations list filters, and a conversation's page shows its items and turns as text", async () => {
  await page.goto(`${base}/console#/conversations`);
  await page.waitForSelector('#conversations tbody tr[data-id]');
  const convIds = () => page.$$eval('#conversations tbody tr[data-id]', (rows) => rows.map((r) => r.dataset.id));
  assert.deepEqual(await convIds(), [conversation]);
  const cells = await page.$$eval('#conversations tbody tr td', (tds) => tds.map((t) => t.textContent));
  assert.equal(cells[3], 'acme');
  assert.equal(cells[4], '3'); // the item it was made with, and the turn's input and output
  assert.equal(cells[5], '1');
  assert.equal(cells[6], ids.onConversation);
  await page.screenshot({ path: join(artifacts, 'conversations.png'), fullPage: true });
  // Filters through the form, and from the address.
  await page.type('#filters input[name=min_items]', '4');
  await page.click('#filters button[type=submit]');
  await waitFor('no conversation holds 4 items', async () => (await page.$$eval('#conversations tbody tr', (r) => r.length)) === 1 &&
    (await convIds()).length === 0);
  assert.match(page.url(), /#\/conversations\?min_items=4$/);
  await page.goto(`${base}/console#/conversations?tenant=acme&min_responses=1`);
  await waitFor('acme with a turn', async () => (await convIds()).join() === conversation);

  // Its page: the metadata, the items in order, the turn, as text.
  await page.click(`#conversations a[href="#/c/${conversation}"]`);
  await page.waitForSelector('#items');
  const card = async (k) => page.$eval(`#conversation-totals .card[data-k="${k}"] .v`, (v) => v.textContent);
  assert.equal(await card('tenant'), 'acme');
  assert.equal(await card('items'), '3');
  assert.equal(await card('responses'), '1');
  assert.equal(await page.$eval('#metadata td', (td) => td.textContent), hostile);
  const items = await page.$$eval('#items tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  assert.equal(items.length, 3);
  assert.deepEqual(items.map((i) => i[2]), ['user', 'user', 'assistant']);
  assert.equal(items[0][3], `first ${hostile}`);
  assert.equal(items[1][3], 'tell me more');
  assert.equal(items[2][3], words.join(''));
  const turns = await page.$$eval('#conversation-events tbody tr', (trs) => trs.map((tr) => tr.children[1].textContent));
  assert.deepEqual(turns.filter((t) => t !== 'conversation_turn_began'),
    ['conversation_created', 'conversation_items_added', 'conversation_items_added']);
  await page.screenshot({ path: join(artifacts, 'conversation.png'), fullPage: true });
  await nothingRan();
  // From the turn to its response, and back through the response's link.
  await page.click(`#conversation-responses a[href="#/r/${ids.onConversation}"]`);
  await page.waitForSelector('#timeline');
  await page.click(`#chain a[href="#/c/${conversation}"]`);
  await page.waitForSelector('#items');

  // A deleted conversation: listed when asked for, its page says so and
  // still lists its turn.
  await page.goto(`${base}/console#/conversations?include_deleted=true`);
  await waitFor('the deleted one listed', async () => (await convIds()).join() === [deleted, conversation].join());
  await page.goto(`${base}/console#/c/${deleted}`);
  await page.waitForSelector('#gone');
  assert.match(await page.$eval('#gone', (p) => p.textContent), /deleted/);
  assert.deepEqual(await page.$$eval('#conversation-responses tbody tr', (trs) => trs.map((tr) => tr.dataset.id)), [ids.onDeleted]);
  await page.goto(`${base}/console#/c/${conversation}`);
  await page.waitForSelector('#items');

  // Another tenant's key finds no such conversation, nor lists it.
  await useKey(globex);
  await waitFor("another tenant's conversation not found", async () => /^404/.test(await page.$eval('#status', (s) => s.textContent)));
  await page.goto(`${base}/console#/conversations`);
  await waitFor('globex has none', async () => /No conversations/.test(await page.$eval('#conversations', (t) => t.textContent)));
  await useKey(admin);
});

test('replay plays the deltas at their recorded pace', async () => {
  await page.goto(`${base}/console#/r/${ids.first}`);
  await page.waitForSelector('#replay');
  const events = await (await fetch(`${stack.baseURL}/operator/responses/${ids.first}/events?order=asc&limit=100`, {
    headers: { authorization: `Bearer ${admin}` },
  })).json();
  const deltas = events.data.filter((e) => e.type === 'output_text_delta');
  const span = (deltas.at(-1).recorded_at - events.data[0].recorded_at) / 1000;
  assert.ok(span >= 40 * (words.length - 1) * 0.8, `recorded span ${span} ms`);
  const started = Date.now();
  await page.click('#replay');
  await page.waitForFunction(() => document.getElementById('replay-output').dataset.state === 'done', { timeout: 20000 });
  const took = Date.now() - started;
  assert.ok(took >= span * 0.8, `replay took ${took} ms of a ${span} ms stream`);
  const shown = await page.$eval('#replay-output', (o) => o.textContent);
  assert.equal(shown, `[output_text_delta] ${words.join('')}`);
  // Ten times faster, ten times sooner (within the timers' slack).
  await page.select('#replay-speed', '10');
  const fast = Date.now();
  await page.click('#replay');
  await page.waitForFunction(() => document.getElementById('replay-output').dataset.state === 'done');
  assert.ok(Date.now() - fast < took, 'faster at 10×');
  await nothingRan();
});

test('the audit tail shows events as they happen, with filters', async () => {
  await page.goto(`${base}/console#/audit?tenant=globex`);
  await page.waitForFunction(() => /^live/.test(document.getElementById('audit-state').textContent));
  const later = (await create(globex, { input: `late ${hostile}` })).id;
  await create(acme, { input: 'not shown here' });
  // A globex response made after the acme one: once its end is shown, the
  // acme events before it in the feed have passed the filter (or not).
  const sentinel = (await create(globex, { input: 'sentinel' })).id;
  const shown = (id, type) => page.waitForFunction((id, type) => [...document.querySelectorAll('#audit tbody tr')]
    .some((tr) => tr.children[3].textContent === id && tr.children[4].textContent === type),
  { timeout: 10000 }, id, type);
  await shown(later, 'response_completed');
  await shown(sentinel, 'response_completed');
  const tenants = await page.$$eval('#audit tbody tr td:nth-child(3)', (tds) => tds.map((t) => t.textContent));
  assert.ok(tenants.length >= 2 && tenants.every((t) => t === 'globex'), JSON.stringify(tenants));
  await page.screenshot({ path: join(artifacts, 'audit.png'), fullPage: true });
  await nothingRan();
});

// Reads SSE frames from a fetch stream until `enough` says so.
async function readFrames(res, enough, ms = 10000) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const frames = [];
  let buffer = '';
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out with ${frames.length} frames`)), ms);
  });
  while (!enough(frames)) {
    const { value, done } = await Promise.race([reader.read(), timeout]).catch(async (e) => {
      await reader.cancel();
      throw e;
    });
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      frames.push(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
    }
  }
  clearTimeout(timer);
  await reader.cancel();
  return frames;
}

test('the audit feed streams live as SSE for the admin key, filtered and resumable', async () => {
  const feed = (query, key = admin, extra = {}) => fetch(`${stack.baseURL}/audit/events?${query}`, {
    headers: { authorization: `Bearer ${key}`, ...extra },
  });
  assert.equal((await feed('stream=true', acme)).status, 403);
  assert.equal((await feed('stream=maybe')).status, 400);
  assert.equal((await feed('stream=true&colour=red')).status, 400);
  assert.equal((await (await feed('stream=true&tenant=')).json()).error.param, 'tenant');
  // From the start of the feed, one tenant's creations only.
  const res = await feed('stream=true&tenant=acme&type=response_created');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const acmeCreated = [ids.first, ids.second, ids.background];
  let frames = await readFrames(res, (f) => f.filter((x) => x.includes('event: audit.event')).length >= 3);
  const events = frames.filter((f) => f.includes('event: audit.event'))
    .map((f) => ({ id: Number(/^id: (\d+)$/m.exec(f)[1]), e: JSON.parse(/^data: (.*)$/m.exec(f)[1]) }));
  assert.deepEqual(events.slice(0, 3).map((x) => x.e.stream), acmeCreated);
  for (const { id, e } of events) {
    assert.equal(e.tenant, 'acme');
    assert.equal(e.type, 'response_created');
    assert.equal(id, e.global_position);
  }
  // Live: a response created while the tail is open arrives; resuming with
  // Last-Event-ID starts after the event named.
  const live = await feed(`stream=true&type=response_completed&after=${events[2].id}`);
  assert.equal(live.status, 200); // the tail is open before the response is made
  const later = await create(globex, { input: 'live tail' });
  frames = await readFrames(live, (f) => f.some((x) => x.includes(later.id)));
  const got = frames.filter((f) => f.includes('event: audit.event')).map((f) => JSON.parse(/^data: (.*)$/m.exec(f)[1]));
  assert.ok(got.some((e) => e.stream === later.id), JSON.stringify(got.map((e) => e.stream)));
  assert.ok(got.every((e) => e.type === 'response_completed' && e.global_position > events[2].id));
  const resumed = await feed('stream=true&tenant=acme&type=response_created', admin, { 'last-event-id': String(events[0].id) });
  frames = await readFrames(resumed, (f) => f.filter((x) => x.includes('event: audit.event')).length >= 2);
  assert.deepEqual(frames.filter((f) => f.includes('event: audit.event')).slice(0, 2)
    .map((f) => JSON.parse(/^data: (.*)$/m.exec(f)[1]).stream), acmeCreated.slice(1));
  // The paged form takes the same filters.
  const page = await (await feed('tenant=globex&type=response_created&limit=1000')).json();
  assert.ok(page.data.length >= 2 && page.data.every((e) => e.tenant === 'globex' && e.type === 'response_created'));
});

test('a running background response is cancelled from its page', async () => {
  await page.goto(`${base}/console#/r/${ids.background}`);
  await page.waitForSelector('#cancel');
  await page.click('#cancel');
  await waitFor('the cancel', async () => {
    const status = await page.$('#totals .card[data-k="status"] .v');
    return status && (await status.evaluate((v) => v.textContent)) === 'cancelled';
  });
  assert.equal(await page.$('#cancel'), null);
  const res = await fetch(`${stack.baseURL}/responses/${ids.background}`, { headers: { authorization: `Bearer ${acme}` } });
  assert.equal((await res.json()).status, 'cancelled');
});

test('the key never went into a URL and every request stayed on riposte', () => {
  assert.ok(seen.urls.length > 20);
  for (const url of seen.urls) {
    // (Chromium's own data: icons, as the date picker's, are not the page's.)
    if (!url.startsWith('data:image/')) assert.ok(url.startsWith(`${base}/`), url);
    for (const key of [admin, acme, globex]) assert.ok(!url.includes(key), url);
  }
  // The only errors are the refusals the test asked for (401 before a key is
  // typed, 403 and 404).
  const unexpected = seen.errors.filter((e) => !/status of (401|403|404)/.test(e));
  assert.deepEqual(unexpected, []);
});
