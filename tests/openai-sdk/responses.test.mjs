// The official OpenAI TypeScript SDK (openai, pinned in package.json) against a real `suiron serve` on loopback with
// an API key: responses.create plain and streamed (the SDK's ResponseStream accumulates the typed events), a
// function-call round trip with function_call_output, previous_response_id over a stored response, text.format
// json_schema, the SDK's typed errors, and reasoning items (a second server, given a template that opens <think>).
// The model is stories260K, which has no chat template: the server falls back to ChatML and describes tools in the
// system message (the generic call format); a forced call is constrained to the tool's schema, so its arguments are
// known in advance.
//
//   node --test responses.test.mjs
// Environment: SUIRON_CLI_DLL (default: the newest built src/Suiron.Cli/bin/*/net10.0/Suiron.Cli.dll),
// SUIRON_MODEL (default: ../shared/models/stories260K.gguf beside the checkout).

import OpenAI from 'openai';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { key, startServer as startSuiron, stopServer } from '../sdk-server.mjs';

/** The shared server, with this SDK's client on it. */
async function startServer(extraArgs = []) {
  const { server, base } = await startSuiron(extraArgs);
  return { server, base, client: new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0, timeout: 60_000 }) };
}

async function chatCompletion(base, body) {
  const response = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200);
  return response.json();
}

describe('OpenAI SDK responses against suiron serve', () => {
  let server;
  let base;
  let client;

  before(async () => {
    ({ server, base, client } = await startServer());
  });

  after(() => stopServer(server));

  const story = [
    { role: 'user', content: 'Once upon a time' },
    { role: 'assistant', content: 'there was a cat.' },
    { role: 'user', content: 'What did the cat do?' },
  ];

  it('creates a response whose text is the chat completions text', async () => {
    const response = await client.responses.create({
      model: 'stories260K', max_output_tokens: 20, temperature: 0, instructions: 'Tell a story.', input: story,
    });
    assert.match(response.id, /^resp_/);
    assert.equal(response.object, 'response');
    assert.equal(response.status, 'incomplete');
    assert.equal(response.incomplete_details.reason, 'max_output_tokens');
    assert.equal(response.output.length, 1);
    assert.equal(response.output[0].type, 'message');
    assert.equal(response.usage.output_tokens, 20);

    const chat = await chatCompletion(base, { model: 'stories260K', max_tokens: 20, temperature: 0, messages: [{ role: 'system', content: 'Tell a story.' }, ...story] });
    // output_text is the SDK's own join of the output_text parts.
    assert.equal(response.output_text, chat.choices[0].message.content);
    assert.equal(response.usage.input_tokens, chat.usage.prompt_tokens);
  });

  it('streams the same response event by event', async () => {
    const params = { model: 'stories260K', max_output_tokens: 16, temperature: 0, input: story };
    const whole = await client.responses.create(params);
    const stream = client.responses.stream(params);
    let text = '';
    const types = [];
    stream.on('response.output_text.delta', (event) => { text += event.delta; });
    for await (const event of stream) types.push(event.type);
    const final = await stream.finalResponse();
    assert.equal(text, whole.output_text);
    assert.equal(final.output_text, whole.output_text);
    assert.equal(final.status, 'incomplete');
    assert.equal(final.usage.output_tokens, 16);
    assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    assert.deepEqual(types.slice(-4), ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.incomplete']);

    // The low-level stream: raw events with rising sequence numbers.
    const raw = await client.responses.create({ ...params, stream: true });
    let sequence = 0;
    for await (const event of raw) assert.equal(event.sequence_number, sequence++);
    assert.ok(sequence > 10);
  });

  const weather = {
    type: 'function',
    name: 'get_weather',
    description: 'Weather forecast for a city',
    strict: true,
    parameters: {
      type: 'object',
      properties: { city: { const: 'Paris' }, when: { type: 'object', properties: { days: { enum: [2] } }, required: ['days'], additionalProperties: false } },
      required: ['city', 'when'],
      additionalProperties: false,
    },
  };
  const expectedArguments = { city: 'Paris', when: { days: 2 } };

  it('calls a function and answers its function_call_output', async () => {
    const ask = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await client.responses.create({
      model: 'stories260K', max_output_tokens: 100, temperature: 0, tools: [weather], tool_choice: { type: 'function', name: 'get_weather' }, input: ask,
    });
    assert.equal(first.status, 'completed');
    const call = first.output.find((item) => item.type === 'function_call');
    assert.ok(call, JSON.stringify(first.output));
    assert.match(call.call_id, /^call_/);
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), expectedArguments);

    // The same round trip through chat completions gives the same prompt.
    const input = [...ask, ...first.output, { type: 'function_call_output', call_id: call.call_id, output: 'Sunny, 21 °C' }];
    const answer = await client.responses.create({ model: 'stories260K', max_output_tokens: 8, temperature: 0, tools: [weather], input });
    const chat = await chatCompletion(base, {
      model: 'stories260K', max_tokens: 8, temperature: 0,
      tools: [{ type: 'function', function: { name: weather.name, description: weather.description, parameters: weather.parameters } }],
      messages: [...ask, { role: 'assistant', content: null, tool_calls: [{ id: call.call_id, type: 'function', function: { name: call.name, arguments: call.arguments } }] },
        { role: 'tool', tool_call_id: call.call_id, content: 'Sunny, 21 °C' }],
    });
    assert.equal(answer.usage.input_tokens, chat.usage.prompt_tokens);
    assert.equal(answer.output_text, chat.choices[0].message.content ?? '');
  });

  it('streams a function call as argument deltas', async () => {
    const stream = client.responses.stream({
      model: 'stories260K', max_output_tokens: 100, temperature: 0, tools: [weather], tool_choice: 'required', input: 'Weather?',
    });
    let pieces = '';
    stream.on('response.function_call_arguments.delta', (event) => { pieces += event.delta; });
    const final = await stream.finalResponse();
    assert.equal(final.status, 'completed');
    const call = final.output.find((item) => item.type === 'function_call');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), expectedArguments);
    assert.equal(pieces, call.arguments);
  });

  it('continues a stored response by previous_response_id from the prefix cache', async () => {
    const first = await client.responses.create({ model: 'stories260K', max_output_tokens: 12, temperature: 0, store: true, input: 'Tom had a red ball' });
    const second = await client.responses.create({
      model: 'stories260K', max_output_tokens: 12, temperature: 0, store: true, previous_response_id: first.id, input: 'Where did it go?',
    });
    assert.equal(second.previous_response_id, first.id);
    const chat = await chatCompletion(base, {
      model: 'stories260K', max_tokens: 12, temperature: 0,
      messages: [{ role: 'user', content: 'Tom had a red ball' }, { role: 'assistant', content: first.output_text }, { role: 'user', content: 'Where did it go?' }],
    });
    assert.equal(second.usage.input_tokens, chat.usage.prompt_tokens);
    assert.equal(second.output_text, chat.choices[0].message.content);
    assert.ok(second.usage.input_tokens_details.cached_tokens >= first.usage.input_tokens,
      `cached ${second.usage.input_tokens_details.cached_tokens} of a first prompt of ${first.usage.input_tokens}`);

    const stored = await client.responses.retrieve(second.id);
    assert.equal(stored.output_text, second.output_text);
    const deleted = await client.responses.delete(first.id);
    assert.deepEqual(deleted, { id: first.id, object: 'response', deleted: true });
    await assert.rejects(client.responses.create({ model: 'stories260K', max_output_tokens: 4, previous_response_id: first.id, input: 'And then?' }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.equal(e.code, 'previous_response_not_found');
      assert.equal(e.param, 'previous_response_id');
      return true;
    });
  });

  it('writes JSON that matches text.format json_schema', async () => {
    const response = await client.responses.create({
      model: 'stories260K', max_output_tokens: 60, temperature: 1, input: 'Who?',
      text: { format: { type: 'json_schema', name: 'person', strict: true,
        schema: { type: 'object', properties: { name: { const: 'Lily' }, age: { enum: [3] } }, required: ['name', 'age'], additionalProperties: false } } },
    });
    assert.equal(response.status, 'completed');
    assert.deepEqual(JSON.parse(response.output_text), { name: 'Lily', age: 3 });
  });

  it('raises the SDK\'s typed errors', async () => {
    const anonymous = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong', maxRetries: 0 });
    await assert.rejects(anonymous.responses.create({ model: 'stories260K', input: 'Hi' }), (e) => {
      assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
      assert.equal(e.status, 401);
      return true;
    });
    await assert.rejects(client.responses.create({ model: 'stories260K', input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://example.com/a.png', detail: 'auto' }] }] }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.match(e.message, /image/);
      return true;
    });
    await assert.rejects(client.responses.create({ model: 'stories260K', input: 'Hi', tools: [{ type: 'web_search' }] }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.equal(e.param, 'tools[0].type');
      return true;
    });
    await assert.rejects(client.responses.create({ model: 'gpt-5', input: 'Hi' }), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, String(e));
      return true;
    });
  });
});

