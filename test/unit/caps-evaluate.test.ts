import { describe, expect, test } from "bun:test";
import { compilePolicy, evaluate, resolvePolicy, type EvalContext, type RequestKind } from "../../src/caps/index.ts";

const policy = (doc: object) => resolvePolicy({ json: { version: 1, ...doc } });
const decide = (doc: object, kind: RequestKind, target: string, ctx: EvalContext = { hostAddresses: [] }) => evaluate(policy(doc), { kind, target }, ctx).decision;

describe("precedence: most specific wins, deny wins ties (Deno's tests)", () => {
  test("--allow-read=/foo/specific --deny-read=/foo", () => {
    const doc = { allow: { "fs.read": ["/workspace/foo/specific"] }, deny: { "fs.read": ["/workspace/foo"] } };
    expect(decide(doc, "read", "/workspace/foo/specific/x")).toBe("allow");
    expect(decide(doc, "read", "/workspace/foo/specific")).toBe("allow");
    expect(decide(doc, "read", "/workspace/foo")).toBe("deny");
    expect(decide(doc, "read", "/workspace/foo/other")).toBe("deny");
  });
  test("flipped, the results flip", () => {
    const doc = { deny: { "fs.read": ["/workspace/foo/specific"] }, allow: { "fs.read": ["/workspace/foo"] } };
    expect(decide(doc, "read", "/workspace/foo/specific/x")).toBe("deny");
    expect(decide(doc, "read", "/workspace/foo/other")).toBe("allow");
  });
  test("equal specificity: deny wins, whatever the order", () => {
    expect(decide({ allow: { "fs.write": ["src"] }, deny: { "fs.write": ["/workspace/src/**"] } }, "write", "src/a.ts")).toBe("deny");
    expect(decide({ allow: { "network.fetch": ["*"] }, deny: { "network.fetch": ["*"] } }, "fetch", "a.com:1")).toBe("deny");
  });
  test("a file glob deeper than a directory allow beats it; the directory allow beats a shallower glob", () => {
    const doc = { allow: { "fs.read": ["/workspace/src"] }, deny: { "fs.read": ["/workspace/src/*.ts", "/workspace/**/*.log"] } };
    expect(decide(doc, "read", "/workspace/src/a.ts")).toBe("deny");
    expect(decide(doc, "read", "/workspace/src/a.js")).toBe("allow");
    expect(decide(doc, "read", "/workspace/src/x.log")).toBe("allow");
    expect(decide(doc, "read", "/workspace/x.log")).toBe("deny");
  });
  test("the decision names the rule, its source and JSON path", () => {
    const d = evaluate(policy({ deny: { "fs.read": ["/workspace/secret"] }, allow: { "fs.read": ["/workspace/**"] } }), { kind: "read", target: "secret/k" }, { hostAddresses: [] });
    expect(d).toMatchObject({ decision: "deny", target: "/workspace/secret/k", layer: "rule", enforcedBy: "agentos-kernel" });
    expect(d.rule).toMatchObject({ value: "/workspace/secret", source: "request.capabilities", at: '$.deny["fs.read"][0]' });
    expect(d.reason).toContain("deny '/workspace/secret'");
  });
  test("deny by default", () => {
    const d = evaluate(policy({}), { kind: "write", target: "/workspace/a" }, { hostAddresses: [] });
    expect(d).toMatchObject({ decision: "deny", layer: "default", rule: null });
  });
});

