import { defineCommand } from "citty";
import { err, globalArgs, printJson, withHelp } from "../_shared.ts";
import { usageError } from "../../src/errors.ts";
import { setSignalHandler } from "../../src/runtime/index.ts";
import { DEFAULT_ENGINE_PORT, defaultEngineDir, requireRivet, startEngine } from "../../src/rivet/index.ts";
import { resolve } from "node:path";

export default withHelp(
  defineCommand({
    meta: {
      name: "start",
      description:
        "Run rivet-engine in the foreground: file-system storage in --dir, every listener on 127.0.0.1 (port N, N+1 and N+10), " +
        "telemetry off. Prints the endpoint (stdout) once the engine answers; workers and clients connect to it with --engine URL. " +
        "SIGTERM or Ctrl-C stops the engine (exit 143 or 130); an engine that ends by itself is exit 1. Exit 3 when the engine parts are not installed.",
    },
    args: {
      ...globalArgs,
      dir: { type: "string", valueHint: "DIR", description: "Storage and log directory (default <state dir>/rivet-engine; kept across starts)" },
      port: { type: "string", valueHint: "N", description: `Public port (default ${DEFAULT_ENGINE_PORT}); the peer API takes N+1, metrics N+10` },
    },
    async run({ args }) {
      const port = args.port === undefined ? DEFAULT_ENGINE_PORT : Number(args.port);
      if (!Number.isInteger(port)) throw usageError(`--port must be a port number, got '${args.port}'`, `for example --port ${DEFAULT_ENGINE_PORT}`);
      const parts = requireRivet();
      const say = (m: string) => !args.quiet && !args.json && err(`${m}\n`);
      const engine = await startEngine({ enginePath: parts.enginePath, dir: resolve(args.dir ?? defaultEngineDir()), port, onProgress: say });
      const stopped = new Promise<string>((r) => setSignalHandler((sig) => r(sig)));
      if (args.json) printJson({ endpoint: engine.endpoint, pid: engine.pid, version: engine.version, dir: engine.dir, configFile: engine.configFile, logFile: engine.logFile });
      else {
        say(`rivet-engine ${engine.version} (pid ${engine.pid}) answers; Ctrl-C stops it`);
        console.log(engine.endpoint);
      }
      const why = await Promise.race([stopped, engine.exited.then((c) => ({ exited: c }))]);
      setSignalHandler(undefined);
      if (typeof why === "object") {
        err(`error: rivet-engine exited by itself (${why.exited}); its log: ${engine.logFile}\n`);
        return 1;
      }
      say(`stopping rivet-engine (${why})`);
      await engine.stop();
      return why === "SIGINT" ? 130 : why === "SIGTERM" ? 143 : 129;
    },
  }),
  {
    exitCodes: [["1", "the engine ended by itself, or did not start"], ["2", "invalid input"], ["3", "the engine parts are not installed (paperclip-aos engine install)"], ["130/143", "stopped by SIGINT (Ctrl-C) / SIGTERM"]],
    examples: [
      ["paperclip-aos engine start", "http://127.0.0.1:6420, storage in <state dir>/rivet-engine"],
      ["paperclip-aos engine start --dir /srv/rivet --port 7420", "elsewhere; workers then use --engine http://127.0.0.1:7420"],
      ["paperclip-aos engine start --json", "one line {endpoint, pid, version, dir, configFile, logFile} once it answers"],
    ],
  },
);
