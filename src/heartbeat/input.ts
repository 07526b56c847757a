/**
 * The limits and checks on what a run reads before anything starts: the request (a file or stdin), the prompt, the
 * --record file. Each failure is a usage error (exit 2) named after what the user gave; nothing is created.
 */
import { openSync, readSync, closeSync, statSync, fstatSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { usageError } from "../errors.ts";
import { formatBytes } from "../snapshot/progress.ts"; // not the face: the client path loads no snapshot code

/**
 * The largest prompt a run accepts. agentOS 0.2.21 carries the prompt through the sidecar in one message, and a 20 MB
 * one crashed it; 1 MiB is several times a model's whole context, so a larger prompt is a mistake, not a task.
 */
export const MAX_PROMPT_BYTES = 1 << 20;
/** The largest run request (a file or stdin): the prompt plus a policy, a session and the env. */
export const MAX_REQUEST_BYTES = 4 << 20;

/** Read a run request from FILE or (for "-") stdin, refusing a directory, an unreadable file and one over the limit. */
export async function readRequestText(path: string, stdin: () => ReadableStream<Uint8Array> = () => Bun.stdin.stream()): Promise<string> {
  if (path === "-") return readLimited(stdin(), "the request on stdin");
  const abs = resolve(path);
  let fd: number;
  try {
    fd = openSync(abs, "r");
  } catch (e) {
    throw fileError(path, e as NodeJS.ErrnoException);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw usageError(`request file ${path} is a directory`, "pass a JSON file, or - for stdin", "invalid_request");
    if (st.size > MAX_REQUEST_BYTES) throw tooLarge(`request file ${path}`, st.size);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString("utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EISDIR") throw usageError(`request file ${path} is a directory`, "pass a JSON file, or - for stdin", "invalid_request");
    throw e;
  } finally {
    closeSync(fd);
  }
}

function fileError(path: string, e: NodeJS.ErrnoException) {
  if (e.code === "ENOENT") return usageError(`request file ${path} does not exist`, "pass a JSON file, or - for stdin", "invalid_request");
  if (e.code === "EACCES" || e.code === "EPERM") return usageError(`request file ${path} cannot be read (permission denied)`, "check the file's permissions, or pass the request on stdin with --input -", "invalid_request");
  return usageError(`request file ${path} cannot be read: ${e.code ?? e.message}`, "pass a JSON file, or - for stdin", "invalid_request");
}

/** `size` when it is known (a file); a stream is refused as soon as it passes the limit. */
function tooLarge(what: string, size?: number) {
  return usageError(
    `${what} is ${size === undefined ? "larger than" : `${formatBytes(size)}, more than`} the ${formatBytes(MAX_REQUEST_BYTES)} a run request may be`,
    `a prompt may be up to ${formatBytes(MAX_PROMPT_BYTES)}; put large material in the workspace and point the prompt at it`,
    "request_too_large",
  );
}

async function readLimited(stream: ReadableStream<Uint8Array>, what: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of stream as unknown as AsyncIterable<Uint8Array>) {
    size += c.length;
    if (size > MAX_REQUEST_BYTES) throw tooLarge(what);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** A prompt over MAX_PROMPT_BYTES is refused before anything starts. */
export function checkPromptSize(prompt: string): void {
  const bytes = Buffer.byteLength(prompt);
  if (bytes > MAX_PROMPT_BYTES) {
    throw usageError(
      `the prompt is ${formatBytes(bytes)}, more than the ${formatBytes(MAX_PROMPT_BYTES)} a run accepts`,
      "put large material in the workspace and point the prompt at it",
      "prompt_too_large",
    );
  }
}

/** --record FILE: its directory must exist (it is never created) and FILE must not be a directory. */
export function checkRecordPath(path: string): void {
  const abs = resolve(path);
  const st = statSync(abs, { throwIfNoEntry: false });
  if (st?.isDirectory()) throw usageError(`--record ${path} is a directory`, "name a file to append to, e.g. --record requests.ndjson", "invalid_request");
  const dir = statSync(dirname(abs), { throwIfNoEntry: false });
  if (!dir) throw usageError(`--record ${path}: the directory ${dirname(abs)} does not exist`, "create it first, or name a file in an existing directory", "invalid_request");
  if (!dir.isDirectory()) throw usageError(`--record ${path}: ${dirname(abs)} is not a directory`, "name a file in an existing directory", "invalid_request");
}
