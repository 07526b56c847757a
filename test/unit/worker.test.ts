import { describe, expect, test } from "bun:test";
import { Slots } from "../../src/worker/slots.ts";
import { lineReader } from "../../src/worker/socket.ts";
import { EventSink } from "../../src/heartbeat/index.ts";

describe("worker slots", () => {
  test("a request past the limit waits, one past the queue is refused with worker_busy, freeing a slot starts the next", async () => {
    const slots = new Slots(1, 1);
    const never = new AbortController().signal;
    const first = await slots.acquire(never);
    let secondStarted = false;
    const second = slots.acquire(never).then((free) => ((secondStarted = true), free));
    expect(slots.queued).toBe(1);
    await expect(slots.acquire(never)).rejects.toMatchObject({ code: "worker_busy" });
    await Bun.sleep(0);
    expect(secondStarted).toBe(false);
    first();
    const freeSecond = await second;
    expect(secondStarted).toBe(true);
    expect(slots.running).toBe(1);
    freeSecond();
    freeSecond(); // twice is once
    expect(slots.running).toBe(0);
  });

  test("a queued request that is cancelled leaves the queue with its reason and takes no slot", async () => {
    const slots = new Slots(1, 4);
    const free = await slots.acquire(new AbortController().signal);
    const stop = new AbortController();
    const waiting = slots.acquire(stop.signal);
    stop.abort("SIGTERM");
    await expect(waiting).rejects.toBe("SIGTERM");
    expect(slots.queued).toBe(0);
    free();
    expect(slots.running).toBe(0);
  });
});

describe("worker wire", () => {
  test("lines split across chunks, and a character split across chunks, come out whole", () => {
    const lines: string[] = [];
    const read = lineReader((l) => lines.push(l));
    const bytes = Buffer.from('{"a":"é"}\n{"b":1}\n\n{"c"');
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of é
    read(bytes.subarray(0, cut));
    read(bytes.subarray(cut));
    read(":2}\n");
    expect(lines).toEqual(['{"a":"é"}', '{"b":1}', '{"c":2}']);
  });

  test("a relayed event is written as it came, and the sink's own next event continues the numbering", () => {
    const out: string[] = [];
    const sink = new EventSink((l) => out.push(l));
    const line = JSON.stringify({ type: "system", code: "x", text: "from the worker", ts: "2026-01-01T00:00:00.000Z", seq: 7 });
    sink.relay(line, JSON.parse(line));
    const own = sink.emit({ type: "system", code: "y", text: "ours" });
    expect(out[0]).toBe(`${line}\n`);
    expect(own.seq).toBe(8);
  });
});
