// The official Anthropic TypeScript SDK (@anthropic-ai/sdk, pinned in package.json) against a real `suiron serve` on
// loopback with an API key: messages plain and streamed, a tool_use round trip with a tool_result, count_tokens, the
// SDK's typed errors (401, 400, 404), and thinking blocks with budget_tokens (a second server, given a template that
// opens <think>). The model is stories260K, which has no chat template: the server falls back to
// ChatML and describes tools in the system message (the generic call format); a forced tool call is constrained to the
// tool's schema, so the input is known in advance.
//
//   node --test messages.test.mjs
// Environment: SUIRON_CLI_DLL (default: the newest built src/Suiron.Cli/bin/*/net10.0/Suiron.Cli.dll),
// SUIRON_MODEL (default: ../shared/models/stories260K.gguf beside the checkout).

import Anthropic from '@anthropic-ai/sdk';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { key, startServer as startSuiron, stopServer } from '../sdk-server.mjs';

/** The shared server, with this SDK's client on it. */
async function startServer(extraArgs = []) {
  const { server, base } = await startSuiron(extraArgs);
  return { server, base, client: new Anthropic({ baseURL: base, apiKey: key, maxRetries: 0, timeout: 60_000 }) };
}

describe('Anthropic SDK against suiron serve', () => {
  let server;
  let base;
  let client;

  before(async () => {
    ({ server, base, client } = await startServer());
  });

  after(() => stopServer(server));

  const story = [{ role: 'user', content: 'Once upon a time' }, { role: 'assistant', content: 'there was a cat.' }, { role: 'user', content: 'What did the cat do?' }];

  it('creates a message whose text is the chat completions text', async () => {
    const message = await client.messages.create({
      model: 'stories260K', max_tokens: 20, temperature: 0, system: 'Tell a story.', messages: story, metadata: { user_id: 'sdk' },
    });
    assert.match(message.id, /^msg_/);
    assert.equal(message.type, 'message');
    assert.equal(message.role, 'assistant');
    assert.equal(message.model, 'stories260K');
    assert.equal(message.stop_reason, 'max_tokens');
    assert.equal(message.stop_sequence, null);
    assert.equal(message.content.length, 1);
    assert.equal(message.content[0].type, 'text');
    assert.equal(message.usage.output_tokens, 20);

    const response = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'stories260K', max_tokens: 20, temperature: 0, messages: [{ role: 'system', content: 'Tell a story.' }, ...story] }),
    });
    const chat = await response.json();
    assert.equal(message.content[0].text, chat.choices[0].message.content);
    assert.equal(message.usage.input_tokens + message.usage.cache_read_input_tokens, chat.usage.prompt_tokens);
  });

  it('streams the same message event by event', async () => {
    const params = { model: 'stories260K', max_tokens: 16, temperature: 0, messages: story };
    const whole = await client.messages.create(params);
    const stream = client.messages.stream(params);
    let text = '';
    stream.on('text', (delta) => { text += delta; });
    const types = [];
    for await (const event of stream) types.push(event.type);
    const final = await stream.finalMessage();
    assert.equal(text, whole.content[0].text);
    assert.deepEqual(final.content, whole.content);
    assert.equal(final.stop_reason, 'max_tokens');
    assert.equal(final.usage.output_tokens, 16);
    assert.deepEqual(types.slice(0, 2), ['message_start', 'content_block_start']);
    assert.deepEqual(types.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
    assert.ok(types.filter((t) => t === 'content_block_delta').length >= 5);
  });

  it('stops at a stop sequence and says which', async () => {
    const params = { model: 'stories260K', max_tokens: 40, temperature: 0, messages: [{ role: 'user', content: 'Once upon a time' }] };
    const full = (await client.messages.create(params)).content[0].text;
    const words = full.split(' ').filter((w) => w.length > 0);
    assert.ok(words.length > 3, full);
    const stop = ' ' + words[2];
    const stopped = await client.messages.create({ ...params, stop_sequences: [stop] });
    assert.equal(stopped.stop_reason, 'stop_sequence');
    assert.equal(stopped.stop_sequence, stop);
    assert.equal(stopped.content[0].text, full.slice(0, full.indexOf(stop)));
  });

  const weather = {
    name: 'get_weather',
    description: 'Weather forecast for a city',
    input_schema: {
      type: 'object',
      properties: { city: { const: 'Paris' }, when: { type: 'object', properties: { days: { enum: [2] } }, required: ['days'], additionalProperties: false } },
      required: ['city', 'when'],
      additionalProperties: false,
    },
  };
  const expectedInput = { city: 'Paris', when: { days: 2 } };

  it('calls a tool and answers its tool_result', async () => {
    const ask = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await client.messages.create({
      model: 'stories260K', max_tokens: 100, temperature: 0, tools: [weather], tool_choice: { type: 'tool', name: 'get_weather' }, messages: ask,
    });
    assert.equal(first.stop_reason, 'tool_use');
    const call = first.content.find((b) => b.type === 'tool_use');
    assert.ok(call, JSON.stringify(first.content));
    assert.match(call.id, /^toolu_/);
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(call.input, expectedInput);

    const conversation = [...ask, { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: [{ type: 'text', text: 'Sunny, 21 °C' }] }] }];
    const counted = await client.messages.countTokens({ model: 'stories260K', tools: [weather], messages: conversation });
    const answer = await client.messages.create({ model: 'stories260K', max_tokens: 8, temperature: 0, tools: [weather], messages: conversation });
    assert.ok(['end_turn', 'max_tokens'].includes(answer.stop_reason), answer.stop_reason);
    assert.equal(answer.usage.input_tokens + answer.usage.cache_read_input_tokens, counted.input_tokens);
    // The tool_result is part of the prompt: without it the prompt is shorter.
    const withoutResult = await client.messages.countTokens({ model: 'stories260K', tools: [weather], messages: conversation.slice(0, 2).concat([{ role: 'user', content: 'ok' }]) });
    assert.ok(counted.input_tokens > withoutResult.input_tokens);
  });

  it('streams a tool call as input_json_delta the SDK assembles', async () => {
    const stream = client.messages.stream({
      model: 'stories260K', max_tokens: 100, temperature: 0, tools: [weather], tool_choice: { type: 'any' }, messages: [{ role: 'user', content: 'Weather?' }],
    });
    const pieces = [];
    stream.on('inputJson', (partial) => pieces.push(partial));
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    const call = final.content.find((b) => b.type === 'tool_use');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(call.input, expectedInput);
    assert.ok(pieces.length >= 1);
  });

  it('counts tokens as the message uses them', async () => {
    const params = { model: 'stories260K', system: [{ type: 'text', text: 'Tell a story.' }], messages: story };
    const counted = await client.messages.countTokens(params);
    const message = await client.messages.create({ ...params, max_tokens: 1 });
    assert.ok(counted.input_tokens > 10);
    assert.equal(counted.input_tokens, message.usage.input_tokens + message.usage.cache_read_input_tokens);
  });

  it('raises the SDK\'s typed errors', async () => {
    const anonymous = new Anthropic({ baseURL: base, apiKey: 'wrong', maxRetries: 0 });
    await assert.rejects(anonymous.messages.create({ model: 'stories260K', max_tokens: 4, messages: story }), (e) => {
      assert.ok(e instanceof Anthropic.AuthenticationError, String(e));
      assert.equal(e.status, 401);
      assert.equal(e.error.type, 'error');
      assert.equal(e.error.error.type, 'authentication_error');
      return true;
    });
    await assert.rejects(client.messages.create({ model: 'stories260K', messages: story }), (e) => {
      assert.ok(e instanceof Anthropic.BadRequestError, String(e));
      assert.equal(e.error.error.type, 'invalid_request_error');
      assert.match(e.error.error.message, /max_tokens/);
      return true;
    });
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } };
    await assert.rejects(client.messages.create({ model: 'stories260K', max_tokens: 4, messages: [{ role: 'user', content: [image] }] }), (e) => {
      assert.ok(e instanceof Anthropic.BadRequestError, String(e));
      assert.match(e.error.error.message, /image/);
      return true;
    });
    await assert.rejects(client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 4, messages: story }), (e) => {
      assert.ok(e instanceof Anthropic.NotFoundError, String(e));
      assert.equal(e.error.error.type, 'not_found_error');
      return true;
    });
  });
});

