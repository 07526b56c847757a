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

describe("the worker's background work (Slots.busy)", () => {
  test("waits while the running heartbeats take every core or one waits for a slot; the caller's own slot does not count", async () => {
    const never = new AbortController().signal;
    const slots = new Slots(3, 4, 2);
    expect(slots.busy()).toBe(false);
    const first = await slots.acquire(never);
    // One heartbeat on a 2-core machine leaves a core: a spare may be made, and it may prepare its own next VM.
    expect(slots.busy()).toBe(false);
    expect(slots.busy(1)).toBe(false);
    const second = await slots.acquire(never);
    expect(slots.busy()).toBe(true);
    // A heartbeat preparing its session's next VM while one other runs: a core is left.
    expect(slots.busy(1)).toBe(false);
    const third = await slots.acquire(never);
    expect(slots.busy(1)).toBe(true);
    second();
    third();
    expect(slots.busy()).toBe(false);
    // A heartbeat waiting for a slot holds background work back whatever the cores.
    const wide = new Slots(1, 4, 64);
    const only = await wide.acquire(never);
    expect(wide.busy()).toBe(false);
    const waiting = wide.acquire(never);
    expect(wide.busy()).toBe(true);
    only();
    (await waiting)();
    first();
    expect(wide.busy()).toBe(false);
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
