// The build's fixes to agentOS's WASM runner (src/runtime/sidecar-patch.ts). The memory-limit rewrite must cap a
// module's memory exactly as the original does: both functions run here side by side, the original cut out of the
// real sidecar binary with the helpers it calls, over agentOS's own command modules and generated ones (fuzzed),
// comparing bytes and errors. The wait-slice fix must change the slice and nothing else.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { SIDECAR_PATCHES, SidecarPatchError, findOriginal, patchSidecar } from "../../src/runtime/index.ts";

const SIDECAR = join(dirname(Bun.resolveSync("@rivet-dev/agentos-sidecar-linux-x64-gnu/package.json", import.meta.dir)), "agentos-sidecar");
const COMMANDS = join(dirname(Bun.resolveSync("@rivet-dev/agentos-runtime-core/package.json", import.meta.dir)), "commands");
const binary = new Uint8Array(readFileSync(SIDECAR));
const patch = SIDECAR_PATCHES.find((p) => p.id === "wasm-runner-enforce-memory-limit")!;
const slice = SIDECAR_PATCHES.find((p) => p.id === "wasm-runner-kernel-wait-slice")!;
const rpc = SIDECAR_PATCHES.find((p) => p.id === "wasm-runner-sync-rpc-waits")!;

type Enforce = (bytes: Uint8Array, limitPages: unknown) => Uint8Array;

/** The runner's helpers enforceMemoryLimit calls, from the binary (they sit just above it in the runner's text). */
function helpers(bin: Uint8Array): string {
  const text = Buffer.from(bin.buffer, bin.byteOffset, bin.byteLength).toString("latin1");
  const from = text.indexOf("function readVarUint(bytes, offset, label) {");
  const to = text.indexOf(patch.start, from);
  expect(from).toBeGreaterThan(0);
  expect(to - from).toBeLessThan(10_000);
  return text.slice(from, to);
}

function compile(bin: Uint8Array): Enforce {
  const { text } = findOriginal(bin, patch);
  return new Function("Buffer", `const WASM_PAGE_BYTES = 65536;\n${helpers(bin)}\n${text}\nreturn enforceMemoryLimit;`)(Buffer) as Enforce;
}
const original = compile(binary);
const replaced = new Function("Buffer", `const WASM_PAGE_BYTES = 65536;\n${helpers(binary)}\n${patch.replacement}\nreturn enforceMemoryLimit;`)(Buffer) as Enforce;

function outcome(f: Enforce, bytes: Uint8Array, limit: unknown): { bytes?: string; error?: string } {
  try {
    const out = f(bytes, limit);
    return { bytes: Buffer.from(out).toString("hex") };
  } catch (e) {
    return { error: String((e as Error).message) };
  }
}

const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
};
/** The first memory of a module: its flags and maximum (pages). */
function memoryOf(bytes: Uint8Array): { flags: number; max: number | null } | null {
  let o = 8;
  const varuint = () => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[o++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (o < bytes.length) {
    const id = bytes[o++]!;
    const end = varuint() + o;
    if (id === 5 && varuint() > 0) {
      const flags = varuint();
      varuint();
      return { flags, max: flags & 1 ? varuint() : null };
    }
    o = end;
  }
  return null;
}
const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
const module = (...sections: number[][]) => new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...sections.flat()]);

