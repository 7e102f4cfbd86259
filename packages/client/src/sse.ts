/** One message of a text/event-stream, as the WHATWG "server-sent events" algorithm dispatches it. */
export interface SseMessage {
  /** The `event:` field ('message' when absent). */
  event: string;
  /** The `data:` lines, joined by "\n" ('' for a message that only carried an id or a retry). */
  data: string;
  /** The `id:` field, when the message set one. */
  id?: string;
  /** The `retry:` field (milliseconds), when the message set one. */
  retry?: number;
}

/**
 * Parses a text/event-stream body into its messages (comments and unknown fields skipped), per the
 * HTML standard: lines end in \n, \r\n or \r; one leading space after the colon is dropped; an `id`
 * holding NUL is ignored. A message with no data but an id still comes out, for its id.
 */
export async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  let pending = '';
  let message: SseMessage = { event: 'message', data: '' };
  let dataLines: string[] = [];
  let hasFields = false;
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      let text = pending + (done ? decoder.decode() : decoder.decode(value, { stream: true }));
      // A \r at the end may be half of a \r\n split between chunks: it waits for the next one.
      const carry = !done && text.endsWith('\r') ? '\r' : '';
      if (carry) text = text.slice(0, -1);
      const lines = text.split(/\r\n|\r|\n/);
      // The last piece has no line end yet.
      pending = done ? '' : (lines.pop() ?? '') + carry;
      for (const line of lines) {
        if (line === '') {
          if (hasFields) yield { ...message, data: dataLines.join('\n') };
          message = { event: 'message', data: '' };
          dataLines = [];
          hasFields = false;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') dataLines.push(value);
        else if (field === 'event') message.event = value;
        else if (field === 'id' && !value.includes('\0')) message.id = value;
        else if (field === 'retry' && /^\d+$/.test(value)) message.retry = Number(value);
        else continue;
        hasFields = true;
      }
      if (done) return;
    }
  } finally {
    // Stopped early (or failed): the rest of the body is not wanted, and its connection can go.
    await reader.cancel().catch(() => undefined);
  }
}
