import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { hostFunctionCommandName } from "@rivet-dev/agentos-core";
import { zodToJsonSchema } from "@rivet-dev/agentos-runtime-core/host-functions-zod";
import {
  allowListGate,
  builtinRegistry,
  describeTool,
  contentTypeOf,
  defineTool,
  diffListeners,
  errorInfo,
  guestCommand,
  hostFunctionCommand,
  hostFunctionKey,
  invokeTool,
  isInside,
  parsePorcelainV2,
  titleOf,
  toHostFunctions,
  toolFromCommand,
  toolResource,
  ToolRegistry,
  withHostToolPermissions,
  workspaceRelative,
  type ToolCallRecord,
  type ToolContext,
  type ToolDenial,
  type VmListener,
} from "../../src/tools/index.ts";
import { toolResource as capsToolResource } from "../../src/caps/index.ts";
import { BUILTIN_LOADERS } from "../../src/tools/builtin/lazy.ts";
import { BUILTIN_TOOLS } from "../../src/tools/builtin/index.ts";

const ctx: ToolContext = { workspaceDir: "/nonexistent-ws", stateDir: "/nonexistent-state", artifactsDir: "/nonexistent-state/artifacts" };

/** A real tool (not a mock): echoes its input, so the bridge around it can be observed. */
const echo = defineTool({
  name: "test.echo",
  description: "Echo the message back",
  input: v.strictObject({ message: v.pipe(v.string(), v.minLength(1)), times: v.optional(v.pipe(v.number(), v.integer(), v.maxValue(3)), 1) }),
  output: v.object({ echoed: v.string(), via: v.string() }),
  async execute(input, _ctx, call) {
    return { echoed: input.message.repeat(input.times), via: call.via };
  },
});

describe("names: tool ↔ agentOS host function", () => {
  test("every built-in maps to a key agentOS turns back into the same command, and back to the tool", () => {
    const reg = builtinRegistry();
    for (const name of reg.names()) {
      expect(hostFunctionCommandName(hostFunctionKey(name))).toBe(hostFunctionCommand(name));
      expect(toolFromCommand(hostFunctionCommand(name), reg.names())).toBe(name);
      expect(toolResource(name)).toBe(`paperclip:${hostFunctionCommand(name)}`);
      expect(guestCommand(name)).toBe(`agentos-paperclip ${hostFunctionCommand(name)}`);
    }
    expect(hostFunctionKey("git.status")).toBe("gitStatus");
    expect(hostFunctionCommand("workspace.diff")).toBe("workspace-diff");
  });

  test("caps compiles tool.invoke rules to the resources the tools register", () => {
    expect(capsToolResource("git", "status")).toBe(toolResource("git.status"));
    expect(capsToolResource("git", undefined)).toBe(toolResource("git.*"));
  });
});

describe("registry", () => {
  test("tool invoke's table of lazily loaded tools names every built-in, and each loads the registry's own tool", async () => {
    expect(Object.keys(BUILTIN_LOADERS).sort()).toEqual(builtinRegistry().names());
    for (const [name, load] of Object.entries(BUILTIN_LOADERS)) expect(await load()).toBe(BUILTIN_TOOLS.find((t) => t.name === name)!);
  });

  test("lists the six built-ins, each with JSON Schemas agentOS accepts for its host function", async () => {
    const reg = builtinRegistry();
    expect(reg.names()).toEqual(["artifacts.publish", "git.log", "git.status", "preview.status", "services.list", "workspace.diff"]);
    const fns = (await toHostFunctions(reg, ctx, { gate: allowListGate(["*"]) })).paperclip!;
    for (const t of reg.list()) {
      const d = describeTool(t);
      expect(d.inputSchema.type).toBe("object");
      // Strict: an unknown field is an error, not silently dropped.
      expect(d.inputSchema.additionalProperties).toBe(false);
      expect(d.outputSchema.type).toBe("object");
      expect(t.description.length).toBeLessThanOrEqual(200);
      // What agentOS does with the schema at VM boot; it throws on anything it cannot represent.
      const js = zodToJsonSchema(fns[hostFunctionKey(t.name)]!.inputSchema) as { properties: object; description: string };
      expect(Object.keys(js.properties)).toEqual(Object.keys(d.inputSchema.properties as object));
      expect(js.description).toBe(t.description);
    }
  });

  test("an unknown tool is a usage error with the closest name", () => {
    const reg = builtinRegistry();
    try {
      reg.require("git.stats");
      throw new Error("no error");
    } catch (e) {
      expect(errorInfo(e)).toMatchObject({ code: "unknown_tool", hint: "did you mean 'git.status'?" });
    }
  });

  test("refuses names that do not map one to one, duplicates and descriptions agentOS would reject", () => {
    expect(() => new ToolRegistry([{ ...echo, name: "Echo" }])).toThrow(/dotted lower-case/);
    expect(() => new ToolRegistry([{ ...echo, name: "test.echo-x" }])).toThrow(/dotted lower-case/);
    expect(() => new ToolRegistry([echo, echo])).toThrow(/twice/);
    expect(() => new ToolRegistry([{ ...echo, description: "x".repeat(201) }])).toThrow(/max 200/);
  });
});

