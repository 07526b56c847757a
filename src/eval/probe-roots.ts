import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { median, type WorkloadClass } from "./figures.ts";
import { dirSizeMb, selfCommand, spawnMeasured } from "./harness.ts";
import type { ProbeContext } from "./context.ts";

/**
 * The plan's workload classes on both roots: a snapshot root (built once, reused with a disposable upper layer,
 * `exec --snapshot`) and a git worktree (`git worktree add`, then `exec` in it), on a generated repository.
 */
interface ClassSpec {
  name: WorkloadClass["name"];
  what: string;
  needsChangesInRepo: boolean;
  command: string;
  args?: string[];
  /** Snapshot-only flags that keep what the workload produces. */
  snapshotKeep?: (scratch: string) => string[];
  /** Is the output the workload needs where it needs it? */
  kept: (o: { stdout: string; scratch: string; tree: string | null; code: number }) => boolean;
}

const CLASSES: ClassSpec[] = [
  {
    name: "routine",
    what: "a routine heartbeat: read the project, run a check, change nothing that must be kept",
    needsChangesInRepo: false,
    command: "ls -R /workspace | wc -l && cat /workspace/README.md",
    kept: (o) => o.code === 0,
  },
  {
    name: "preview",
    what: "a preview: start a server on port 3000 and request a page of it",
    needsChangesInRepo: false,
    args: ["--allow-listen=3000", "--allow-net=127.0.0.1:3000"],
    command: `node -e ${JSON.stringify(`const s=require("http").createServer((q,r)=>r.end("preview-ok")).listen(3000,()=>{require("http").get("http://127.0.0.1:3000/",(r)=>{let b="";r.on("data",(c)=>b+=c);r.on("end",()=>{console.log(b);s.close();process.exit(0)})}).on("error",(e)=>{console.log("preview-failed",e.message);process.exit(1)})})`)}`,
    kept: (o) => o.stdout.includes("preview-ok"),
  },
  {
    name: "artifact",
    what: "artifact generation: write a report under out/ that must be kept",
    needsChangesInRepo: false,
    command: "mkdir -p /workspace/out && ls -R /workspace/src > /workspace/out/report.txt",
    snapshotKeep: (s) => ["--keep-changes", join(s, "kept")],
    kept: (o) => existsSync(join(o.tree ?? join(o.scratch, "kept"), "out", "report.txt")),
  },
  {
    name: "repo-edit",
    what: "repo-heavy edits: change many files that must land in the repository",
    needsChangesInRepo: true,
    command: "for f in /workspace/src/d1/*.txt; do echo edited >> \"$f\"; done",
    snapshotKeep: (s) => ["--keep-changes", join(s, "kept")],
    kept: (o) => (o.tree ? Bun.spawnSync(["git", "-C", o.tree, "status", "--porcelain"]).stdout.toString().includes("src/d1/") : existsSync(join(o.scratch, "kept", "src", "d1"))),
  },
];

async function makeRepo(dir: string, files: number): Promise<void> {
  const line = "x".repeat(99) + "\n";
  for (let i = 0; i < files; i++) {
    const d = join(dir, "src", `d${i % 10}`);
    if (i < 10) await mkdir(d, { recursive: true });
    await writeFile(join(d, `f${i}.txt`), line.repeat(100));
  }
  await writeFile(join(dir, "README.md"), "# generated repository for the evaluation\n");
  const git = (...a: string[]) => Bun.spawnSync(["git", "-C", dir, ...a], { env: { ...process.env, GIT_AUTHOR_NAME: "eval", GIT_AUTHOR_EMAIL: "eval@localhost", GIT_COMMITTER_NAME: "eval", GIT_COMMITTER_EMAIL: "eval@localhost" } });
  git("init", "-q");
  git("add", ".");
  git("commit", "-qm", "init");
}

function sourceState(dir: string): string {
  return Bun.spawnSync(["git", "-C", dir, "status", "--porcelain", "--ignored"]).stdout.toString() + Bun.spawnSync(["git", "-C", dir, "rev-parse", "HEAD"]).stdout.toString();
}

export interface RootsFigures {
  coldBuildMs: number;
  files: number;
  classes: WorkloadClass[];
}