describe("paths", () => {
  const doc = { allow: { "fs.read": ["/workspace/**"], "fs.write": ["/workspace/out"] } };
  test("relative targets are under /workspace; '..' is resolved", () => {
    expect(evaluate(policy(doc), { kind: "write", target: "out/../out/a" }, { hostAddresses: [] }).target).toBe("/workspace/out/a");
    expect(decide(doc, "write", "out/../src/a")).toBe("deny");
    expect(decide(doc, "read", "/workspace/../etc/shadow-not-in-vm/x")).toBe("allow"); // /etc is the VM's own (runtime need)
    expect(decide(doc, "write", "/workspace/out/../../etc/x")).toBe("deny");
  });
  test("host paths under the mounted workspace are translated; outside ones are not the workspace", () => {
    const ctx = { workspaceHostDir: "/home/me/proj", hostAddresses: [] };
    expect(evaluate(policy(doc), { kind: "write", target: "/home/me/proj/out/x" }, ctx)).toMatchObject({ decision: "allow", target: "/workspace/out/x" });
    expect(evaluate(policy(doc), { kind: "read", target: "/home/me/proj/../secret" }, ctx)).toMatchObject({ decision: "deny" });
  });
  test("no case folding and no unicode look-alikes: .ENV and .еnv (Cyrillic е) are other files", () => {
    expect(decide(doc, "read", "/workspace/.env")).toBe("deny");
    expect(decide(doc, "read", "/workspace/.ENV")).toBe("allow");
    expect(decide(doc, "read", "/workspace/.\u0435nv")).toBe("allow");
  });
  test("* stays in a segment and matches dotfiles; ? is one character; ** is any depth including none", () => {
    const g = { allow: { "fs.read": ["/workspace/*.md", "/workspace/v?/**", "/workspace/a/**/z"] } };
    expect(decide(g, "read", "/workspace/.hidden.md")).toBe("allow");
    expect(decide(g, "read", "/workspace/d/x.md")).toBe("deny");
    expect(decide(g, "read", "/workspace/v1/deep/x")).toBe("allow");
    expect(decide(g, "read", "/workspace/v10/x")).toBe("deny");
    expect(decide(g, "read", "/workspace/a/z")).toBe("allow");
    expect(decide(g, "read", "/workspace/a/b/c/z")).toBe("allow");
    expect(decide(g, "read", "/workspace/a/b/c/zz")).toBe("deny");
  });
});

describe("mandatory denies", () => {
  const ws = { allow: { "fs.read": ["/workspace/**"], "fs.write": ["/workspace/**"] } };
  test("credentials are denied for read and write; hooks and rc files for write only", () => {
    for (const p of [".env", ".env.local", "sub/.envrc", ".ssh/id_rsa", "keys/server.pem", "deploy.key", ".npmrc", ".aws/credentials", "a/.netrc"]) {
      expect({ p, read: decide(ws, "read", p), write: decide(ws, "write", p) }).toEqual({ p, read: "deny", write: "deny" });
    }
    for (const p of [".git/hooks/pre-commit", ".git/config", ".bashrc", "pkg/.zshrc", ".vscode/tasks.json", ".mcp.json"]) {
      expect({ p, read: decide(ws, "read", p), write: decide(ws, "write", p) }).toEqual({ p, read: "allow", write: "deny" });
    }
    expect(evaluate(policy(ws), { kind: "write", target: ".git/hooks/pre-commit" }, { hostAddresses: [] }).layer).toBe("mandatory");
  });
  test("only an allow naming the exact path lifts one, for that path alone", () => {
    const lifted = { allow: { "fs.read": ["/workspace/**", "/workspace/.env"], "fs.write": ["/workspace/**", ".git/hooks"] } };
    expect(decide(lifted, "read", ".env")).toBe("allow");
    expect(decide(lifted, "read", ".env.local")).toBe("deny");
    expect(decide(lifted, "write", ".env")).toBe("deny");
    expect(decide(lifted, "write", ".git/hooks")).toBe("allow");
    expect(decide(lifted, "write", ".git/hooks/pre-commit")).toBe("deny");
    expect(decide({ allow: { "fs.read": ["**/.env"] } }, "read", ".env")).toBe("deny");
  });
  test("a lifted path can still be denied by an equally specific deny", () => {
    expect(decide({ allow: { "fs.read": [".env"] }, deny: { "fs.read": [".env"] } }, "read", ".env")).toBe("deny");
  });
  test("outside the workspace and the homes the VM's own files are not affected", () => {
    expect(decide({}, "read", "/etc/ssl/cert.pem")).toBe("allow");
  });
});

