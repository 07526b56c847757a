import { afterAll, describe, expect, test } from "bun:test";
import { permissionsSchema } from "@rivet-dev/agentos-core";
import {
  AGENTOS_OPERATIONS, compilePolicy, compileSandbox, evaluate, explainPolicy, renderExplanation, parsePermissionFlags, isCaseInsensitiveDir, PRESET_NAMES, resolvePolicy,
  type CompiledPermissions,
} from "../../src/caps/index.ts";
import { networkInterfaces } from "node:os";
import { kernelDecide, kernelGlob } from "./caps-agentos-sim.ts";
import { toolResource as toolsResource } from "../../src/tools/index.ts";
import { removeTempDirs, tempDir } from "../tmp.ts";

afterAll(removeTempDirs);

const policy = (doc: object) => resolvePolicy({ json: { version: 1, ...doc } });
const everything = {
  allow: {
    "fs.read": ["/workspace/**", ".env"],
    "fs.write": ["src", "/tmp/**"],
    "network.fetch": ["*.github.com:443", "127.0.0.1:5432", "10.0.0.0/12"],
    "network.listen": ["3000", "8000-8100"],
    "process.spawn": ["wasm", "git"],
    "env.read": ["CI", "NPM_*"],
    "tool.invoke": ["git.*", "paperclip.getTask"],
  },
  deny: { "fs.read": ["/workspace/secret"], "network.fetch": ["evil.github.com"], "process.spawn": ["python"], "tool.invoke": ["git.push"] },
};

function emittedOperations(p: CompiledPermissions): [string, string][] {
  const out: [string, string][] = [];
  for (const [scope, value] of Object.entries(p)) {
    if (typeof value === "string") continue;
    for (const rule of value.rules) for (const op of rule.operations) out.push([scope, op]);
  }
  return out;
}

