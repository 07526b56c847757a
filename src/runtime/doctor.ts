import { existsSync } from "node:fs";
import { access, statfs, stat, constants } from "node:fs/promises";
import { dirname, join } from "node:path";
import { assetProvider, resolveAssets, type RuntimeAssets, type SoftwareName } from "./assets.ts";
import { PI_BUNDLE_PATCH_ID } from "./pi-bundle-patch.ts";
import { bootVm } from "./vm.ts";
import { sidecarLogPath } from "./sidecar-wrapper.ts";
import { SIDECAR_PATCHES } from "./sidecar-patch.ts";
import { sweepStaleTempDirs, tempRoot } from "./tmp.ts";
import { cacheDir, stateDir } from "../paths.ts";
import { errorMessage, firstLine } from "../errors.ts";
import { ENGINE_TOKEN_ENV, ENGINE_TOKEN_HINT, ENGINE_TOKEN_MIN_LENGTH, locateRivet } from "../rivet/index.ts";

/** The shape Paperclip's adapter `testEnvironment()` returns, so an adapter can pass `doctor --json` straight through. */
export interface DoctorCheck {
  code: string;
  level: "info" | "warn" | "error";
  message: string;
  detail?: string;
  hint?: string;
}
export interface DoctorReport {
  adapterType: "agentos_local";
  status: "pass" | "warn" | "fail";
  checks: DoctorCheck[];
  testedAt: string;
  timings: { prepareMs?: number; bootMs?: number; firstExecMs?: number };
}

const MB = 2 ** 20;

