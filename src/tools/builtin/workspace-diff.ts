import * as v from "valibot";
import { defineTool } from "../types.ts";
import { compareWithBaseline, DEFAULT_EXCLUDES, shadowGit } from "../baseline.ts";
import { ok } from "../git.ts";
import { openRepo } from "../git-repo.ts";
import { pathsInput, pathspecs } from "../paths.ts";
import { checkRead } from "../fs-policy.ts";

const STATUS = ["added", "modified", "deleted", "renamed", "copied", "typechange"] as const;

const Input = v.strictObject({
  paths: pathsInput("Only these workspace paths"),
  maxBytes: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1_000_000), v.description("Cap on the unified diff text (default 65536 bytes; 0 for the file list only)")),
    65536,
  ),
  context: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(20), v.description("Context lines around each change (default 3)")), 3),
});

const Output = v.object({
  baseline: v.union([
    v.object({ kind: v.literal("run"), runId: v.string(), takenAt: v.string() }),
    v.object({ kind: v.literal("head"), commit: v.nullable(v.string()) }),
  ]),
  files: v.array(
    v.object({
      path: v.string(),
      status: v.picklist(STATUS),
      oldPath: v.optional(v.string()),
      binary: v.boolean(),
      additions: v.nullable(v.number()),
      deletions: v.nullable(v.number()),
      /** Over the baseline's size cap: compared by size and mtime, no line counts or diff. */
      large: v.optional(v.literal(true)),
      /** The agent may not read this file (its fs.read policy): listed without line counts or content, and why. */
      withheld: v.optional(v.string()),
    }),
  ),
  diff: v.string(),
  truncated: v.boolean(),
  excluded: v.array(v.string()),
});

type WorkspaceDiff = v.InferOutput<typeof Output>;
type Status = (typeof STATUS)[number];
const LETTER: Record<string, Status> = { A: "added", M: "modified", D: "deleted", R: "renamed", C: "copied", T: "typechange" };

export const workspaceDiff = defineTool({
  name: "workspace.diff",
  description:
    "What changed in the workspace since the run started (outside a run: since git HEAD): files added, modified, " +
    "deleted or renamed, line counts, and a size-capped unified diff.",
  input: Input,
  output: Output,
  examples: [
    { description: "Everything the run changed", input: {} },
    { description: "Only the file list", input: { maxBytes: 0 } },
  ],
  async execute(input, ctx) {
    const specs = pathspecs(input.paths);
    const cmp = await compareWithBaseline({
      workspaceDir: ctx.workspaceDir,
      stateDir: ctx.stateDir,
      runId: ctx.runId,
      repo: () => openRepo(ctx.workspaceDir),
    });
    try {
      const base = ["--literal-pathspecs", "diff", "--no-color", "--no-ext-diff", "--no-textconv", "-M"];
      const names = ok(await shadowGit(cmp, [...base, "--name-status", "-z", cmp.from, cmp.to, "--", ...specs]), "git diff --name-status");
      const nums = ok(await shadowGit(cmp, [...base, "--numstat", "-z", cmp.from, cmp.to, "--", ...specs]), "git diff --numstat");
      const counts = parseNumstat(nums);
      const files: WorkspaceDiff["files"] = [];
      const recs = names.split("\0");
      for (let i = 0; i < recs.length; i++) {
        const code = recs[i];
        if (!code) continue;
        const status = LETTER[code[0]!] ?? "modified";
        if (status === "renamed" || status === "copied") {
          const oldPath = recs[++i]!;
          const path = recs[++i]!;
          files.push({ path, status, oldPath, ...(counts.get(path) ?? unknownCounts) });
        } else {
          const path = recs[++i]!;
          files.push({ path, status, ...(counts.get(path) ?? unknownCounts) });
        }
      }
      for (const l of cmp.large) {
        if (specs.length && !specs.some((p) => p === "." || l.path === p || l.path.startsWith(`${p}/`))) continue;
        // Never list a path twice (a large file git also saw is the large entry).
        const known = files.find((f) => f.path === l.path);
        if (known) Object.assign(known, { status: "modified", large: true, additions: null, deletions: null });
        else files.push({ path: l.path, status: l.status, binary: true, additions: null, deletions: null, large: true });
      }
      files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      // Each file is read for the agent: one its policy does not let it read (under either name of a rename, or as
      // the file a symlink leads to) is listed without counts or content, and the diff names only the others.
      const shown: string[] = [];
      for (const f of files) {
        let refused: string | undefined;
        for (const p of [f.path, ...(f.oldPath ? [f.oldPath] : [])]) {
          const c = await checkRead(ctx, p);
          if (!c.allowed) {
            refused = `${c.path}: ${c.reason}`;
            ctx.readPolicy?.onDenied?.({ tool: "workspace.diff", path: c.path, reason: c.reason });
            break;
          }
        }
        if (refused) Object.assign(f, { withheld: refused, additions: null, deletions: null, binary: false });
        else shown.push(f.path, ...(f.oldPath ? [f.oldPath] : []));
      }
      // No paths asked means the whole workspace (an empty pathspec): only a withheld file narrows it to the others.
      const withheld = files.some((f) => f.withheld);
      const diffSpecs = withheld ? shown : specs;
      let diff = "";
      let truncated = false;
      if (input.maxBytes > 0 && files.length > 0 && (!withheld || shown.length > 0)) {
        const r = await shadowGit(cmp, [...base, `-U${input.context}`, cmp.from, cmp.to, "--", ...diffSpecs], input.maxBytes + 1);
        diff = ok(r, "git diff");
        if (Buffer.byteLength(diff) > input.maxBytes || r.truncated) {
          truncated = true;
          diff = cutAtLine(diff, input.maxBytes);
        }
      }
      return { baseline: cmp.baseline, files, diff, truncated, excluded: DEFAULT_EXCLUDES };
    } finally {
      await cmp.cleanup();
    }
  },
});

const unknownCounts = { binary: false, additions: null, deletions: null };

/** `git diff --numstat -z`: "A\tD\tpath\0", or for a rename "A\tD\t\0old\0new\0"; binary files show "-\t-". */
function parseNumstat(out: string): Map<string, { binary: boolean; additions: number | null; deletions: number | null }> {
  const map = new Map<string, { binary: boolean; additions: number | null; deletions: number | null }>();
  const recs = out.split("\0");
  for (let i = 0; i < recs.length; i++) {
    const rec = recs[i];
    if (!rec) continue;
    const [a, d, path] = rec.split("\t");
    let target = path;
    if (path === "") {
      i++; // old path
      target = recs[++i];
    }
    if (target === undefined) continue;
    const binary = a === "-" && d === "-";
    map.set(target, { binary, additions: binary ? null : Number(a), deletions: binary ? null : Number(d) });
  }
  return map;
}

/** Cut text to at most `max` bytes, at the end of a line, so the last hunk line is whole. */
function cutAtLine(text: string, max: number): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= max) return text;
  const cut = bytes.subarray(0, max).toString("utf8");
  const nl = cut.lastIndexOf("\n");
  return nl === -1 ? "" : cut.slice(0, nl + 1);
}
