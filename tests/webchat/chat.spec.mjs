// Browser test of the web chat: starts the real `suiron serve` on stories260K, drives Debian's chromium
// (headless, fresh profile) with playwright-core, and checks streaming, stop, persistence across a reload,
// renaming, the error display, that the page fetches nothing from outside the server, that a page on another
// origin (or under a rebinding name) can neither start a generation nor read a reply, and, on a second server with
// two models, the model picker, the banner and each conversation's model.
//
//   node chat.spec.mjs
// Environment: SUIRON_CLI_DLL (default: the newest built src/Suiron.Cli/bin/*/net10.0/Suiron.Cli.dll),
// SUIRON_MODEL (default: ../shared/models/stories260K.gguf beside the checkout), CHROMIUM (default /usr/bin/chromium).
// Writes artifacts/chat.png and the other screenshots (dark theme, Markdown, a 390 px phone screen).

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { findCliDll, findModel, freePort, waitForHealth } from '../sdk-server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

const step = (text) => console.log(`• ${text}`);

async function main() {
  const dll = findCliDll();
  const model = findModel();
  assert.ok(existsSync(model), `test model not found: ${model}`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log = [];
  step(`starting dotnet ${path.relative(repo, dll)} serve on port ${port}`);
  const server = spawn('dotnet', [dll, 'serve', '--model', model, '--host', '127.0.0.1', '--port', String(port), '--threads', '1', '--parallel', '2'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => log.push(String(d)));
  server.stderr.on('data', (d) => log.push(String(d)));

  const profile = mkdtempSync(path.join(os.tmpdir(), 'suiron-chromium-'));
  let context;
  try {
    await waitForHealth(base, server, log);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1100, height: 760 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
        // DNS rebinding without DNS: the attacker's name resolves to the server's address.
        '--host-resolver-rules=MAP attacker.example 127.0.0.1'],
    });
    const page = context.pages()[0] ?? await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
    const outside = [];
    page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) outside.push(r.url()); });

    step('page loads and lists the model');
    await page.goto(base + '/');
    await page.waitForFunction(() => [...document.querySelectorAll('#model option')].some((o) => o.value === 'stories260K'));
    assert.equal(await page.title(), 'Suiron');

    step('settings are set and kept');
    await page.click('#toggle-settings');
    await page.fill('#temperature', '0');
    await page.fill('#max-tokens', '120');
    await page.fill('#seed', '7');
    await page.click('#toggle-settings');

    // Count the updates of the answer as the DOM sees them.
    await page.evaluate(() => {
      window.__answerUpdates = 0;
      let last = '';
      new MutationObserver(() => {
        const answers = document.querySelectorAll('#messages .message.assistant .content');
        const text = answers.length ? answers[answers.length - 1].textContent : '';
        if (text !== last && text.length > last.length) window.__answerUpdates++;
        last = text;
      }).observe(document.getElementById('messages'), { childList: true, subtree: true, characterData: true });
    });

    step('a message is sent and the answer streams in');
    await page.fill('#input', 'Tell me a story about a cat');
    await page.press('#input', 'Enter');
    await page.waitForSelector('.message.assistant[data-state="streaming"]');
    assert.equal(await page.isVisible('#stop'), true, 'the stop button shows while answering');
    await page.waitForSelector('.message.assistant[data-state="done"]', { timeout: 120_000 });
    const firstAnswer = await page.textContent('.message.assistant .content');
    const updates = await page.evaluate(() => window.__answerUpdates);
    assert.ok(firstAnswer.trim().length > 0, 'the answer is not empty');
    assert.ok(updates > 1, `the answer arrived in ${updates} update(s); expected it to stream`);
    assert.match(await page.textContent('.message.assistant .meta'), /\d+ tokens/);
    assert.equal(await page.isVisible('#send'), true);
    assert.equal(await page.textContent('.conversation.current .conversation-title'), 'Tell me a story about a cat');
    step(`  ${firstAnswer.length} characters in ${updates} updates`);

    step('the stop button ends an answer');
    // Slow the stream down so that there is an answer in progress to stop.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 1500, uploadThroughput: -1 });
    await page.click('#toggle-settings');
    await page.fill('#max-tokens', '1000');
    await page.click('#toggle-settings');
    await page.fill('#input', 'And then what happened?');
    await page.click('#send');
    await page.waitForFunction(() => {
      const answers = document.querySelectorAll('#messages .message.assistant');
      const last = answers[answers.length - 1];
      return answers.length === 2 && last.dataset.state === 'streaming' && last.querySelector('.content').textContent.length > 0;
    }, null, { timeout: 60_000 });
    await page.click('#stop');
    await page.waitForSelector('.message.assistant:nth-of-type(4)[data-state="stopped"]', { timeout: 10_000 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const stoppedText = await page.textContent('.message.assistant:nth-of-type(4) .content');
    await page.waitForTimeout(800);
    assert.equal(await page.textContent('.message.assistant:nth-of-type(4) .content'), stoppedText, 'no text arrives after stop');
    assert.match(await page.textContent('.message.assistant:nth-of-type(4) .meta'), /stopped/);
    assert.equal(await page.isVisible('#send'), true);
    assert.equal(await page.isVisible('#stop'), false);

    step('the conversation survives a reload');
    await page.reload();
    await page.waitForSelector('.message.assistant');
    assert.equal(await page.locator('.message').count(), 4);
    assert.equal(await page.textContent('.message.assistant .content'), firstAnswer);
    assert.equal(await page.locator('.conversation').count(), 1);
    assert.equal(await page.inputValue('#temperature').catch(() => null) ?? '0', '0');

    mkdirSync(path.join(here, 'artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(here, 'artifacts', 'chat.png') });

    step('the theme switches to dark and stays after a reload');
    await page.click('#toggle-theme'); // auto → light
    await page.click('#toggle-theme'); // light → dark
    await page.reload();
    await page.waitForSelector('.message.assistant');
    assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');
    await page.screenshot({ path: path.join(here, 'artifacts', 'chat-dark.png') });

    step('a conversation is renamed, a second one created and switched');
    await page.hover('.conversation.current');
    await page.click('.conversation.current .rename');
    await page.fill('.rename-input', '猫の話');
    await page.press('.rename-input', 'Enter');
    assert.equal(await page.textContent('.conversation.current .conversation-title'), '猫の話');
    await page.click('#new-chat');
    assert.equal(await page.locator('.message').count(), 0);
    await page.click('.conversation:has-text("猫の話") .conversation-title');
    assert.equal(await page.locator('.message').count(), 4);

    step('the API key goes as a bearer token; an HTTP error shows the OpenAI error message');
    await page.click('#toggle-settings');
    await page.fill('#api-key', 'sk-test-key');
    await page.click('#toggle-settings');
    let authorization = null;
    await page.route('**/v1/chat/completions', (route) => {
      authorization = route.request().headers().authorization ?? null;
      return route.fulfill({
        status: 401, contentType: 'application/json',
        body: JSON.stringify({ error: { message: 'Invalid API key.', type: 'invalid_request_error', code: 'invalid_api_key' } }),
      });
    }, { times: 1 });
    await page.fill('#input', 'Hello?');
    await page.press('#input', 'Enter');
    await page.waitForSelector('.message.assistant[data-state="error"]');
    assert.match(await page.textContent('.message.assistant[data-state="error"] .message-error'), /HTTP 401.*Invalid API key\./);
    assert.equal(authorization, 'Bearer sk-test-key');

    step('Markdown in an answer renders safely');
    await page.route('**/v1/chat/completions', (route) => route.fulfill({
      status: 200, contentType: 'text/event-stream',
      body: [
        { choices: [{ index: 0, delta: { reasoning_content: 'Let me think <b>hard</b>.' } }] },
        { choices: [{ index: 0, delta: { content: '**Bold** <img src=x onerror="window.__xss=1">\n\n```js\nlet a = 1 < 2;\n```' } }] },
        { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
        { choices: [], usage: { prompt_tokens: 3, completion_tokens: 9, total_tokens: 12 } },
      ].map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + 'data: [DONE]\n\n',
    }), { times: 1 });
    await page.fill('#input', 'Show me markdown');
    await page.press('#input', 'Enter');
    await page.waitForSelector('.message.assistant:last-child[data-state="done"]');
    const last = '.message.assistant:last-child';
    assert.equal(await page.textContent(`${last} .content strong`), 'Bold');
    assert.equal(await page.locator(`${last} .content img`).count(), 0, 'no element from model text');
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.equal(await page.textContent(`${last} pre code`), 'let a = 1 < 2;');
    assert.equal(await page.textContent(`${last} details.reasoning .reasoning-body`), 'Let me think <b>hard</b>.');
    assert.equal(await page.isVisible(`${last} .copy-code`), true);
    assert.match(await page.textContent(`${last} .meta`), /9 tokens/);

    await page.screenshot({ path: path.join(here, 'artifacts', 'chat-markdown.png') });

    step('a Markdown table (a Japanese business answer) renders as a table, aligned as its delimiter row says');
    const table = '以下の通りです：\n| 項目 | 金額 | 前年比 |\n|:---|---:|:-:|\n| 売上 | 1,200万円 | **+12%** |\n| 費用 | 800万円 | -3% |\n\n以上です。';
    await page.route('**/v1/chat/completions', (route) => route.fulfill({
      status: 200, contentType: 'text/event-stream',
      body: [
        { choices: [{ index: 0, delta: { content: table.slice(0, 40) } }] },
        { choices: [{ index: 0, delta: { content: table.slice(40) } }] },
        { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
      ].map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + 'data: [DONE]\n\n',
    }), { times: 1 });
    await page.fill('#input', '今期の数字を表で');
    await page.press('#input', 'Enter');
    await page.waitForSelector('.message.assistant:last-child[data-state="done"]');
    const cells = await page.$$eval(`${last} table tr`, (rows) => rows.map((r) => [...r.children].map((c) => `${c.tagName}:${c.textContent}:${getComputedStyle(c).textAlign}`)));
    assert.deepEqual(cells, [
      ['TH:項目:left', 'TH:金額:right', 'TH:前年比:center'],
      ['TD:売上:left', 'TD:1,200万円:right', 'TD:+12%:center'],
      ['TD:費用:left', 'TD:800万円:right', 'TD:-3%:center'],
    ]);
    assert.equal(await page.textContent(`${last} table strong`), '+12%');
    assert.equal(await page.locator(`${last} .content p`).count(), 2, 'the sentences before and after stay paragraphs');

    step('on a 390 px phone screen the sidebar opens and closes by tapping beside it, by Escape and by the current conversation');
    await page.setViewportSize({ width: 390, height: 844 });
    const sidebarShown = () => page.evaluate(() => document.getElementById('sidebar').getBoundingClientRect().right > 0);
    const settled = () => page.waitForTimeout(350); // the slide transition takes .2 s
    await settled();
    assert.equal(await sidebarShown(), false, 'the sidebar starts hidden');
    const placeholder = await page.evaluate(() => {
      const input = document.getElementById('input');
      const style = getComputedStyle(input);
      const context = document.createElement('canvas').getContext('2d');
      context.font = `${style.fontSize} ${style.fontFamily}`;
      const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return { text: input.placeholder, fits: context.measureText(input.placeholder).width <= room };
    });
    assert.ok(placeholder.fits, `the placeholder '${placeholder.text}' overflows the composer`);
    const messagesBefore = await page.locator('.message').count();
    for (const [how, close] of [
      ['a tap on the chat beside it', () => page.mouse.click(375, 420)],
      ['Escape', () => page.keyboard.press('Escape')],
      ['the current conversation', () => page.click('.conversation.current .conversation-title')],
    ]) {
      await page.click('#toggle-sidebar');
      await settled();
      assert.equal(await sidebarShown(), true, `the sidebar opens (before closing it by ${how})`);
      if (how === 'Escape') await page.screenshot({ path: path.join(here, 'artifacts', 'chat-390-sidebar.png') });
      await close();
      await settled();
      assert.equal(await sidebarShown(), false, `${how} closes the sidebar`);
    }
    assert.equal(await page.locator('.message').count(), messagesBefore, 'closing the sidebar left the conversation as it was');
    await page.screenshot({ path: path.join(here, 'artifacts', 'chat-390.png') });
    await page.setViewportSize({ width: 1100, height: 760 });

    step('a conversation is deleted (two clicks, no dialog)');
    assert.equal(await page.locator('.conversation').count(), 2);
    await page.hover('.conversation:has-text("New chat")');
    await page.click('.conversation:has-text("New chat") .delete');
    await page.click('.conversation:has-text("New chat") .delete');
    assert.equal(await page.locator('.conversation').count(), 1);
    await page.reload();
    await page.waitForSelector('.conversation');
    assert.equal(await page.locator('.conversation').count(), 1);
    assert.equal(await page.textContent('.conversation .conversation-title'), '猫の話');

    await crossOriginAttacks(context, base, port);
    await severalModels(context, dll, model);

    assert.deepEqual(outside, [], 'the page fetched something from outside the server');
    assert.deepEqual(problems.filter((p) => !/status of 401/.test(p)), [], 'the page logged errors');
    console.log('webchat browser test: passed');
  } finally {
    await context?.close().catch(() => {});
    server.kill('SIGTERM');
    rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * A server with two models and room for one (`--models-max 1`): the picker lists both with where each is, the banner
 * says which model is loading and answering, each answer is that model's own (the API's greedy answer to the same
 * conversation), loading one unloads the other, and a conversation comes back with its model.
 */
async function severalModels(context, dll, storiesPath) {
  step('a server with two models: the picker shows where each is, the banner which is loading and answering');
  const tiny = path.join(path.dirname(storiesPath), 'llama-2-tiny-random.gguf');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log = [];
  const server = spawn('dotnet', [dll, 'serve', '--model', storiesPath, '--model', tiny, '--models-max', '1', '--host', '127.0.0.1', '--port', String(port),
    '--threads', '1', '--parallel', '1', '--ctx-size', '256'], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => log.push(String(d)));
  server.stderr.on('data', (d) => log.push(String(d)));
  const page = await context.newPage();
  try {
    await waitForHealth(base, server, log);
    await page.goto(base + '/');
    await page.waitForFunction(() => document.querySelectorAll('#model option').length === 2);
    const options = () => page.$$eval('#model option', (list) => list.map((o) => o.textContent));
    assert.deepEqual(await options(), ['stories260K · not loaded', 'llama-2-tiny-random · not loaded']);
    await page.selectOption('#model', 'stories260K');
    assert.equal(await page.textContent('#model-banner'), 'stories260K is not loaded: it loads with the first message');
    await page.click('#toggle-settings');
    await page.fill('#temperature', '0');
    await page.fill('#max-tokens', '24');
    await page.click('#toggle-settings');
    await page.evaluate(() => {
      window.__banners = [];
      const banner = document.getElementById('model-banner');
      new MutationObserver(() => window.__banners.push(banner.textContent)).observe(banner, { childList: true, characterData: true, subtree: true });
    });

    /** Sends a message and waits for the answer; returns it with what the API answers the same conversation. */
    const ask = async (text, modelId, answers) => {
      await page.fill('#input', text);
      await page.press('#input', 'Enter');
      await page.waitForSelector(`.message.assistant:nth-of-type(${2 * answers})[data-state="done"]`, { timeout: 120_000 });
      // The text as received (the page shows it as Markdown, where a single newline is no line break).
      const shown = await page.evaluate((prompt) => JSON.parse(localStorage.getItem('suiron.conversations'))
        .find((c) => c.messages[0]?.content === prompt).messages[1].content, text);
      const response = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: modelId, messages: [{ role: 'user', content: text }], temperature: 0, max_tokens: 24 }),
      });
      const expected = (await response.json()).choices[0].message.content;
      return { shown, expected };
    };

    const story = await ask('Once upon a time', 'stories260K', 1);
    assert.equal(story.shown, story.expected, 'the answer is stories260K\'s own');
    const banners = await page.evaluate(() => window.__banners);
    assert.ok(banners.includes('Loading stories260K…'), `the banner said the model was loading: ${JSON.stringify(banners)}`);
    assert.ok(banners.includes('stories260K is answering'), `the banner said which model answered: ${JSON.stringify(banners)}`);
    await page.waitForFunction(() => document.getElementById('model-banner').textContent === 'stories260K is loaded');
    assert.deepEqual(await options(), ['stories260K · loaded', 'llama-2-tiny-random · not loaded']);
    assert.match(await page.textContent('.message.assistant .meta'), /^stories260K · /);

    step('a second conversation with the other model unloads the first (room for one)');
    await page.click('#new-chat');
    await page.selectOption('#model', 'llama-2-tiny-random');
    const random = await ask('Hello there', 'llama-2-tiny-random', 1);
    assert.equal(random.shown, random.expected, 'the answer is llama-2-tiny-random\'s own');
    await page.waitForFunction(() => document.getElementById('model-banner').textContent === 'llama-2-tiny-random is loaded');
    assert.deepEqual(await options(), ['stories260K · not loaded', 'llama-2-tiny-random · loaded']);
    assert.match(await page.textContent('.message.assistant .meta'), /^llama-2-tiny-random · /);
    await page.screenshot({ path: path.join(here, 'artifacts', 'chat-models.png') });

    step('each conversation remembers its model, also after a reload');
    await page.click('.conversation:has-text("Once upon a time") .conversation-title');
    assert.equal(await page.inputValue('#model'), 'stories260K');
    assert.equal(await page.textContent('#model-banner'), 'stories260K is not loaded: it loads with the first message');
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('#model option').length === 2);
    assert.equal(await page.inputValue('#model'), 'stories260K');
    await page.click('.conversation:has-text("Hello there") .conversation-title');
    assert.equal(await page.inputValue('#model'), 'llama-2-tiny-random');
    assert.equal(await page.textContent('#model-banner'), 'llama-2-tiny-random is loaded');

    step('on a 390 px screen the picker and the banner fit the top bar');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(350); // the sidebar's slide away
    const overflow = await page.evaluate(() => {
      const bar = document.querySelector('.topbar');
      const banner = document.getElementById('model-banner');
      return { scroll: bar.scrollWidth, client: bar.clientWidth, bannerScroll: banner.scrollWidth, bannerClient: banner.clientWidth };
    });
    assert.ok(overflow.scroll <= overflow.client, `the top bar overflows: ${JSON.stringify(overflow)}`);
    assert.ok(overflow.bannerScroll <= overflow.bannerClient, `the banner is cut: ${JSON.stringify(overflow)}`);
    await page.screenshot({ path: path.join(here, 'artifacts', 'chat-models-390.png') });
  } finally {
    await page.close();
    server.kill('SIGTERM');
  }
}