// The same model under a template that opens <think> in the generation prompt (as DeepSeek-R1 distills' do), given
// with --chat-template-file: it never closes the block, so all it writes is reasoning, which comes back as thinking.
describe('Anthropic SDK: thinking', () => {
  let server;
  let client;
  let folder;

  before(async () => {
    folder = mkdtempSync(path.join(os.tmpdir(), 'suiron-sdk-'));
    const template = path.join(folder, 'thinking-chatml.jinja');
    writeFileSync(template, "{%- for message in messages -%}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}{%- endfor -%}"
      + "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n<think>\\n' -}}{%- endif -%}");
    ({ server, client } = await startServer(['--chat-template-file', template]));
  });

  after(async () => {
    await stopServer(server);
    rmSync(folder, { recursive: true, force: true });
  });

  const ask = { model: 'stories260K', temperature: 0, messages: [{ role: 'user', content: 'Once upon a time' }] };

  it('returns the reasoning as a thinking block, plain and streamed', async () => {
    const message = await client.messages.create({ ...ask, max_tokens: 12, thinking: { type: 'enabled', budget_tokens: 11 } });
    assert.equal(message.content.length, 1);
    assert.equal(message.content[0].type, 'thinking');
    assert.ok(message.content[0].thinking.trim().length > 0);
    assert.equal(message.content[0].signature, '');

    const stream = client.messages.stream({ ...ask, max_tokens: 12, thinking: { type: 'enabled', budget_tokens: 11 } });
    let thinking = '';
    stream.on('thinking', (delta) => { thinking += delta; });
    const final = await stream.finalMessage();
    assert.equal(thinking, message.content[0].thinking);
    assert.deepEqual(final.content, message.content);
  });

  it('ends the reasoning at budget_tokens and answers after it', async () => {
    const cut = await client.messages.create({ ...ask, max_tokens: 6 });
    const message = await client.messages.create({ ...ask, max_tokens: 60, thinking: { type: 'enabled', budget_tokens: 6 } });
    assert.deepEqual(message.content.map((b) => b.type), ['thinking', 'text']);
    assert.equal(message.content[0].thinking, cut.content[0].thinking);
    assert.ok(message.content[1].text.trim().length > 0);
    assert.ok(!message.content[1].text.includes('</think>'));
  });
});
