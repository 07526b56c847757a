/**
 * Two fixes to the agentOS 0.2.21 sidecar binary, applied by the build (scripts/build.ts) to the sidecar it embeds.
 * Both are in agentOS's WASM runner, a JavaScript file compiled into the sidecar: every WASM command (`sh`, `ls`,
 * `cat`, ...) runs it in a fresh V8 isolate.
 *
 * 1. `enforceMemoryLimit`. Before it compiles the module, the runner caps the module's memory at the VM's WASM memory
 * limit (128 MiB by default, always set): it rewrites the memory section and copies every other byte of the module
 * into a JavaScript array, one `push` a byte, then makes a Buffer of that array. For the 3 MB `sh` that is ~3 million
 * pushes into a growing array of numbers: ~100 ms of CPU and ~90 MB of sidecar RSS for a moment, for each command;
 * most of a shell command's start (docs/agentos.md, "Sidecar and process"). The replacement parses and rewrites
 * exactly as the original (the same checks, the same errors, the same memory section) but keeps the other sections as
 * views of the module's bytes and copies them once into the result. So the memory limit is enforced as before, byte
 * for byte (test/unit/sidecar-patch.test.ts runs both functions, the original taken from the real binary, over real
 * and generated modules).
 *
 * 2. Waits in the sidecar. A WASM process that blocks reading a pipe (or its stdin, or in poll(2), or writing a full
 * pipe) asks the sidecar in a loop of sync RPCs, each allowed to wait up to `KERNEL_WAIT_SLICE_MS` (10 s in 0.2.21).
 * While such a wait is in flight the sidecar serves other processes' calls late or not at all, in every VM: with
 * the 10 s slice no process started anywhere (`cat` reading a pipe nobody feeds stopped every later `ls`); with a
 * 20 ms slice (this fix's first form) a start got in between two slices, but a WASM child of node waiting on its stdin
 * (`cat`, or a codex-exec started ahead of its prompt) still made `ls /` in another VM take 2-3 s instead of 0.2 s,
 * once 246 s ending in ERR_AGENTOS_BRIDGE_CALL_TIMEOUT (measured with throwaway scripts on one sidecar, 2026-12-01;
 * docs/agentos.md, "Starting programs"). So callSyncRpc (third patch) hands a `process.fd_read`, `__kernel_poll` or
 * `__kernel_stdin_read` that may wait to rpcWait (second patch, beside the slice), which asks the same RPC without
 * waiting and sleeps in the runner (Atomics.wait, as the runner's own child-pumping loops do) between asks, 1 ms
 * doubling to the 20 ms slice, until the caller's wait is over; then the caller gets the sidecar's last "nothing yet"
 * answer (fd_read: its EAGAIN), as from a wait that timed out. The same RPCs reach the same kernel checks; EOF, errors
 * and `limits.resources.maxBlockingReadMs` (kept by the callers' clocks) are as before. Measured: with three
 * codex-exec waiting on stdin in three VMs, `ls /` in a fourth took 133-167 ms (164 ms with none waiting, 1078 ms for the first on that sidecar).
 * readKernelStdinChunk sits between the two and is rewritten in fewer lines (the same code) to make room.
 *
 * The original text is recognised by its SHA-256, never edited in place: a sidecar whose runner differs (another
 * agentOS version) is refused, so an upgrade has to look at this again rather than run an unknown mix. The
 * replacement is padded with spaces to the original's length: the runner is a string of known length inside the
 * executable, and nothing else in the binary moves.
 */

export interface SidecarPatch {
  id: string;
  /** The first line of the original text (a function, or lines ending with one): where it starts in the binary. */
  start: string;
  /** The original text, from `start` through its closing "\n}\n": its length and SHA-256. */
  length: number;
  sha256: string;
  /** What goes in its place (at most `length` bytes; padded with spaces). */
  replacement: string;
}