/** The server's Prometheus counters, by their full names with labels. */
async function metrics(base) {
  const text = await (await fetch(base + '/metrics')).text();
  const values = {};
  for (const line of text.split('\n')) {
    const match = /^(suiron_[^ ]+) ([0-9.e+-]+)$/.exec(line);
    if (match) values[match[1]] = Number(match[2]);
  }
  return values;
}

/**
 * What any web page the user visits could try: fetch() with text/plain (a "simple" request, sent without asking),
 * fetch() with JSON (needs a CORS preflight), a no-cors fetch, a form post — and DNS rebinding, where the page's own
 * name resolves to 127.0.0.1. Each must be refused by the server (so the requests count as 403s) and start nothing.
 */
async function crossOriginAttacks(context, base, port) {
  step('a page on another origin can neither start a generation nor read a reply');
  const evilPort = await freePort();
  const evilPage = `<!doctype html><title>evil</title><iframe name="sink"></iframe><script type="module">
    const target = ${JSON.stringify(base)};
    const body = JSON.stringify({ model: 'default', prompt: 'Once upon a time', max_tokens: 8 });
    const results = {};
    const attempt = async (name, init) => {
      try { const r = await fetch(target + '/v1/completions', { method: 'POST', body, ...init }); results[name] = r.type === 'opaque' ? 'opaque' : 'read ' + r.status + ' ' + await r.text(); }
      catch { results[name] = 'blocked'; }
    };
    await attempt('textPlain', { headers: { 'Content-Type': 'text/plain' } });
    await attempt('json', { headers: { 'Content-Type': 'application/json' } });
    await attempt('noCors', { mode: 'no-cors', headers: { 'Content-Type': 'text/plain' } });
    const form = Object.assign(document.createElement('form'), { method: 'POST', action: target + '/v1/completions', enctype: 'text/plain', target: 'sink' });
    form.append(Object.assign(document.createElement('input'), { name: '{"prompt":"Once","max_tokens":8,"x":"', value: '"}' }));
    document.body.append(form);
    form.submit();
    window.results = results;
  </script>`;
  const evil = http.createServer((request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(evilPage);
  });
  await new Promise((resolve) => evil.listen(evilPort, '127.0.0.1', resolve));
  const before = await metrics(base);
  const refusedBefore = before['suiron_requests_total{endpoint="/v1/completions",status="403"}'] ?? 0;
  const attacker = await context.newPage();
  try {
    await attacker.goto(`http://localhost:${evilPort}/`);
    await attacker.waitForFunction(() => window.results !== undefined, null, { timeout: 30000 });
    await attacker.waitForTimeout(500); // the form post
    const results = await attacker.evaluate(() => window.results);
    for (const [name, result] of Object.entries(results))
      assert.ok(!result.startsWith('read'), `${name}: the page read a reply: ${result}`);

    step('a DNS-rebinding page (Host: attacker.example) is refused');
    const rebound = await attacker.goto(`http://attacker.example:${port}/`);
    assert.equal(rebound.status(), 403);
    const sameOriginToTheBrowser = await attacker.evaluate(async () => {
      const r = await fetch('/v1/completions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ prompt: 'Once', max_tokens: 8 }) });
      return r.status;
    });
    assert.equal(sameOriginToTheBrowser, 403);
  } finally {
    await attacker.close();
    evil.close();
  }
  const after = await metrics(base);
  assert.equal(after.suiron_completion_tokens_total, before.suiron_completion_tokens_total, 'an attack started a generation');
  const refused = (after['suiron_requests_total{endpoint="/v1/completions",status="403"}'] ?? 0) - refusedBefore;
  // text/plain and no-cors fetches, the form and the rebound fetch reach the server and are refused (the JSON fetch
  // stops at its refused preflight, counted too): the attacks really were sent.
  assert.ok(refused >= 4, `only ${refused} refused requests reached the server`);
  step(`  ${refused} requests refused, no token generated`);
}

main().catch((error) => {
  console.error('webchat browser test: FAILED');
  console.error(error);
  process.exit(1);
});
