// Suiron web chat: conversations in localStorage, answers streamed from POST v1/chat/completions (SSE over fetch).
// Untrusted text (model output, user input, stored conversations) reaches the page only through textContent or
// through renderMarkdown, which escapes it first.

import { renderMarkdown } from './markdown.js';
import { readServerSentEvents } from './sse.js';
import * as store from './store.js';

const $ = (id) => document.getElementById(id);
const ui = {
  layout: document.querySelector('.layout'),
  main: document.querySelector('.main'),
  conversations: $('conversations'),
  newChat: $('new-chat'),
  toggleSidebar: $('toggle-sidebar'),
  model: $('model'),
  modelBanner: $('model-banner'),
  speed: $('speed'),
  toggleTheme: $('toggle-theme'),
  toggleSettings: $('toggle-settings'),
  settings: $('settings'),
  systemPrompt: $('system-prompt'),
  temperature: $('temperature'),
  topP: $('top-p'),
  maxTokens: $('max-tokens'),
  seed: $('seed'),
  apiKey: $('api-key'),
  messages: $('messages'),
  empty: $('empty'),
  error: $('error'),
  composer: $('composer'),
  input: $('input'),
  send: $('send'),
  stop: $('stop'),
};

let settings = store.loadSettings();
let conversations = store.loadConversations();
let current = conversations.find((c) => c.id === store.loadCurrentId()) ?? null;
/** The answer being streamed: { controller, conversation, message, element, model }. */
let generation = null;
/** The server's chat models: [{ id, status }], status 'loaded' | 'loading' | 'unloaded' where the server has several, else null. */
let models = [];

// ---- settings -------------------------------------------------------------------------------------------------

const THEMES = ['auto', 'light', 'dark'];

function applyTheme() {
  document.documentElement.dataset.theme = settings.theme;
  ui.toggleTheme.title = `Theme: ${settings.theme}`;
  ui.toggleTheme.textContent = { auto: '◐', light: '☀', dark: '☾' }[settings.theme] ?? '◐';
}

function fillSettings() {
  ui.systemPrompt.value = settings.systemPrompt;
  ui.temperature.value = settings.temperature;
  ui.topP.value = settings.topP;
  ui.maxTokens.value = settings.maxTokens;
  ui.seed.value = settings.seed;
  ui.apiKey.value = settings.apiKey;
}

function bindSetting(input, key, parse = (v) => v) {
  input.addEventListener('input', () => {
    settings[key] = parse(input.value);
    store.saveSettings(settings);
  });
}

const number = (v) => (v.trim() === '' ? '' : Number(v));

// ---- API ------------------------------------------------------------------------------------------------------

function headers(json) {
  const h = {};
  if (json) h['Content-Type'] = 'application/json';
  if (settings.apiKey.trim()) h.Authorization = `Bearer ${settings.apiKey.trim()}`;
  return h;
}

/** The message of an error response: OpenAI's { error: { message } }, else the body text, with the status. */
async function describeHttpError(response) {
  let detail = '';
  try {
    const text = await response.text();
    try {
      const body = JSON.parse(text);
      detail = body?.error?.message ?? (typeof body?.error === 'string' ? body.error : body?.message) ?? text;
    } catch {
      detail = text;
    }
  } catch {
    // the body could not be read; the status alone will do
  }
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  const hint = response.status === 401 ? ' — set the API key in the settings (⚙).' : '';
  return new Error(detail ? `${status}: ${String(detail).slice(0, 500)}${hint}` : `${status}${hint}`);
}

const STATE_LABELS = { loaded: 'loaded', loading: 'loading…', unloaded: 'not loaded' };

/** Whether the server has several models (its /v1/models says where each is, as llama-server's router does). */
const severalModels = () => models.some((m) => m.status);

/**
 * Lists the server's chat models (embedding and reranking models cannot chat) with where each is, and selects the
 * current conversation's model, else the last one picked.
 */
