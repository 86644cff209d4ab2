// The Vercel AI SDK (npm `ai` with `@ai-sdk/openai`), unmodified, through
// openai.responses(): its standard multi-turn pattern pushes each result's
// response.messages back into the conversation, and with `store` on (its
// default) sends earlier assistant items back as {type: "item_reference",
// id}. riposte resolves them to the stored items.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, streamText, stepCountIs, tool } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { z } from 'zod';
import { startStack } from './harness.mjs';

let stack;
let model;
const sent = []; // every request body the AI SDK sent riposte

before(async () => {
  stack = await startStack({
    script: {
      rules: [
        { match: { has_tool_result: true }, reply: { chunks: [{ content: 'Sunny in Paris, 18°C.' }] } },
        {
          match: { contains: 'weather' },
          reply: { chunks: [{ tool_calls: [{ function: { name: 'weather', arguments: { city: 'Paris' } } }] }] },
        },
      ],
    },
  });
  const openai = createOpenAI({
    baseURL: stack.baseURL,
    apiKey: 'unused',
    fetch: async (url, init) => {
      if (init?.body) sent.push(JSON.parse(init.body));
      return fetch(url, init);
    },
  });
  model = openai.responses('llama3.2:1b');
});

after(async () => stack.stop());

const references = (body) => body.input.filter((item) => item.type === 'item_reference');
const lastBackendText = async () => JSON.stringify((await stack.backendRequests()).at(-1).messages);

test('a two-turn chat through response.messages', async () => {
  const messages = [{ role: 'user', content: 'hello from the first turn' }];
  const first = await generateText({ model, messages });
  assert.equal(first.text, 'Echo: hello from the first turn');
  messages.push(...first.response.messages);
  messages.push({ role: 'user', content: 'and the second turn' });
  const second = await generateText({ model, messages });
  assert.equal(second.text, 'Echo: and the second turn');
  // The SDK referenced the first answer; the model read it.
  const refs = references(sent.at(-1));
  assert.equal(refs.length, 1, JSON.stringify(sent.at(-1).input));
  const backend = await lastBackendText();
  assert.match(backend, /"assistant"/);
  assert.match(backend, /hello from the first turn[\s\S]*Echo: hello from the first turn[\s\S]*and the second turn/);

  // Streamed, the same.
  messages.push(...second.response.messages);
  messages.push({ role: 'user', content: 'a third, streamed' });
  const third = streamText({ model, messages });
  assert.equal(await third.text, 'Echo: a third, streamed');
  assert.equal(references(sent.at(-1)).length, 2);
});

test('a two-turn chat with a tool call through response.messages', async () => {
  const weather = tool({
    description: 'Current weather in a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => ({ city, sky: 'sunny', celsius: 18 }),
  });
  const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const first = await generateText({ model, messages, tools: { weather }, stopWhen: stepCountIs(3) });
  assert.equal(first.steps.length, 2);
  assert.equal(first.steps[0].toolCalls[0].toolName, 'weather');
  assert.equal(first.text, 'Sunny in Paris, 18°C.');
  messages.push(...first.response.messages);
  messages.push({ role: 'user', content: 'Thanks! Anything else?' });
  const second = await generateText({ model, messages, tools: { weather }, stopWhen: stepCountIs(3) });
  assert.ok(second.text.length > 0);
  // The call, its output and the answer all reached the model, the answer
  // by reference.
  const body = sent.at(-1);
  assert.ok(references(body).length >= 1, JSON.stringify(body.input));
  assert.ok(body.input.some((item) => item.type === 'function_call_output'));
  const backend = await lastBackendText();
  assert.match(backend, /Sunny in Paris/);
  assert.match(backend, /sunny/);
  assert.match(backend, /Thanks! Anything else\?/);
});