const ENFORCE_MEMORY_LIMIT = `function enforceMemoryLimit(moduleBytes, limitPages) {
  if (!Number.isInteger(limitPages)) return moduleBytes;
  const bytes = moduleBytes instanceof Uint8Array ? moduleBytes : new Uint8Array(moduleBytes);
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new Error('module is not a valid WebAssembly binary');
  }
  const parts = [bytes.subarray(0, 8)];
  let offset = 8, total = 8;
  while (offset < bytes.length) {
    const sectionStart = offset;
    const sectionId = bytes[offset];
    offset += 1;
    const sectionSizeResult = readVarUint(bytes, offset, 'section size');
    offset = sectionSizeResult.offset;
    const sectionEnd = offset + sectionSizeResult.value;
    if (sectionEnd > bytes.length) {
      throw new Error('section extends past end of module');
    }
    let part = bytes.subarray(sectionStart, sectionEnd);
    if (sectionId === 5) {
      const rewrittenSection = rewriteMemorySection(bytes.slice(offset, sectionEnd), limitPages);
      part = [sectionId, ...encodeVarUint(rewrittenSection.length), ...rewrittenSection];
    }
    parts.push(part);
    total += part.length;
    offset = sectionEnd;
  }
  const out = Buffer.alloc(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
`;

/**
 * The runner's wait slice, the lines around it and readKernelStdinChunk (the same code, fewer lines, to make room),
 * and rpcWait: a wait that callSyncRpc hands over (below) asks the sidecar without waiting and sleeps in the runner
 * between asks, 1 ms doubling to the 20 ms slice, until the wait the caller asked for is over.
 */
const KERNEL_WAIT_SLICE = `// paperclip-aos: rpcWait
const KERNEL_WAIT_SLICE_MS = 20;
const KERNEL_STDIN_WOULD_BLOCK = Symbol('kernel-stdin-would-block');
const SPAWNED_CHILD_WAIT_SLICE_MS = 10;

function hasActiveSpawnedChildren() {
  for (const r of spawnedChildren.values()) if (r && typeof r.exitStatus !== 'number') return true;
  return false;
}

function readKernelStdinChunk(maxBytes, nonblocking = false) {
  const n = Math.max(1, maxBytes >>> 0);
  for (;;) {
    const r = callSyncRpc('__kernel_stdin_read', [n, nonblocking ? 0 : KERNEL_WAIT_SLICE_MS]);
    if (r && typeof r.dataBase64 === 'string') return Buffer.from(r.dataBase64, 'base64');
    if (r?.done === true) return null;
    if (nonblocking) return KERNEL_STDIN_WOULD_BLOCK;
  }
}

function rpcWait(method, args, at) {
  const ask = args.slice(), end = Date.now() + Number(args[at]);
  ask[at] = 0;
  for (let r, no; ; ) {
    try {
      r = callSyncRpc(method, ask);
      no = at > 1 ? 0 : method === '__kernel_poll' ? !r?.fds?.some((f) => f?.revents >>> 0) : !(typeof r?.dataBase64 === 'string' || r?.done === true);
    } catch (e) {
      if (at < 2 || !/^E(AGAIN|WOULDBLOCK)$/.test(e?.code)) throw e;
      no = e;
    }
    if (!no) return (rpcWait.ms = 1), r;
    const ms = Math.min(end - Date.now(), rpcWait.ms || 1);
    if (ms > 0) Atomics.wait(syntheticWaitArray, 0, 0, ms);
    rpcWait.ms = Math.min(2 * (rpcWait.ms || 1), KERNEL_WAIT_SLICE_MS);
    if (Date.now() >= end) { if (no !== true) throw no; return r; }
  }
}
`;

/**
 * callSyncRpc as 0.2.21 has it, fewer lines, but a read (`process.fd_read`), poll (`__kernel_poll`) or stdin read
 * (`__kernel_stdin_read`) asked to wait goes to rpcWait instead, so no wait is ever held inside the sidecar.
 */
