/**
 * What a run shows, by where its output goes:
 * - stdout a terminal (and no --json): the readable transcript there (pretty.ts) instead of NDJSON;
 * - stdout a pipe or file: NDJSON there, and when stderr is a terminal, progress on stderr: the start, each tool call,
 *   what the policy stopped, the summary;
 * - --json: NDJSON on stdout whatever it is.
 * On a terminal a spinner covers the seconds before the first event (the VM boot, the agent's start).
 */
import { startSpinner, spinnerEnabled, type Spinner } from "../progress.ts";
import { logger, stderrIsInteractive, writeStderr as writeStderrSync } from "../log.ts";
import type { RunEvent } from "../protocol/index.ts";
import type { EventSink } from "./events.ts";
import { renderEvent } from "./pretty.ts";

export type RunViewMode = "transcript" | "ndjson+progress" | "ndjson";

export interface RunViewOptions {
  json?: boolean;
  quiet?: boolean;
  stdoutIsTTY?: boolean;
  stderrIsTTY?: boolean;
  /** What the spinner says until the first event. */
  starting?: string;
  writeStdout?: (s: string) => void;
  writeStderr?: (s: string) => void;
}

export interface RunView {
  mode: RunViewMode;
  /** NDJSON goes to stdout (else the sink writes nowhere and the view renders). */
  ndjson: boolean;
  attach(sink: EventSink): void;
  /** Clear the spinner (before an error is printed, at the end). */
  stop(): void;
}

export function chooseRunView(o: { json?: boolean; stdoutIsTTY?: boolean; stderrIsTTY?: boolean; quiet?: boolean }): RunViewMode {
  if (!o.json && o.stdoutIsTTY) return "transcript";
  if (!o.json && !o.quiet && o.stderrIsTTY) return "ndjson+progress";
  return "ndjson";
}

/** Events the stderr progress shows; the rest (the agent's text, tool output) is in the NDJSON. */
const PROGRESS = new Set<RunEvent["type"]>(["init", "tool_call", "permission", "service", "result"]);

export function runView(opts: RunViewOptions = {}): RunView {
  const stdoutIsTTY = opts.stdoutIsTTY ?? Boolean(process.stdout.isTTY);
  const stderrIsTTY = opts.stderrIsTTY ?? stderrIsInteractive();
  const mode = chooseRunView({ json: opts.json, quiet: opts.quiet, stdoutIsTTY, stderrIsTTY });
  const writeStdout = opts.writeStdout ?? ((s: string) => void process.stdout.write(s));
  const writeStderr = opts.writeStderr ?? writeStderrSync;
  let spinner: Spinner | undefined;
  return {
    mode,
    ndjson: mode !== "transcript",
    attach(sink) {
      if (mode !== "ndjson" && !opts.quiet && spinnerEnabled()) spinner = startSpinner(opts.starting ?? "starting the agent in agentOS", { write: writeStderr });
      const state = { midLine: false };
      sink.listen((e) => {
        spinner?.stop();
        if (mode === "transcript") renderEvent(e, writeStdout, state);
        else if (mode === "ndjson+progress" && PROGRESS.has(e.type)) renderEvent(e, writeStderr, state);
        // A policy warning (a secret-looking value passed into the VM, a writable /**) is for the person who started
        // the run: on stderr too, once, when stdout carries NDJSON (the transcript shows it already).
        if (mode !== "transcript" && e.type === "system" && e.level === "warn" && e.code === "policy_warning") logger.warn(e.text);
      });
    },
    stop() {
      spinner?.stop();
    },
  };
}