export async function probeRoots(ctx: ProbeContext): Promise<RootsFigures> {
  const files = ctx.quick ? 200 : 2000;
  const base = join(ctx.scratch, "roots");
  const repo = join(base, "repo");
  const home = join(base, "state");
  await mkdir(repo, { recursive: true });
  ctx.progress(`roots: a repository of ${files} files`);
  await makeRepo(repo, files);
  const env = { PAPERCLIP_AOS_HOME: home, ...(ctx.cache ? { PAPERCLIP_AOS_CACHE: ctx.cache } : {}) };
  const aos = (args: string[], cwd = base) => spawnMeasured([...selfCommand(), ...args], { cwd, env });
  const storeMb = () => dirSizeMb(join(home, "snapshots"));

  ctx.progress("roots: first snapshot build");
  const cold = await aos(["snapshot", "build", repo, "--name", "eval-repo", "--quiet"]);
  if (cold.code !== 0) throw new Error(`snapshot build failed: ${cold.stderr.split("\n")[0]}`);
  const reps = ctx.quick ? 1 : 3;
  const out: WorkloadClass[] = [];
  for (const c of CLASSES) {
    ctx.progress(`roots: ${c.name} on a snapshot root and on a worktree${reps > 1 ? ` (${reps} times)` : ""}`);
    const samples: { snapshot: RootMode; worktree: RootMode }[] = [];
    for (let i = 0; i < reps; i++) samples.push(await runClass(c, join(base, `${c.name}-${i}`), repo, aos, storeMb));
    out.push({ name: c.name, what: c.what, needsChangesInRepo: c.needsChangesInRepo, snapshot: combine(samples.map((x) => x.snapshot)), worktree: combine(samples.map((x) => x.worktree)) });
  }
  return { coldBuildMs: cold.wallMs, files, classes: out };
}

type RootMode = WorkloadClass["snapshot"];
type Aos = (args: string[], cwd?: string) => ReturnType<typeof spawnMeasured>;

/** Medians of the times; the disk of the largest; kept and untouched only when every repetition says so. */
function combine(xs: RootMode[]): RootMode {
  return {
    setupMs: median(xs.map((x) => x.setupMs)),
    runMs: median(xs.map((x) => x.runMs)),
    diskMb: Math.max(...xs.map((x) => x.diskMb)),
    outputKept: xs.every((x) => x.outputKept),
    sourceUntouched: xs.every((x) => x.sourceUntouched),
  };
}

async function runClass(c: ClassSpec, scratch: string, repo: string, aos: Aos, storeMb: () => number): Promise<{ snapshot: RootMode; worktree: RootMode }> {
  await mkdir(scratch, { recursive: true });
  const before = sourceState(repo);
  try {
    // Snapshot root: what a heartbeat pays is the (cached) build that checks the tree is unchanged, then the run.
    const storeBefore = storeMb();
    const setup = await aos(["snapshot", "build", repo, "--name", "eval-repo", "--quiet"]);
    const run = await aos(["exec", "--snapshot", "eval-repo", ...(c.snapshotKeep?.(scratch) ?? []), ...(c.args ?? []), "--", c.command]);
    const snapshot = {
      setupMs: setup.wallMs,
      runMs: run.wallMs,
      diskMb: Math.max(0, storeMb() - storeBefore) + dirSizeMb(join(scratch, "kept")),
      outputKept: c.kept({ stdout: run.stdout, scratch, tree: null, code: run.code }),
      sourceUntouched: sourceState(repo) === before,
    };

    // Worktree: a checkout of its own per heartbeat, as Paperclip's execution workspaces do.
    const tree = join(scratch, "worktree");
    const t0 = performance.now();
    Bun.spawnSync(["git", "-C", repo, "worktree", "add", "-q", "--detach", tree]);
    const wtSetup = performance.now() - t0;
    const wtRun = await aos(["exec", ...(c.args ?? []), "--", c.command], tree);
    const worktree = {
      setupMs: wtSetup,
      runMs: wtRun.wallMs,
      diskMb: dirSizeMb(tree),
      outputKept: c.kept({ stdout: wtRun.stdout, scratch, tree, code: wtRun.code }),
      sourceUntouched: sourceState(repo) === before,
    };
    Bun.spawnSync(["git", "-C", repo, "worktree", "remove", "--force", tree]);
    return { snapshot, worktree };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