describe("guards: no rename, delete or link changes which rule decides", () => {
  const ww = { extends: "workspace-write" };
  const op = (doc: object, kind: RequestKind, target: string, o: string) => evaluate(policy(doc), { kind, target, op: o }, { hostAddresses: [] });
  test("the directories above a mandatory deny cannot be renamed, deleted or replaced by a file or a link; mkdir stays possible", () => {
    for (const o of ["rename", "rm", "symlink", "write"]) expect(op(ww, "write", "/workspace/.git", o)).toMatchObject({ decision: "deny" });
    for (const o of ["rename", "rm", "symlink", "write"]) expect(op(ww, "write", "/workspace/.kube", o)).toMatchObject({ decision: "deny", layer: "guard" });
    expect(op(ww, "write", "/workspace/sub/.kube", "write").reason).toContain("an ancestor of /**/.kube/config");
    expect(op(ww, "write", "/workspace/.kube", "create_dir").decision).toBe("allow");
    expect(op(ww, "write", "/workspace/.kube", "rename").decision).toBe("deny");
    expect(op(ww, "write", "/home/agentos/x/.config/gh", "rename").decision).toBe("deny");
    // Other renames and the files beside protected ones are untouched.
    expect(op(ww, "write", "/workspace/src", "rename").decision).toBe("allow");
    expect(op(ww, "write", "/workspace/.github/workflows/ci.yml", "write").decision).toBe("allow");
    // The whole repository is the host's: its index and ignore rules decide what the user's review shows.
    for (const t of ["/workspace/.git/HEAD", "/workspace/.git/index", "/workspace/.git/info/exclude", "/workspace/sub/.git/info/attributes"]) expect(op(ww, "write", t, "write")).toMatchObject({ decision: "deny", layer: "mandatory" });
    expect(op(ww, "read", "/workspace/.git/index", "read").decision).toBe("allow");
  });
  test("no symlink is made and nothing renamed inside any .git (the host's git would follow a link to any file), even where an exact allow lifts the mandatory deny", () => {
    const lifted = { extends: "workspace-write", allow: { "fs.write": ["/workspace/.git/packed-refs", "/tmp/r/.git/shallow"] } };
    for (const t of ["/workspace/.git/packed-refs", "/tmp/r/.git/shallow"]) {
      expect(op(lifted, "write", t, "write").decision).toBe("allow");
      for (const o of ["symlink", "rename"]) expect(op(lifted, "write", t, o)).toMatchObject({ decision: "deny", layer: "guard", reason: expect.stringContaining("no link may be made or moved into a git dir") });
    }
    for (const o of ["symlink", "rename"]) expect(op(ww, "write", "/workspace/sub/.git/refs/heads/x", o).decision).toBe("deny");
    expect(op(ww, "write", "/workspace/.github/x", "symlink").decision).toBe("allow");
    expect(op(ww, "write", "/workspace/src/x", "symlink").decision).toBe("allow");
  });
  test("secrets and git's files are protected everywhere in the VM, the agent CLIs' project files in the workspace only", () => {
    expect(decide({ allow: { "fs.read": ["/tmp"] } }, "read", "/tmp/moved/.kube/config")).toBe("deny");
    expect(decide({}, "write", "/tmp/p/.git/hooks/pre-commit")).toBe("deny");
    expect(decide(ww, "write", "/workspace/.claude/settings.local.json")).toBe("deny");
    expect(decide(ww, "write", "/workspace/pkg/.opencode/plugin/p.js")).toBe("deny");
    // The runtime writes the VM agent's own config in its home.
    expect(decide({}, "write", "/home/agentos/.config/opencode/opencode.json")).toBe("allow");
    expect(decide({}, "write", "/home/agentos/.pi/agent/settings.json")).toBe("allow");
  });
  test("a policy's deny guards its ancestors; a glob deny below a directory guards renames in it", () => {
    const doc = { extends: "workspace-write", deny: { "fs.read": ["a/b/secret", "data/**/*.csv"] } };
    for (const t of ["/workspace/a", "/workspace/a/b"]) expect(op(doc, "write", t, "rename")).toMatchObject({ decision: "deny", layer: "guard" });
    expect(op(doc, "write", "/workspace/data/sub", "rename")).toMatchObject({ decision: "deny", layer: "guard" });
    expect(op(doc, "write", "/workspace/data/sub/notes.txt", "write").decision).toBe("allow");
    expect(op(doc, "write", "/workspace/other", "rename").decision).toBe("allow");
    // A glob that starts at the workspace needs no such guard: a rename cannot leave the mount.
    expect(op({ extends: "workspace-write", deny: { "fs.read": ["**/*.csv"] } }, "write", "/workspace/data", "rename").decision).toBe("allow");
  });
  test("a read deny also denies writing, moving and linking what it names (agentOS checks a hard link as a write)", () => {
    const doc = { extends: "workspace-write", deny: { "fs.read": ["secret"] } };
    for (const o of ["write", "rename", "rm"]) expect(op(doc, "write", "/workspace/secret/k.txt", o).decision).toBe("deny");
    expect(op(doc, "write", "/workspace/secret/k.txt", "write").rule?.value).toBe("secret");
  });
  test("a more specific write allow inside a read deny wins, and compile warns that it re-opens moving and linking", () => {
    const p = policy({ extends: "workspace-write", allow: { "fs.write": ["secret/drop"] }, deny: { "fs.read": ["secret"] } });
    expect(evaluate(p, { kind: "write", target: "/workspace/secret/drop/x", op: "rename" }, { hostAddresses: [] }).decision).toBe("allow");
    expect(evaluate(p, { kind: "read", target: "/workspace/secret/drop/x" }, { hostAddresses: [] }).decision).toBe("deny");
    expect(compilePolicy(p, { hostAddresses: [] }).warnings.map((w) => w.message)).toContain(
      "'secret/drop' lets the agent write inside the read deny 'secret': files there can be moved or hard-linked to where they can be read",
    );
    expect(compilePolicy(policy({ extends: "workspace-write", deny: { "fs.read": ["secret"] } }), { hostAddresses: [] }).warnings).toEqual([]);
  });
  test("an operation of the other kind is an error", () => {
    expect(() => op(ww, "read", "/workspace/a", "rename")).toThrow("'rename' is not a read operation");
  });
});