describe("invokeTool", () => {
  const reg = new ToolRegistry([echo]);

  test("validates before executing and names the field", async () => {
    const calls: ToolCallRecord[] = [];
    await expect(invokeTool(reg, "test.echo", { message: "", times: 1 }, ctx, { onCall: (c) => calls.push(c) })).rejects.toMatchObject({
      code: "invalid_input",
      path: "message",
      exitCode: 2,
    });
    await expect(invokeTool(reg, "test.echo", { message: "a", extra: true }, ctx)).rejects.toThrow("invalid input for test.echo at 'extra': unknown field 'extra'");
    await expect(invokeTool(reg, "test.echo", "not an object", ctx)).rejects.toMatchObject({ path: "" });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.error?.code).toBe("invalid_input");
  });

  test("applies defaults, reports the call, and checks the output against the schema", async () => {
    const calls: ToolCallRecord[] = [];
    expect(await invokeTool(reg, "test.echo", { message: "ab", times: 2 }, ctx, { onCall: (c) => calls.push(c) })).toEqual({ echoed: "abab", via: "host" });
    expect(calls[0]).toMatchObject({ name: "test.echo", input: { message: "ab", times: 2 }, output: { echoed: "abab", via: "host" }, via: "host" });
    const liar = new ToolRegistry([defineTool({ ...echo, name: "test.liar", execute: async () => ({ echoed: 42 }) as never })]);
    await expect(invokeTool(liar, "test.liar", { message: "x" }, ctx)).rejects.toMatchObject({ code: "invalid_output", exitCode: 1 });
  });

  test("a thrown plain error becomes a tool_failed error with the tool's name", async () => {
    const boom = new ToolRegistry([defineTool({ ...echo, name: "test.boom", execute: async () => { throw new Error("disk on fire"); } })]);
    await expect(invokeTool(boom, "test.boom", { message: "x" }, ctx)).rejects.toMatchObject({ code: "tool_failed", message: "test.boom failed: disk on fire" });
  });
});