describe("compile: the agentOS permissions object", () => {
  test("states all six scopes and passes agentOS's own schema", () => {
    for (const doc of [everything, {}]) {
      const c = compilePolicy(policy(doc), { hostAddresses: [], gatewayPort: 4000 });
      expect(Object.keys(c.permissions).sort()).toEqual(["childProcess", "env", "fs", "hostFunction", "network", "process"]);
      expect(() => permissionsSchema.parse(c.permissions)).not.toThrow();
    }
  });

  test("emits only operation names agentOS knows (it accepts misspelled ones silently)", () => {
    const docs = [everything, ...PRESET_NAMES.map((n) => resolvePolicy({ preset: n }))];
    for (const d of docs) {
      const c = compilePolicy("rules" in d ? d : policy(d), { hostAddresses: [], gatewayPort: 4000 });
      const ops = emittedOperations(c.permissions);
      expect(ops.length).toBeGreaterThan(0);
      for (const [scope, op] of ops) {
        expect({ scope, op, known: (AGENTOS_OPERATIONS[scope as keyof typeof AGENTOS_OPERATIONS] as readonly string[]).includes(op) }).toEqual({ scope, op, known: true });
      }
    }
  });

  test("network rules use URI patterns that match agentOS resources (tcp://host:port, dns://host)", () => {
    const c = compilePolicy(policy(everything), { hostAddresses: [], gatewayPort: 4000 });
    const net = c.permissions.network;
    const http = (r: string) => kernelDecide(net, "http", r);
    expect(http("tcp://api.github.com:443")).toBe("allow");
    expect(http("tcp://github.com:443")).toBe("allow");
    expect(http("tcp://api.github.com:80")).toBe("deny");
    expect(http("tcp://evil.github.com:443")).toBe("deny");
    expect(kernelDecide(net, "dns", "dns://api.github.com")).toBe("allow");
    expect(kernelDecide(net, "dns", "dns://evil.github.com")).toBe("deny");
    expect(http("tcp://10.15.3.4:80")).toBe("allow");
    expect(http("tcp://10.16.0.1:80")).toBe("deny");
    expect(http("tcp://127.0.0.1:4000")).toBe("allow");
    expect(kernelDecide(net, "listen", "tcp://127.0.0.1:8042")).toBe("allow");
    expect(kernelDecide(net, "listen", "tcp://0.0.0.0:3000")).toBe("allow");
    expect(kernelDecide(net, "listen", "tcp://127.0.0.1:8101")).toBe("deny");
    expect(http("tcp://localhost:3000")).toBe("allow");
    expect(c.loopbackExemptPorts).toEqual([4000, 5432]);
  });

  test("fs rules: last match realises most-specific-wins; mandatory denies compile to kernel fs denies", () => {
    const fs = compilePolicy(policy(everything), { hostAddresses: [] }).permissions.fs;
    expect(kernelDecide(fs, "read", "/workspace/a")).toBe("allow");
    expect(kernelDecide(fs, "read", "/workspace")).toBe("allow");
    expect(kernelDecide(fs, "readdir", "/workspace/secret")).toBe("deny");
    expect(kernelDecide(fs, "read", "/workspace/secret/k")).toBe("deny");
    expect(kernelDecide(fs, "write", "/workspace/src/a.ts")).toBe("allow");
    expect(kernelDecide(fs, "create_dir", "/workspace/src/new")).toBe("allow");
    expect(kernelDecide(fs, "write", "/workspace/README.md")).toBe("deny");
    expect(kernelDecide(fs, "read", "/workspace/.env")).toBe("allow");
    expect(kernelDecide(fs, "read", "/workspace/sub/.env")).toBe("deny");
    expect(kernelDecide(fs, "write", "/workspace/.env")).toBe("deny");
    expect(kernelDecide(fs, "stat", "/workspace/sub/.env")).toBe("allow");
    expect(kernelDecide(fs, "write", "/workspace/src/.git/hooks/pre-commit")).toBe("deny");
    expect(kernelDecide(fs, "rename", "/workspace/src/.bashrc")).toBe("deny");
    expect(kernelDecide(fs, "symlink", "/workspace/src/.ssh")).toBe("deny");
    // exec needs these (notes §5: fs "deny" kills everything)
    expect(kernelDecide(fs, "stat", "/opt/agentos/bin/sh")).toBe("allow");
    expect(kernelDecide(fs, "read", "/opt/agentos/bin/sh")).toBe("allow");
    expect(kernelDecide(fs, "write", "/home/agentos/.pi/agent/models.json")).toBe("allow");
    expect(kernelDecide(fs, "write", "/usr/bin/x")).toBe("deny");
    expect(kernelDecide(fs, "mount_sensitive", "/workspace")).toBe("deny");
  });

  test("a listen allow implies the local ports the agent's own connections take (agentOS checks them as listen)", () => {
    const c = compilePolicy(policy({ allow: { "network.listen": [3000] } }), { hostAddresses: [] });
    expect(kernelDecide(c.permissions.network, "listen", "tcp://127.0.0.1:1024")).toBe("allow");
    expect(kernelDecide(c.permissions.network, "listen", "tcp://127.0.0.1:3001")).toBe("deny");
    expect(c.enforcement.find((e) => e.rule === "1024-1279")?.note).toContain("implied by listening at all");
    const none = compilePolicy(policy({}), { hostAddresses: [] });
    expect(kernelDecide(none.permissions.network, "listen", "tcp://127.0.0.1:1024")).toBe("deny");
  });

  test("childProcess by driver; a per-command rule is not compiled and is reported as not enforceable", () => {
    const c = compilePolicy(policy(everything), { hostAddresses: [] });
    expect(kernelDecide(c.permissions.childProcess, "spawn", "wasm")).toBe("allow");
    expect(kernelDecide(c.permissions.childProcess, "spawn", "node")).toBe("deny");
    expect(kernelDecide(c.permissions.childProcess, "spawn", "python")).toBe("deny");
    expect(JSON.stringify(c.permissions.childProcess)).not.toContain("git");
    expect(c.enforcement.find((e) => e.rule === "git")).toMatchObject({ where: "not-enforceable" });
  });

  test("tools compile to hostFunction rules on the resources src/tools registers (paperclip:git-status)", () => {
    const c = compilePolicy(policy(everything), { hostAddresses: [] });
    const hf = c.permissions.hostFunction;
    expect(kernelDecide(hf, "invoke", toolsResource("git.status"))).toBe("allow");
    expect(kernelDecide(hf, "invoke", toolsResource("git.log"))).toBe("allow");
    expect(kernelDecide(hf, "invoke", toolsResource("git.push"))).toBe("deny");
    expect(kernelDecide(hf, "invoke", toolsResource("paperclip.get-task"))).toBe("allow");
    expect(kernelDecide(hf, "invoke", toolsResource("artifacts.publish"))).toBe("deny");
    expect(explainPolicy(policy(everything), { hostAddresses: [] }).data.compiled.hostFunctionRules).toEqual(typeof hf === "string" ? [] : hf.rules);
  });

  test("the guest env holds only allowed host variables, never VM-owned ones", () => {
    const hostEnv = { CI: "1", NPM_CONFIG_X: "y", AWS_SECRET_ACCESS_KEY: "s3cr3t", PATH: "/host/bin", HOME: "/home/me", EMPTY: undefined };
    expect(compilePolicy(policy(everything), { hostAddresses: [], hostEnv }).guestEnv).toEqual({ CI: "1", NPM_CONFIG_X: "y" });
    // A secret-looking name needs a rule naming it exactly (caps-env.test.ts has the whole rule).
    expect(compilePolicy(policy({ allow: { "env.read": ["*"] } }), { hostAddresses: [], hostEnv }).guestEnv).toEqual({ CI: "1", NPM_CONFIG_X: "y" });
    expect(compilePolicy(policy({ allow: { "env.read": ["*", "AWS_SECRET_ACCESS_KEY"] } }), { hostAddresses: [], hostEnv }).guestEnv).toEqual({ CI: "1", NPM_CONFIG_X: "y", AWS_SECRET_ACCESS_KEY: "s3cr3t" });
    expect(compilePolicy(policy({}), { hostAddresses: [], hostEnv }).guestEnv).toEqual({});
  });

  test("nothing allowed: network, childProcess and hostFunction are plain deny; the gateway alone opens the network", () => {
    const c = compilePolicy(policy({}), { hostAddresses: [] });
    expect(c.permissions.network).toBe("deny");
    expect(c.permissions.childProcess).toBe("deny");
    expect(c.permissions.hostFunction).toBe("deny");
    expect(c.loopbackExemptPorts).toEqual([]);
    expect(c.workspaceWritable).toBe(false);
    const g = compilePolicy(policy({}), { hostAddresses: [], gatewayPort: 4555 });
    expect(kernelDecide(g.permissions.network, "http", "tcp://127.0.0.1:4555")).toBe("allow");
    expect(kernelDecide(g.permissions.network, "http", "tcp://example.com:443")).toBe("deny");
    expect(g.loopbackExemptPorts).toEqual([4555]);
  });

  test("workspaceWritable: only when some write allow reaches into /workspace (otherwise the mount can be read-only)", () => {
    expect(compilePolicy(policy(everything), { hostAddresses: [] }).workspaceWritable).toBe(true);
    expect(compilePolicy(policy({ allow: { "fs.write": ["/**"] } }), { hostAddresses: [] }).workspaceWritable).toBe(true);
    expect(compilePolicy(policy({ allow: { "fs.write": ["/*/src"] } }), { hostAddresses: [] }).workspaceWritable).toBe(true);
    expect(compilePolicy(resolvePolicy({ preset: "read-only" }), { hostAddresses: [] }).workspaceWritable).toBe(false);
    expect(compilePolicy(policy({ allow: { "fs.write": ["/tmp/**", "/home/agentos/x"] } }), { hostAddresses: [] }).workspaceWritable).toBe(false);
  });

  test("every rule says where it is enforced", () => {
    const c = compilePolicy(policy(everything), { hostAddresses: [] });
    const where = (v: string) => c.enforcement.find((e) => e.rule === v)?.where;
    expect(where("CI")).toBe("host-env-filter");
    expect(where("git.*")).toBe("host-function-permission");
    expect(where("/workspace/**")).toBe("agentos-kernel");
    expect(where(".env*")).toBe("agentos-kernel");
  });

  test("port ranges become exact port globs (plus the client-port window any listen allow implies)", () => {
    const ranges = [[8000, 8100], [1024, 65535], [1, 1], [0, 99], [65530, 65535], [999, 10001]];
    for (const [lo, hi] of ranges) {
      const c = compilePolicy(policy({ allow: { "network.listen": [`${lo}-${hi}`] } }), { hostAddresses: [] });
      // Every boundary (lo-1, lo, hi, hi+1) is checked besides the sweep: an off-by-one at an edge must fail here.
      const ports = new Set([lo! - 1, lo!, hi!, hi! + 1].filter((p) => p >= 0 && p <= 65535));
      for (let port = 0; port <= 65535; port += port < 1100 || port > 65000 ? 1 : 97) ports.add(port);
      for (const port of ports) {
        const inRange = (port >= lo! && port <= hi!) || (port >= 1024 && port <= 1279);
        if (kernelDecide(c.permissions.network, "listen", `tcp://127.0.0.1:${port}`) !== (inRange ? "allow" : "deny")) {
          throw new Error(`range ${lo}-${hi}: port ${port} decided wrongly`);
        }
      }
    }
  });
});