async function loadModels() {
  try {
    const response = await fetch('v1/models', { headers: headers(false) });
    if (!response.ok) throw await describeHttpError(response);
    const body = await response.json();
    models = (body?.data ?? [])
      .filter((m) => typeof m?.id === 'string' && (m.kind === undefined || m.kind === 'generation'))
      .map((m) => ({ id: m.id, status: typeof m.status?.value === 'string' ? m.status.value : null }));
    const ids = models.map((m) => m.id);
    ui.model.replaceChildren(...models.map((m) => new Option(m.status ? `${m.id} · ${STATE_LABELS[m.status] ?? m.status}` : m.id, m.id)));
    if (ids.length === 0) ui.model.append(new Option('(no model loaded)', ''));
    const wanted = current?.model || settings.model;
    if (ids.includes(wanted)) ui.model.value = wanted;
    else if (ids.length) settings.model = ids[0];
    hideError();
  } catch (error) {
    models = [];
    ui.model.replaceChildren(new Option(settings.model || '(server default)', settings.model || ''));
    showError(`Could not list the models: ${error.message}`);
  }
  updateBanner();
}

/** Selects a conversation's model in the picker, where the server still has it. */
function selectModel(id) {
  if (id && models.some((m) => m.id === id)) ui.model.value = id;
  updateBanner();
}

/**
 * With several models, the banner says which one the chat talks to and where it is: loaded, loading (a first message
 * waits for it) or not loaded, and while an answer streams, which model is answering.
 */
function updateBanner() {
  const banner = ui.modelBanner;
  if (!severalModels()) {
    banner.hidden = true;
    banner.textContent = '';
    return;
  }
  banner.hidden = false;
  let text;
  let state;
  if (generation && generation.conversation === current) {
    if (generation.answering) {
      text = `${generation.answering} is answering`;
      state = 'answering';
    } else if (generation.wasLoaded) {
      text = `${generation.model} is reading the conversation…`;
      state = 'answering';
    } else {
      text = `Loading ${generation.model}…`;
      state = 'loading';
    }
  } else {
    const model = models.find((m) => m.id === ui.model.value);
    state = model?.status ?? '';
    text = !model ? '' : model.status === 'loaded' ? `${model.id} is loaded`
      : model.status === 'loading' ? `Loading ${model.id}…` : `${model.id} is not loaded: it loads with the first message`;
  }
  banner.textContent = text;
  banner.title = text;
  banner.dataset.state = state;
}

function requestBody(conversation) {
  const messages = [];
  if (settings.systemPrompt.trim()) messages.push({ role: 'system', content: settings.systemPrompt });
  for (const m of conversation.messages) {
    if (m.role === 'assistant' && (m.error || !m.content)) continue;
    messages.push({ role: m.role, content: m.content });
  }
  const body = { messages, stream: true, stream_options: { include_usage: true } };
  if (ui.model.value) body.model = ui.model.value;
  if (settings.temperature !== '') body.temperature = settings.temperature;
  if (settings.topP !== '') body.top_p = settings.topP;
  if (settings.maxTokens !== '') body.max_tokens = settings.maxTokens;
  if (settings.seed !== '') body.seed = settings.seed;
  return body;
}

// ---- sending and streaming ----------------------------------------------------------------------------------