describe("host functions and gating", () => {
  const reg = new ToolRegistry([echo, defineTool({ ...echo, name: "test.other" })]);

  test("collection paperclip, camelCase keys, flags from the schema, our validator as the only one", async () => {
    const fns = await toHostFunctions(reg, ctx, { gate: allowListGate(["test.*"]) });
    expect(Object.keys(fns)).toEqual(["paperclip"]);
    expect(Object.keys(fns.paperclip!)).toEqual(["testEcho", "testOther"]);
    const fn = fns.paperclip!.testEcho!;
    // agentOS calls safeParse before execute; it must let everything through to our valibot check.
    expect(fn.inputSchema.safeParse({ message: 5 })).toEqual({ success: true, data: { message: 5 } });
    expect(await fn.execute({ message: "hi" })).toEqual({ echoed: "hi", via: "vm" });
    await expect(Promise.resolve(fn.execute({ message: 5 }))).rejects.toThrow(/^invalid_input: invalid input for test.echo at 'message'/);
  });

  test("every call from the VM is reported, an invalid one too", async () => {
    const calls: ToolCallRecord[] = [];
    const fn = (await toHostFunctions(reg, ctx, { gate: allowListGate(["*"]), onCall: (c) => calls.push(c) })).paperclip!.testEcho!;
    await Promise.resolve(fn.execute({ message: 5 })).catch(() => {});
    expect(calls).toMatchObject([{ name: "test.echo", input: { message: 5 }, error: { code: "invalid_input", path: "message" }, via: "vm" }]);
  });

  test("from the VM, services.list and preview.status look into the VM only: without one they refuse, never probing the host", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("host service") });
    try {
      const fns = (await toHostFunctions(builtinRegistry(), ctx, { gate: allowListGate(["*"]) })).paperclip!;
      await expect(Promise.resolve(fns.previewStatus!.execute({ port: server.port }))).rejects.toThrow(/^no_vm: /);
      await expect(Promise.resolve(fns.servicesList!.execute({}))).rejects.toThrow(/^no_vm: /);
    } finally {
      server.stop(true);
    }
  });

  test("a denied tool throws a permission error, reports the denial and the call, and never runs", async () => {
    const calls: ToolCallRecord[] = [];
    const denials: ToolDenial[] = [];
    let ran = false;
    const spy = new ToolRegistry([defineTool({ ...echo, execute: async () => { ran = true; return { echoed: "", via: "" }; } })]);
    const fns = await toHostFunctions(spy, ctx, { gate: allowListGate(["*"], ["test.echo"]), onCall: (c) => calls.push(c), onDenied: (d) => denials.push(d) });
    await expect(Promise.resolve(fns.paperclip!.testEcho!.execute({ message: "x" }))).rejects.toThrow(/^permission_denied: test.echo is not allowed by the policy \(tool.invoke deny test.echo\)/);
    expect(ran).toBe(false);
    expect(denials).toEqual([{ capability: "tool.invoke", tool: "test.echo", target: "test.echo", resource: "paperclip:test-echo", reason: "tool.invoke deny test.echo", by: "host" }]);
    expect(calls[0]).toMatchObject({ name: "test.echo", error: { code: "permission_denied" }, via: "vm" });
  });

  test("allow-list gate: deny wins, nothing by default", () => {
    const gate = allowListGate(["git.*", "preview.status"], ["git.log"]);
    expect(gate("git.status").allowed).toBe(true);
    expect(gate("git.log").allowed).toBe(false);
    expect(gate("preview.status").allowed).toBe(true);
    expect(gate("artifacts.publish")).toEqual({ allowed: false, reason: "tool.invoke: not in the policy (deny by default)" });
  });

  test("the permissions a VM with tools needs are appended last, and only to scopes that are rule lists or deny", () => {
    const input: Record<string, unknown> = {
      network: "deny",
      childProcess: { default: "deny", rules: [{ mode: "allow", operations: ["spawn"], patterns: ["wasm"] }] },
      fs: "allow",
    };
    const p = withHostToolPermissions(input);
    expect(p.network).toEqual({
      default: "deny",
      rules: [
        { mode: "allow", operations: ["inspect"], patterns: ["tcp://**"] },
        { mode: "allow", operations: ["listen"], patterns: ["tcp://127.0.0.1:0"] },
      ],
    });
    expect(p.childProcess).toEqual({
      default: "deny",
      rules: [
        { mode: "allow", operations: ["spawn"], patterns: ["wasm"] },
        { mode: "allow", operations: ["spawn"], patterns: ["agentos-paperclip"] },
      ],
    });
    expect(p.fs).toBe("allow");
    expect(withHostToolPermissions({ network: "allow" })).toEqual({ network: "allow" });
    expect(withHostToolPermissions({})).toEqual({});
  });
});

describe("paths", () => {
  test("relative and /workspace paths are accepted; absolute elsewhere and climbing out are refused", () => {
    expect(workspaceRelative("a/b.txt")).toBe("a/b.txt");
    expect(workspaceRelative("./a//b/../c.txt")).toBe("a/c.txt");
    expect(workspaceRelative("/workspace/src/x.ts")).toBe("src/x.ts");
    expect(workspaceRelative("/workspace")).toBe("");
    for (const bad of ["../x", "a/../../x", "/etc/passwd", "/workspace/../etc/passwd", "/workspacex/a", "C:\\x", "a\0b"]) {
      expect(() => workspaceRelative(bad)).toThrow();
    }
  });

  test("isInside compares whole path segments", () => {
    expect(isInside("/a/b", "/a/b")).toBe(true);
    expect(isInside("/a/b", "/a/b/c")).toBe(true);
    expect(isInside("/a/b", "/a/bc")).toBe(false);
    expect(isInside("/a/b", "/a")).toBe(false);
  });
});

