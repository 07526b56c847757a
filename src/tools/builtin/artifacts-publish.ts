import { mkdir, rename, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import * as v from "valibot";
import { defineTool } from "../types.ts";
import { toolError } from "../errors.ts";
import { openWorkspaceFile, workspaceRelative } from "../paths.ts";
import { requireRead } from "../fs-policy.ts";

const MAX_ARTIFACT_BYTES = 256 * 1024 * 1024;
const NAME = /^(?!\.{1,2}$)[A-Za-z0-9._+@=-][A-Za-z0-9 ._+@=-]{0,199}$/;

const Input = v.strictObject({
  path: v.pipe(v.string(), v.minLength(1), v.description("The file, relative to the workspace or under /workspace")),
  name: v.optional(v.pipe(v.string(), v.regex(NAME, "a plain file name (letters, digits, . _ - + @ = and spaces)"), v.description("Name to publish under (default the file's name)"))),
  contentType: v.optional(
    v.pipe(v.string(), v.regex(/^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+-]+)*$/, "a MIME type like text/plain"), v.description("Content type (default guessed from the name and content)")),
  ),
});

const Output = v.object({
  /** Stable reference: the same content under the same name in the same run gives the same ref. */
  ref: v.string(),
  name: v.string(),
  source: v.string(),
  sha256: v.string(),
  size: v.number(),
  contentType: v.string(),
  /** Where the copy lives on the host (under the state dir). */
  storedPath: v.string(),
});

export const artifactsPublish = defineTool({
  name: "artifacts.publish",
  description:
    "Publish a workspace file as a run artifact: copy it to the run's artifact store with its sha256 and content type " +
    "and return a stable reference. Files the agent may not read are refused.",
  input: Input,
  output: Output,
  examples: [{ description: "Publish a test report", input: { path: "reports/junit.xml" } }],
  async execute(input, ctx) {
    const rel = workspaceRelative(input.path);
    if (rel === "") throw toolError("not_a_file", "path names the workspace itself, not a file");
    const file = await openWorkspaceFile(ctx.workspaceDir, rel);
    const name = input.name ?? basename(rel);
    try {
      // The agent's own read policy decides, for the name given and for the file the descriptor really is.
      await requireRead(ctx, "artifacts.publish", rel, file.realPath);
      if (!NAME.test(name)) throw toolError("bad_name", `the file name '${name}' cannot be published as is`, "pass a plain name with 'name'");
      if (file.size > MAX_ARTIFACT_BYTES) {
        throw toolError("too_large", `${rel} is ${file.size} bytes; artifacts are capped at ${MAX_ARTIFACT_BYTES}`);
      }
      const allowance = ctx.storeAllowance;
      if (allowance && file.size > allowance.left) throw overAllowance(rel, allowance.left);
      await mkdir(ctx.artifactsDir, { recursive: true });
      const tmp = join(ctx.artifactsDir, `.incoming-${process.pid}-${Math.random().toString(36).slice(2)}`);
      const hash = new Bun.CryptoHasher("sha256");
      let size = 0;
      let head: Uint8Array | undefined;
      const out = Bun.file(tmp).writer();
      try {
        // Read from the descriptor we checked, never by path again.
        const buf = Buffer.allocUnsafe(256 * 1024);
        for (;;) {
          const { bytesRead } = await file.handle.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          const chunk = buf.subarray(0, bytesRead);
          // Taken from the allowance as it is copied (two calls at once cannot both fit in what is left), given back
          // (all `size` of it) below if the copy fails or the store has it already.
          if (allowance) {
            if (chunk.length > allowance.left) throw overAllowance(rel, allowance.left);
            allowance.left -= chunk.length;
          }
          size += chunk.length;
          if (size > MAX_ARTIFACT_BYTES) throw toolError("too_large", `${rel} grew past ${MAX_ARTIFACT_BYTES} bytes while being copied`);
          head ??= chunk.slice(0, 8192);
          hash.update(chunk);
          out.write(chunk.slice());
        }
        await out.end();
        const sha256 = hash.digest("hex");
        const dir = join(ctx.artifactsDir, sha256);
        const dest = join(dir, name);
        await mkdir(dir, { recursive: true });
        if ((await stat(dest).catch(() => null))?.isFile()) {
          await rm(tmp, { force: true });
          if (allowance) allowance.left += size;
        } else await rename(tmp, dest);
        const scope = ctx.runId ?? "local";
        return {
          ref: `artifact://${scope}/${sha256}/${encodeURIComponent(name)}`,
          name,
          source: rel,
          sha256,
          size,
          contentType: input.contentType ?? contentTypeOf(name, head ?? new Uint8Array()),
          storedPath: dest,
        };
      } catch (e) {
        await Promise.resolve(out.end()).catch(() => {});
        await rm(tmp, { force: true });
        if (allowance) allowance.left += size;
        throw e;
      }
    } finally {
      await file.handle.close();
    }
  },
});

function overAllowance(rel: string, left: number) {
  return toolError("too_large", `${rel} does not fit what this run may still publish (${left} bytes)`, "the run's artifacts and workspace writes are capped by PAPERCLIP_AOS_WRITE_ALLOWANCE_MB (default 1024)");
}

/** From the extension (Bun's MIME table), else text/plain when the first 8 KB is UTF-8 without NULs. */
export function contentTypeOf(name: string, head: Uint8Array): string {
  const byName = name.includes(".") ? Bun.file(name).type : "";
  if (byName && !byName.startsWith("application/octet-stream")) return byName;
  if (head.includes(0)) return "application/octet-stream";
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(head.length === 8192 ? trimPartial(head) : head);
    return "text/plain;charset=utf-8";
  } catch {
    return "application/octet-stream";
  }
}

/** Drop a UTF-8 sequence cut at the end of an 8 KB window so it does not read as invalid. */
function trimPartial(b: Uint8Array): Uint8Array {
  let end = b.length;
  for (let k = 1; k <= 3 && end - k >= 0; k++) {
    const c = b[end - k]!;
    if ((c & 0xc0) === 0xc0) return b.subarray(0, end - k);
    if ((c & 0x80) === 0) break;
  }
  return b;
}
