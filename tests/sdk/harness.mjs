// Starts the scripted Ollama-protocol backend and a real riposte in front of
// it on free loopback ports, and hands out an OpenAI SDK client for it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run the suite through ctest)`);
  return value;
}

// Spawns a process and resolves with it once a stdout/stderr line matches.
function startUntil(cmd, args, pattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    let started = false;
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${seen}`)), 20000);
    // Everything the process prints is kept (output() reads it).
    const onData = (chunk) => {
      seen += chunk.toString();
      if (started) return;
      for (const line of seen.split('\n')) {
        if (pattern.test(line)) {
          started = true;
          clearTimeout(timer);
          resolve({ child, line, output: () => seen });
          return;
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${cmd} exited with ${code}: ${seen}`)));
  });
}

// Sends SIGTERM and waits for the exit (SIGKILL after 10 s).
function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startStack({ script, riposteArgs = [] } = {}) {
  // RIPOSTE_TEST_BACKEND_KIND (e.g. vllm): the scripted backend speaks that
  // kind's Chat Completions dialect and riposte is told the kind.
  const kind = process.env.RIPOSTE_TEST_BACKEND_KIND || '';
  const backend = await startUntil(
    need('SCRIPTED_OLLAMA_BIN'),
    ['--listen', '127.0.0.1:0', ...(kind && kind !== 'ollama' ? ['--profile', kind] : [])],
    /"port"/,
  );
  const backendUrl = `http://127.0.0.1:${JSON.parse(backend.line).port}`;
  if (script) {
    await fetch(`${backendUrl}/_scripted/script`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(script),
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'riposte-sdk-'));
  const riposte = await startUntil(
    need('RIPOSTE_BIN'),
    [
      '--listen', '127.0.0.1:0', '--store', `rocksdb:${dir}`,
      '--backend', kind ? `${kind}:${backendUrl}` : backendUrl,
      // (a function when the flags name the backend's own address)
      ...(typeof riposteArgs === 'function' ? riposteArgs(backendUrl) : riposteArgs),
    ],
    /riposte listening/,
  );
  const port = JSON.parse(riposte.line).port;
  const baseURL = `http://127.0.0.1:${port}/v1`;
  return {
    baseURL,
    backendUrl,
    client: (opts = {}) => new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, ...opts }),
    backendRequests: async () => (await fetch(`${backendUrl}/_scripted/requests`)).json(),
    // riposte's JSON log lines so far.
    logLines: () =>
      riposte
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l)),
    async stop() {
      // The store's directory goes only after riposte has exited: a
      // shutting-down RocksDB still writes files into it.
      await Promise.all([stopChild(riposte.child), stopChild(backend.child)]);
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    },
  };
}

// What a message riposte sent the backend says, in either wire: Ollama's
// native (tool_name, thinking) or Chat Completions (tool_call_id pointing at
// the assistant's call; reasoning or reasoning_content).
export function toolNameOf(message, messages) {
  if (message.tool_name !== undefined) return message.tool_name;
  for (const m of messages)
    for (const call of m.tool_calls ?? [])
      if (call.id === message.tool_call_id) return call.function.name;
  return undefined;
}

export function reasoningOf(message) {
  return message.thinking ?? message.reasoning ?? message.reasoning_content;
}
