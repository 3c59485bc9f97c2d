// Server-sent events over fetch: the body of a streaming /v1/chat/completions response, read with a
// ReadableStream reader (so that a POST with headers works, which EventSource cannot do).

/**
 * Yields the data of each event in `body` (a ReadableStream of bytes) as a string; multi-line data is joined
 * with "\n". Comment lines (": keep-alive") and other fields are skipped. Stops at the end of the stream.
 */
export async function* readServerSentEvents(body, signal) {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  try {
    while (true) {
      if (signal?.aborted) return;
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let boundary;
      while ((boundary = /\r?\n\r?\n/.exec(buffer)) !== null) {
        const block = buffer.slice(0, boundary.index);
        buffer = buffer.slice(boundary.index + boundary[0].length);
        const data = dataOf(block);
        if (data !== null) yield data;
      }
    }
    buffer += decoder.decode();
    const data = dataOf(buffer);
    if (data !== null) yield data;
  } finally {
    reader.releaseLock?.();
  }
}

function dataOf(block) {
  const data = [];
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
  }
  return data.length ? data.join('\n') : null;
}