describe("the WASM runner fix", () => {
  test("replaces only the patched texts of the real sidecar, the rest of the binary untouched", () => {
    const patched = patchSidecar(binary);
    expect(patched.length).toBe(binary.length);
    const ranges = SIDECAR_PATCHES.map((p) => ({ p, offset: findOriginal(binary, p).offset })).sort((a, b) => a.offset - b.offset);
    expect(ranges).toHaveLength(3);
    // Every byte outside the patched texts is the same (compared between them, a stretch at a time).
    let from = 0;
    for (const { p, offset } of [...ranges, { p: { length: 0 }, offset: binary.length }]) {
      expect(Buffer.from(patched.subarray(from, offset)).equals(Buffer.from(binary.subarray(from, offset)))).toBe(true);
      from = offset + p.length;
    }
    for (const { p, offset } of ranges) {
      const text = Buffer.from(patched.subarray(offset, offset + p.length)).toString("latin1");
      expect(text.trimEnd()).toBe(p.replacement.trimEnd());
    }
    // Patched once, the originals are gone: a second build step cannot patch it twice, and says why.
    expect(() => patchSidecar(patched)).toThrow(SidecarPatchError);
  });

  test("refuses a sidecar whose patched text differs (another agentOS version)", () => {
    for (const p of SIDECAR_PATCHES) {
      const other = new Uint8Array(binary);
      const { offset } = findOriginal(binary, p);
      other[offset + 200] = other[offset + 200]! ^ 1;
      expect(() => patchSidecar(other)).toThrow(new RegExp(`${p.id}: .*not the one this fix replaces`));
    }
    expect(() => patchSidecar(new Uint8Array(1000))).toThrow(/has no/);
  });

  test("caps agentOS's own command modules to the same bytes", () => {
    for (const name of ["sh", "ls", "cat", "awk"]) {
      const bytes = new Uint8Array(readFileSync(join(COMMANDS, name)));
      for (const limit of [2048, 16, 26, 1]) {
        const want = outcome(original, bytes, limit);
        expect(outcome(replaced, bytes, limit)).toEqual(want);
      }
      // A Buffer, an ArrayBuffer and no limit at all are taken as before.
      expect(outcome(replaced, Buffer.from(bytes), 2048)).toEqual(outcome(original, Buffer.from(bytes), 2048));
      expect(replaced(bytes, null)).toBe(bytes);
    }
    // The limit really is written into the module: sh declares no maximum, the result has 2048 pages.
    const sh = replaced(new Uint8Array(readFileSync(join(COMMANDS, "sh"))), 2048);
    expect(new WebAssembly.Module(sh)).toBeInstanceOf(WebAssembly.Module);
    expect(memoryOf(new Uint8Array(readFileSync(join(COMMANDS, "sh"))))).toEqual({ flags: 0, max: null });
    expect(memoryOf(sh)).toEqual({ flags: 1, max: 2048 });
  });

  test("gives the same bytes and the same errors on generated modules (fuzzed)", () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const memory = () => {
      const count = rand(4) === 0 ? rand(3) : 1;
      const body = [...leb(count)];
      for (let i = 0; i < count; i++) {
        const flags = [0, 1, 1, 2, 3][rand(5)]!;
        body.push(...leb(flags), ...leb(rand(3000)));
        if (flags & 1) body.push(...leb(rand(70000)));
      }
      if (rand(10) === 0) body.push(rand(256));
      return section(5, body);
    };
    const cases: [Uint8Array, unknown][] = [
      [new Uint8Array([0, 0x61, 0x73]), 10],
      [new Uint8Array([1, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), 10],
      [module(), 10],
      [module([1, 0xff]), 10],
      [module([1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]), 10],
      [module(section(5, [1, 0, 5])), 4.5],
      [module(section(5, [1, 0, 5])), "10"],
    ];
    for (let i = 0; i < 3000; i++) {
      const sections: number[][] = [];
      for (let s = rand(6); s > 0; s--) {
        sections.push(rand(3) === 0 ? memory() : section(rand(13), Array.from({ length: rand(300) }, () => rand(256))));
      }
      const bytes = module(...sections);
      const cut = rand(8) === 0 ? bytes.subarray(0, 8 + rand(bytes.length - 7)) : bytes;
      cases.push([cut, [0, 1, 17, 2048, 65536][rand(5)]]);
    }
    let errors = 0;
    for (const [bytes, limit] of cases) {
      const want = outcome(original, bytes, limit);
      if (want.error) errors++;
      expect(outcome(replaced, bytes, limit)).toEqual(want);
    }
    // Both kinds were exercised: rewrites and refusals.
    expect(errors).toBeGreaterThan(100);
    expect(cases.length - errors).toBeGreaterThan(100);
  });
});

