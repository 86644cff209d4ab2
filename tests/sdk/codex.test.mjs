// Codex CLI (npm @openai/codex, pinned), unmodified, against riposte: the
// scripted backend plays a tool-using model that thinks, asks for a shell
// command, reads its output and finishes. Codex must run the command, send
// the output (and its sealed reasoning) back, and exit 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reasoningOf, startStack, toolNameOf } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const codexBin = join(here, 'node_modules', '.bin', 'codex');

let stack;
let dir;

before(async () => {
  stack = await startStack({
    // Codex's instructions and tools alone are several thousand tokens.
    riposteArgs: ['--api-key', 'sk-codex:codex', '--context-window', 'qwen3:0.6b=32768'],
    script: {
      rules: [
        {
          match: { has_tool_result: true },
          reply: { chunks: [{ thinking: 'The command ran.' }, { content: 'Created codex_was_here.txt.' }] },
        },
        {
          match: {},
          reply: {
            chunks: [
              { thinking: 'I will create the file with a shell command.' },
              {
                tool_calls: [
                  {
                    function: {
                      name: 'exec_command',
                      arguments: { cmd: 'echo made-by-codex > codex_was_here.txt' },
                    },
                  },
                ],
              },
            ],
          },
        },
      ],
    },
  });
  dir = mkdtempSync(join(tmpdir(), 'riposte-codex-'));
});

