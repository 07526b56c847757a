/**
 * `bun scripts/eval-docs.ts [eval flags...]`: run the released binary's evaluation on this machine and commit-ready
 * write it as docs/evaluation.md with its charts and figures in docs/evaluation/. Needs `bun run build` first; the
 * host CLIs come from node_modules/.bin (devDependencies), as an operator's global installs would.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { DRIVERS } from "../src/agents/index.ts";
import { join } from "node:path";
import { FiguresSchema, renderReport } from "../src/eval/index.ts";
import * as v from "valibot";

const root = join(import.meta.dir, "..");
const out = join(root, "docs", "evaluation");
const bin = process.env.PAPERCLIP_AOS_BIN ?? join(root, "dist", "paperclip-aos");
// The compiled binary finds host CLIs on PATH, as an operator's global installs: put the checkout's pinned
// devDependencies there under their CLI names (node_modules/.bin's shims are not always the real thing).
const hostBin = join(root, "node_modules", ".cache", "paperclip-aos-eval-bin");
await rm(hostBin, { recursive: true, force: true });
await mkdir(hostBin, { recursive: true });
for (const d of DRIVERS) {
  const cli = d.hostCli;
  const target = cli && join(root, "node_modules", cli.nodeModulesPath);
  if (cli && target && existsSync(target)) await symlink(target, join(hostBin, cli.bin));
}
const p = Bun.spawn([bin, "eval", "--out", out, ...process.argv.slice(2)], {
  env: { ...process.env, PATH: `${hostBin}:${process.env.PATH}` },
  stdio: ["ignore", "inherit", "inherit"],
});
const code = await p.exited;
if (code !== 0) process.exit(code);
const figures = v.parse(FiguresSchema, JSON.parse(await readFile(join(out, "figures.json"), "utf8")));
const { thresholds, answers } = JSON.parse(await readFile(join(out, "answers.json"), "utf8"));
const page = renderReport(figures, thresholds, answers, { assets: "evaluation/" });
await writeFile(join(root, "docs", "evaluation.md"), page);
// The same report with links for its own folder would be a second copy to keep in step: the page is the one.
await rm(join(out, "report.md"));
process.stderr.write(`wrote docs/evaluation.md and docs/evaluation/\n`);
