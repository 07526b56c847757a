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
 * 2. `KERNEL_WAIT_SLICE_MS`. A WASM process that blocks reading a pipe (or its stdin, or in poll(2), or writing a full
 * pipe) asks the sidecar in a loop of sync RPCs, each allowed to wait up to this slice: 10 s in 0.2.21. While one
 * such wait is in flight no process can start on that sidecar, in any of its VMs, node's included: `cat` reading a
 * pipe that nobody feeds stopped every later `ls` until it ended (in the worker, every other heartbeat's and exec's),
 * and codex-exec reads its command's output pipe for as long as the command runs (docs/agentos.md, "Starting
 * programs"). A start gets in between two slices, so the replacement makes
 * the slice 20 ms. Nothing else changes: the same RPCs, the same kernel checks on each, the same EOF and error
 * handling, the same `limits.resources.maxBlockingReadMs` deadline (it is kept by the clock, not by slices); a
 * blocked reader costs more sync RPCs: 2-4% of a core instead of ~0.2%, measured (docs/agentos.md).
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

/** The runner's wait slice and the lines around it, as 0.2.21 has them but for the comment and the slice. */
const KERNEL_WAIT_SLICE = `// Each blocking read, poll or pipe write waits inside one sync RPC for at most
// this slice, then asks again. agentOS 0.2.21 waited 10 s a slice, and while a
// WASM process waited so, no process could start (paperclip-aos:
// docs/agentos.md, "Starting programs"); 20 ms lets a start in between.
const KERNEL_WAIT_SLICE_MS = 20;
const KERNEL_STDIN_WOULD_BLOCK = Symbol('kernel-stdin-would-block');
// A WASM descendant shares this runner's synchronous sidecar dispatch path.
// While one is active, return to the child event pump frequently enough to
// preserve the concurrent progress Linux gives separately scheduled processes.
const SPAWNED_CHILD_WAIT_SLICE_MS = 10;

function hasActiveSpawnedChildren() {
  for (const record of spawnedChildren.values()) {
    if (record && typeof record.exitStatus !== 'number') {
      return true;
    }
  }
  return false;
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
    length: 935,
    sha256: "c2d21e1ecd884db4cac46d9c0971dee3d9ce5971177332b9d91ffcb5ff21af0f",
    replacement: KERNEL_WAIT_SLICE,
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
