// The SDK's files resource against riposte: create, list, retrieve, content,
// delete, unmodified; tenants see only their own files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import { startStack } from './harness.mjs';

let stack;
let alice;
let bob;

before(async () => {
  stack = await startStack({
    riposteArgs: ['--api-key', 'sk-a:alice', '--api-key', 'sk-b:bob', '--max-upload-bytes', '2000000'],
  });
  alice = stack.client({ apiKey: 'sk-a' });
  bob = stack.client({ apiKey: 'sk-b' });
});

after(async () => {
  await stack.stop();
});

test('files are created, listed, read back byte for byte and deleted', async () => {
  const bytes = Buffer.alloc(1_500_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 251;
  const created = await alice.files.create({
    file: await toFile(bytes, 'data.bin'),
    purpose: 'user_data',
  });
  assert.match(created.id, /^file-/);
  assert.equal(created.object, 'file');
  assert.equal(created.bytes, bytes.length);
  assert.equal(created.filename, 'data.bin');
  assert.equal(created.purpose, 'user_data');
  assert.equal(created.status, 'processed');

  const notes = await alice.files.create({
    file: await toFile(Buffer.from('# notes\n'), 'notes.md'),
    purpose: 'assistants',
    expires_after: { anchor: 'created_at', seconds: 3600 },
  });
  assert.equal(notes.expires_at, notes.created_at + 3600);

  assert.deepEqual(await alice.files.retrieve(created.id), created);
  const listed = [];
  for await (const f of alice.files.list()) listed.push(f.id);
  assert.deepEqual(listed, [notes.id, created.id]); // newest first
  const onlyUserData = await alice.files.list({ purpose: 'user_data' });
  assert.deepEqual(
    onlyUserData.data.map((f) => f.id),
    [created.id],
  );
  const paged = await alice.files.list({ limit: 1, order: 'asc' });
  assert.equal(paged.data[0].id, created.id);
  assert.equal(paged.has_more, true);

  const content = Buffer.from(await (await alice.files.content(created.id)).arrayBuffer());
  assert.equal(content.length, bytes.length);
  assert.equal(createHash('sha256').update(content).digest('hex'), createHash('sha256').update(bytes).digest('hex'));

  // Another tenant sees nothing of it.
  await assert.rejects(bob.files.retrieve(created.id), OpenAI.NotFoundError);
  assert.equal((await bob.files.list()).data.length, 0);

  const deleted = await alice.files.delete(created.id);
  assert.deepEqual(deleted, { id: created.id, object: 'file', deleted: true });
  await assert.rejects(alice.files.retrieve(created.id), OpenAI.NotFoundError);
  await assert.rejects(alice.files.content(created.id), OpenAI.NotFoundError);
});

test('bad uploads get the SDK error classes', async () => {
  await assert.rejects(
    alice.files.create({ file: await toFile(Buffer.from('x'), 'x.txt'), purpose: 'nonsense' }),
    (err) => err instanceof OpenAI.BadRequestError && err.param === 'purpose',
  );
  await assert.rejects(
    alice.files.create({ file: await toFile(Buffer.alloc(0), 'empty.txt'), purpose: 'user_data' }),
    (err) => err instanceof OpenAI.BadRequestError && err.param === 'file',
  );
  await assert.rejects(
    alice.files.create({ file: await toFile(Buffer.alloc(2_000_001), 'big.bin'), purpose: 'user_data' }),
    (err) => err instanceof OpenAI.APIError && err.status === 413,
  );
});
