// A small, safe Markdown renderer for model output: paragraphs, headings, emphasis, inline code, fenced code
// blocks (with a copy button), lists (nested by indentation), block quotes, rules, links and GFM tables.
// Safety rule: every piece of source text is HTML-escaped before any markup is added, and links keep only
// http(s), mailto, relative and #fragment targets. The result is a string of HTML built only from our own tags.

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for use inside HTML elements and double- or single-quoted attributes. */
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/;
const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}>[ ]?/;
const LIST_ITEM = /^([ \t]*)([-*+]|\d{1,9}[.)])[ \t]+(.*)$/;
const BLANK = /^\s*$/;
const TABLE_DELIMITER = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const MAX_DEPTH = 16; // quotes and lists nest by recursion; hostile input must not exhaust the stack

/** Renders Markdown source to an HTML string (safe to assign to innerHTML). Unclosed fences (mid-stream) render as code. */
export function renderMarkdown(source) {
  const lines = String(source ?? '').replace(/\r\n?/g, '\n').replace(/\u0000/g, '').split('\n');
  return renderBlocks(lines, 0);
}

function renderBlocks(lines, depth) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (BLANK.test(line)) { i++; continue; }

    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[1];
      const closing = new RegExp(`^ {0,3}${marker[0] === '`' ? '`' : '~'}{${marker.length},}\\s*$`);
      const body = [];
      for (i++; i < lines.length && !closing.test(lines[i]); i++) body.push(lines[i]);
      i++; // the closing fence (or past the end)
      out.push(codeBlock(body.join('\n'), fence[2]));
      continue;
    }

    const heading = HEADING.exec(line);
    if (heading) {
      const level = heading[1].length;
      out.push(`<h${level}>${inline(heading[2])}</h${level}>`);
      i++;
      continue;
    }

    if (RULE.test(line)) { out.push('<hr>'); i++; continue; }

    if (QUOTE.test(line) && depth < MAX_DEPTH) {
      const body = [];
      while (i < lines.length && QUOTE.test(lines[i])) body.push(lines[i++].replace(QUOTE, ''));
      out.push(`<blockquote>${renderBlocks(body, depth + 1)}</blockquote>`);
      continue;
    }

    if (LIST_ITEM.test(line) && depth < MAX_DEPTH) {
      const [html, next] = renderList(lines, i, depth);
      out.push(html);
      i = next;
      continue;
    }

    if (tableStartsAt(lines, i)) {
      const [html, next] = renderTable(lines, i);
      out.push(html);
      i = next;
      continue;
    }

    const paragraph = [line.trim()];
    for (i++; i < lines.length && !BLANK.test(lines[i]) && !startsBlock(lines[i]) && !tableStartsAt(lines, i); i++) paragraph.push(lines[i].trim());
    out.push(`<p>${paragraph.map(inline).join('<br>')}</p>`);
  }
  return out.join('\n');
}

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || LIST_ITEM.test(line);
}

/** The cells of a table row: split at pipes that are not escaped (\\|), the outer pipes optional. */
function tableCells(line) {
  let row = line.trim();
  if (row.startsWith('|')) row = row.slice(1);
  if (row.endsWith('|') && !row.endsWith('\\|')) row = row.slice(0, -1);
  const cells = [];
  let cell = '';
  for (let k = 0; k < row.length; k++) {
    if (row[k] === '\\' && row[k + 1] === '|') { cell += '|'; k++; continue; }
    if (row[k] === '|') { cells.push(cell.trim()); cell = ''; continue; }
    cell += row[k];
  }
  cells.push(cell.trim());
  return cells;
}

/** A GFM table starts here: a row with a pipe, then a delimiter row (---, :--, --:, :-:) with as many cells. */
function tableStartsAt(lines, i) {
  if (i + 1 >= lines.length || !lines[i].includes('|') || !TABLE_DELIMITER.test(lines[i + 1])) return false;
  if (!lines[i + 1].includes('|') && tableCells(lines[i]).length < 2) return false;
  return tableCells(lines[i]).length === tableCells(lines[i + 1]).length;
}

/** The table at lines[start]: header, alignments, then body rows up to a blank line or a line without a pipe. */
function renderTable(lines, start) {
  const header = tableCells(lines[start]);
  const aligns = tableCells(lines[start + 1]).map((d) =>
    d.startsWith(':') && d.endsWith(':') ? 'center' : d.endsWith(':') ? 'right' : d.startsWith(':') ? 'left' : '');
  const cell = (tag, text, k) => `<${tag}${aligns[k] ? ` class="align-${aligns[k]}"` : ''}>${inline(text ?? '')}</${tag}>`;
  const rows = [];
  let i = start + 2;
  for (; i < lines.length && !BLANK.test(lines[i]) && lines[i].includes('|') && !(startsBlock(lines[i]) && !lines[i].trim().startsWith('|')); i++) {
    const cells = tableCells(lines[i]);
    // A row with fewer cells is padded, one with more is cut, as GFM does.
    rows.push(`<tr>${header.map((_, k) => cell('td', cells[k], k)).join('')}</tr>`);
  }
  const head = `<thead><tr>${header.map((h, k) => cell('th', h, k)).join('')}</tr></thead>`;
  const body = rows.length ? `<tbody>${rows.join('')}</tbody>` : '';
  return [`<div class="table-wrap"><table>${head}${body}</table></div>`, i];
}

