// How far riposte's token estimate is from a real tokenizer. Ollama exposes
// none, so riposte estimates; here each text of a small corpus (prose, C++,
// JSON, five languages) is counted by Llama 3's own tokenizer (npm
// llama3-tokenizer-js, pinned) and by riposte through the SDK's
// responses.inputTokens.count(). The chat overhead is the same fixed 10
// tokens on both sides (Llama 3: begin_of_text, the user header, end of
// turn, the assistant header), so the difference is the estimate's error.
// Against a vLLM (RIPOSTE_TEST_BACKEND_KIND=vllm) riposte counts with the
// server's own tokenizer instead, so there is no estimate to measure (the
// e2e.backends suite covers that path).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import llama3Tokenizer from 'llama3-tokenizer-js';
import { startStack } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const overhead = 10;
const corpus = {
  'English prose (README.md)': join(root, 'README.md'),
  // The response actor's sources, one text (what was one file until it was split).
  'C++ (actors/response/*.cpp)': readdirSync(join(root, 'actors', 'response'))
    .filter((f) => f.endsWith('.cpp'))
    .sort()
    .map((f) => join(root, 'actors', 'response', f)),
  'C++ tables (http/compatibility.cpp)': join(root, 'http', 'compatibility.cpp'),
  'JSON (Grafana dashboard)': join(root, 'ops', 'grafana', 'dashboards', 'riposte.json'),
  'French, German, Russian, Chinese, Japanese': join(here, 'fixtures', 'multilingual.txt'),
};

let stack;
before(async () => {
  stack = await startStack({ riposteArgs: ['--context-window', 'llama3.2:1b=131072'] });
});
after(async () => stack.stop());

const kind = process.env.RIPOSTE_TEST_BACKEND_KIND || '';
const skip = kind === 'vllm' ? 'vLLM counts with its own tokenizer: no estimate to measure' : false;

test('the token estimate stays close to the real Llama 3 tokenizer', { skip }, async () => {
  const client = stack.client();
  const rows = [];
  let realTotal = 0;
  let estimateTotal = 0;
  for (const [name, path] of Object.entries(corpus)) {
    const text = [path].flat().map((p) => readFileSync(p, 'utf8')).join('\n');
    const real = llama3Tokenizer.encode(text, { bos: false, eos: false }).length + overhead;
    const counted = await client.responses.inputTokens.count({ model: 'llama3.2:1b', input: text });
    assert.equal(counted.object, 'response.input_tokens');
    const error = (counted.input_tokens - real) / real;
    rows.push(`| ${name} | ${real} | ${counted.input_tokens} | ${(error * 100).toFixed(1)}% |`);
    realTotal += real;
    estimateTotal += counted.input_tokens;
    assert.ok(Math.abs(error) <= 0.15, `${name}: ${counted.input_tokens} estimated, ${real} real`);
  }
  const overall = (estimateTotal - realTotal) / realTotal;
  rows.push(`| all | ${realTotal} | ${estimateTotal} | ${(overall * 100).toFixed(1)}% |`);
  console.log(['| text | Llama 3 tokens | riposte estimate | error |', '|---|---:|---:|---:|', ...rows].join('\n'));
  assert.ok(Math.abs(overall) <= 0.1, `overall error ${overall}`);
});