async function send(text) {
  if (generation || !text.trim()) return;
  hideError();
  if (!current) {
    current = store.newConversation();
    conversations.unshift(current);
  }
  const conversation = current;
  if (!conversation.title) conversation.title = store.titleFrom(text);
  if (ui.model.value) conversation.model = ui.model.value;
  conversation.messages.push({ role: 'user', content: text });
  const body = requestBody(conversation);
  const message = { role: 'assistant', content: '', reasoning: '' };
  conversation.messages.push(message);
  touch(conversation);
  renderConversationList();
  renderMessages();

  const element = ui.messages.lastElementChild;
  const controller = new AbortController();
  const model = ui.model.value;
  generation = { controller, conversation, message, element, model, wasLoaded: models.find((m) => m.id === model)?.status === 'loaded', answering: null };
  setBusy(true);
  updateBanner();
  element.dataset.state = 'streaming';

  const started = performance.now();
  let firstTokenAt = null;
  let deltas = 0;
  let usage = null;
  let timings = null;
  try {
    const response = await fetch('v1/chat/completions', {
      method: 'POST', headers: headers(true), body: JSON.stringify(body), signal: controller.signal,
    });
    if (!response.ok) throw await describeHttpError(response);
    if (!response.body) throw new Error('The server sent no stream.');
    for await (const data of readServerSentEvents(response.body, controller.signal)) {
      if (data.trim() === '[DONE]') break;
      let chunk;
      try { chunk = JSON.parse(data); } catch { continue; }
      if (chunk.error) throw new Error(chunk.error.message ?? String(chunk.error));
      if (typeof chunk.model === 'string' && !message.model) {
        message.model = chunk.model;
        generation.answering = chunk.model;
        updateBanner();
      }
      const choice = chunk.choices?.[0];
      const delta = choice?.delta ?? {};
      if (typeof delta.reasoning_content === 'string' && delta.reasoning_content) {
        message.reasoning += delta.reasoning_content;
        firstTokenAt ??= performance.now();
        deltas++;
      }
      if (typeof delta.content === 'string' && delta.content) {
        message.content += delta.content;
        firstTokenAt ??= performance.now();
        deltas++;
      }
      if (choice?.finish_reason) message.finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
      if (chunk.timings) timings = chunk.timings;
      scheduleUpdate();
    }
  } catch (error) {
    if (error.name === 'AbortError' || controller.signal.aborted) message.stopped = true;
    else message.error = error.message || String(error);
  } finally {
    const ended = performance.now();
    const tokens = usage?.completion_tokens ?? deltas;
    const seconds = firstTokenAt ? (ended - firstTokenAt) / 1000 : 0;
    // From the first token to the last: (n - 1) intervals. Too short a span (a buffered reply) gives no rate.
    const perSecond = timings?.predicted_per_second ?? (seconds >= 0.05 && tokens > 1 ? (tokens - 1) / seconds : null);
    message.stats = {
      completionTokens: tokens,
      promptTokens: usage?.prompt_tokens ?? null,
      tokensPerSecond: perSecond,
      seconds: (ended - started) / 1000,
    };
    generation = null;
    touch(conversation);
    setBusy(false);
    // Loading this model may have unloaded another: show where each is now.
    if (severalModels()) loadModels();
    else updateBanner();
    if (conversation === current) {
      updateMessage(element, message, false);
      element.dataset.state = message.error ? 'error' : message.stopped ? 'stopped' : 'done';
    }
    showSpeed(message.error ? null : message.stats);
  }
}

let updatePending = false;
/** Coalesces stream updates into one render per frame. */
function scheduleUpdate() {
  if (updatePending) return;
  updatePending = true;
  requestAnimationFrame(() => {
    updatePending = false;
    if (generation && generation.conversation === current) updateMessage(generation.element, generation.message, true);
  });
}

function stop() {
  generation?.controller.abort();
}

function setBusy(busy) {
  ui.send.hidden = busy;
  ui.stop.hidden = !busy;
  ui.composer.classList.toggle('busy', busy);
}

function showSpeed(stats) {
  ui.speed.textContent = stats?.tokensPerSecond ? `${stats.tokensPerSecond.toFixed(1)} tok/s` : '';
}

// ---- rendering ----------------------------------------------------------------------------------------------

function renderConversationList() {
  const items = conversations.map((conversation) => {
    const li = document.createElement('li');
    li.className = 'conversation' + (conversation === current ? ' current' : '');
    li.dataset.id = conversation.id;

    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'conversation-title';
    open.textContent = conversation.title || 'New chat';
    open.title = conversation.title || 'New chat';
    open.addEventListener('click', () => switchTo(conversation));

    const rename = document.createElement('button');
    rename.type = 'button';
    rename.className = 'icon-button rename';
    rename.title = 'Rename';
    rename.setAttribute('aria-label', 'Rename');
    rename.textContent = '✎';
    rename.addEventListener('click', () => startRename(li, conversation));

    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'icon-button delete';
    remove.title = 'Delete';
    remove.setAttribute('aria-label', 'Delete');
    remove.textContent = '✕';
    remove.addEventListener('click', () => {
      // Two clicks: the first arms the button, so that no native dialog is needed.
      if (remove.dataset.armed) return deleteConversation(conversation);
      remove.dataset.armed = '1';
      remove.textContent = 'Delete?';
      setTimeout(() => { delete remove.dataset.armed; remove.textContent = '✕'; }, 3000);
    });

    li.append(open, rename, remove);
    return li;
  });
  ui.conversations.replaceChildren(...items);
}

function startRename(li, conversation) {
  const input = document.createElement('input');
  input.className = 'rename-input';
  input.value = conversation.title;
  input.setAttribute('aria-label', 'Conversation name');
  let done = false;
  const finish = (commit) => {
    if (done) return;
    done = true;
    if (commit && input.value.trim()) {
      conversation.title = input.value.trim().slice(0, 200);
      store.saveConversations(conversations);
    }
    renderConversationList();
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.isComposing) { e.preventDefault(); finish(true); }
    if (e.key === 'Escape') finish(false);
  });
  input.addEventListener('blur', () => finish(true));
  li.replaceChildren(input);
  input.focus();
  input.select();
}

