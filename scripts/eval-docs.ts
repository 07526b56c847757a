/**
 * `bun scripts/eval-docs.ts [eval flags...]`: run the released binary's evaluation on this machine and commit-ready
 * write it as docs/evaluation.md with its charts and figures in docs/evaluation/. Needs `bun run build` first; the
 * host CLIs come from node_modules/.bin (devDependencies), as an operator's global installs would.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FiguresSchema, renderReport } from "../src/eval/index.ts";
import * as v from "valibot";

const root = join(import.meta.dir, "..");
const out = join(root, "docs", "evaluation");
const bin = process.env.PAPERCLIP_AOS_BIN ?? join(root, "dist", "paperclip-aos");
const p = Bun.spawn([bin, "eval", "--out", out, ...process.argv.slice(2)], {
  env: { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}` },
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
