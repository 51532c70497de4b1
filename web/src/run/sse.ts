// Server-sent events over fetch (not EventSource): it can send the API token and resume with
// Last-Event-ID after a dropped connection. The parser is pure and tested on its own.

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/** Incremental text/event-stream parser (WHATWG rules: fields, comments, CRLF, multi-line data). */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id: string | undefined;

  feed(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    let nl: number;
    while ((nl = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, nl);
      const width = this.buffer.startsWith("\r\n", nl) ? 2 : 1;
      // A lone \r at the end of the chunk may be the first half of \r\n: wait for more.
      if (width === 1 && this.buffer[nl] === "\r" && nl === this.buffer.length - 1) break;
      this.buffer = this.buffer.slice(nl + width);
      if (line === "") {
        if (this.data.length > 0) out.push({ id: this.id, event: this.event || "message", data: this.data.join("\n") });
        this.data = [];
        this.event = "";
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.data.push(value);
      else if (field === "event") this.event = value;
      else if (field === "id" && !value.includes("\0")) this.id = value;
    }
    return out;
  }
}

export interface StreamOptions {
  headers?: Record<string, string>;
  /** Resume after this event id. */
  lastEventId?: string;
  signal: AbortSignal;
  onMessage: (m: SseMessage) => void;
  /** Called when the stream ended normally (the server closed it). */
  onEnd?: () => void;
  onError?: (e: unknown, retryInMs: number) => void;
  /** Whether to reconnect when the server closed the stream (e.g. not finished yet). */
  reconnect?: () => boolean;
}

/** Read an SSE endpoint until aborted, reconnecting (with Last-Event-ID) after failures. */
export async function streamSse(url: string, opts: StreamOptions): Promise<void> {
  let lastId = opts.lastEventId;
  let delay = 500;
  while (!opts.signal.aborted) {
    try {
      const headers: Record<string, string> = { Accept: "text/event-stream", ...opts.headers };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const res = await fetch(url, { headers, signal: opts.signal });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status} from ${url}`);
      delay = 500;
      const parser = new SseParser();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const m of parser.feed(value)) {
          if (m.id) lastId = m.id;
          opts.onMessage(m);
        }
      }
      if (!(opts.reconnect?.() ?? false)) {
        opts.onEnd?.();
        return;
      }
    } catch (e) {
      if (opts.signal.aborted) return;
      opts.onError?.(e, delay);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 8000);
  }
}
