/** Incremental server-sent-events reader: feed it decoded text, it calls back with each event's parsed JSON data. */
export class SseReader {
  private buf = "";

  constructor(private readonly onData: (data: unknown) => void) {}

  push(text: string): void {
    this.buf += text.replace(/\r\n?/g, "\n");
    let end = this.buf.indexOf("\n\n");
    while (end >= 0) {
      this.dispatch(this.buf.slice(0, end));
      this.buf = this.buf.slice(end + 2);
      end = this.buf.indexOf("\n\n");
    }
  }

  finish(): void {
    if (this.buf.trim()) this.dispatch(this.buf);
    this.buf = "";
  }

  private dispatch(block: string): void {
    const data = block
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).replace(/^ /, ""))
      .join("\n");
    if (!data || data === "[DONE]") return;
    try {
      this.onData(JSON.parse(data));
    } catch {
      // Not JSON: nothing to meter in it; the bytes still reach the agent untouched.
    }
  }
}
