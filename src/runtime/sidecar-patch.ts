/**
 * One fix to the agentOS 0.2.21 sidecar binary, applied by the build (scripts/build.ts) to the sidecar it embeds.
 *
 * Every WASM command (`sh`, `ls`, `cat`, ...) starts in a fresh V8 isolate running agentOS's WASM runner, a
 * JavaScript file compiled into the sidecar. Before it compiles the module, the runner's `enforceMemoryLimit` caps the
 * module's memory at the VM's WASM memory limit (128 MiB by default, always set): it rewrites the memory section and
 * copies every other byte of the module into a JavaScript array, one `push` a byte, then makes a Buffer of that
 * array. For the 3 MB `sh` that is ~3 million pushes into a growing array of numbers: ~100 ms of CPU and ~90 MB of
 * sidecar RSS for a moment, for each command; most of a shell command's start (docs/agentos.md, "Sidecar and
 * process"). The replacement below parses and rewrites exactly as the original (the same checks, the same errors,
 * the same memory section) but keeps the other sections as views of the module's bytes and copies them once into
 * the result. So the memory limit is enforced as before, byte for byte (test/unit/sidecar-patch.test.ts runs both
 * functions, the original taken from the real binary, over real and generated modules).
 *
 * The original text is recognised by its SHA-256, never edited in place: a sidecar whose runner differs (another
 * agentOS version) is refused, so an upgrade has to look at this again rather than run an unknown mix. The
 * replacement is padded with spaces to the original's length: the runner is a string of known length inside the
 * executable, and nothing else in the binary moves.
 */

export interface SidecarPatch {
  id: string;
  /** The first line of the original function: where it starts in the binary. */
  start: string;
  /** The original function, from `start` through its closing "\n}\n": its length and SHA-256. */
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

export const SIDECAR_PATCHES: readonly SidecarPatch[] = [
  {
    id: "wasm-runner-enforce-memory-limit",
    start: "function enforceMemoryLimit(moduleBytes, limitPages) {\n",
    length: 1350,
    sha256: "fb39ee7f66e4e3ff53e0cddc6358dffcdbdabd856b88b1a72e3cdbcf2bab8fa5",
    replacement: ENFORCE_MEMORY_LIMIT,
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
