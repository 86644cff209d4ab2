// The openai SDK's own WebSocket client (`ResponsesWS`, openai/resources/
// responses/ws) against riposte's WebSocket mode: turns streamed as events,
// a store: false conversation continued with only its new items, a function
// tool loop, error events the SDK raises as WebSocketError, and what riposte
// does not support (response.steer) refused with an error the SDK reads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ResponsesWS } from 'openai/resources/responses/ws';
import { startStack, toolNameOf } from './harness.mjs';

let stack;
let client;

before(async () => {
  stack = await startStack({
    script: {
      rules: [
        {
          match: { contains: 'weather' },
          reply: { chunks: [{ tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Oslo' } } }] }] },
        },
      ],
    },
    riposteArgs: ['--api-key', 'sk-ws-alice:alice'],
  });
  client = stack.client({ apiKey: 'sk-ws-alice' });
});

after(async () => {
  await stack.stop();
});

// Sends one response.create and collects its events up to the terminal one;
// an error event rejects with the SDK's WebSocketError.
function turn(ws, body) {
  return new Promise((resolve, reject) => {
    const events = [];
    const onEvent = (event) => {
      events.push(event);
      if (['response.completed', 'response.failed', 'response.incomplete'].includes(event.type)) {
        done();
        resolve(events);
      }
    };
    const onError = (err) => {
      done();
      reject(err);
    };
    const done = () => {
      ws.off('event', onEvent);
      ws.off('error', onError);
    };
    ws.on('event', onEvent);
    ws.on('error', onError);
    ws.send({ type: 'response.create', model: 'llama3.2:1b', ...body });
  });
}

async function metric(series) {
  const text = await (await fetch(`${stack.baseURL.replace(/\/v1$/, '')}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.split(' ')[1]) : 0;
}

test('turns over the SDK WebSocket, continued with only their new items', async () => {
  const ws = new ResponsesWS(client);
  try {
    const first = await turn(ws, { input: 'one two', store: false, stream: true });
    assert.equal(first[0].type, 'response.created');
    assert.deepEqual(
      first.map((e) => e.sequence_number),
      first.map((_, i) => i),
    );
    const done = first.at(-1).response;
    assert.equal(done.status, 'completed');
    assert.equal(done.output_text ?? done.output[0].content[0].text, 'Echo: one two');

    const before = await metric('riposte_websocket_continuations_total{source="connection"}');
    const second = await turn(ws, { input: 'three', store: false, previous_response_id: done.id });
    assert.equal(second.at(-1).response.status, 'completed');
    assert.equal(second.at(-1).response.previous_response_id, done.id);
    const sent = (await stack.backendRequests()).at(-1).messages;
    assert.ok(sent.some((m) => m.role === 'user' && JSON.stringify(m.content).includes('one two')));
    assert.ok(sent.some((m) => m.role === 'assistant' && JSON.stringify(m.content).includes('Echo: one two')));
    assert.equal(await metric('riposte_websocket_continuations_total{source="connection"}'), before + 1);
  } finally {
    ws.close();
  }
});

test('a function tool loop over the WebSocket', async () => {
  const ws = new ResponsesWS(client);
  try {
    const tools = [
      {
        type: 'function',
        name: 'get_weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    ];
    const first = await turn(ws, { input: 'what is the weather in Oslo?', tools, store: false });
    const call = first.at(-1).response.output.find((o) => o.type === 'function_call');
    assert.ok(call, JSON.stringify(first.at(-1).response.output));
    assert.equal(call.name, 'get_weather');
    const second = await turn(ws, {
      tools,
      store: false,
      previous_response_id: first.at(-1).response.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temp": 3}' }],
    });
    assert.equal(second.at(-1).response.status, 'completed');
    const messages = (await stack.backendRequests()).at(-1).messages;
    const tool = messages.find((m) => m.role === 'tool');
    assert.ok(tool, JSON.stringify(messages));
    assert.equal(toolNameOf(tool, messages), 'get_weather');
  } finally {
    ws.close();
  }
});

test('error events reach the SDK as WebSocketError and the socket goes on', async () => {
  const ws = new ResponsesWS(client);
  try {
    await assert.rejects(
      turn(ws, { input: 'x', store: false, previous_response_id: 'resp_not_on_this_connection' }),
      (err) => {
        // The SDK's WebSocketError carries the error event itself.
        assert.equal(err.error.type, 'error');
        assert.equal(err.error.status, 400);
        assert.equal(err.error.error.code, 'previous_response_not_found');
        assert.equal(err.message, "Previous response with id 'resp_not_on_this_connection' not found.");
        return true;
      },
    );
    await assert.rejects(
      new Promise((resolve, reject) => {
        ws.once('error', reject);
        ws.send({ type: 'response.steer', previous_response_id: 'resp_x', input: 'faster' });
      }),
      (err) => {
        assert.equal(err.error.status, 400);
        assert.equal(err.error.error.param, 'type');
        return true;
      },
    );
    const after = await turn(ws, { input: 'still fine', store: false });
    assert.equal(after.at(-1).response.status, 'completed');
  } finally {
    ws.close();
  }
});

test('a bad key is refused before the upgrade', async () => {
  const bad = stack.client({ apiKey: 'sk-wrong' });
  const ws = new ResponsesWS(bad);
  const outcome = await new Promise((resolve) => {
    ws.on('error', (err) => resolve(err));
    ws.on('close', () => resolve('closed'));
  });
  assert.notEqual(outcome, undefined);
  assert.match(String(outcome?.message ?? outcome), /401|Unexpected server response|closed/);
  ws.close();
});