function renderMessages() {
  const messages = current?.messages ?? [];
  const elements = messages.map((message) => {
    const element = createMessageElement(message);
    updateMessage(element, message, false);
    if (message.role === 'assistant') element.dataset.state = message.error ? 'error' : message.stopped ? 'stopped' : 'done';
    return element;
  });
  ui.messages.replaceChildren(...(elements.length ? elements : [ui.empty]));
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function createMessageElement(message) {
  const article = document.createElement('article');
  article.className = `message ${message.role === 'user' ? 'user' : 'assistant'}`;
  const role = document.createElement('div');
  role.className = 'role';
  role.textContent = message.role === 'user' ? 'You' : 'Assistant';
  article.append(role);
  if (message.role !== 'user') {
    const details = document.createElement('details');
    details.className = 'reasoning';
    details.hidden = true;
    const summary = document.createElement('summary');
    summary.textContent = 'Thinking';
    const body = document.createElement('div');
    body.className = 'reasoning-body markdown';
    details.append(summary, body);
    article.append(details);
  }
  const content = document.createElement('div');
  content.className = message.role === 'user' ? 'content plain' : 'content markdown';
  article.append(content);
  const meta = document.createElement('div');
  meta.className = 'meta';
  article.append(meta);
  return article;
}

/** Brings one message element up to date; while streaming only what changed is re-rendered. */
function updateMessage(element, message, streaming) {
  const nearBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 80;
  const content = element.querySelector('.content');
  if (message.role === 'user') {
    content.textContent = message.content;
  } else {
    const details = element.querySelector('.reasoning');
    if (message.reasoning) {
      const body = details.querySelector('.reasoning-body');
      if (body.dataset.source !== message.reasoning) {
        body.innerHTML = renderMarkdown(message.reasoning); // escaped by renderMarkdown
        body.dataset.source = message.reasoning;
      }
      if (details.hidden) {
        details.hidden = false;
        details.open = streaming && !message.content;
      }
      if (streaming && message.content && details.dataset.collapsed !== '1') {
        details.open = false;
        details.dataset.collapsed = '1';
      }
      details.querySelector('summary').textContent = streaming && !message.content ? 'Thinking…' : 'Thought';
    }
    if (content.dataset.source !== message.content) {
      content.innerHTML = renderMarkdown(message.content); // escaped by renderMarkdown
      content.dataset.source = message.content;
    }
    content.classList.toggle('streaming', streaming);
    const meta = element.querySelector('.meta');
    meta.replaceChildren();
    if (message.error) {
      const error = document.createElement('div');
      error.className = 'message-error';
      error.textContent = message.error;
      meta.append(error);
    }
    if (!streaming) {
      const parts = [];
      if (message.model && severalModels()) parts.push(message.model);
      if (message.stopped) parts.push('stopped');
      else if (message.finish === 'length') parts.push('cut at the token limit');
      const stats = message.error ? null : message.stats;
      if (stats?.completionTokens) parts.push(`${stats.completionTokens} tokens`);
      if (stats?.tokensPerSecond) parts.push(`${stats.tokensPerSecond.toFixed(1)} tok/s`);
      if (stats?.seconds) parts.push(`${stats.seconds.toFixed(1)} s`);
      if (parts.length) {
        const line = document.createElement('span');
        line.className = 'stats';
        line.textContent = parts.join(' · ');
        meta.append(line);
      }
    }
  }
  if (nearBottom) ui.messages.scrollTop = ui.messages.scrollHeight;
}

// ---- conversations ------------------------------------------------------------------------------------------

function touch(conversation) {
  conversation.updatedAt = Date.now();
  conversations = [conversation, ...conversations.filter((c) => c !== conversation)];
  store.saveConversations(conversations);
  store.saveCurrentId(current?.id ?? null);
}

function switchTo(conversation) {
  if (conversation === current) { closeSidebar(); return; }
  stop();
  current = conversation;
  store.saveCurrentId(current?.id ?? null);
  selectModel(current.model);
  renderConversationList();
  renderMessages();
  closeSidebar();
  ui.input.focus();
}

/** On a narrow screen the sidebar slides over the chat; tapping beside it, Escape or picking a conversation closes it. */
function closeSidebar() {
  ui.layout.classList.remove('sidebar-open');
  ui.toggleSidebar.setAttribute('aria-expanded', 'false');
}

const NARROW = window.matchMedia('(max-width: 760px)');
const LONG_PLACEHOLDER = ui.input.placeholder;

/** The full hint does not fit one line of a phone's composer, where it was cut off mid-word: there it is shorter. */
function fitPlaceholder() {
  ui.input.placeholder = NARROW.matches ? 'Message…' : LONG_PLACEHOLDER;
}

function deleteConversation(conversation) {
  if (generation?.conversation === conversation) stop();
  conversations = conversations.filter((c) => c !== conversation);
  store.saveConversations(conversations);
  if (current === conversation) {
    current = conversations[0] ?? null;
    store.saveCurrentId(current?.id ?? null);
    selectModel(current?.model);
    renderMessages();
  }
  renderConversationList();
}

function startNewChat() {
  stop();
  if (current && current.messages.length === 0) { ui.input.focus(); return; }
  current = store.newConversation();
  conversations.unshift(current);
  store.saveConversations(conversations);
  store.saveCurrentId(current.id);
  renderConversationList();
  renderMessages();
  ui.input.focus();
}

// ---- errors, clipboard --------------------------------------------------------------------------------------

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = false;
}

