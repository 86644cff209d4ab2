// Context planning through the OpenAI SDK: input token counts, compaction
// and a conversation continued from it, truncation errors as SDK errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStack } from './harness.mjs';

let stack;
let client;

before(async () => {
  stack = await startStack({
    riposteArgs: ['--context-window', 'llama3.2:1b=400'],
    script: {
      rules: [
        {
          match: { contains: 'Write the summary of the conversation above now.' },
          reply: { chunks: [{ content: 'SUMMARY: a trip to Lisbon is being planned.' }] },
        },
      ],
    },
  });
  client = stack.client();
});

after(async () => stack.stop());

test('compact a chain and continue statelessly from its output', async () => {
  const first = await client.responses.create({ model: 'llama3.2:1b', input: 'plan a trip to Lisbon' });
  const second = await client.responses.create({
    model: 'llama3.2:1b',
    input: 'three days, in May',
    previous_response_id: first.id,
  });
  const compacted = await client.responses.compact({ model: 'llama3.2:1b', previous_response_id: second.id });
  assert.equal(compacted.object, 'response.compaction');
  assert.equal(compacted.output.length, 3);
  assert.equal(compacted.output.at(-1).type, 'compaction');
  assert.ok(compacted.output.at(-1).encrypted_content.length > 20);

  const before = await client.responses.inputTokens.count({
    model: 'llama3.2:1b',
    input: 'where to eat?',
    previous_response_id: second.id,
  });
  const after = await client.responses.inputTokens.count({
    model: 'llama3.2:1b',
    input: [...compacted.output, { role: 'user', content: 'where to eat?' }],
  });
  assert.equal(after.object, 'response.input_tokens');
  assert.ok(after.input_tokens > 0 && before.input_tokens > 0);

  const next = await client.responses.create({
    model: 'llama3.2:1b',
    store: false,
    input: [...compacted.output, { role: 'user', content: 'where to eat?' }],
  });
  assert.equal(next.status, 'completed');
  const sent = (await stack.backendRequests()).at(-1).messages;
  assert.ok(sent.some((m) => m.content.includes('SUMMARY: a trip to Lisbon')), JSON.stringify(sent));
  assert.ok(!sent.some((m) => m.role === 'assistant'));
});

test('a context over the window is a BadRequestError with code context_length_exceeded', async () => {
  const long = Array.from({ length: 120 }, (_, i) => `sentence number ${i} about nothing much`).join('. ');
  await assert.rejects(
    client.responses.create({ model: 'llama3.2:1b', input: long }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, String(err));
      assert.equal(err.code, 'context_length_exceeded');
      assert.equal(err.param, 'input');
      return true;
    },
  );
  // Counting still answers: that is how a client finds out before sending.
  const counted = await client.responses.inputTokens.count({ model: 'llama3.2:1b', input: long });
  assert.ok(counted.input_tokens > 400, String(counted.input_tokens));
});
