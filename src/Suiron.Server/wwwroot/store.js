// Conversations and settings, kept in the browser's localStorage (nothing leaves the machine but the requests).

const CONVERSATIONS = 'suiron.conversations';
const CURRENT = 'suiron.current';
const SETTINGS = 'suiron.settings';

export const DEFAULT_SETTINGS = Object.freeze({
  model: '',
  systemPrompt: '',
  temperature: 0.8,
  topP: 0.95,
  maxTokens: 512,
  seed: '',
  apiKey: '',
  theme: 'auto',
});

function read(key, fallback) {
  try {
    const text = localStorage.getItem(key);
    return text === null ? fallback : JSON.parse(text);
  } catch {
    return fallback;
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch (error) {
    console.warn('could not save to localStorage', error);
  }
}

export function loadSettings() {
  const saved = read(SETTINGS, {});
  return { ...DEFAULT_SETTINGS, ...(saved && typeof saved === 'object' ? saved : {}) };
}

export function saveSettings(settings) {
  write(SETTINGS, settings);
}

/** Conversations, newest first: { id, title, model?, createdAt, updatedAt, messages: [{ role, content, reasoning?, model?, stats?, error?, stopped? }] }. */
export function loadConversations() {
  const list = read(CONVERSATIONS, []);
  return Array.isArray(list) ? list.filter((c) => c && typeof c.id === 'string' && Array.isArray(c.messages)) : [];
}

export function saveConversations(conversations) {
  write(CONVERSATIONS, conversations);
}

export function loadCurrentId() {
  return read(CURRENT, null);
}

export function saveCurrentId(id) {
  write(CURRENT, id);
}

export function newConversation() {
  const now = Date.now();
  const id = (crypto.randomUUID?.() ?? `${now}-${Math.random().toString(16).slice(2)}`);
  return { id, title: '', createdAt: now, updatedAt: now, messages: [] };
}

/** A title from the first user message: its first line, shortened. */
export function titleFrom(text) {
  const line = String(text).trim().split('\n')[0].trim();
  return line.length > 40 ? `${line.slice(0, 39)}…` : line || 'New chat';
}