function leadingSpaces(line) {
  return line.length - line.replace(/^[ \t]+/, '').length;
}

/** A list starting at lines[start]: items at the same indentation; deeper lines belong to the item above. */
function renderList(lines, start, depth) {
  const first = LIST_ITEM.exec(lines[start]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const items = [];
  let i = start;
  while (i < lines.length) {
    if (BLANK.test(lines[i])) {
      let j = i + 1;
      while (j < lines.length && BLANK.test(lines[j])) j++;
      const next = j < lines.length ? LIST_ITEM.exec(lines[j]) : null;
      if (!next || next[1].length !== indent || /\d/.test(next[2]) !== ordered) break;
      i = j;
    }
    const item = LIST_ITEM.exec(lines[i]);
    if (!item || item[1].length !== indent || /\d/.test(item[2]) !== ordered) break;
    const contentIndent = indent + item[2].length + 1;
    const body = [item[3]];
    for (i++; i < lines.length; i++) {
      const line = lines[i];
      if (BLANK.test(line)) {
        let j = i + 1;
        while (j < lines.length && BLANK.test(lines[j])) j++;
        if (j < lines.length && leadingSpaces(lines[j]) > indent) { body.push(''); continue; }
        break;
      }
      const lead = leadingSpaces(line);
      if (lead > indent) { body.push(line.slice(Math.min(lead, contentIndent))); continue; }
      if (startsBlock(line)) break;
      body.push(line); // a lazy continuation of the item's paragraph
    }
    items.push(body);
  }
  const startNumber = ordered ? parseInt(first[2], 10) : 1;
  const open = ordered ? (startNumber !== 1 ? `<ol start="${startNumber}">` : '<ol>') : '<ul>';
  const html = items.map((body) => {
    // A one-paragraph item renders without its <p>, as lists read best tight.
    const inner = renderBlocks(body, depth + 1).replace(/^<p>([\s\S]*?)<\/p>/, '$1');
    return `<li>${inner}</li>`;
  });
  return [`${open}${html.join('')}${ordered ? '</ol>' : '</ul>'}`, i];
}

function codeBlock(code, language) {
  const lang = (language || '').replace(/[^\w+#.-]/g, '').slice(0, 32);
  const label = lang ? `<span class="code-lang">${escapeHtml(lang)}</span>` : '<span class="code-lang"></span>';
  const cls = lang ? ` class="language-${escapeHtml(lang)}"` : '';
  return `<div class="code-block"><div class="code-head">${label}<button type="button" class="copy-code" title="Copy code">Copy</button></div>` +
    `<pre><code${cls}>${escapeHtml(code)}</code></pre></div>`;
}

const SAFE_URL = /^(?:https?:\/\/|mailto:|\/(?!\/)|#|\.{1,2}\/)/i;

/** Inline Markdown of one line of raw text. Escapes first; code spans and links are set aside so that nothing re-parses them. */
function inline(text) {
  const held = [];
  const hold = (html) => `\u0000${held.push(html) - 1}\u0000`;
  let s = escapeHtml(text);

  s = s.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (_, ticks, code) => hold(`<code>${code.trim() || code}</code>`));

  s = s.replace(/\[([^\]]+)\]\(\s*([^\s)]+)(?:\s+&quot;[^)]*?&quot;)?\s*\)/g, (whole, label, url) => {
    if (!SAFE_URL.test(url)) return whole;
    return hold(`<a href="${url}" target="_blank" rel="noopener noreferrer">${emphasis(label)}</a>`);
  });

  s = s.replace(/\bhttps?:\/\/(?:[\w\-.~:/?#@!$%+,;=*]|&amp;)+/g, (url) => {
    const trimmed = url.replace(/[.,:;!?*]+$/, '');
    return hold(`<a href="${trimmed}" target="_blank" rel="noopener noreferrer">${trimmed}</a>`) + url.slice(trimmed.length);
  });

  s = emphasis(s);
  for (let round = 0; round < 4 && s.includes('\u0000'); round++) s = s.replace(/\u0000(\d+)\u0000/g, (_, n) => held[Number(n)]);
  return s;
}

function emphasis(s) {
  return s
    .replace(/\*\*(?=\S)([^*]*?\S)\*\*/g, '<strong>$1</strong>')
    .replace(/(^|[^\w])__(?=\S)([^_]*?\S)__(?!\w)/g, '$1<strong>$2</strong>')
    .replace(/~~(?=\S)([^~]*?\S)~~/g, '<del>$1</del>')
    .replace(/\*(?=\S)([^*]*?\S)\*/g, '<em>$1</em>')
    .replace(/(^|[^\w])_(?=\S)([^_]*?\S)_(?!\w)/g, '$1<em>$2</em>');
}
