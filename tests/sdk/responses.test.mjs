// The OpenAI SDK (npm `openai`) against riposte: it must not be able to tell
// riposte from the real platform on the stored-response paths.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStack } from './harness.mjs';

let stack;
let client;

before(async () => {
  stack = await startStack({
    riposteArgs: ['--api-key', 'sk-test-alice:alice', '--api-key', 'sk-test-bob:bob'],
  });
  client = stack.client({ apiKey: 'sk-test-alice' });
});

after(async () => {
  await stack.stop();
});

test('create, retrieve and delete a response', async () => {
  const created = await client.responses.create({
    model: 'llama3.2:1b',
    input: 'hello sdk',
    instructions: 'Answer briefly.',
    metadata: { suite: 'sdk' },
  });
  assert.match(created.id, /^resp_/);
  assert.equal(created.object, 'response');
  assert.equal(created.status, 'completed');
  assert.equal(created.output_text, 'Echo: hello sdk'); // the SDK's own convenience field
  assert.equal(created.usage.total_tokens, created.usage.input_tokens + created.usage.output_tokens);
  assert.equal(created.usage.input_tokens_details.cached_tokens, 0);
  assert.equal(created.usage.output_tokens_details.reasoning_tokens, 0);
  assert.deepEqual(created.metadata, { suite: 'sdk' });

  const fetched = await client.responses.retrieve(created.id);
  assert.deepEqual(fetched, created);

  const raw = await client.responses.retrieve(created.id).asResponse();
  assert.ok(raw.headers.get('x-request-id'));

  await client.responses.delete(created.id);
  await assert.rejects(client.responses.retrieve(created.id), OpenAI.NotFoundError);
});

test('input items paginate with the SDK cursor helpers', async () => {
  const input = Array.from({ length: 7 }, (_, i) => ({ role: 'user', content: `m${i}` }));
  const created = await client.responses.create({ model: 'llama3.2:1b', input });
  const seen = [];
  for await (const item of client.responses.inputItems.list(created.id, { limit: 2, order: 'asc' })) {
    seen.push(item.content[0].text);
  }
  assert.deepEqual(seen, ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  const page = await client.responses.inputItems.list(created.id, { limit: 3 });
  assert.equal(page.data.length, 3);
  assert.equal(page.data[0].content[0].text, 'm6');
  assert.equal(page.has_more, true);
});

test('a three-turn conversation with previous_response_id', async () => {
  const one = await client.responses.create({ model: 'llama3.2:1b', input: 'first' });
  const two = await client.responses.create({
    model: 'llama3.2:1b',
    input: 'second',
    previous_response_id: one.id,
  });
  const three = await client.responses.create({
    model: 'llama3.2:1b',
    input: 'third',
    previous_response_id: two.id,
  });
  assert.equal(three.previous_response_id, two.id);
  const sent = (await stack.backendRequests()).at(-1).messages.map((m) => `${m.role}:${m.content}`);
  assert.deepEqual(sent, [
    'user:first',
    'assistant:Echo: first',
    'user:second',
    'assistant:Echo: second',
    'user:third',
  ]);
});

test('errors arrive as the SDK error classes with the OpenAI body', async () => {
  await assert.rejects(
    client.responses.create({ model: 'no-such-model', input: 'x' }),
    (err) => err instanceof OpenAI.BadRequestError && err.code === 'model_not_found' && err.param === 'model',
  );
  await assert.rejects(
    client.responses.create({ model: 'llama3.2:1b', input: 'x', temperature: 9 }),
    (err) => err instanceof OpenAI.BadRequestError && err.param === 'temperature',
  );
  await assert.rejects(
    client.responses.create({ model: 'llama3.2:1b', input: 'x', previous_response_id: 'resp_gone' }),
    (err) => err instanceof OpenAI.NotFoundError && err.param === 'previous_response_id',
  );
  await assert.rejects(
    stack.client({ apiKey: 'sk-wrong' }).responses.create({ model: 'llama3.2:1b', input: 'x' }),
    (err) => err instanceof OpenAI.AuthenticationError && err.code === 'invalid_api_key',
  );
  const mine = await client.responses.create({ model: 'llama3.2:1b', input: 'private' });
  await assert.rejects(
    stack.client({ apiKey: 'sk-test-bob' }).responses.retrieve(mine.id),
    (err) => err instanceof OpenAI.NotFoundError && typeof err.requestID === 'string',
  );
  const key = { headers: { 'Idempotency-Key': 'sdk-key-1' } };
  const once = await client.responses.create({ model: 'llama3.2:1b', input: 'once' }, key);
  const replay = await client.responses.create({ model: 'llama3.2:1b', input: 'once' }, key);
  assert.equal(replay.id, once.id);
  await assert.rejects(
    client.responses.create({ model: 'llama3.2:1b', input: 'other body' }, key),
    (err) => err instanceof OpenAI.ConflictError && err.code === 'idempotency_key_reused',
  );
});

test('models list and retrieve', async () => {
  const models = [];
  for await (const m of client.models.list()) models.push(m.id);
  assert.ok(models.includes('llama3.2:1b'));
  const one = await client.models.retrieve('llama3.2:1b');
  assert.equal(one.id, 'llama3.2:1b');
  assert.equal(one.object, 'model');
});

test('background responses are polled to completion and cancel follows the API', async () => {
  const queued = await client.responses.create({ model: 'llama3.2:1b', input: 'later', background: true });
  assert.equal(queued.status, 'queued');
  let done = queued;
  for (let i = 0; i < 100 && done.status !== 'completed'; i++) {
    await new Promise((r) => setTimeout(r, 20));
    done = await client.responses.retrieve(queued.id);
  }
  assert.equal(done.status, 'completed');
  assert.equal(done.output_text, 'Echo: later');
  const unchanged = await client.responses.cancel(queued.id); // already finished
  assert.equal(unchanged.status, 'completed');
  const foreground = await client.responses.create({ model: 'llama3.2:1b', input: 'now' });
  await assert.rejects(client.responses.cancel(foreground.id), OpenAI.BadRequestError);
});
