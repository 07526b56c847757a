import * as v from "valibot";
import { defineTool } from "../types.ts";
import { ok } from "../git.ts";
import { gitInRepo, openRepo } from "../git-repo.ts";
import { pathsInput, pathspecs } from "../paths.ts";
import { requireRead } from "../fs-policy.ts";

const FILE_STATUS = ["modified", "added", "deleted", "renamed", "copied", "typechange", "untracked", "conflicted"] as const;

const Input = v.strictObject({
  paths: pathsInput("Limit to these workspace paths (literal, relative or under /workspace)"),
  untracked: v.optional(v.pipe(v.boolean(), v.description("List untracked files (default true)")), true),
  maxFiles: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(5000), v.description("Cap on files listed (default 500)")), 500),
});

const FileEntry = v.object({
  path: v.string(),
  status: v.picklist(FILE_STATUS),
  /** git's X (index) and Y (work tree) letters: '.' unchanged, M, A, D, R, C, T, U, '?'. */
  index: v.string(),
  worktree: v.string(),
  origPath: v.optional(v.string()),
});

const Output = v.object({
  branch: v.nullable(v.string()),
  detached: v.boolean(),
  head: v.nullable(v.string()),
  upstream: v.nullable(v.string()),
  ahead: v.nullable(v.number()),
  behind: v.nullable(v.number()),
  clean: v.boolean(),
  counts: v.object({ staged: v.number(), unstaged: v.number(), untracked: v.number(), conflicted: v.number() }),
  files: v.array(FileEntry),
  truncated: v.boolean(),
});

type GitStatus = v.InferOutput<typeof Output>;
type FileStatus = (typeof FILE_STATUS)[number];

export const gitStatus = defineTool({
  name: "git.status",
  description:
    "Git status of the workspace: branch, head, upstream ahead/behind, and each changed file with its status " +
    "(modified, added, deleted, renamed, untracked, conflicted...). Read-only.",
  input: Input,
  output: Output,
  examples: [
    { description: "Status of the whole workspace", input: {} },
    { description: "Only tracked files under src", input: { paths: ["src"], untracked: false } },
  ],
  async execute(input, ctx) {
    // The repository is read for the agent: its policy must let it read .git.
    await requireRead(ctx, "git.status", ".git");
    const repo = await openRepo(ctx.workspaceDir);
    const specs = pathspecs(input.paths);
    const r = await gitInRepo(repo, [
      "--literal-pathspecs",
      "status",
      "--porcelain=v2",
      "--branch",
      "-z",
      "--ignore-submodules=dirty",
      `--untracked-files=${input.untracked ? "all" : "no"}`,
      "--",
      ...specs,
    ]);
    return parsePorcelainV2(ok(r, "git status"), input.maxFiles);
  },
});

/** Parse `git status --porcelain=v2 --branch -z` (git-status(1), "Porcelain Format Version 2"). */
export function parsePorcelainV2(out: string, maxFiles = Infinity): GitStatus {
  const result: GitStatus = {
    branch: null,
    detached: false,
    head: null,
    upstream: null,
    ahead: null,
    behind: null,
    clean: true,
    counts: { staged: 0, unstaged: 0, untracked: 0, conflicted: 0 },
    files: [],
    truncated: false,
  };
  const recs = out.split("\0");
  const push = (f: GitStatus["files"][number]) => {
    result.clean = false;
    if (f.status === "untracked") result.counts.untracked++;
    else if (f.status === "conflicted") result.counts.conflicted++;
    else {
      if (f.index !== ".") result.counts.staged++;
      if (f.worktree !== ".") result.counts.unstaged++;
    }
    if (result.files.length < maxFiles) result.files.push(f);
    else result.truncated = true;
  };
  for (let i = 0; i < recs.length; i++) {
    const rec = recs[i]!;
    if (!rec) continue;
    if (rec.startsWith("# ")) {
      const [, key, ...rest] = rec.split(" ");
      const val = rest.join(" ");
      if (key === "branch.oid") result.head = val === "(initial)" ? null : val;
      else if (key === "branch.head") {
        result.detached = val === "(detached)";
        result.branch = result.detached ? null : val;
      } else if (key === "branch.upstream") result.upstream = val;
      else if (key === "branch.ab") {
        const m = /^\+(\d+) -(\d+)$/.exec(val);
        if (m) {
          result.ahead = Number(m[1]);
          result.behind = Number(m[2]);
        }
      }
      continue;
    }
    const kind = rec[0];
    if (kind === "?") {
      push({ path: rec.slice(2), status: "untracked", index: "?", worktree: "?" });
    } else if (kind === "1") {
      // 1 XY sub mH mI mW hH hI path
      const f = fields(rec, 8);
      push({ path: f.rest, status: statusOf(f.xy), index: f.xy[0]!, worktree: f.xy[1]! });
    } else if (kind === "2") {
      // 2 XY sub mH mI mW hH hI Xscore path \0 origPath
      const f = fields(rec, 9);
      const origPath = recs[++i] ?? "";
      push({ path: f.rest, status: f.xy.includes("C") ? "copied" : "renamed", index: f.xy[0]!, worktree: f.xy[1]!, origPath });
    } else if (kind === "u") {
      // u XY sub m1 m2 m3 mW h1 h2 h3 path
      const f = fields(rec, 10);
      push({ path: f.rest, status: "conflicted", index: f.xy[0]!, worktree: f.xy[1]! });
    }
    // "!" (ignored) is never requested.
  }
  return result;
}

function fields(rec: string, n: number): { xy: string; rest: string } {
  let pos = 0;
  const parts: string[] = [];
  for (let k = 0; k < n; k++) {
    const next = rec.indexOf(" ", pos);
    parts.push(rec.slice(pos, next));
    pos = next + 1;
  }
  return { xy: parts[1]!, rest: rec.slice(pos) };
}

function statusOf(xy: string): FileStatus {
  if (xy.includes("A") && xy[0] === "A") return "added";
  if (xy.includes("D")) return "deleted";
  if (xy.includes("T")) return "typechange";
  if (xy.includes("R")) return "renamed";
  if (xy.includes("C")) return "copied";
  return "modified";
}
