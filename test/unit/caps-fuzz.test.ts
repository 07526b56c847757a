/**
 * Random policies and requests against (1) a reference evaluator written here from the documented rules, with its own
 * path handling (node:path) and glob matching (one regex per pattern), and (2) the compiled agentOS rules run through
 * a model of the sidecar's last-match evaluation. All three must agree on every request.
 */
import { describe, expect, test } from "bun:test";
import { posix } from "node:path";
import { compilePolicy, evaluate, evaluator, mandatoryDenies, resolvePolicy, runtimeRules, toolGate, type Policy } from "../../src/caps/index.ts";
import { toolResource } from "../../src/tools/index.ts";
import { kernelDecide } from "./caps-agentos-sim.ts";

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
type R = () => number;
const pick = <T>(r: R, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

// ---- reference path evaluator ------------------------------------------------------------------------------------
const esc = (s: string) => s.replace(/[.+^${}()|[\]\\]/g, "\\$&");
const regexCache = new Map<string, RegExp>();
function refRegex(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) regexCache.set(pattern, (re = buildRefRegex(pattern)));
  return re;
}
function buildRefRegex(pattern: string): RegExp {
  const segs = pattern.split("/").filter(Boolean);
  if (!/[*?]/.test(pattern)) return new RegExp(`^${esc(pattern === "/" ? "" : pattern)}(/.*)?$`);
  const body = segs.map((s) => (s === "**" ? "(?:/[^/]+)*" : `/${esc(s).replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")}`)).join("");
  return new RegExp(`^${body}$`);
}
function refSpecificity(pattern: string): number[] {
  const segs = pattern.split("/").filter(Boolean);
  const plain = segs.filter((s) => s !== "**");
  const chars = plain.join("").replace(/[*?]/g, "").length;
  if (!/[*?]/.test(pattern)) return [segs.length, segs.length, chars];
  const firstGlob = segs.findIndex((s) => /[*?]/.test(s));
  return [firstGlob, plain.length, chars];
}
const cmp = (a: number[], b: number[]) => {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
};
interface RefRule { mode: "allow" | "deny"; kind: "read" | "write"; pattern: string; ops?: readonly string[]; self?: boolean; lifts?: boolean }
const refNormalize = (raw: string) => posix.resolve("/workspace", raw);
const READ_OPS = ["read", "readdir", "stat", "readlink"];
const WRITE_OPS = ["write", "create_dir", "rm", "rename", "symlink", "chmod", "truncate"];
// Secrets: every operation but stat; configs: every write. Scoped to the whole VM or to /workspace.
const REF_MANDATORY = mandatoryDenies().map((m) => {
  const pattern = `${m.scope === "workspace" ? "/workspace" : ""}/**/${m.name}`;
  return { pattern, re: refRegex(pattern), ops: m.protects === "write" ? WRITE_OPS : [...READ_OPS.filter((o) => o !== "stat"), ...WRITE_OPS] };
});
const REF_RUNTIME: RefRule[] = runtimeRules().map((r) => ({
  mode: "allow",
  kind: r.capability === "fs.read" ? "read" : "write",
  pattern: r.value,
  ops: r.ops,
  self: r.matcher.type === "path" && r.matcher.path.self,
  lifts: r.lifts === true,
}));

/**
 * Guards from the documented property: for a deny p1/../pn, each proper prefix that does not end in `**` is an
 * ancestor (everything but create_dir denied on it alone), except the prefix `dir` of `dir/**` and the mount
 * /workspace; a prefix ending in `**` guards renames below it unless what precedes the `**` is / or /workspace.
 */
interface RefGuard { test: (t: string) => boolean; ops: string[] }
function refGuards(denyPatterns: string[]): RefGuard[] {
  const out: RefGuard[] = [];
  for (const p of denyPatterns) {
    const segs = p.split("/").filter(Boolean);
    for (let k = 1; k < segs.length; k++) {
      const prefix = segs.slice(0, k);
      const path = `/${prefix.join("/")}`;
      if (prefix[k - 1] === "**") {
        const base = prefix.slice(0, -1).join("/");
        if (base === "" || base === "workspace") continue;
        out.push({ test: (t) => refRegex(path).test(t), ops: ["rename"] });
      } else if (!(k === segs.length - 1 && segs[k] === "**") && path !== "/workspace") {
        out.push({ test: /[*?]/.test(path) ? (t) => refRegex(path).test(t) : (t) => t === path, ops: WRITE_OPS.filter((o) => o !== "create_dir") });
      }
    }
  }
  // In every git dir no symlink is made and nothing renamed: the host's git would follow a link there to any file.
  out.push({ test: (t) => refRegex("/**/.git/**").test(t), ops: ["symlink", "rename"] });
  return out;
}

