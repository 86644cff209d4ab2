// A Codex-shaped conversation, TURNS requests long, driven two ways against
// the same riposte: over HTTP as Codex does it there (POST, stream, store:
// false, the whole input replayed each time) and over the WebSocket mode
// (the connection's latest response continued with only the new items).
// Each request carries Codex-sized instructions and tools; the model
// alternates a tool call and an answer, so the input grows by a call, its
// output (a few KB, like a file read) and a user message.
//   node ws_turns.mjs RIPOSTE_URL RIPOSTE_PID TURNS ROUNDS OUT.json
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../../tests/sdk/package.json'));
const WebSocket = require('ws');

const [base, pid, turnsArg, roundsArg, outPath] = process.argv.slice(2);
const turns = Number(turnsArg);
const rounds = Number(roundsArg);
const ticks = 100; // clock ticks per second (sysconf(_SC_CLK_TCK) on Linux)

function cpuMs() {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticks; // utime + stime
}

// Codex's request shape: long instructions, many tools with schemas.
const instructions = 'You are a coding agent. '.repeat(600); // ~14 KB
const tools = Array.from({ length: 24 }, (_, i) => ({
  type: 'function',
  name: `tool_${i}`,
  description: 'A tool the agent may call. '.repeat(12),
  strict: false,
  parameters: {
    type: 'object',
    properties: Object.fromEntries(
      Array.from({ length: 6 }, (_, k) => [`arg_${k}`, { type: 'string', description: 'An argument of the tool.' }]),
    ),
    required: ['arg_0'],
    additionalProperties: false,
  },
}));
const settings = {
  model: 'bench',
  instructions,
  tools,
  tool_choice: 'auto',
  parallel_tool_calls: false,
  store: false,
  stream: true,
  include: [],
  prompt_cache_key: 'bench-session',
};
const fileText = 'line of a source file that the tool read\n'.repeat(200); // ~8 KB, a file read

// What the client adds after a response: a tool output for a call, or the
// next user message after an answer.
function nextItems(output, n) {
  const call = output.find((o) => o.type === 'function_call');
  if (call)
    return [{ type: 'function_call_output', call_id: call.call_id, output: fileText }];
  return [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: `request ${n}: change the next file` }] }];
}

function sseEvents(text) {
  const events = [];
  for (const block of text.split('\n\n')) {
    const data = block.split('\n').find((l) => l.startsWith('data: '));
    if (data) events.push(JSON.parse(data.slice(6)));
  }
  return events;
}

async function overHttp() {
  const sent = [];
  const inputs = [];
  const times = [];
  let input = [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'request 0: read the repo' }] }];
  const cpu0 = cpuMs();
  for (let t = 0; t < turns; ++t) {
    const body = JSON.stringify({ ...settings, input });
    sent.push(Buffer.byteLength(body));
    inputs.push(Buffer.byteLength(JSON.stringify(input)));
    const t0 = performance.now();
    const r = await fetch(`${base}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const events = sseEvents(await r.text());
    times.push(performance.now() - t0);
    const done = events.at(-1);
    if (done?.type !== 'response.completed') throw new Error(`HTTP turn ${t}: ${JSON.stringify(done)}`);
    const output = done.response.output;
    input = [...input, ...output, ...nextItems(output, t + 1)];
  }
  return { sent, inputs, times, cpu: cpuMs() - cpu0 };
}

async function overWebSocket() {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/responses`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let pending;
  ws.on('message', (data) => {
    const event = JSON.parse(data.toString());
    if (['response.completed', 'response.failed', 'error'].includes(event.type)) pending(event);
  });
  const sent = [];
  const inputs = [];
  const times = [];
  let input = [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'request 0: read the repo' }] }];
  let previous = null;
  const cpu0 = cpuMs();
  for (let t = 0; t < turns; ++t) {
    const message = JSON.stringify({
      type: 'response.create',
      ...settings,
      input,
      ...(previous ? { previous_response_id: previous } : {}),
    });
    sent.push(Buffer.byteLength(message));
    inputs.push(Buffer.byteLength(JSON.stringify(input)));
    const t0 = performance.now();
    const done = await new Promise((resolve) => {
      pending = resolve;
      ws.send(message);
    });
    times.push(performance.now() - t0);
    if (done.type !== 'response.completed') throw new Error(`WS turn ${t}: ${JSON.stringify(done)}`);
    previous = done.response.id;
    input = nextItems(done.response.output, t + 1);
  }
  const cpu = cpuMs() - cpu0;
  ws.close();
  return { sent, inputs, times, cpu };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function summarize(runs) {
  const sent = runs[0].sent; // the same bytes every round
  const perTurnCpu = runs.map((r) => r.cpu / turns);
  const times = runs.flatMap((r) => r.times);
  return {
    bytes_total: sent.reduce((a, b) => a + b, 0),
    bytes_first_turn: sent[0],
    bytes_last_turn: sent.at(-1),
    bytes_per_turn: sent,
    input_bytes_total: runs[0].inputs.reduce((a, b) => a + b, 0),
    input_bytes_last_turn: runs[0].inputs.at(-1),
    cpu_ms_per_turn: median(perTurnCpu),
    latency_ms_p50: median(times),
    latency_ms_last_turn: median(runs.map((r) => r.times.at(-1))),
  };
}

const http = [];
const wsRuns = [];
for (let i = 0; i < rounds; ++i) {
  http.push(await overHttp());
  wsRuns.push(await overWebSocket());
}
const result = { turns, rounds, http: summarize(http), websocket: summarize(wsRuns) };
writeFileSync(outPath, JSON.stringify(result, null, 2));
const row = (name, s) =>
  `${name.padEnd(10)} ${String(s.bytes_total).padStart(9)} B total  ${String(s.bytes_last_turn).padStart(7)} B last turn  ` +
  `${String(s.input_bytes_total).padStart(8)} B of input  ` +
  `${s.cpu_ms_per_turn.toFixed(2).padStart(6)} ms CPU/turn  ${s.latency_ms_p50.toFixed(2).padStart(6)} ms p50`;
console.log(row('http', result.http));
console.log(row('websocket', result.websocket));
