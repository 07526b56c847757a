import type { CapsFit } from "./figures.ts";
import { selfCommand, spawnMeasured } from "./harness.ts";
import type { ProbeContext } from "./context.ts";

/**
 * Where each capability of the vocabulary is enforced, as `caps explain` reports it for a policy that uses every
 * capability once (process.spawn both per driver and per command, since agentOS enforces only the first).
 */
const FLAGS = ["--allow-read=/workspace", "--allow-write=/workspace", "--allow-net=example.com:443", "--allow-listen=3000", "--allow-run=node,git", "--allow-env=HOME", "--allow-tool=git.status"];

interface Enforcement {
  capability: string;
  rule: string;
  source: string;
  where: string;
  note: string;
}

export async function probeCaps(ctx: ProbeContext, agentsWithinDefault: Record<string, boolean>): Promise<CapsFit> {
  ctx.progress("caps: where each capability is enforced");
  const r = await spawnMeasured([...selfCommand(), "caps", "explain", "--json", ...FLAGS], { cwd: ctx.scratch });
  const doc = JSON.parse(r.stdout) as { enforcement: Enforcement[] };
  const fromFlags = doc.enforcement.filter((e) => e.source.startsWith("flag"));
  const rows = new Map<string, { where: Set<string>; gap?: string }>();
  for (const e of fromFlags) {
    // A per-command spawn rule is its own row: the vocabulary offers it, agentOS cannot enforce it.
    const name = e.capability === "process.spawn" && e.where === "not-enforceable" ? "process.spawn (per command)" : e.capability;
    const row = rows.get(name) ?? { where: new Set<string>() };
    if (e.where === "not-enforceable") row.gap = `not enforceable: ${e.note}`;
    else row.where.add(e.where);
    rows.set(name, row);
  }
  return {
    capabilities: [...rows].map(([name, row]) => ({ name, enforcedBy: row.gap ?? [...row.where].join(", "), enforceable: !row.gap })),
    agentsWithinDefault,
  };
}
