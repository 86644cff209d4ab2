// The OpenAI Agents SDK (npm @openai/agents, pinned), unmodified, on the
// Responses API through riposte: an agent with one function tool runs to its
// final output. Tracing is off so nothing leaves the machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { z } from 'zod';
import {
  Agent,
  run,
  tool,
  setDefaultOpenAIClient,
  setOpenAIAPI,
  setTracingDisabled,
} from '@openai/agents';
import { startStack, toolNameOf } from './harness.mjs';

let stack;

before(async () => {
  stack = await startStack({
    script: {
      rules: [
        { match: { has_tool_result: true }, reply: { chunks: [{ content: 'It is 18°C and sunny in Paris.' }] } },
        {
          match: { contains: 'Paris' },
          reply: { chunks: [{ tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] }] },
        },
      ],
    },
  });
  setTracingDisabled(true);
  setOpenAIAPI('responses');
  setDefaultOpenAIClient(new OpenAI({ baseURL: stack.baseURL, apiKey: 'unused', maxRetries: 0 }));
});

after(async () => {
  await stack.stop();
});

test('an agent with one function tool completes a run', async () => {
  const asked = [];
  const getWeather = tool({
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      asked.push(city);
      return JSON.stringify({ city, sky: 'sunny', c: 18 });
    },
  });
  const agent = new Agent({
    name: 'Weather',
    instructions: 'Answer with the weather tool.',
    model: 'llama3.2:1b',
    tools: [getWeather],
  });
  const result = await run(agent, 'What is the weather in Paris?');
  assert.deepEqual(asked, ['Paris']);
  assert.equal(result.finalOutput, 'It is 18°C and sunny in Paris.');

  // The tool's output reached the model under the tool's name.
  const last = (await stack.backendRequests()).at(-1).messages;
  const toolMessage = last.find((m) => m.role === 'tool');
  assert.equal(toolNameOf(toolMessage, last), 'get_weather');
  assert.match(toolMessage.content, /sunny/);
  assert.equal(last[0].role, 'system');
  assert.match(last[0].content, /weather tool/);
});

test('an agent streams its run through riposte', async () => {
  const agent = new Agent({ name: 'Echo', instructions: 'Repeat.', model: 'llama3.2:1b' });
  const stream = await run(agent, 'hello agents', { stream: true });
  let text = '';
  for await (const event of stream) {
    if (event.type === 'raw_model_stream_event' && event.data.type === 'output_text_delta') {
      text += event.data.delta;
    }
  }
  await stream.completed;
  assert.equal(stream.finalOutput, 'Echo: hello agents');
  assert.equal(text, 'Echo: hello agents');
});