describe("runtime needs", () => {
  test("the VM's own system dirs are readable, its home and /tmp writable, nothing else", () => {
    expect(evaluate(policy({}), { kind: "read", target: "/opt/agentos/bin/sh" }, { hostAddresses: [] })).toMatchObject({ decision: "allow", layer: "runtime" });
    expect(decide({}, "write", "/home/agentos/.pi/agent/models.json")).toBe("allow");
    expect(decide({}, "write", "/tmp/x")).toBe("allow");
    expect(decide({}, "write", "/opt/agentos/bin/sh")).toBe("deny");
    expect(decide({}, "read", "/workspace/a")).toBe("deny");
  });
  test("a policy can still deny inside them", () => {
    expect(decide({ deny: { "fs.write": ["/tmp/private"] } }, "write", "/tmp/private/x")).toBe("deny");
  });
});

describe("network", () => {
  test("*.domain matches the domain itself and any depth of subdomain; a bare name does not match subdomains", () => {
    expect(decide({ allow: { "network.fetch": ["*.example.com"] } }, "fetch", "example.com:443")).toBe("allow");
    expect(decide({ allow: { "network.fetch": ["*.example.com"] } }, "fetch", "a.b.example.com:443")).toBe("allow");
    expect(decide({ allow: { "network.fetch": ["*.example.com"] } }, "fetch", "badexample.com:443")).toBe("deny");
    expect(decide({ allow: { "network.fetch": ["example.com"] } }, "fetch", "api.example.com:443")).toBe("deny");
  });
  test("a port-less entry allows every port; an entry with a port needs that port; names are case-insensitive", () => {
    const doc = { allow: { "network.fetch": ["Example.COM.", "api.github.com:443"] } };
    expect(decide(doc, "fetch", "example.com:8080")).toBe("allow");
    expect(decide(doc, "fetch", "api.github.com:443")).toBe("allow");
    expect(decide(doc, "fetch", "api.github.com:80")).toBe("deny");
    expect(decide(doc, "fetch", "https://api.github.com/repos")).toBe("allow");
  });
  test("host beats domain beats CIDR beats *, and a port makes a rule more specific", () => {
    const doc = {
      allow: { "network.fetch": ["*", "api.example.com", "10.1.2.3"] },
      deny: { "network.fetch": ["*.example.com", "10.0.0.0/8", "api.example.com:22"] },
    };
    expect(decide(doc, "fetch", "www.example.com:443")).toBe("deny");
    expect(decide(doc, "fetch", "api.example.com:443")).toBe("allow");
    expect(decide(doc, "fetch", "api.example.com:22")).toBe("deny");
    expect(decide(doc, "fetch", "10.9.9.9:80")).toBe("deny");
    expect(decide(doc, "fetch", "10.1.2.3:80")).toBe("allow");
    expect(decide(doc, "fetch", "other.org:80")).toBe("allow");
  });
  test("the host's loopback opens only on exempted ports; the gateway is one", () => {
    const ctx = { gatewayPort: 4100, hostAddresses: [] };
    const d = evaluate(policy({ allow: { "network.fetch": ["*"] } }), { kind: "fetch", target: "127.0.0.1:5432" }, ctx);
    expect(d).toMatchObject({ decision: "deny", layer: "loopback" });
    expect(decide({}, "fetch", "127.0.0.1:4100", ctx)).toBe("allow");
    expect(decide({}, "fetch", "127.0.0.1:4101", ctx)).toBe("deny");
    expect(decide({ allow: { "network.fetch": ["127.0.0.1:5432"] } }, "fetch", "127.0.0.1:5432", ctx)).toBe("allow");
  });
  test("listening lets the agent reach its own listener, not the host's port", () => {
    const doc = { allow: { "network.listen": [3000, "8000-8100"] } };
    expect(decide(doc, "listen", "3000")).toBe("allow");
    expect(decide(doc, "listen", "8050")).toBe("allow");
    expect(decide(doc, "listen", "8101")).toBe("deny");
    const self = evaluate(policy(doc), { kind: "fetch", target: "localhost:3000" }, { hostAddresses: [] });
    expect(self.decision).toBe("allow");
    expect(self.notes.join()).toContain("only a listener inside the VM");
  });
});

