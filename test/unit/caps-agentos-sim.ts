/**
 * A model of how agentOS 0.2.21's sidecar decides a permission, written from its source (kernel
 * `permission_glob_matches`, sidecar `evaluate_*_permission_scope`) and not from ours: the last matching rule wins,
 * `*` does not cross `/`, `**` (two or more stars) does, `?` is one byte that is not `/`. Used by the caps tests to
 * check that compiled rules decide like evaluate() does.
 */
type Scope = "allow" | "deny" | { default?: "allow" | "deny"; rules: { mode: "allow" | "deny"; operations?: string[]; paths?: string[]; patterns?: string[] }[] };

const enc = new TextEncoder();
const encoded = new Map<string, Uint8Array>();
const bytes = (s: string) => {
  let b = encoded.get(s);
  if (!b) {
    if (encoded.size > 100_000) encoded.clear();
    encoded.set(s, (b = enc.encode(s)));
  }
  return b;
};

export function kernelGlob(pattern: string, value: string): boolean {
  const p = bytes(pattern);
  const v = bytes(value);
  // memo: 0 unknown, 1 true, 2 false
  const memo = new Uint8Array((p.length + 1) * (v.length + 1));
  const slash = 47;
  const star = 42;
  const q = 63;
  const go = (pi: number, vi: number): boolean => {
    const key = pi * (v.length + 1) + vi;
    if (memo[key]) return memo[key] === 1;
    let r: boolean;
    if (pi === p.length) r = vi === v.length;
    else if (p[pi] === q) r = vi < v.length && v[vi] !== slash && go(pi + 1, vi + 1);
    else if (p[pi] === star) {
      let next = pi;
      while (next < p.length && p[next] === star) next++;
      const crosses = next - pi > 1;
      r = go(next, vi);
      let k = vi;
      while (!r && k < v.length && (crosses || v[k] !== slash)) {
        k++;
        r = go(next, k);
      }
    } else r = vi < v.length && p[pi] === v[vi] && go(pi + 1, vi + 1);
    memo[key] = r ? 1 : 2;
    return r;
  };
  return go(0, 0);
}

/** The sidecar's decision for one operation on one resource (a missing scope denies). */
export function kernelDecide(scope: Scope | undefined, op: string, resource: string): "allow" | "deny" {
  if (scope === undefined) return "deny";
  if (typeof scope === "string") return scope;
  let mode = scope.default ?? "deny";
  for (const rule of scope.rules) {
    const ops = rule.operations ?? ["*"];
    const res = rule.paths ?? rule.patterns ?? ["**"];
    if ((ops.includes("*") || ops.includes(op)) && res.some((g) => kernelGlob(g, resource))) mode = rule.mode;
  }
  return mode;
}