describe("the runner's wait fix", () => {
  const original = findOriginal(binary, slice).text;
  const rpcOriginal = findOriginal(binary, rpc).text;

  /** The slice's text, and callSyncRpc's, run with the runner's surroundings stubbed: `answer` is the sidecar. */
  function runner(sliceText: string, rpcText: string, answer: (method: string, args: unknown[]) => unknown, children = new Map()) {
    const glue = { callSync: answer };
    return new Function(
      "spawnedChildren", "glue", "Buffer",
      `const syntheticWaitArray = new Int32Array(new SharedArrayBuffer(4));
       const __agentOSWasmNowNs = () => 0n, __agentOSWasiRecordSyncRpc = () => {}, decodeSyncRpcValue = (v) => v;
       const globalThis = { __agentOSSyncRpc: glue };
       ${sliceText}\n${rpcText}
       return { slice: KERNEL_WAIT_SLICE_MS, child: SPAWNED_CHILD_WAIT_SLICE_MS, busy: hasActiveSpawnedChildren(), block: KERNEL_STDIN_WOULD_BLOCK, readKernelStdinChunk, callSyncRpc };`,
    )(children, glue, Buffer);
  }

  test("the constants and hasActiveSpawnedChildren are the same but for the slice (10 s to 20 ms)", () => {
    for (const children of [new Map(), new Map([[2, { exitStatus: null }]]), new Map([[2, { exitStatus: 0 }]]), new Map([[2, null]])]) {
      const pick = (r: any) => ({ slice: r.slice, child: r.child, busy: r.busy, block: typeof r.block });
      const want = pick(runner(original, rpcOriginal, () => null, children));
      expect(want.slice).toBe(10_000);
      expect(pick(runner(slice.replacement, rpc.replacement, () => null, children))).toEqual({ ...want, slice: 20 });
    }
  });

  test("a call that may not wait is passed on as it was, its answer and errors unchanged", () => {
    for (const text of [rpcOriginal, rpc.replacement]) {
      const seen: unknown[] = [];
      const r = runner(slice.replacement, text, (m, a) => (seen.push([m, a]), m === "boom" ? (() => { throw Object.assign(new Error("x"), { code: "EIO" }); })() : { m, a }));
      expect(r.callSyncRpc("fs.stat", ["/a"])).toEqual({ m: "fs.stat", a: ["/a"] });
      expect(r.callSyncRpc("__kernel_stdin_read", [5, 0])).toEqual({ m: "__kernel_stdin_read", a: [5, 0] });
      expect(() => r.callSyncRpc("boom", [])).toThrow("x");
      expect(seen).toEqual([["fs.stat", ["/a"]], ["__kernel_stdin_read", [5, 0]], ["boom", []]]);
    }
  });

  test("a read, poll or stdin read that may wait never waits in the sidecar, and gets what arrives", () => {
    const cases: [string, unknown[], (n: number) => unknown, unknown][] = [
      ["__kernel_stdin_read", [64, 200], (n) => (n < 4 ? {} : { dataBase64: "aGk=" }), { dataBase64: "aGk=" }],
      ["__kernel_stdin_read", [64, 200], (n) => (n < 2 ? {} : { done: true }), { done: true }],
      ["__kernel_poll", [[{ fd: 3 }], 200], (n) => ({ fds: [{ fd: 3, revents: n < 3 ? 0 : 1 }] }), { fds: [{ fd: 3, revents: 1 }] }],
      ["process.fd_read", [7, 64, 200], (n) => { if (n < 3) throw Object.assign(new Error("again"), { code: "EAGAIN" }); return [104]; }, [104]],
    ];
    for (const [method, args, answer, want] of cases) {
      const waits: unknown[] = [];
      let n = 0;
      const r = runner(slice.replacement, rpc.replacement, (m, a) => { waits.push(a[m === "process.fd_read" ? 2 : 1]); return answer(n++); });
      expect(r.callSyncRpc(method, args)).toEqual(want);
      expect(new Set(waits)).toEqual(new Set([0]));
      expect(n).toBeGreaterThan(1);
    }
  });

  test("when nothing arrives within the wait, the caller gets what the sidecar answers then (fd_read: EAGAIN)", () => {
    const r = runner(slice.replacement, rpc.replacement, (m) => { if (m === "process.fd_read") throw Object.assign(new Error("again"), { code: "EAGAIN" }); return m === "__kernel_poll" ? { fds: [{ fd: 3, revents: 0 }] } : {}; });
    expect(r.callSyncRpc("__kernel_stdin_read", [64, 30])).toEqual({});
    expect(r.callSyncRpc("__kernel_poll", [[{ fd: 3 }], 30])).toEqual({ fds: [{ fd: 3, revents: 0 }] });
    expect(() => r.callSyncRpc("process.fd_read", [7, 64, 30])).toThrow("again");
    // A read error that is not "nothing yet" ends the wait at once.
    const eio = runner(slice.replacement, rpc.replacement, () => { throw Object.assign(new Error("io"), { code: "EIO" }); });
    expect(() => eio.callSyncRpc("process.fd_read", [7, 64, 30])).toThrow("io");
  });

  test("readKernelStdinChunk reads as the original: data, end, would-block", () => {
    for (const [text, rpcText] of [[original, rpcOriginal], [slice.replacement, rpc.replacement]] as const) {
      const answers = [{ dataBase64: "aGk=" }, { done: true }, {}];
      const r = runner(text, rpcText, () => answers.shift() ?? {});
      expect(Buffer.from(r.readKernelStdinChunk(8)).toString()).toBe("hi");
      expect(r.readKernelStdinChunk(8)).toBeNull();
      expect(r.readKernelStdinChunk(8, true)).toBe(r.block);
    }
  });

  test("the slice is the runner's only definition of it, so every wait uses the new one", () => {
    const text = Buffer.from(patchSidecar(binary)).toString("latin1");
    expect(text.split("const KERNEL_WAIT_SLICE_MS =")).toHaveLength(2);
    // Every wait that used the slice still names it (reads, stdin, poll, pipe writes), none a literal of its own.
    expect(text.split("KERNEL_WAIT_SLICE_MS").length - 1).toBeGreaterThanOrEqual(6);
  });
});
