// Multi-turn conversations against `suiron serve` nodes, as a client sees them (plain HTTP, SSE parsed by hand).
//   node conversations.mjs run --nodes URL,URL,… [--count 40] [--turns 5] [--concurrency 4] [--out FILE]
//     each turn goes to a random node; writes every reply, its prompt and cached token counts (usage) to FILE.
//   node conversations.mjs compare A.json B.json   → replies identical turn for turn, or exit 1.
//   node conversations.mjs hits A.json MIN          → share of turns after the first whose replica already held the
//     conversation (cached prompt tokens cover the previous turn's prompt, from the server's own usage); below MIN → exit 1.
//   node conversations.mjs wait --nodes … [--members N]   → until each node is up and sees N members.
//   node conversations.mjs kill --nodes … --victim-pid PID --victim-url URL [--requests 24]
//     streams under load, SIGKILLs PID mid-way: every response must complete or end with an error event and [DONE].
import { readFileSync, writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
const command = args[0];
const option = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : fallback; };
const nodes = () => option('--nodes', '').split(',').filter(Boolean);

const animals = ['cat', 'dog', 'bird', 'fish', 'bunny', 'bear', 'frog', 'duck'];
const names = ['Lily', 'Tom', 'Sue', 'Max', 'Ben', 'Anna', 'Tim', 'Mia', 'Sam', 'Lucy'];
const things = ['ball', 'tree', 'cake', 'box', 'hat', 'car', 'flower', 'book'];
function userTurn(conversation, turn) {
  const a = animals[(conversation * 7 + turn) % animals.length], n = names[(conversation * 3 + turn) % names.length], t = things[(conversation + turn * 5) % things.length];
  if (turn === 0) return `Once upon a time, there was a little ${a} named ${n}. ${n} had a big red ${t} and played with it every day in the park.`;
  return `Then ${n} saw a ${t} near the ${a}. What did ${n} do next?`;
}

/** One request; returns { text, promptTokens, cachedTokens, status, error, done }. Streams every other request. */
async function ask(url, path, body, stream) {
  const response = await fetch(url + path, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream, ...(stream ? { stream_options: { include_usage: true } } : {}) }),
    signal: AbortSignal.timeout(120_000),
  });
  if (!stream || !response.headers.get('content-type')?.startsWith('text/event-stream')) {
    const json = await response.json();
    if (response.status !== 200) return { status: response.status, error: json.error?.message ?? 'error' };
    const choice = json.choices[0];
    return { status: 200, text: choice.message?.content ?? choice.text, promptTokens: json.usage.prompt_tokens, cachedTokens: json.usage.prompt_tokens_details?.cached_tokens ?? 0, done: true };
  }
  let text = '', usage = null, error = null, done = false, buffer = '';
  const decoder = new TextDecoder();
  for await (const piece of response.body) {
    buffer += decoder.decode(piece, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end); buffer = buffer.slice(end + 2);
      const data = event.split('\n').find(l => l.startsWith('data: '))?.slice(6);
      if (data === undefined) continue;
      if (data === '[DONE]') { done = true; continue; }
      const json = JSON.parse(data);
      if (json.error) { error = json.error.message; continue; }
      if (json.usage) usage = json.usage;
      const choice = json.choices?.[0];
      if (choice) text += choice.delta?.content ?? choice.text ?? '';
    }
  }
  return { status: response.status, text, promptTokens: usage?.prompt_tokens, cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0, error, done };
}

async function pool(count, concurrency, work) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < count) await work(next++); }));
}

