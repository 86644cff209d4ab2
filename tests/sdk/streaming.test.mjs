// The SDK's two streaming paths reach the same final response as retrieve.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from './harness.mjs';

let stack;
let client;

before(async () => {
  stack = await startStack();
  client = stack.client();
});

after(async () => {
  await stack.stop();
});

test('create with stream: true yields the whole event grammar and the final response', async () => {
  const stream = await client.responses.create({
    model: 'llama3.2:1b',
    input: 'stream me please',
    stream: true,
  });
  const types = [];
  let last = -1;
  let final;
  let text = '';
  for await (const event of stream) {
    assert.equal(event.sequence_number, last + 1);
    last = event.sequence_number;
    types.push(event.type);
    if (event.type === 'response.output_text.delta') {
      assert.ok(Array.isArray(event.logprobs));
      text += event.delta;
    }
    if (event.type === 'response.completed') final = event.response;
  }
  assert.equal(types[0], 'response.created');
  assert.equal(types.at(-1), 'response.completed');
  assert.equal(text, 'Echo: stream me please');
  const { output_text: _, ...fetched } = await client.responses.retrieve(final.id);
  assert.deepEqual(fetched, final); // output_text is the SDK's own addition on retrieve
});

test('responses.stream() helper gathers the final response', async () => {
  const runner = client.responses.stream({ model: 'llama3.2:1b', input: 'helper path' });
  let deltas = '';
  runner.on('response.output_text.delta', (e) => {
    deltas += e.delta;
  });
  const final = await runner.finalResponse();
  assert.equal(final.output_text, 'Echo: helper path');
  assert.equal(deltas, 'Echo: helper path');
  const fetched = await client.responses.retrieve(final.id);
  assert.equal(fetched.output_text, final.output_text);
  // The helper adds its own `parsed` field to text parts; everything else matches.
  const withoutParsed = JSON.parse(JSON.stringify(final.output, (k, v) => (k === 'parsed' ? undefined : v)));
  assert.deepEqual(fetched.output, withoutParsed);
});

test('a stored response can be streamed again with retrieve({stream: true})', async () => {
  const created = await client.responses.create({ model: 'llama3.2:1b', input: 'again' });
  const replay = await client.responses.retrieve(created.id, { stream: true, starting_after: 3 });
  const seqs = [];
  let final;
  for await (const event of replay) {
    seqs.push(event.sequence_number);
    if (event.type === 'response.completed') final = event.response;
  }
  assert.equal(seqs[0], 4);
  const { output_text: _, ...stored } = created;
  assert.deepEqual(final, stored);
});

test('a background response cancelled while streamed: the helper ends with the cancelled Response', async () => {
  const chunks = Array.from({ length: 200 }, (_, i) => ({ content: `t${i} ` }));
  await fetch(`${stack.backendUrl}/_scripted/script`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rules: [{ match: { contains: 'slow' }, reply: { chunks, delay_ms: 20 } }] }),
  });
  const created = await client.responses.create({ model: 'llama3.2:1b', input: 'slow, then cancel', background: true });
  const runner = client.responses.stream({ response_id: created.id });
  let deltas = 0;
  let cancel;
  runner.on('response.output_text.delta', () => {
    if (++deltas === 3) cancel = client.responses.cancel(created.id);
  });
  const final = await runner.finalResponse();
  assert.equal((await cancel).status, 'cancelled');
  assert.equal(final.status, 'cancelled');
  assert.ok(final.output_text.startsWith('t0 t1 t2 '), final.output_text);
  assert.ok(final.output.length > 0 && final.output.every((item) => item.status === 'incomplete'));
  const stored = await client.responses.retrieve(created.id);
  assert.equal(stored.status, 'cancelled');
  assert.equal(stored.output_text, final.output_text);
  assert.deepEqual(stored.output.map((item) => item.status), final.output.map((item) => item.status));
});