export async function runDoctor(opts: { onCheck?: (c: DoctorCheck) => void } = {}): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const timings: DoctorReport["timings"] = {};
  const add = (c: DoctorCheck) => {
    checks.push(c);
    opts.onCheck?.(c);
  };

  for (const [code, dir, what] of [
    ["cache_dir", cacheDir(), "cache"],
    ["state_dir", stateDir(), "state"],
  ] as const) {
    // A check, not a set-up: a dir that does not exist yet is not made here (the first command that needs it makes
    // it), only whether it could be is said. (The cache dir is made later all the same when doctor extracts the
    // runtime into it to boot its VM: that is what the cache dir is for.)
    try {
      const missing = await writableOrCreatable(dir);
      add({ code, level: "info", message: missing ? `${what} dir ${dir} does not exist yet; it can be created (${missing} is writable)` : `${what} dir ${dir} is writable` });
    } catch (e) {
      const env = code === "cache_dir" ? "PAPERCLIP_AOS_CACHE" : "PAPERCLIP_AOS_HOME";
      add({ code, level: "error", message: `${what} dir ${dir} is not writable`, detail: errorMessage(e), hint: `set ${env} to a writable directory` });
    }
  }

  add(await workerCheck());

  try {
    // The cache dir may not exist yet: its filesystem is the one of its nearest existing ancestor.
    let at = cacheDir();
    while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
    const fs = await statfs(at);
    const free = fs.bavail * fs.bsize;
    const level = free < 300 * MB ? "error" : free < 1024 * MB ? "warn" : "info";
    add({
      code: "free_disk",
      level,
      message: `${(free / 2 ** 30).toFixed(1)} GB free for the cache`,
      ...(level !== "info" ? { hint: "the extracted runtime needs about 400 MB; free space or set PAPERCLIP_AOS_CACHE" } : {}),
    });
  } catch (e) {
    add({ code: "free_disk", level: "warn", message: "could not measure free disk space", detail: errorMessage(e) });
  }

  // Temp dirs of runs that are gone (a SIGKILLed or crashed run): ours under the cache, and the import caches older
  // versions left in the system temp dir.
  try {
    const swept = sweepStaleTempDirs({ legacy: true });
    add({
      code: "temp_dirs",
      level: "info",
      message: swept.removed.length
        ? `removed ${swept.removed.length} temp dir${swept.removed.length > 1 ? "s" : ""} of runs that are gone`
        : `no temp dirs of finished runs left; the runtime's temp dirs live in ${tempRoot()} (mode 0700)`,
      ...(swept.removed.length ? { detail: `${swept.removed.slice(0, 10).join(", ")}${swept.removed.length > 10 ? ` (+${swept.removed.length - 10} more)` : ""}` } : {}),
    });
  } catch (e) {
    add({ code: "temp_dirs", level: "warn", message: "could not sweep stale temp dirs", detail: errorMessage(e) });
  }
  // agentOS 0.2.21 limits a user should know before trusting a run (docs/agentos.md, README "Known limits").
  add({
    code: "limit_guest_env_paths",
    level: "info",
    message:
      "agentOS 0.2.21 shows every guest process AGENTOS_GUEST_PATH_MAPPINGS and AGENTOS_EXTRA_FS_* (/proc/self/environ, process.env, /proc/1/cmdline): " +
      "the guest can read the host path of the VM's shadow root under the cache dir; they cannot be hidden",
  });
  add({
    code: "limit_child_spin",
    level: "info",
    message:
      "a node program in the VM that starts a child process of its own spins until agentOS's CPU-time limit (about 90 s); " +
      "--timeout and SIGTERM/SIGINT still end such a run promptly (exit 124, 143/130)",
  });
  add({
    code: "limit_node_entry",
    level: "info",
    message:
      "node started on a bare file name in /workspace (`node test.mjs`) does not start ('command not found: node'; a .js in a module package loads as CommonJS), " +
      "and once that file was started by a path the bare name runs a stale copy after an edit: start node files by path (`node ./test.mjs`, `node /workspace/test.mjs`)",
  });
  add({
    code: "limit_nested_shell",
    level: "info",
    message:
      "a shell started by another program's shell (`sh -c ls`, `bash -c 'cat x'`) hangs when it starts a program, until the run's --timeout " +
      "(agentOS's sidecar never answers that start: docs/agentos.md, Starting programs): run commands in the shell itself (`ls`, `ls && cat x`); " +
      "Codex's codex-exec would run its commands in such a shell: our bridge relays each one to a bash it starts itself, in the same VM under the same policy, cwd and env " +
      "(its stdin is not relayed). That no program started anywhere on the sidecar while a WASM process read a pipe " +
      "is fixed in the sidecar this binary embeds",
  });

  // The Rivet engine parts are optional (installed on demand): their absence is information, never a failure.
  const rivet = locateRivet();
  add(
    rivet.found
      ? { code: "engine_parts", level: "info", message: `Rivet engine parts installed: rivetkit ${rivet.rivetkitVersion}, rivet-engine from @rivetkit/engine-cli ${rivet.engineCliVersion} in ${rivet.dir} (${rivet.source === "env" ? "PAPERCLIP_AOS_RIVET_DIR" : "engine install"})`, detail: rivet.enginePath }
      : { code: "engine_parts", level: "info", message: `Rivet engine parts not installed (needed only for worker/run --engine): ${rivet.reason}`, hint: "paperclip-aos engine install" },
  );

  // The engine's shared token, as worker/run --engine of this environment would read it (never its value).
  const token = process.env[ENGINE_TOKEN_ENV]?.trim() ?? "";
  add(
    token.length >= ENGINE_TOKEN_MIN_LENGTH
      ? { code: "engine_token", level: "info", message: `${ENGINE_TOKEN_ENV} is set (worker/run --engine send it to the session actors)` }
      : { code: "engine_token", level: "info", message: `${ENGINE_TOKEN_ENV} is ${token ? "too short" : "not set"} (needed only for worker/run --engine)`, hint: ENGINE_TOKEN_HINT },
  );

  let assetsOk = false;
  try {
    const assets = await resolveAssets();
    timings.prepareMs = Math.round(assets.prepareMs);
    const sidecar = await stat(assets.sidecarBin);
    await access(assets.sidecarBin, constants.X_OK);
    // Only the embedded sidecar carries our fixes of agentOS (src/runtime/sidecar-patch.ts); say which one runs.
    const fixes = assets.origin === "embedded" ? `with our fixes of agentOS: ${SIDECAR_PATCHES.map((p) => p.id).join(", ")}` : "without the embedded one's fixes of agentOS: WASM commands start slower, one waiting to read a pipe stops every program start, and Codex's codex-exec starts at its prompt, not ahead (docs/agentos.md)";
    add({ code: "runtime_assets", level: "info", message: `agentOS sidecar found (${assets.origin}, ${(sidecar.size / MB).toFixed(0)} MB, ${fixes})`, detail: assets.sidecarBin });
    const integrity = await assetProvider().verify?.();
    if (integrity && !integrity.ok) {
      add({ code: "asset_integrity", level: "error", message: "extracted runtime assets are damaged", detail: integrity.problems.join("; "), hint: "delete the cache dir's rt/ folder; the next run extracts again" });
    } else if (integrity) add({ code: "asset_integrity", level: "info", message: "extracted runtime assets match their hashes" });
    for (const bundle of Object.keys(assets.software) as SoftwareName[]) {
      const paths = assets.software[bundle];
      const sizes = await Promise.all(paths.map((p) => stat(p).then((s) => s.size)));
      const note = bundle === "pi" ? `; ${piBundleNote(assetProvider().origin)}` : "";
      add({ code: `software_${bundle}`, level: "info", message: `software '${bundle}' present (${paths.length} package${paths.length > 1 ? "s" : ""}, ${(sizes.reduce((a, b) => a + b, 0) / MB).toFixed(0)} MB${note})` });
    }
    assetsOk = true;
  } catch (e) {
    add({ code: "runtime_assets", level: "error", message: `runtime assets missing: ${firstLine(e)}`, hint: "run 'bun install' (from source) or rebuild the binary" });
  }

  if (assetsOk) {
    try {
      const t0 = performance.now();
      const handle = await bootVm({});
      timings.bootMs = Math.round(performance.now() - t0);
      add({ code: "sidecar_start", level: "info", message: `sidecar started and VM booted in ${timings.bootMs} ms` });
      try {
        const t1 = performance.now();
        const r = await handle.vm.process.exec("echo paperclip-aos-ok", { output: { capture: "all" } });
        timings.firstExecMs = Math.round(performance.now() - t1);
        if (r.exitCode === 0 && (r.stdout ?? "").includes("paperclip-aos-ok")) {
          add({ code: "vm_exec", level: "info", message: `VM ran 'echo' in ${timings.firstExecMs} ms (first exec warms the shell)` });
        } else {
          add({ code: "vm_exec", level: "error", message: `VM 'echo' failed with exit ${r.exitCode}`, detail: (r.stderr ?? "").slice(0, 500) });
        }
      } finally {
        await handle.close();
      }
    } catch (e) {
      add({ code: "sidecar_start", level: "error", message: firstLine(e), hint: `see ${sidecarLogPath()}` });
    }
  }

  const status = checks.some((c) => c.level === "error") ? "fail" : checks.some((c) => c.level === "warn") ? "warn" : "pass";
  return { adapterType: "agentos_local", status, checks, testedAt: new Date().toISOString(), timings };
}