// The same model under a template that opens <think> in the generation prompt (as DeepSeek-R1 distills' do), given
// with --chat-template-file and --reasoning-budget: the model never closes the block itself, so what it writes is
// reasoning until the server's budget closes it.
describe('OpenAI SDK responses: reasoning', () => {
  let server;
  let client;
  let folder;

  before(async () => {
    folder = mkdtempSync(path.join(os.tmpdir(), 'suiron-openai-sdk-'));
    const template = path.join(folder, 'thinking-chatml.jinja');
    writeFileSync(template, "{%- for message in messages -%}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}{%- endfor -%}"
      + "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n<think>\\n' -}}{%- endif -%}");
    ({ server, client } = await startServer(['--chat-template-file', template, '--reasoning-budget', '6']));
  });

  after(async () => {
    await stopServer(server);
    rmSync(folder, { recursive: true, force: true });
  });

  it('returns the reasoning as a reasoning item, ended by the server\'s budget, then the answer', async () => {
    const response = await client.responses.create({ model: 'stories260K', max_output_tokens: 40, temperature: 0, reasoning: { summary: 'auto' }, input: 'Once upon a time' });
    assert.deepEqual(response.output.map((item) => item.type), ['reasoning', 'message']);
    const reasoning = response.output[0];
    assert.ok(reasoning.content[0].text.trim().length > 0);
    assert.equal(reasoning.summary[0].text, reasoning.content[0].text);
    assert.ok(response.output_text.trim().length > 0);
    assert.ok(!response.output_text.includes('</think>'));

    // The request's own budget overrides the server's: 0 closes the block at once.
    const none = await client.responses.create({ model: 'stories260K', max_output_tokens: 20, temperature: 0, input: 'Once upon a time', reasoning_budget_tokens: 0 });
    assert.deepEqual(none.output.map((item) => item.type), ['message']);

    const stream = client.responses.stream({ model: 'stories260K', max_output_tokens: 40, temperature: 0, reasoning: { summary: 'auto' }, input: 'Once upon a time' });
    let thinking = '';
    stream.on('response.reasoning_text.delta', (event) => { thinking += event.delta; });
    const final = await stream.finalResponse();
    assert.equal(thinking, reasoning.content[0].text);
    assert.equal(final.output_text, response.output_text);
  });
});
