/**
 * The capability vocabulary: Paperclip-native names, what each kind of request is called, and the agentOS 0.2.21
 * operation names the compiler may emit. agentOS accepts any operation string and silently matches nothing for a
 * misspelled one (docs/agentos.md, "Permissions"), so every name we emit must come from AGENTOS_OPERATIONS (a test checks).
 */

export const CAPABILITIES = [
  "fs.read",
  "fs.write",
  "network.fetch",
  "network.listen",
  "process.spawn",
  "env.read",
  "tool.invoke",
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** What `evaluate` and `caps test` are asked about. */
export const REQUEST_KINDS = ["read", "write", "fetch", "listen", "env", "spawn", "tool"] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

export const CAPABILITY_OF: Record<RequestKind, Capability> = {
  read: "fs.read",
  write: "fs.write",
  fetch: "network.fetch",
  listen: "network.listen",
  spawn: "process.spawn",
  env: "env.read",
  tool: "tool.invoke",
};

/** The Deno-style flag word for each capability: --allow-read, --deny-net, ... */
export const FLAG_WORD: Record<Capability, string> = {
  "fs.read": "read",
  "fs.write": "write",
  "network.fetch": "net",
  "network.listen": "listen",
  "process.spawn": "run",
  "env.read": "env",
  "tool.invoke": "tool",
};

/** Words people write instead of the capability name (Deno's, agentOS's, plain English): used for "did you mean". */
export const CAPABILITY_ALIASES: Record<string, Capability> = {
  read: "fs.read",
  "allow-read": "fs.read",
  write: "fs.write",
  "allow-write": "fs.write",
  "fs.readdir": "fs.read",
  "fs.stat": "fs.read",
  net: "network.fetch",
  network: "network.fetch",
  fetch: "network.fetch",
  http: "network.fetch",
  "network.http": "network.fetch",
  "network.dns": "network.fetch",
  "allow-net": "network.fetch",
  listen: "network.listen",
  "allow-listen": "network.listen",
  run: "process.spawn",
  spawn: "process.spawn",
  process: "process.spawn",
  childProcess: "process.spawn",
  "child_process.spawn": "process.spawn",
  "allow-run": "process.spawn",
  env: "env.read",
  "allow-env": "env.read",
  tool: "tool.invoke",
  tools: "tool.invoke",
  hostFunction: "tool.invoke",
  "hostFunction.invoke": "tool.invoke",
  "allow-tool": "tool.invoke",
};

/**
 * Operation names agentOS 0.2.21 knows, per permission scope (read from the sidecar binary's policy strings and
 * confirmed by the experiments behind docs/agentos.md, "Permissions"). `process` has no operation with an observable effect.
 */
export const AGENTOS_OPERATIONS = {
  fs: ["read", "write", "stat", "readdir", "create_dir", "rm", "rename", "symlink", "readlink", "chmod", "truncate", "mount_sensitive"],
  network: ["fetch", "http", "dns", "listen"],
  childProcess: ["spawn"],
  process: [],
  env: ["read", "write"],
  hostFunction: ["invoke"],
} as const satisfies Record<string, readonly string[]>;
export type FsOperation = (typeof AGENTOS_OPERATIONS.fs)[number];

/** fs.read grants looking at a path; stat is part of it (and granted on its own everywhere, see runtime.ts). */
export const FS_READ_OPS = ["read", "readdir", "stat", "readlink"] as const satisfies readonly FsOperation[];
/** fs.write grants every way of changing a path. agentOS checks link/chown/utimes as `write`. */
export const FS_WRITE_OPS = ["write", "create_dir", "rm", "rename", "symlink", "chmod", "truncate"] as const satisfies readonly FsOperation[];
/** Network operations a fetch needs: raw connect, Node's fetch()/http (checked as `http`) and the name lookup. */
export const NET_FETCH_OPS = ["fetch", "http", "dns"] as const;
export const NET_LISTEN_OPS = ["listen"] as const;

/** Runtime drivers agentOS tells apart in childProcess rules: the resource is the driver, not the command. */
export const DRIVERS = ["wasm", "node", "python"] as const;
export type Driver = (typeof DRIVERS)[number];

export type Mode = "allow" | "deny";

/** What the entry parsers (paths, network, rules) return: a value with notes for the author, or why it is wrong. */
export type Parsed<T> = { ok: true; value: T; notes: string[] } | { ok: false; message: string; hint?: string };

/** `scheme://...`: a URL where a path or a host was expected. */
export const looksLikeUrl = (s: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