const refGuardCache = new WeakMap<RefRule[], RefGuard[]>();
function refDecide(rules: RefRule[], kind: "read" | "write", op: string, target: string): "allow" | "deny" {
  const exact = [...REF_RUNTIME.filter((r) => r.lifts), ...rules].some((r) => r.mode === "allow" && r.kind === kind && !/[*?]/.test(r.pattern) && r.pattern === target);
  if (REF_MANDATORY.some((m) => m.ops.includes(op) && m.re.test(target)) && !exact) return "deny";
  let guards = refGuardCache.get(rules);
  if (!guards) refGuardCache.set(rules, (guards = refGuards([...REF_MANDATORY.map((m) => m.pattern), ...rules.filter((r) => r.mode === "deny").map((r) => r.pattern)])));
  if (guards.some((g) => g.ops.includes(op) && g.test(target))) return "deny";
  // A read deny denies writing the same paths too.
  const implied: RefRule[] = rules.filter((r) => r.mode === "deny" && r.kind === "read").map((r) => ({ ...r, kind: "write" }));
  let best: RefRule | undefined;
  for (const r of [...REF_RUNTIME, ...rules, ...implied]) {
    if (r.kind !== kind || (r.ops && !r.ops.includes(op))) continue;
    if (r.self ? r.pattern !== target : !refRegex(r.pattern).test(target)) continue;
    if (!best) best = r;
    else {
      const c = cmp(refSpecificity(r.pattern), refSpecificity(best.pattern));
      if (c > 0 || (c === 0 && r.mode === "deny")) best = r;
    }
  }
  return best?.mode ?? "deny";
}

// ---- generators ----------------------------------------------------------------------------------------------------
const NAMES = ["a", "b", "src", ".env", "x.pem", ".git", "hooks", "c.ts", ".bashrc", "lib", ".kube", "config", "modules", ".claude"];
const GLOBS = ["*", "**", "*.ts", "?", "a*", ".*"];
function randomPattern(r: R): string {
  const depth = 1 + Math.floor(r() * 4);
  const segs: string[] = [];
  for (let i = 0; i < depth; i++) segs.push(r() < 0.3 ? pick(r, GLOBS) : pick(r, NAMES));
  const root = pick(r, ["/workspace", "/workspace", "/workspace", "/tmp", "/home/agentos", "/etc", ""]);
  if (root === "") return segs.join("/"); // relative to /workspace
  return `${root}/${segs.join("/")}`;
}
function randomTarget(r: R): string {
  const depth = 1 + Math.floor(r() * 5);
  const segs = Array.from({ length: depth }, () => pick(r, [...NAMES, "d", "e.ts", "pre-commit"]));
  return `${pick(r, ["/workspace", "/workspace", "/tmp", "/home/agentos", "/root", "/etc", "/usr"])}/${segs.join("/")}`;
}

function randomFsPolicy(r: R): { policy: Policy; ref: RefRule[] } {
  const allow: Record<string, string[]> = { "fs.read": [], "fs.write": [] };
  const deny: Record<string, string[]> = { "fs.read": [], "fs.write": [] };
  const ref: RefRule[] = [];
  const n = 1 + Math.floor(r() * 8);
  for (let i = 0; i < n; i++) {
    const cap = pick(r, ["fs.read", "fs.write"] as const);
    const mode = r() < 0.6 ? "allow" : "deny";
    const raw = randomPattern(r);
    (mode === "allow" ? allow : deny)[cap]!.push(raw);
    const abs = raw.startsWith("/") ? raw : `/workspace/${raw}`;
    ref.push({ mode, kind: cap === "fs.read" ? "read" : "write", pattern: abs.split("/").filter((s, j, a) => !(s === "**" && a[j - 1] === "**")).join("/") });
  }
  // Sometimes name a target exactly, to exercise mandatory lifts.
  if (r() < 0.3) {
    const t = pick(r, ["/workspace/.env", "/workspace/a/.env", "/workspace/.git/hooks", "/workspace/x.pem"]);
    const cap = pick(r, ["fs.read", "fs.write"] as const);
    allow[cap]!.push(t);
    ref.push({ mode: "allow", kind: cap === "fs.read" ? "read" : "write", pattern: t });
  }
  return { policy: resolvePolicy({ json: { version: 1, allow, deny } }), ref };
}

