// Server-sent events over fetch: EventSource can only GET, the chat stream is a POST.

/**
 * Incremental parser of a text/event-stream body. Feed decoded text with push(); it returns the complete
 * events seen so far as {event, data} (event defaults to "message"; several data lines are joined with
 * "\n"). Comment lines (":" first) and unknown fields are ignored; CRLF, CR and LF line ends all work.
 */
export class SseParser {
  constructor() {
    this.buffer = "";
    this.event = "";
    this.data = [];
  }

  push(text) {
    this.buffer += text;
    const events = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone CR at the end of the buffer may be the first half of CRLF: wait for more text.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  /** The pending event at the end of the stream (a server may omit the final blank line). */
  finish() {
    const event = this.buffer ? this.line(this.buffer) : null;
    this.buffer = "";
    return event ?? this.line("");
  }

  line(line) {
    if (line === "") {
      if (!this.data.length) {
        this.event = "";
        return null;
      }
      const event = { event: this.event || "message", data: this.data.join("\n") };
      this.event = "";
      this.data = [];
      return event;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    return null;
  }
}

/** Read a fetch Response body as server-sent events, calling onEvent({event, data}) for each. */
export async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder("utf-8");
  const parser = new SseParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const event of parser.push(decoder.decode(value, { stream: true }))) onEvent(event);
  }
  for (const event of parser.push(decoder.decode())) onEvent(event);
  const last = parser.finish();
  if (last) onEvent(last);
}
