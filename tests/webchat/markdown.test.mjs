// Unit tests of the web chat's Markdown renderer and SSE reader (node --test; no browser needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderMarkdown, escapeHtml } from '../../src/Suiron.Server/wwwroot/markdown.js';
import { readServerSentEvents } from '../../src/Suiron.Server/wwwroot/sse.js';

test('escapes HTML everywhere', () => {
  const html = renderMarkdown('<script>alert(1)</script> & <img src=x onerror=alert(1)>');
  assert.equal(html, '<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;</p>');
  assert.equal(escapeHtml(`"'<>&`), '&quot;&#39;&lt;&gt;&amp;');
});

test('paragraphs, line breaks and emphasis', () => {
  assert.equal(renderMarkdown('one\ntwo\n\nthree'), '<p>one<br>two</p>\n<p>three</p>');
  assert.equal(renderMarkdown('**bold** and *it* and _it2_ and ~~gone~~'),
    '<p><strong>bold</strong> and <em>it</em> and <em>it2</em> and <del>gone</del></p>');
  assert.equal(renderMarkdown('snake_case_name stays'), '<p>snake_case_name stays</p>');
  assert.equal(renderMarkdown('2 * 3 * 4'), '<p>2 * 3 * 4</p>');
});

test('inline code is not re-parsed and is escaped', () => {
  assert.equal(renderMarkdown('use `a*b*c <i>` here'), '<p>use <code>a*b*c &lt;i&gt;</code> here</p>');
  assert.equal(renderMarkdown('``code with ` tick``'), '<p><code>code with ` tick</code></p>');
});

test('fenced code blocks keep text exactly, with a copy button', () => {
  const html = renderMarkdown('```js\nif (a < b) { **x** }\n```\nafter');
  assert.match(html, /<span class="code-lang">js<\/span><button type="button" class="copy-code"/);
  assert.match(html, /<pre><code class="language-js">if \(a &lt; b\) \{ \*\*x\*\* \}<\/code><\/pre>/);
  assert.match(html, /<p>after<\/p>$/);
  // Mid-stream, an unclosed fence is still code.
  assert.match(renderMarkdown('```\nopen <b>'), /<pre><code>open &lt;b&gt;<\/code><\/pre>/);
  // A hostile language name cannot break out of the attribute.
  assert.doesNotMatch(renderMarkdown('```"><img>\nx\n```'), /<img>/);
});

test('headings, rules and quotes', () => {
  assert.equal(renderMarkdown('# Title\n## Sub *x*'), '<h1>Title</h1>\n<h2>Sub <em>x</em></h2>');
  assert.equal(renderMarkdown('---'), '<hr>');
  assert.equal(renderMarkdown('> quoted\n> more'), '<blockquote><p>quoted<br>more</p></blockquote>');
});

test('lists, ordered and nested', () => {
  assert.equal(renderMarkdown('- a\n- b'), '<ul><li>a</li><li>b</li></ul>');
  assert.equal(renderMarkdown('3. c\n4. d'), '<ol start="3"><li>c</li><li>d</li></ol>');
  assert.equal(renderMarkdown('- a\n  - a1\n  - a2\n- b'), '<ul><li>a\n<ul><li>a1</li><li>a2</li></ul></li><li>b</li></ul>');
  assert.equal(renderMarkdown('- a\n\n- b'), '<ul><li>a</li><li>b</li></ul>');
  assert.equal(renderMarkdown('text\n- item'), '<p>text</p>\n<ul><li>item</li></ul>');
});

test('links: safe schemes only, noopener', () => {
  assert.equal(renderMarkdown('[site](https://example.com/a?b=1&c=2)'),
    '<p><a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">site</a></p>');
  assert.equal(renderMarkdown('[x](javascript:alert(1))'), '<p>[x](javascript:alert(1))</p>');
  assert.doesNotMatch(renderMarkdown('[x](" onmouseover="alert(1))'), /<a /);
  assert.doesNotMatch(renderMarkdown('[x](//evil.example)'), /<a /);
  assert.match(renderMarkdown('see https://example.com/x_y.'), /<a href="https:\/\/example.com\/x_y" [^>]*>https:\/\/example.com\/x_y<\/a>\.<\/p>/);
});

test('Japanese text passes through', () => {
  assert.equal(renderMarkdown('こんにちは、**世界**。\n- 項目'), '<p>こんにちは、<strong>世界</strong>。</p>\n<ul><li>項目</li></ul>');
});

test('deep nesting does not overflow the stack', () => {
  const html = renderMarkdown('>'.repeat(5000) + ' deep');
  assert.ok(html.length > 0);
  const list = Array.from({ length: 2000 }, (_, i) => ' '.repeat(i) + '- x').join('\n');
  assert.ok(renderMarkdown(list).length > 0);
});

test('SSE reader splits events across chunk boundaries', async () => {
  const text = 'data: {"a":1}\n\n: keep-alive\n\ndata: {"b":"ü"}\r\n\r\ndata: [DONE]\n\n';
  const bytes = new TextEncoder().encode(text);
  const stream = new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 3) controller.enqueue(bytes.slice(i, i + 3)); // splits "ü" too
      controller.close();
    },
  });
  const events = [];
  for await (const data of readServerSentEvents(stream)) events.push(data);
  assert.deepEqual(events, ['{"a":1}', '{"b":"ü"}', '[DONE]']);
});

test('GFM tables: header, alignment, inline Markdown in cells, escaped pipes, ragged rows', () => {
  assert.equal(renderMarkdown('| 項目 | 金額 |\n|:--|--:|\n| 売上 | **1,200** |\n| 費用 |'),
    '<div class="table-wrap"><table><thead><tr><th class="align-left">項目</th><th class="align-right">金額</th></tr></thead>' +
    '<tbody><tr><td class="align-left">売上</td><td class="align-right"><strong>1,200</strong></td></tr>' +
    '<tr><td class="align-left">費用</td><td class="align-right"></td></tr></tbody></table></div>');
  assert.equal(renderMarkdown('a | b\n--- | :-:\n1 \\| 2 | 3 | 4'),
    '<div class="table-wrap"><table><thead><tr><th>a</th><th class="align-center">b</th></tr></thead>' +
    '<tbody><tr><td>1 | 2</td><td class="align-center">3</td></tr></tbody></table></div>');
});

test('a table may follow a paragraph line directly and ends at a blank line', () => {
  assert.equal(renderMarkdown('表です：\n| x |\n|---|\n| 1 |\n\nafter'),
    '<p>表です：</p>\n<div class="table-wrap"><table><thead><tr><th>x</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table></div>\n<p>after</p>');
});

test('pipes without a delimiter row, or with a different cell count, stay text; cells are escaped', () => {
  assert.equal(renderMarkdown('a | b\nc | d'), '<p>a | b<br>c | d</p>');
  assert.equal(renderMarkdown('| a | b |\n|---|\n'), '<p>| a | b |<br>|---|</p>');
  assert.equal(renderMarkdown('| <img src=x onerror=alert(1)> |\n|---|'),
    '<div class="table-wrap"><table><thead><tr><th>&lt;img src=x onerror=alert(1)&gt;</th></tr></thead></table></div>');
});