describe("env, spawn, tool", () => {
  test("env: exact beats a longer prefix beats a shorter one; VM-owned names never come from the host", () => {
    const doc = { allow: { "env.read": ["NPM_*", "NPM_TOKEN_READ"] }, deny: { "env.read": ["NPM_TOKEN*"] } };
    expect(decide(doc, "env", "NPM_CONFIG")).toBe("allow");
    expect(decide(doc, "env", "NPM_TOKEN")).toBe("deny");
    expect(decide(doc, "env", "NPM_TOKEN_READ")).toBe("allow");
    expect(evaluate(policy({ allow: { "env.read": ["*"] } }), { kind: "env", target: "PATH" }, { hostAddresses: [] })).toMatchObject({ decision: "deny", layer: "vm" });
    expect(evaluate(policy(doc), { kind: "env", target: "CI" }, { hostAddresses: [] }).enforcedBy).toBe("host-env-filter");
  });
  test("spawn: drivers decide; a per-command rule is reported as not enforced", () => {
    const doc = { allow: { "process.spawn": ["wasm"] }, deny: { "process.spawn": ["curl"] } };
    const d = evaluate(policy(doc), { kind: "spawn", target: "curl" }, { hostAddresses: [] });
    expect(d.decision).toBe("allow");
    expect(d.notes.join("\n")).toContain("is NOT enforced");
    expect(decide(doc, "spawn", "node")).toBe("deny");
    expect(decide(doc, "spawn", "npm")).toBe("deny");
    expect(decide({ allow: { "process.spawn": ["*"] } }, "spawn", "python3")).toBe("allow");
  });
  test("tools: a name beats collection.* beats *; camelCase and kebab-case are the same function", () => {
    const doc = { allow: { "tool.invoke": ["*", "git.status"] }, deny: { "tool.invoke": ["git.*"] } };
    expect(decide(doc, "tool", "git.status")).toBe("allow");
    expect(decide(doc, "tool", "git.push")).toBe("deny");
    expect(decide(doc, "tool", "artifacts.list")).toBe("allow");
    expect(decide({ allow: { "tool.invoke": ["paperclip.getTask"] } }, "tool", "paperclip:get-task")).toBe("allow");
    expect(evaluate(policy(doc), { kind: "tool", target: "git.status" }, { hostAddresses: [] }).enforcedBy).toBe("host-function-permission");
  });
});