after(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(home, baseURL, providerLines = []) {
  writeFileSync(
    join(home, 'config.toml'),
    [
      'model = "qwen3:0.6b"',
      'model_provider = "riposte"',
      'model_context_window = 32768',
      '[model_providers.riposte]',
      'name = "riposte"',
      `base_url = "${baseURL}"`,
      'wire_api = "responses"',
      'env_key = "RIPOSTE_API_KEY"',
      ...providerLines,
      '[features]',
      'plugins = false',
      '',
    ].join('\n'),
  );
}

function runCodex(cwd, home, prompt) {
  return new Promise((resolve) => {
    const child = spawn(
      codexBin,
      ['exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', prompt],
      {
        cwd,
        env: { ...process.env, CODEX_HOME: home, RIPOSTE_API_KEY: 'sk-codex' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('codex exec runs a shell tool call through riposte and finishes', async () => {
  const home = join(dir, 'codex-home');
  const repo = join(dir, 'repo');
  execFileSync('mkdir', ['-p', home, repo]);
  execFileSync('git', ['init', '-q'], { cwd: repo });
  writeConfig(home, stack.baseURL);

  const { code, output } = await runCodex(repo, home, 'Create a file named codex_was_here.txt.');
  assert.equal(code, 0, output);
  assert.ok(existsSync(join(repo, 'codex_was_here.txt')), output);
  assert.equal(readFileSync(join(repo, 'codex_was_here.txt'), 'utf8'), 'made-by-codex\n');
  assert.match(output, /Created codex_was_here\.txt\./);

  // What reached the model: Codex's tools flattened (its namespace too), and
  // on the second turn the call, its output and the reasoning it replayed.
  const requests = await stack.backendRequests();
  assert.equal(requests.length, 2, JSON.stringify(requests.map((r) => r.messages.length)));
  const names = requests[0].tools.map((t) => t.function.name);
  assert.ok(names.includes('exec_command'));
  assert.ok(names.some((n) => n.startsWith('multi_agent_v1__')), names.join(','));
  assert.ok(!names.includes('web_search'));
  const second = requests[1].messages;
  const assistant = second.find((m) => m.role === 'assistant');
  assert.equal(assistant.tool_calls[0].function.name, 'exec_command');
  assert.equal(reasoningOf(assistant), 'I will create the file with a shell command.');
  const tool = second.find((m) => m.role === 'tool');
  assert.equal(toolNameOf(tool, second), 'exec_command');
});

test('codex exec over the WebSocket: every request on it, the later ones with only their new items', async () => {
  const ws = await startStack({
    riposteArgs: ['--api-key', 'sk-codex:codex', '--context-window', 'qwen3:0.6b=32768'],
    script: {
      rules: [
        {
          match: { has_tool_result: true },
          reply: { chunks: [{ thinking: 'Done.' }, { content: 'Wrote ws_was_here.txt.' }] },
        },
        {
          match: {},
          reply: {
            chunks: [
              { thinking: 'A shell command will do.' },
              { tool_calls: [{ function: { name: 'exec_command', arguments: { cmd: 'echo over-ws > ws_was_here.txt' } } }] },
            ],
          },
        },
      ],
    },
  });
  try {
    const home = join(dir, 'codex-home-ws');
    const repo = join(dir, 'repo-ws');
    execFileSync('mkdir', ['-p', home, repo]);
    execFileSync('git', ['init', '-q'], { cwd: repo });
    writeConfig(home, ws.baseURL, ['supports_websockets = true', 'stream_max_retries = 0']);
    const { code, output } = await runCodex(repo, home, 'Create a file named ws_was_here.txt.');
    assert.equal(code, 0, output);
    assert.equal(readFileSync(join(repo, 'ws_was_here.txt'), 'utf8'), 'over-ws\n');
    assert.match(output, /Wrote ws_was_here\.txt\./);
    assert.doesNotMatch(output, /Falling back from WebSockets/);

    const metrics = await (await fetch(ws.baseURL.replace(/\/v1$/, '') + '/metrics')).text();
    const value = (series) => {
      const line = metrics.split('\n').find((l) => l.startsWith(series + ' '));
      return line ? Number(line.split(' ')[1]) : 0;
    };
    // The WebSocket carried the requests; none went over HTTP.
    assert.ok(value('riposte_websocket_upgrades_total{result="accepted"}') >= 1, metrics);
    assert.ok(value('riposte_websocket_messages_total{type="response.create"}') >= 2, metrics);
    assert.ok(!/riposte_http_requests_total\{method="POST",route="\/v1\/responses"/.test(metrics), metrics);
    // The request after the tool call continued the connection's response:
    // Codex sent the call's output alone, and the model still saw it all.
    assert.ok(value('riposte_websocket_continuations_total{source="connection"}') >= 1, metrics);
    // The request log: each WebSocket turn with its input items. The first
    // that asked the model carried Codex's whole context; the one after the
    // tool call carried the call's output alone.
    const turns = ws.logLines().filter((l) => l.method === 'WS response.create');
    assert.ok(turns.length >= 2, JSON.stringify(turns));
    assert.ok(turns.every((t) => t.status === 200), JSON.stringify(turns));
    const last = turns.at(-1);
    assert.equal(last.input_items, 1, JSON.stringify(turns));
    assert.ok(Math.max(...turns.map((t) => t.input_items)) >= 2, JSON.stringify(turns));
    const requests = await ws.backendRequests();
    assert.equal(requests.length, 2, JSON.stringify(requests.map((r) => r.messages.length)));
    const second = requests[1].messages;
    assert.ok(second.some((m) => m.role === 'user'));
    assert.equal(second.find((m) => m.role === 'assistant').tool_calls[0].function.name, 'exec_command');
    assert.equal(toolNameOf(second.find((m) => m.role === 'tool'), second), 'exec_command');
  } finally {
    await ws.stop();
  }
});

test('codex reports a context that does not fit the window as its own context error', async () => {
  // The same model with a 4,096-token window (Ollama's default here; a Chat
  // Completions server would say its own, so it is set): Codex's first
  // request is refused with context_length_exceeded, which Codex knows.
  const small = await startStack({
    riposteArgs: ['--api-key', 'sk-codex:codex', '--context-window', 'qwen3:0.6b=4096'],
  });
  try {
    const home = join(dir, 'codex-home-small');
    const repo = join(dir, 'repo-small');
    execFileSync('mkdir', ['-p', home, repo]);
    execFileSync('git', ['init', '-q'], { cwd: repo });
    writeConfig(home, small.baseURL);
    const { code, output } = await runCodex(repo, home, 'Create a file named never.txt.');
    assert.notEqual(code, 0, output);
    assert.match(output, /context window/, output);
    assert.ok(!existsSync(join(repo, 'never.txt')));
  } finally {
    await small.stop();
  }
});

test('codex runs with riposte serving web_search through a SearXNG', async () => {
  // The model searches first; riposte runs the search and the model answers
  // in the same response. Codex must take the web_search_call items in its
  // stream and finish.
  const searching = await startStack({
    riposteArgs: (backend) => [
      '--api-key', 'sk-codex:codex', '--context-window', 'qwen3:0.6b=32768',
      '--web-search', `searxng:${backend}`,
    ],
    script: {
      searxng: {
        results: [{ url: 'https://docs.example.org/release', title: 'Release notes', content: 'Version 7 is out.' }],
      },
      rules: [
        {
          match: { has_tool_result: true },
          reply: { chunks: [{ content: 'Version 7 is out, see https://docs.example.org/release.' }] },
        },
        {
          match: {},
          reply: { chunks: [{ tool_calls: [{ function: { name: 'web_search', arguments: { query: 'latest release' } } }] }] },
        },
      ],
    },
  });
  try {
    const home = join(dir, 'codex-home-search');
    const repo = join(dir, 'repo-search');
    execFileSync('mkdir', ['-p', home, repo]);
    execFileSync('git', ['init', '-q'], { cwd: repo });
    writeConfig(home, searching.baseURL);
    const { code, output } = await runCodex(repo, home, 'What is the latest release?');
    assert.equal(code, 0, output);
    assert.match(output, /Version 7 is out/);
    const searches = await (await fetch(`${searching.backendUrl}/_scripted/searches`)).json();
    assert.deepEqual(searches, ['latest release']);
    // Codex declared its web_search tool: the model was offered riposte's.
    const first = (await searching.backendRequests())[0];
    assert.ok(first.tools.some((t) => t.function.name === 'web_search'));
  } finally {
    await searching.stop();
  }
});