function hideError() {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // The clipboard API needs a secure context; a hidden textarea works over plain http on a LAN address.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

// ---- wiring -------------------------------------------------------------------------------------------------

function autosize() {
  ui.input.style.height = 'auto';
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 240)}px`;
}

function init() {
  applyTheme();
  fillSettings();
  bindSetting(ui.systemPrompt, 'systemPrompt');
  bindSetting(ui.temperature, 'temperature', number);
  bindSetting(ui.topP, 'topP', number);
  bindSetting(ui.maxTokens, 'maxTokens', number);
  bindSetting(ui.seed, 'seed', number);
  bindSetting(ui.apiKey, 'apiKey');
  ui.apiKey.addEventListener('change', loadModels);
  ui.model.addEventListener('change', () => {
    settings.model = ui.model.value;
    store.saveSettings(settings);
    // The conversation goes on with the model picked now.
    if (current && current.messages.length) {
      current.model = ui.model.value;
      store.saveConversations(conversations);
    }
    updateBanner();
  });

  ui.toggleTheme.addEventListener('click', () => {
    settings.theme = THEMES[(THEMES.indexOf(settings.theme) + 1) % THEMES.length];
    store.saveSettings(settings);
    applyTheme();
  });
  ui.toggleSettings.addEventListener('click', () => {
    ui.settings.hidden = !ui.settings.hidden;
    ui.toggleSettings.setAttribute('aria-expanded', String(!ui.settings.hidden));
  });
  ui.toggleSidebar.addEventListener('click', () => {
    const open = ui.layout.classList.toggle('sidebar-open');
    ui.toggleSidebar.setAttribute('aria-expanded', String(open));
  });
  // The chat under an open sidebar is covered by a backdrop (.main::after): a tap there lands on .main itself.
  ui.main.addEventListener('click', (e) => {
    if (e.target === ui.main && ui.layout.classList.contains('sidebar-open')) closeSidebar();
  });
  NARROW.addEventListener('change', fitPlaceholder);
  fitPlaceholder();
  ui.newChat.addEventListener('click', startNewChat);

  ui.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = ui.input.value;
    if (!text.trim() || generation) return;
    ui.input.value = '';
    autosize();
    send(text);
  });
  ui.input.addEventListener('keydown', (e) => {
    // Enter sends; Shift+Enter is a new line; Enter that confirms an IME conversion (Japanese input) does neither.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      ui.composer.requestSubmit();
    }
  });
  ui.input.addEventListener('input', autosize);
  ui.stop.addEventListener('click', stop);
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    if (ui.layout.classList.contains('sidebar-open')) closeSidebar();
    else if (generation) stop();
  });

  ui.messages.addEventListener('click', async (e) => {
    const button = e.target.closest('.copy-code');
    if (!button) return;
    const code = button.closest('.code-block')?.querySelector('code')?.textContent ?? '';
    const ok = await copyText(code);
    button.textContent = ok ? 'Copied' : 'Copy failed';
    setTimeout(() => { button.textContent = 'Copy'; }, 1500);
  });

  renderConversationList();
  renderMessages();
  loadModels();
  ui.input.focus();
}

init();