const SYNC_RPC_WAITS = `function callSyncRpc(method, args = []) {
  const at = method === 'process.fd_read' ? 2 : /^__kernel_(poll|stdin_read)$/.test(method) ? 1 : 0;
  if (at && Number(args[at]) > 0) return rpcWait(method, args, at);
  const glue = globalThis.__agentOSSyncRpc;
  if (glue && typeof glue.callSync === 'function') {
    const startedNs = __agentOSWasmNowNs();
    try { return decodeSyncRpcValue(glue.callSync(method, args)); } finally { __agentOSWasiRecordSyncRpc(method, 'glue', startedNs); }
  }
  if (!NODE_SYNC_RPC_ENABLE || NODE_SYNC_RPC_REQUEST_FD == null || NODE_SYNC_RPC_RESPONSE_FD == null) {
    throw Object.assign(new Error(\`agentos WASM sync RPC is unavailable for \${method}\`), { code: 'ERR_AGENTOS_WASM_SYNC_RPC_UNAVAILABLE' });
  }
  const startedNs = __agentOSWasmNowNs();
  try {
    writeSync(NODE_SYNC_RPC_REQUEST_FD, \`\${JSON.stringify({ id: nextSyncRpcId++, method, args: encodeSyncRpcValue(args) })}\\n\`);
    const response = JSON.parse(readSyncRpcLine());
    if (response?.ok) return decodeSyncRpcValue(response.result);
    const error = new Error(response?.error?.message || \`agentos WASM sync RPC \${method} failed\`);
    if (typeof response?.error?.code === 'string') error.code = response.error.code;
    throw error;
  } finally { __agentOSWasiRecordSyncRpc(method, 'pipe', startedNs); }
}
`;

export const SIDECAR_PATCHES: readonly SidecarPatch[] = [
  {
    id: "wasm-runner-enforce-memory-limit",
    start: "function enforceMemoryLimit(moduleBytes, limitPages) {\n",
    length: 1350,
    sha256: "fb39ee7f66e4e3ff53e0cddc6358dffcdbdabd856b88b1a72e3cdbcf2bab8fa5",
    replacement: ENFORCE_MEMORY_LIMIT,
  },
  {
    id: "wasm-runner-kernel-wait-slice",
    start: "// Long event-driven in-RPC waits: the sidecar services __kernel_stdin_read /\n",
    length: 1485,
    sha256: "3fd7c5005a3673d99f229fe5348a311f8b3d54ea172e5055834551c8af0f176e",
    replacement: KERNEL_WAIT_SLICE,
  },
  {
    id: "wasm-runner-sync-rpc-waits",
    start: "function callSyncRpc(method, args = []) {\n",
    length: 1319,
    sha256: "fce757f6688a4d1c1255e7841ae080dbc541ef33a78ec32a2eebfb4739e00806",
    replacement: SYNC_RPC_WAITS,
  },
];

/** A name for the set of patches: the build re-makes its compressed sidecar when it changes. */
export const SIDECAR_PATCH_ID = new Bun.CryptoHasher("sha256").update(JSON.stringify(SIDECAR_PATCHES)).digest("hex").slice(0, 12);

export class SidecarPatchError extends Error {
  override name = "SidecarPatchError";
}

const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");

/** Where `patch`'s original sits in `binary`, checked; throws when it is not there exactly once, unchanged. */
export function findOriginal(binary: Uint8Array, patch: SidecarPatch): { offset: number; text: string } {
  const haystack = Buffer.from(binary.buffer, binary.byteOffset, binary.byteLength);
  const offset = haystack.indexOf(patch.start, 0, "latin1");
  if (offset < 0) throw new SidecarPatchError(`${patch.id}: the sidecar has no \`${patch.start.trim()}\` (another agentOS version?)`);
  if (haystack.indexOf(patch.start, offset + 1, "latin1") >= 0) throw new SidecarPatchError(`${patch.id}: the sidecar has the function twice`);
  const text = latin1(binary.subarray(offset, offset + patch.length));
  const sha = new Bun.CryptoHasher("sha256").update(text, "latin1").digest("hex");
  if (sha !== patch.sha256 || !text.endsWith("\n}\n")) {
    throw new SidecarPatchError(`${patch.id}: the sidecar's function is not the one this fix replaces (another agentOS version?)`);
  }
  return { offset, text };
}

/** A copy of `binary` with every patch applied. Throws SidecarPatchError (nothing is written) when one does not apply. */
export function patchSidecar(binary: Uint8Array): Uint8Array {
  const out = new Uint8Array(binary);
  for (const patch of SIDECAR_PATCHES) {
    const { offset } = findOriginal(out, patch);
    if (patch.replacement.length > patch.length || /[^\x20-\x7e\n]/.test(patch.replacement)) {
      throw new SidecarPatchError(`${patch.id}: the replacement must be plain ASCII of at most ${patch.length} bytes`);
    }
    out.set(Buffer.from(patch.replacement.padEnd(patch.length, " "), "latin1"), offset);
  }
  return out;
}