async function run() {
  const urls = nodes(), count = +option('--count', 40), turns = +option('--turns', 5), concurrency = +option('--concurrency', 4);
  const results = [];
  let lost = 0;
  await pool(count, concurrency, async c => {
    const messages = [], record = [];
    for (let t = 0; t < turns; t++) {
      messages.push({ role: 'user', content: userTurn(c, t) });
      const url = urls[Math.floor(Math.random() * urls.length)];
      const reply = await ask(url, '/v1/chat/completions', { model: 'default', messages, max_tokens: 24, temperature: 0, seed: 7 }, (c + t) % 2 === 0)
        .catch(e => ({ status: 0, error: String(e) }));
      if (reply.status !== 200 || reply.error || reply.promptTokens === undefined) { lost++; console.error(`conversation ${c} turn ${t} via ${url}: ${reply.status} ${reply.error}`); }
      record.push({ url, text: reply.text, promptTokens: reply.promptTokens, cachedTokens: reply.cachedTokens });
      messages.push({ role: 'assistant', content: reply.text ?? '' });
    }
    // One raw completion per conversation too: the same routing for /v1/completions.
    const prompt = messages.map(m => m.content).join('\n');
    const url = urls[c % urls.length];
    const completion = await ask(url, '/v1/completions', { model: 'default', prompt, max_tokens: 16, temperature: 0, seed: 7 }, c % 2 === 1)
      .catch(e => ({ status: 0, error: String(e) }));
    if (completion.status !== 200 || completion.error) { lost++; console.error(`conversation ${c} completion via ${url}: ${completion.status} ${completion.error}`); }
    record.push({ url, text: completion.text, promptTokens: completion.promptTokens, cachedTokens: completion.cachedTokens, completion: true });
    results[c] = record;
  });
  writeFileSync(option('--out', 'conversations.json'), JSON.stringify(results));
  console.log(`${count} conversations × ${turns} turns (+1 completion each) over ${urls.length} node(s): ${lost} lost`);
  if (lost > 0) process.exit(1);
}

function compare() {
  const a = JSON.parse(readFileSync(args[1], 'utf8')), b = JSON.parse(readFileSync(args[2], 'utf8'));
  let differing = 0, total = 0;
  a.forEach((conversation, c) => conversation.forEach((turn, t) => {
    total++;
    if (turn.text !== b[c][t].text) { differing++; if (differing <= 5) console.error(`conversation ${c} turn ${t}: ${JSON.stringify(turn.text)} vs ${JSON.stringify(b[c][t].text)}`); }
  }));
  console.log(`${total - differing}/${total} replies identical`);
  if (differing > 0) process.exit(1);
}

function hits() {
  const a = JSON.parse(readFileSync(args[1], 'utf8')), min = +args[2];
  let held = 0, total = 0;
  for (const conversation of a) {
    const chat = conversation.filter(t => !t.completion);
    for (let t = 1; t < chat.length; t++) {
      total++;
      // The previous turn's prompt is a prefix of this one; a replica holding the conversation reuses (nearly) all of it.
      if (chat[t].cachedTokens >= chat[t - 1].promptTokens - 8) held++;
    }
  }
  const rate = held / total;
  console.log(`turns after the first served by the replica holding the conversation: ${held}/${total} = ${(rate * 100).toFixed(1)} %`);
  if (rate < min) process.exit(1);
}

async function kill() {
  // Clients talk to the nodes that survive; the victim serves what they route to it (a client of the victim itself
  // sees its connection close, as with any server that dies).
  const urls = nodes().filter(u => u !== option('--victim-url')), victim = +option('--victim-pid'), requests = +option('--requests', 24);
  const started = Date.now();
  const outcomes = { completed: 0, errorEvent: 0, errorStatus: 0, broken: 0 };
  const killAfter = +option('--kill-after-ms', 1000);
  const killer = new Promise(r => setTimeout(() => { process.kill(victim, 'SIGKILL'); console.log(`SIGKILL ${victim} after ${Date.now() - started} ms`); r(); }, killAfter));
  await Promise.all(Array.from({ length: requests }, async (_, i) => {
    await new Promise(r => setTimeout(r, i * 0.8 * killAfter / requests));
    const messages = [{ role: 'user', content: userTurn(100 + i, 0) }];
    try {
      // Long answers (a grammar that forbids ending early), so that some are running when the node dies. Two in three
      // stream (cut off mid-way: an error event then [DONE]); the rest are whole JSON answers (retried elsewhere).
      const reply = await ask(urls[i % urls.length], '/v1/chat/completions', { model: 'default', messages, max_tokens: 1200, grammar: 'root ::= [a-z ]{1200}', temperature: 1, seed: i }, i % 3 !== 0);
      if (reply.status !== 200) { outcomes.errorStatus++; console.error(`request ${i}: ${reply.status} ${reply.error}`); }
      else if (reply.error && reply.done) { outcomes.errorEvent++; console.error(`request ${i}: error event: ${reply.error}`); }
      else if (reply.done) outcomes.completed++;
      else outcomes.broken++;
    } catch (e) {
      outcomes.broken++;
      console.error(`request ${i}: ${e}`);
    }
  }));
  await killer;
  console.log(`under SIGKILL: ${JSON.stringify(outcomes)} in ${Date.now() - started} ms`);
  // Every request ends: completed, or (a stream the victim was generating) an error event then [DONE]; none hangs,
  // none is cut without a word, none gets an error status (those not started on the victim were retried).
  if (outcomes.broken > 0 || outcomes.errorStatus > 0) process.exit(1);
}

