// The function tool loop through the OpenAI SDK: the model asks for two calls
// at once, the client runs them and answers both, the model finishes. Once
// with previous_response_id, once stateless (store: false, whole input
// replayed), once streamed with the SDK's helper.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStack, toolNameOf } from './harness.mjs';

const calls = [
  { function: { name: 'get_weather', arguments: { city: 'Paris' } } },
  { function: { name: 'get_time', arguments: { tz: 'Europe/Paris' } } },
];

let stack;
let client;

before(async () => {
  stack = await startStack({
    script: {
      rules: [
        { match: { has_tool_result: true }, reply: { chunks: [{ content: 'Sunny, 18°C, 14:00.' }] } },
        { match: { contains: 'Paris' }, reply: { chunks: [{ tool_calls: calls }] } },
      ],
    },
  });
  client = stack.client();
});

after(async () => {
  await stack.stop();
});

const tools = [
  {
    type: 'function',
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    strict: true,
  },
  {
    type: 'function',
    name: 'get_time',
    description: 'Local time in a zone',
    parameters: { type: 'object', properties: { tz: { type: 'string' } }, required: ['tz'] },
    strict: true,
  },
];

// What the client's functions return.
function run(call) {
  const args = JSON.parse(call.arguments);
  if (call.name === 'get_weather') return JSON.stringify({ city: args.city, sky: 'sunny', c: 18 });
  return JSON.stringify({ tz: args.tz, time: '14:00' });
}

function outputsFor(response) {
  const fcs = response.output.filter((item) => item.type === 'function_call');
  return fcs.map((call) => ({ type: 'function_call_output', call_id: call.call_id, output: run(call) }));
}

test('two parallel calls answered with previous_response_id', async () => {
  const first = await client.responses.create({
    model: 'llama3.2:1b',
    input: 'Weather and time in Paris?',
    tools,
    parallel_tool_calls: true,
  });
  const fcs = first.output.filter((item) => item.type === 'function_call');
  assert.deepEqual(
    fcs.map((c) => c.name),
    ['get_weather', 'get_time'],
  );
  for (const c of fcs) {
    assert.match(c.call_id, /^call_/);
    assert.equal(c.status, 'completed');
  }
  assert.deepEqual(JSON.parse(fcs[0].arguments), { city: 'Paris' });

  const second = await client.responses.create({
    model: 'llama3.2:1b',
    previous_response_id: first.id,
    input: outputsFor(first),
    tools,
  });
  assert.equal(second.status, 'completed');
  assert.equal(second.output_text, 'Sunny, 18°C, 14:00.');
  const sent = (await stack.backendRequests()).at(-1).messages;
  assert.deepEqual(
    sent.map((m) => m.role),
    ['user', 'assistant', 'tool', 'tool'],
  );
  assert.deepEqual(
    sent[1].tool_calls.map((c) => c.function.name),
    ['get_weather', 'get_time'],
  );
  assert.deepEqual(
    sent.slice(2).map((m) => toolNameOf(m, sent)),
    ['get_weather', 'get_time'],
  );

  // An output for a call that never happened is refused.
  await assert.rejects(
    client.responses.create({
      model: 'llama3.2:1b',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: 'call_invented', output: '{}' }],
    }),
    (err) => err instanceof OpenAI.BadRequestError && err.param === 'input[0].call_id',
  );
});

test('the same loop stateless: store false and the whole input replayed', async () => {
  const input = [{ role: 'user', content: 'Weather and time in Paris?' }];
  const first = await client.responses.create({ model: 'llama3.2:1b', input, tools, store: false });
  await assert.rejects(client.responses.retrieve(first.id), OpenAI.NotFoundError);
  const replay = [...input, ...first.output, ...outputsFor(first)];
  const second = await client.responses.create({
    model: 'llama3.2:1b',
    input: replay,
    tools,
    store: false,
  });
  assert.equal(second.output_text, 'Sunny, 18°C, 14:00.');
});

test('the loop streamed: the SDK helper collects both calls', async () => {
  const stream = client.responses.stream({
    model: 'llama3.2:1b',
    input: 'Weather and time in Paris?',
    tools,
  });
  const argsDone = [];
  stream.on('response.function_call_arguments.done', (e) => argsDone.push(e.name));
  const first = await stream.finalResponse();
  assert.deepEqual(argsDone, ['get_weather', 'get_time']);
  const second = await client.responses
    .stream({ model: 'llama3.2:1b', previous_response_id: first.id, input: outputsFor(first), tools })
    .finalResponse();
  assert.equal(second.output_text, 'Sunny, 18°C, 14:00.');
});
