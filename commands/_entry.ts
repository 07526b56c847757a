import type { MainOptions } from "./main.ts";

/**
 * What both entries (cli.ts, cli.compiled.ts) run. `tool invoke` first tries its fast path (_fast.ts), which loads
 * only the tool's own modules; everything else, and every `tool invoke` the fast path leaves, is main's. main is
 * imported here, not at the top, so the fast path does not load it.
 */
export async function start(argv: string[], options: MainOptions = {}): Promise<never> {
  if (argv[0] === "tool" && argv[1] === "invoke") {
    const code = await (await import("./_fast.ts")).fastToolInvoke(argv.slice(2));
    if (code !== null) exitNow(code);
  }
  normalJit();
  return (await import("./main.ts")).main(argv, options);
}

/**
 * The compiled binary starts with a JIT slow to compile (scripts/build.ts, START_JIT_POLICY): right for the fast
 * path, which runs its code once and ends, wrong for a worker or a run. Everything else gets the normal policy back
 * before it loads anything. Under `bun run` the policy is already 1.
 */
function normalJit(): void {
  Bun.unsafe.setJITPolicy(1);
}

/**
 * End the process as process.exit does, without its 'exit' event (nothing listens on the fast path): Bun's
 * process.exit emits it and then calls reallyExit, which ends the process the same way (stdout written, the code
 * kept). Measured with perf stat, 150 runs each at load 15-18: 1.6 ms less CPU per `tool invoke git.status`.
 */
function exitNow(code: number): never {
  const reallyExit = (process as unknown as { reallyExit?: (code: number) => never }).reallyExit;
  return typeof reallyExit === "function" ? reallyExit.call(process, code) : process.exit(code);
}