/**
 * Throws unless `dir` is a writable directory or could be made: then it returns undefined when it exists, else its
 * nearest existing ancestor (a writable, searchable directory). Nothing is created.
 */
async function writableOrCreatable(dir: string): Promise<string | undefined> {
  let at = dir;
  for (;;) {
    const st = await stat(at).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT" && dirname(at) !== at) return undefined;
      throw e;
    });
    if (st) {
      if (!st.isDirectory()) throw new Error(`${at} is not a directory`);
      await access(at, constants.W_OK | constants.X_OK);
      return at === dir ? undefined : at;
    }
    at = dirname(at);
  }
}

/** Whether a warm worker (`serve`) runs for this state dir, and what it keeps warm and runs: info either way. */
async function workerCheck(): Promise<DoctorCheck> {
  // The client's light face only (no sidecar pool, no heartbeat code): loaded when doctor runs, not with the runtime.
  const [{ workerStatus }, { defaultSocketPath }] = await Promise.all([import("../worker/light.ts"), import("../worker/socket.ts")]);
  const path = defaultSocketPath();
  try {
    const s = (await workerStatus(path)) as import("../worker/server.ts").WorkerStatus;
    const warm = s.warm.sidecarReady
      ? `a sidecar (first shell and Pi session done), ${s.warm.spares.ready} spare VM${s.warm.spares.ready === 1 ? "" : "s"}, ${s.warm.resumable.ready} session${s.warm.resumable.ready === 1 ? "" : "s"} with the next VM ready`
      : "nothing yet (its sidecar is warming)";
    return {
      code: "worker",
      level: "info",
      message: `a worker runs (pid ${s.pid}, ${path}): ${s.running} of ${s.limits.concurrency} heartbeats running, ${s.queued} queued; warm: ${warm}`,
      hint: "paperclip-aos serve --status shows it all",
    };
  } catch (e) {
    const code = (e as { code?: string }).code;
    // workerStatus read the starting worker's pid already: its error says it.
    if (code === "worker_starting") return { code: "worker", level: "info", message: firstLine(e) };
    if (code !== "worker_not_running") {
      return { code: "worker", level: "warn", message: `the worker at ${path} did not tell its status: ${firstLine(e)}`, hint: "stop it and start 'paperclip-aos serve' again" };
    }
    return {
      code: "worker",
      level: "info",
      message: "no worker runs: run and exec start a sidecar and boot a VM of their own each time",
      hint: "'paperclip-aos serve' keeps one warm, so they start sooner (docs/worker.md)",
    };
  }
}

/**
 * Only the compiled binary's Pi package has its SDK bundle one byte per character (src/runtime/pi-bundle-patch.ts,
 * applied by scripts/build.ts); a run from source gets agentOS's own package, whose bundle each Pi session holds as a
 * two-byte string (docs/worker.md).
 */
function piBundleNote(origin: RuntimeAssets["origin"]): string {
  return origin === "embedded"
    ? `its SDK bundle patched to one byte per character (${PI_BUNDLE_PATCH_ID}): a Pi session holds it as a 7.9 MB string, not 15.9 MB`
    : "agentOS's own package, unpatched: each Pi session holds its SDK bundle as a 15.9 MB two-byte string (the compiled binary embeds it patched)";
}
