// The Conversations API through the official clients, unmodified: the
// openai SDK's conversations.* and conversations.items.* (auto-pagination
// in both orders), and the Agents SDK keeping its memory in a conversation,
// by `conversationId` and by OpenAIConversationsSession.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { z } from 'zod';
import {
  Agent,
  OpenAIConversationsSession,
  run,
  tool,
  setDefaultOpenAIClient,
  setOpenAIAPI,
  setTracingDisabled,
} from '@openai/agents';
import { startStack } from './harness.mjs';

let stack;
let client;

before(async () => {
  stack = await startStack({
    script: {
      rules: [
        { match: { contains: 'thanks' }, reply: { chunks: [{ content: 'You are welcome.' }] } },
        { match: { has_tool_result: true }, reply: { chunks: [{ content: 'It is 18°C and sunny in Paris.' }] } },
        {
          match: { contains: 'Paris' },
          reply: { chunks: [{ tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] }] },
        },
      ],
    },
  });
  client = stack.client();
  setTracingDisabled(true);
  setOpenAIAPI('responses');
  setDefaultOpenAIClient(new OpenAI({ baseURL: stack.baseURL, apiKey: 'unused', maxRetries: 0 }));
});

after(async () => {
  await stack.stop();
});

const texts = (items) => items.map((i) => i.content?.[0]?.text ?? i.type);

test('conversations and their items through the openai SDK', async () => {
  const conv = await client.conversations.create({
    metadata: { topic: 'sdk' },
    items: [{ type: 'message', role: 'user', content: 'first' }],
  });
  assert.match(conv.id, /^conv_[0-9a-f]{48}$/);
  assert.equal(conv.object, 'conversation');
  assert.deepEqual(await client.conversations.retrieve(conv.id), conv);
  const updated = await client.conversations.update(conv.id, { metadata: { topic: 'other' } });
  assert.deepEqual(updated.metadata, { topic: 'other' });

  const added = await client.conversations.items.create(conv.id, {
    items: Array.from({ length: 6 }, (_, i) => ({ type: 'message', role: 'user', content: `n${i}` })),
  });
  assert.equal(added.data.length, 6);
  assert.equal(added.has_more, false);

  // Auto-pagination follows `after` in the order asked.
  const asc = [];
  for await (const item of client.conversations.items.list(conv.id, { order: 'asc', limit: 2 }))
    asc.push(item);
  assert.deepEqual(texts(asc), ['first', 'n0', 'n1', 'n2', 'n3', 'n4', 'n5']);
  const desc = [];
  for await (const item of client.conversations.items.list(conv.id, { limit: 3 })) desc.push(item);
  assert.deepEqual(texts(desc), ['n5', 'n4', 'n3', 'n2', 'n1', 'n0', 'first']);

  const one = await client.conversations.items.retrieve(added.data[2].id, { conversation_id: conv.id });
  assert.deepEqual(one, added.data[2]);
  const after = await client.conversations.items.delete(added.data[2].id, { conversation_id: conv.id });
  assert.equal(after.object, 'conversation'); // the conversation, not an item
  assert.equal(after.id, conv.id);
  await assert.rejects(
    client.conversations.items.retrieve(added.data[2].id, { conversation_id: conv.id }),
    (err) => err instanceof OpenAI.NotFoundError,
  );

  // A response in the conversation sees it and joins it.
  const response = await client.responses.create({ model: 'llama3.2:1b', conversation: conv.id, input: 'hello' });
  assert.deepEqual(response.conversation, { id: conv.id });
  const last = [];
  for await (const item of client.conversations.items.list(conv.id, { limit: 2 })) {
    last.push(item);
    if (last.length === 2) break;
  }
  assert.deepEqual(texts(last), ['Echo: hello', 'hello']);
  assert.equal(last[0].id, response.output[0].id);
  await assert.rejects(
    client.responses.create({ model: 'llama3.2:1b', conversation: conv.id, previous_response_id: response.id, input: 'x' }),
    (err) => err instanceof OpenAI.BadRequestError && err.code === 'mutually_exclusive_parameters',
  );

  const deleted = await client.conversations.delete(conv.id);
  assert.deepEqual(deleted, { id: conv.id, object: 'conversation.deleted', deleted: true });
  await assert.rejects(client.conversations.retrieve(conv.id), (err) => err instanceof OpenAI.NotFoundError);
});

function weatherAgent(asked) {
  const getWeather = tool({
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      asked.push(city);
      return JSON.stringify({ city, sky: 'sunny', c: 18 });
    },
  });
  return new Agent({
    name: 'Weather',
    instructions: 'Answer with the weather tool.',
    model: 'llama3.2:1b',
    tools: [getWeather],
  });
}

test('an agent keeps its memory in a conversation by conversationId', async () => {
  const asked = [];
  const agent = weatherAgent(asked);
  const conv = await client.conversations.create({});
  const first = await run(agent, 'What is the weather in Paris?', { conversationId: conv.id });
  assert.deepEqual(asked, ['Paris']);
  assert.equal(first.finalOutput, 'It is 18°C and sunny in Paris.');
  const second = await run(agent, 'thanks!', { conversationId: conv.id });
  assert.equal(second.finalOutput, 'You are welcome.');

  // The model saw the first run in the second: riposte's conversation held it.
  const messages = (await stack.backendRequests()).at(-1).messages;
  assert.ok(messages.some((m) => m.role === 'tool'), JSON.stringify(messages));
  assert.ok(messages.some((m) => m.role === 'user' && /Paris/.test(m.content)));
  const items = [];
  for await (const item of client.conversations.items.list(conv.id, { order: 'asc' })) items.push(item);
  assert.deepEqual(
    items.map((i) => i.type),
    ['message', 'function_call', 'function_call_output', 'message', 'message', 'message'],
  );
});

test('an agent with OpenAIConversationsSession: runs, getItems, popItem, clearSession', async () => {
  const asked = [];
  const agent = weatherAgent(asked);
  const session = new OpenAIConversationsSession({ client });
  const first = await run(agent, 'What is the weather in Paris?', { session });
  assert.equal(first.finalOutput, 'It is 18°C and sunny in Paris.');
  const second = await run(agent, 'thanks!', { session });
  assert.equal(second.finalOutput, 'You are welcome.');
  const id = await session.getSessionId();
  assert.match(id, /^conv_/);

  const all = await session.getItems();
  assert.ok(all.length >= 6, JSON.stringify(all));
  assert.equal(all[0].role, 'user');
  assert.equal(all.at(-1).role, 'assistant');
  const lastTwo = await session.getItems(2);
  assert.deepEqual(lastTwo, all.slice(-2));

  const popped = await session.popItem();
  assert.deepEqual(popped, all.at(-1));
  assert.deepEqual(await session.getItems(), all.slice(0, -1));

  await session.clearSession();
  await assert.rejects(client.conversations.retrieve(id), (err) => err instanceof OpenAI.NotFoundError);
});