describe("git status parsing (porcelain v2)", () => {
  test("branch, upstream, ahead/behind and every record kind", () => {
    const out = [
      "# branch.oid 1111111111111111111111111111111111111111",
      "# branch.head main",
      "# branch.upstream origin/main",
      "# branch.ab +2 -1",
      "1 .M N... 100644 100644 100644 aaa aaa src/a b.ts",
      "1 A. N... 000000 100644 100644 000 bbb new.ts",
      "1 D. N... 100644 000000 000000 ccc 000 gone.ts",
      "2 R. N... 100644 100644 100644 ddd ddd R100 renamed.ts",
      "old.ts",
      "u UU N... 100644 100644 100644 100644 e1 e2 e3 both.ts",
      "? untracked.txt",
      "",
    ].join("\0");
    const s = parsePorcelainV2(out);
    expect(s).toMatchObject({ branch: "main", head: "1111111111111111111111111111111111111111", upstream: "origin/main", ahead: 2, behind: 1, clean: false, detached: false });
    expect(s.files).toEqual([
      { path: "src/a b.ts", status: "modified", index: ".", worktree: "M" },
      { path: "new.ts", status: "added", index: "A", worktree: "." },
      { path: "gone.ts", status: "deleted", index: "D", worktree: "." },
      { path: "renamed.ts", status: "renamed", index: "R", worktree: ".", origPath: "old.ts" },
      { path: "both.ts", status: "conflicted", index: "U", worktree: "U" },
      { path: "untracked.txt", status: "untracked", index: "?", worktree: "?" },
    ]);
    expect(s.counts).toEqual({ staged: 3, unstaged: 1, untracked: 1, conflicted: 1 });
  });

  test("an unborn branch, a detached head, a clean tree, and the file cap", () => {
    expect(parsePorcelainV2("# branch.oid (initial)\0# branch.head main\0")).toMatchObject({ head: null, branch: "main", clean: true, files: [] });
    expect(parsePorcelainV2("# branch.oid abc\0# branch.head (detached)\0")).toMatchObject({ branch: null, detached: true });
    const many = Array.from({ length: 5 }, (_, i) => `? f${i}`).join("\0");
    const capped = parsePorcelainV2(many, 2);
    expect(capped.files).toHaveLength(2);
    expect(capped.truncated).toBe(true);
    expect(capped.counts.untracked).toBe(5);
  });
});

describe("small helpers", () => {
  test("content types from the name, else sniffed", () => {
    expect(contentTypeOf("r.json", new Uint8Array())).toBe("application/json;charset=utf-8");
    expect(contentTypeOf("NOTES", new TextEncoder().encode("plain words\n"))).toBe("text/plain;charset=utf-8");
    expect(contentTypeOf("blob", new Uint8Array([0x89, 0x50, 0x00, 0x01]))).toBe("application/octet-stream");
    expect(contentTypeOf("bad", new Uint8Array([0xff, 0xfe, 0x41]))).toBe("application/octet-stream");
  });

  test("HTML titles", () => {
    expect(titleOf("<html><head><title>\n  A &amp; B  </title></head>")).toBe("A & B");
    expect(titleOf("<TITLE data-x=1>Up</TITLE>")).toBe("Up");
    expect(titleOf("<p>no title</p>")).toBeNull();
  });

  test("listener diff for service events", () => {
    const l = (port: number): VmListener => ({ protocol: "tcp", host: "127.0.0.1", port, process: { id: "p", pid: 1, command: "node", children: [] } });
    expect(diffListeners([l(3000), l(4000)], [l(4000), l(5173)])).toEqual({ started: [l(5173)], stopped: [l(3000)] });
  });
});
