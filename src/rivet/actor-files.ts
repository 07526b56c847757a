import { mkdir, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { SessionSlot } from "../heartbeat/index.ts";
import type { ActorStore } from "./actor-store.ts";

/**
 * A heartbeat in the actor uses the same SessionSlot files as a local one (session.json, transcript.ndjson:
 * src/heartbeat/sessions.ts), in a scratch dir on the runner that lives only as long as the heartbeat: restored from
 * the actor's tables before it, written back while it runs (every tick, so a runner killed mid-run loses at most the
 * last seconds of transcript) and after it, then removed. agentOS's own state never touches the scratch dir: it is in
 * the actor's SQLite (slot.agentosDb, slot.vmStorage).
 */
export class ActorSessionFiles {
  /** How much of the transcript file is in the actor's table, and which file that was (a reset makes a new one). */
  private synced = { ino: -1, bytes: 0 };
  private record: string | null = null;
  private syncing: Promise<void> = Promise.resolve();

  constructor(
    readonly slot: SessionSlot,
    private readonly root: string,
    private readonly store: ActorStore,
  ) {}

  async restore(): Promise<void> {
    await mkdir(this.slot.dir, { recursive: true });
    this.record = await this.store.sessionRecord();
    if (this.record !== null) await writeFile(this.slot.recordPath, this.record);
    // As in a local slot, no transcript file until there is a transcript (a driver that resumes by transcript asks
    // whether the file exists).
    const lines = await this.store.transcript();
    if (!lines.length) return;
    const text = lines.map((l) => `${l}\n`).join("");
    await writeFile(this.slot.transcriptPath, text);
    this.synced = { ino: (await stat(this.slot.transcriptPath)).ino, bytes: Buffer.byteLength(text) };
  }

  /** Write what changed back to the actor (serialized: ticks and the final sync never overlap). */
  sync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.syncOnce()).catch(() => {});
    return this.syncing;
  }

  /** The last sync, then the scratch dir goes. */
  async close(): Promise<void> {
    await this.sync();
    await rm(this.root, { recursive: true, force: true });
  }

  private async syncOnce(): Promise<void> {
    const record = await readFile(this.slot.recordPath, "utf8").catch(() => null);
    if (record !== this.record) {
      await this.store.setSessionRecord(record);
      this.record = record;
    }
    const st = await stat(this.slot.transcriptPath).catch(() => null);
    if (!st) return;
    if (st.ino !== this.synced.ino) {
      // slot.reset() removed the transcript (a fresh session): so does the actor.
      await this.store.clearTranscript();
      this.synced = { ino: st.ino, bytes: 0 };
    }
    if (st.size <= this.synced.bytes) return;
    const fh = await open(this.slot.transcriptPath, "r");
    try {
      const buf = Buffer.alloc(st.size - this.synced.bytes);
      await fh.read(buf, 0, buf.length, this.synced.bytes);
      const end = buf.lastIndexOf(0x0a);
      if (end < 0) return; // a line still being written
      const lines = buf.subarray(0, end).toString("utf8").split("\n").filter((l) => l.length > 0);
      await this.store.appendTranscript(lines);
      this.synced.bytes += end + 1;
    } finally {
      await fh.close();
    }
  }
}