/** The agentOS operations asked about for each target: what reads, writes, moves, deletes and links check. */
const OPS: ["read" | "write", string][] = [["read", "read"], ["read", "stat"], ["write", "write"], ["write", "rename"], ["write", "rm"], ["write", "symlink"], ["write", "create_dir"]];

describe("fuzz: evaluate == reference evaluator == compiled agentOS rules", () => {
  for (const seed of [1, 2]) {
    test(`paths, seed ${seed}`, () => {
      const r = rng(seed);
      let checked = 0;
      const guarded = new Set<string>();
      for (let i = 0; i < 100; i++) {
        const { policy, ref } = randomFsPolicy(r);
        const fs = compilePolicy(policy, { hostAddresses: [] }).permissions.fs;
        const ev = evaluator(policy, { hostAddresses: [] });
        // The order of rules never changes a decision (sources merge in a fixed order; precedence is by specificity).
        const reversed: Policy = { ...policy, rules: [...policy.rules].reverse() };
        const evReversed = evaluator(reversed, { hostAddresses: [] });
        const fsReversed = compilePolicy(reversed, { hostAddresses: [] }).permissions.fs;
        // Every rule's path with its wildcards filled in, and the directory above it: what the guards protect.
        const literal = ref.map((x) => x.pattern.split("/").map((seg) => (seg === "**" ? "d" : seg.replace(/\*/g, "z").replace(/\?/g, "q"))).join("/"));
        const targets = [
          "/workspace",
          ...Array.from({ length: 25 }, () => randomTarget(r)),
          ...literal,
          ...literal.map((p) => posix.dirname(p)),
        ];
        for (const target of targets) {
          for (const [kind, op] of OPS) {
            const req = { kind, target, op };
            const d = i % 10 === 0 ? evaluate(policy, req, { hostAddresses: [] }) : ev(req);
            const ours = d.decision;
            if (d.layer === "guard") guarded.add(d.reason.replace(/^.* (an ancestor of|out of or into) /, "$1 "));
            const theirs = refDecide(ref, kind, op, refNormalize(target));
            const kernel = kernelDecide(fs, op, target);
            // Rule order is checked on the plain operations only (it is the same code path for every operation).
            const plain = op === kind;
            const oursReversed = plain ? evReversed(req).decision : ours;
            const kernelReversed = plain ? kernelDecide(fsReversed, op, target) : kernel;
            if (ours !== theirs || ours !== kernel || ours !== oursReversed || ours !== kernelReversed) {
              throw new Error(
                `seed ${seed} policy ${i}: ${kind}/${op} ${target}: evaluate=${ours} reference=${theirs} compiled=${kernel} ` +
                  `reversed: evaluate=${oursReversed} compiled=${kernelReversed}\nrules: ${JSON.stringify(ref)}`,
              );
            }
            checked++;
          }
        }
      }
      expect(checked).toBeGreaterThan(15_000);
      // The guards took part: decisions made by ancestor and by boundary guards, of many different denies.
      expect([...guarded].filter((g) => g.startsWith("an ancestor")).length).toBeGreaterThan(20);
      expect([...guarded].filter((g) => g.startsWith("out of")).length).toBeGreaterThan(2);
    }, 60_000);
  }

  test("network: fetch and listen", () => {
    const r = rng(42);
    const RULES = ["*", "example.com", "*.example.com", "example.com:443", "api.example.com:80", "api.example.com", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "10.1.2.3:22", "other.org:8080", "127.0.0.1:5432", "localhost"];
    const HOSTS = ["example.com", "api.example.com", "a.b.example.com", "other.org", "10.1.2.3", "10.200.0.1", "192.168.1.1", "127.0.0.1", "localhost"];
    const PORTS = [22, 80, 443, 3000, 5432, 8080, 8081];
    // The host's own addresses are the test's, not this machine's (compile and evaluate read none themselves): one
    // that rules name (10.1.2.3), one only a wide allow reaches (192.168.1.1).
    const ctx = { hostAddresses: ["10.1.2.3", "192.168.1.1"], gatewayPort: 4000 };
    let checked = 0;
    let byHostAddress = 0;
    for (let i = 0; i < 200; i++) {
      const allow = { "network.fetch": [] as string[], "network.listen": [] as string[] };
      const deny = { "network.fetch": [] as string[], "network.listen": [] as string[] };
      for (let k = 0; k < 1 + Math.floor(r() * 6); k++) (r() < 0.6 ? allow : deny)["network.fetch"].push(pick(r, RULES));
      for (let k = 0; k < Math.floor(r() * 3); k++) {
        const lo = pick(r, PORTS);
        (r() < 0.6 ? allow : deny)["network.listen"].push(r() < 0.5 ? String(lo) : `${lo}-${lo + Math.floor(r() * 100)}`);
      }
      const policy = resolvePolicy({ json: { version: 1, allow, deny } });
      const c = compilePolicy(policy, ctx);
      for (const host of HOSTS) {
        for (const port of PORTS) {
          const d = evaluate(policy, { kind: "fetch", target: `${host}:${port}` }, ctx);
          const ours = d.decision;
          if (d.rule?.source === "runtime" && d.rule.mode === "deny") byHostAddress++;
          let kernel = kernelDecide(c.permissions.network, "http", `tcp://${host}:${port}`);
          const loopback = host === "localhost" || host.startsWith("127.");
          if (kernel === "allow" && loopback && !c.loopbackExemptPorts.includes(port)) {
            // agentOS routes a non-exempt loopback port to the VM's own listener, if one may exist.
            kernel = kernelDecide(c.permissions.network, "listen", `tcp://127.0.0.1:${port}`);
          }
          if (ours !== kernel) throw new Error(`policy ${i}: fetch ${host}:${port}: evaluate=${ours} compiled=${kernel}\n${JSON.stringify({ allow, deny })}`);
          checked++;
        }
      }
      for (const port of PORTS.concat([8000, 8050, 8150])) {
        const ours = evaluate(policy, { kind: "listen", target: String(port) }, { hostAddresses: [] }).decision;
        const kernel = kernelDecide(c.permissions.network, "listen", `tcp://0.0.0.0:${port}`);
        if (ours !== kernel) throw new Error(`policy ${i}: listen ${port}: evaluate=${ours} compiled=${kernel}\n${JSON.stringify({ allow, deny })}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(9_000);
    // The host-address denies took part, and compiled rules agreed with them.
    expect(byHostAddress).toBeGreaterThan(50);
  });

  test("tools: the host-side gate (toolGate) and the compiled hostFunction rules decide alike", () => {
    const r = rng(11);
    const RULES = ["*", "git", "git.*", "git.status", "git.push", "artifacts.*", "artifacts.publish", "paperclip.getTask", "services.list"];
    const TOOLS = ["git.status", "git.push", "git.log", "artifacts.publish", "artifacts.list", "paperclip.get-task", "services.list", "preview.status"];
    let checked = 0;
    for (let i = 0; i < 200; i++) {
      const allow: string[] = [];
      const deny: string[] = [];
      for (let k = 0; k < 1 + Math.floor(r() * 5); k++) (r() < 0.6 ? allow : deny).push(pick(r, RULES));
      const policy = resolvePolicy({ json: { version: 1, allow: { "tool.invoke": allow }, deny: { "tool.invoke": deny } } });
      const gate = toolGate(policy);
      const hf = compilePolicy(policy, { hostAddresses: [] }).permissions.hostFunction;
      for (const tool of TOOLS) {
        const ours = gate(tool).allowed ? "allow" : "deny";
        const kernel = kernelDecide(hf, "invoke", toolResource(tool));
        if (ours !== kernel) throw new Error(`policy ${i}: tool ${tool}: toolGate=${ours} compiled=${kernel}\n${JSON.stringify({ allow, deny })}`);
        checked++;
      }
    }
    expect(checked).toBe(200 * 8);
  });

  test("env: the guest env is exactly the names evaluate allows", () => {
    const r = rng(7);
    const NAMES_ = ["CI", "NPM_TOKEN", "NPM_CONFIG_X", "AWS_KEY", "AWS_REGION", "HOME", "PATH", "GITHUB_TOKEN"];
    const RULES = ["*", "CI", "NPM_*", "NPM_TOKEN", "AWS_*", "AWS_REGION", "GITHUB_*", "HOME"];
    const hostEnv = Object.fromEntries(NAMES_.map((n) => [n, `value-of-${n}`]));
    for (let i = 0; i < 200; i++) {
      const allow: string[] = [];
      const deny: string[] = [];
      for (let k = 0; k < 1 + Math.floor(r() * 5); k++) (r() < 0.6 ? allow : deny).push(pick(r, RULES));
      const policy = resolvePolicy({ json: { version: 1, allow: { "env.read": allow }, deny: { "env.read": deny } } });
      const env = compilePolicy(policy, { hostAddresses: [], hostEnv }).guestEnv;
      const expected = NAMES_.filter((n) => evaluate(policy, { kind: "env", target: n }, { hostAddresses: [] }).decision === "allow");
      expect(Object.keys(env).sort()).toEqual(expected.sort());
    }
  });
});