describe("compileSandbox and explain", () => {
  test("compileSandbox falls back to workspace-write and summarises for the agent", async () => {
    const s = await compileSandbox({ gatewayPort: 4000, hostEnv: {} });
    expect(s.policy.sources).toEqual(["preset workspace-write"]);
    expect(s.summary[0]).toBe("read: /workspace/**, /tmp/**");
    expect(s.summary.join("\n")).toContain("always denied (write): .git/hooks/**");
    expect(s.loopbackExemptPorts).toEqual([4000]);
    const added = await compileSandbox({ flags: parsePermissionFlags(["--allow-net=x.com"]) });
    expect(added.policy.sources).toEqual(["preset workspace-write", "flags"]);
    const fromNothing = await compileSandbox({ flags: parsePermissionFlags(["--preset=none", "--allow-read=src"]) });
    expect(fromNothing.policy.sources).toEqual(["preset none", "flags"]);
    expect(fromNothing.summary[0]).toBe("read: /workspace/src");
    const none = await compileSandbox({ defaultPreset: null, flags: parsePermissionFlags(["--allow-read=src"]) });
    expect(none.policy.sources).toEqual(["flags"]);
  });

  test("explain shows the compiled object, exempted ports, env names (never values) and the unenforceable rules", () => {
    const { data, text } = explainPolicy(policy(everything), { hostAddresses: [], gatewayPort: 4000, hostEnv: { CI: "true-secret-value", NPM_TOKEN: "npm_abc" } });
    // NPM_TOKEN matches only the glob NPM_*: secret-looking, so it stays out and explain says why.
    expect(data.compiled.guestEnvNames).toEqual(["CI"]);
    expect(data.compiled.withheldEnv.map((w) => [w.name, w.kind])).toEqual([["NPM_TOKEN", "secret"]]);
    expect(text).toContain("NPM_TOKEN (secret-looking");
    expect(JSON.stringify(data)).not.toContain("npm_abc");
    expect(text).not.toContain("npm_abc");
    expect(text).not.toContain("true-secret-value");
    expect(data.notEnforceable.map((e) => e.rule)).toEqual(["git"]);
    // The summary leads; the compiled rules come only when asked for.
    expect(text.indexOf("What the agent may do")).toBeLessThan(text.indexOf("Not enforceable"));
    expect(text.indexOf("Not enforceable")).toBeLessThan(text.indexOf("Always denied"));
    expect(text).toContain("process.spawn allow 'git'");
    expect(text).toContain("under two names");
    expect(text).toContain("case-insensitive or normalising host filesystem");
    expect(text).toContain("PAPERCLIP_AOS_VM_MEMORY_MB");
    expect(text).not.toContain("warm worker");
    expect(text).not.toContain("Compiled agentOS 0.2.21 permissions");
    expect(text).toContain("--rules");
    const full = renderExplanation(data, { rules: true });
    expect(full.startsWith(text.slice(0, text.indexOf("Compiled agentOS rules")))).toBe(true);
    expect(full).toContain("NOT ENFORCEABLE");
    expect(full).toContain("loopbackExemptPorts: [4000, 5432]");
    expect(full).toContain("Runtime needs");
    expect(data.compiled.permissions.fs.rules.length).toBeGreaterThan(10);
  });

  test("explain's summary names the host's own addresses that --allow-net or a CIDR leaves denied, and only then", () => {
    const { data, text } = explainPolicy(policy({ allow: { "network.fetch": ["*"] } }), { hostAddresses: ["10.0.0.5", "fd00::2"] });
    expect(data.hostAddressDenies).toEqual(["10.0.0.5", "[::ffff:10.0.0.5]", "[fd00::2]"]);
    const line = text.split("\n").find((l) => l.includes("the host's own addresses"));
    expect(line).toStartWith("    except");
    expect(line).toContain("the host's own addresses 10.0.0.5, [::ffff:10.0.0.5], [fd00::2] (runtime: a host service listening on all interfaces is the host's");
    expect(text.indexOf("connect to")).toBeLessThan(text.indexOf("the host's own addresses"));
    expect(text.indexOf("the host's own addresses")).toBeLessThan(text.indexOf("listen on"));
    // No wide allow, no such deny, no line.
    const narrow = explainPolicy(policy({ allow: { "network.fetch": ["api.github.com:443"] } }), { hostAddresses: ["10.0.0.5"] });
    expect(narrow.data.hostAddressDenies).toEqual([]);
    expect(narrow.text).not.toContain("the host's own addresses");
  });

  test("compile is pure: the host-address denies are exactly the context's addresses, and compileSandbox passes this host's", async () => {
    const wide = policy({ allow: { "network.fetch": ["*", "10.0.0.0/8"] } });
    const denied = (c: ReturnType<typeof compilePolicy>) =>
      c.enforcement.filter((e) => e.capability === "network.fetch" && e.mode === "deny" && e.source === "runtime").map((e) => e.rule);
    const given = compilePolicy(wide, { hostAddresses: ["10.0.0.5", "192.0.2.77", "fd00::2"] });
    expect(denied(given)).toEqual(["10.0.0.5", "[::ffff:10.0.0.5]", "192.0.2.77", "[::ffff:192.0.2.77]", "[fd00::2]"]);
    const net = given.permissions.network;
    if (typeof net === "string") throw new Error("network is not compiled to rules");
    expect(kernelDecide(net, "http", "tcp://10.0.0.5:8080")).toBe("deny");
    expect(kernelDecide(net, "http", "tcp://192.0.2.77:80")).toBe("deny");
    expect(kernelDecide(net, "http", "tcp://10.0.0.6:8080")).toBe("allow"); // not one of the given addresses
    expect(evaluate(wide, { kind: "fetch", target: "192.0.2.77:80" }, { hostAddresses: ["192.0.2.77"] })).toMatchObject({ decision: "deny", rule: { value: "192.0.2.77", source: "runtime" } });
    expect(evaluate(wide, { kind: "fetch", target: "192.0.2.77:80" }, { hostAddresses: [] }).decision).toBe("allow");
    // The same policy and addresses give the same result, whatever this host's interfaces are.
    expect(compilePolicy(wide, { hostAddresses: ["10.0.0.5"] })).toEqual(compilePolicy(wide, { hostAddresses: ["10.0.0.5"] }));
    expect(denied(compilePolicy(wide, { hostAddresses: [] }))).toEqual([]);
    // The boundary every VM's policy is compiled through: without addresses, this host's; given ones win.
    const own = Object.values(networkInterfaces()).flat().filter((a) => a && !a.internal && a.family === "IPv4").map((a) => a!.address);
    const flags = parsePermissionFlags(["--allow-net"]);
    const sandbox = await compileSandbox({ flags });
    for (const a of own) expect(denied(sandbox.compiled)).toEqual(expect.arrayContaining([a, `[::ffff:${a}]`]));
    expect(denied((await compileSandbox({ flags, hostAddresses: ["198.51.100.1"] })).compiled)).toEqual(["198.51.100.1", "[::ffff:198.51.100.1]"]);
  });

  test("explain lists every mandatory entry and the guards of the policy's own denies", () => {
    const { data, text } = explainPolicy(resolvePolicy({ json: { version: 1, deny: { "fs.read": ["/workspace/a/b/secret", "/workspace/data/**/*.csv"] } } }), { hostAddresses: [] });
    for (const m of data.mandatory) expect(text).toContain(` ${m.name}`);
    for (const name of [".git/modules/**", ".git/commondir", ".git/worktrees/**", ".claude/**", ".codex/**", "opencode.json", ".opencode/**", ".cursor/**", ".gemini/**", ".pi/**"]) {
      expect(data.mandatory.map((m) => m.name)).toContain(name);
    }
    expect(data.guards).toContainEqual(expect.objectContaining({ pattern: "/workspace/a/b", kind: "ancestor", protects: "/workspace/a/b/secret" }));
    expect(data.guards).toContainEqual(expect.objectContaining({ pattern: "/workspace/data/**", kind: "boundary", operations: ["rename"] }));
    expect(text).toContain("/workspace/a /workspace/a/b");
    expect(text).toContain("no renames below /workspace/data/**");
  });

  test("a case-sensitive workspace (this Linux host) gets no case warning", async () => {
    const dir = await tempDir("aos-Case-");
    expect(await isCaseInsensitiveDir(dir)).toBe(false);
    const s = await compileSandbox({ workspaceHostDir: dir });
    expect(s.compiled.warnings.map((w) => w.message).join()).not.toContain("case-insensitive");
  });

  test("the simulated kernel glob follows agentOS's rules", () => {
    expect(kernelGlob("/workspace/*", "/workspace/a")).toBe(true);
    expect(kernelGlob("/workspace/*", "/workspace/a/b")).toBe(false);
    expect(kernelGlob("/workspace/**", "/workspace/a/b")).toBe(true);
    expect(kernelGlob("/workspace/**", "/workspace")).toBe(false);
    expect(kernelGlob("tcp://**", "tcp://127.0.0.1:43111")).toBe(true);
  });
});