/**
 * Time to first token of long conversations (a benchmark, not a test): --count conversations of --turns turns, the
 * first user turn --first-words words long and each later one --turn-words, --concurrency at a time, every turn to a
 * random node, streamed; TTFT is from sending the request to the first event after the role event.
 */
async function ttft() {
  const urls = nodes(), count = +option('--count', 6), turns = +option('--turns', 4), concurrency = +option('--concurrency', 3);
  const firstWords = +option('--first-words', 600), turnWords = +option('--turn-words', 150);
  const words = ['the', 'little', 'dog', 'ran', 'to', 'a', 'big', 'tree', 'and', 'saw', 'bird', 'sing', 'in', 'sun', 'happy', 'girl', 'park', 'ball'];
  const text = (seed, n) => Array.from({ length: n }, (_, i) => words[(seed * 31 + i * 7 + (i * i) % 13) % words.length]).join(' ');
  const all = [], followUps = [];
  const started = Date.now();
  await pool(count, concurrency, async c => {
    const messages = [];
    for (let t = 0; t < turns; t++) {
      messages.push({ role: 'user', content: `Conversation ${c}, turn ${t}. ` + text(c * 10 + t, t === 0 ? firstWords : turnWords) });
      const url = urls[Math.floor(Math.random() * urls.length)];
      const begin = performance.now();
      const response = await fetch(url + '/v1/chat/completions', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'default', messages, max_tokens: 8, temperature: 0, stream: true }),
      });
      let events = 0, first = null, reply = '', buffer = '';
      const decoder = new TextDecoder();
      for await (const piece of response.body) {
        buffer += decoder.decode(piece, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const data = buffer.slice(6, end); buffer = buffer.slice(end + 2);
          if (++events === 2 && first === null) first = performance.now() - begin;
          if (data !== '[DONE]') reply += JSON.parse(data).choices?.[0]?.delta?.content ?? '';
        }
      }
      if (first === null) throw new Error(`conversation ${c} turn ${t}: no token (${response.status})`);
      all.push(first);
      if (t > 0) followUps.push(first);
      messages.push({ role: 'assistant', content: reply });
    }
  });
  const stats = xs => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `mean ${(xs.reduce((a, b) => a + b, 0) / xs.length / 1000).toFixed(2)} s, p95 ${(sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] / 1000).toFixed(2)} s`;
  };
  console.log(`TTFT over ${all.length} turns: ${stats(all)}; follow-up turns: ${stats(followUps)}; wall ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** Waits until every node's /health lists --members reachable members (the cluster formed, or a dead node dropped). */
async function wait() {
  const urls = nodes(), members = +option('--members', urls.length), deadline = Date.now() + 1000 * +option('--timeout', 90);
  for (const url of urls) {
    while (true) {
      const health = await fetch(url + '/health').then(r => r.json()).catch(() => null);
      const seen = health?.cluster?.members?.filter(m => m.reachable).length;
      if (health?.status === 'ok' && (health.cluster === undefined || seen === members) && health.cluster?.members?.length !== undefined === (health.cluster !== undefined)) {
        if (health.cluster === undefined || health.cluster.members.length === members) break;
      }
      if (Date.now() > deadline) { console.error(`${url}: not ready (${JSON.stringify(health?.cluster?.members?.map(m => m.reachable))})`); process.exit(1); }
      await new Promise(r => setTimeout(r, 250));
    }
  }
}

const commands = { run, compare, hits, kill, wait, ttft };
if (!commands[command]) { console.error('usage: conversations.mjs run|compare|hits|kill …'); process.exit(2); }
await commands[command]();
