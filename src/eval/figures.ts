import * as v from "valibot";

/**
 * Every figure the evaluation measures, as one JSON document (`figures.json` beside the report). The report's prose,
 * charts and answers are computed from this document alone, so each number in the Markdown can be traced back to a
 * measurement here (the e2e test checks that).
 */

const Ms = v.pipe(v.number(), v.minValue(0));

/** One heartbeat as the evaluation saw it from outside: wall time, exit code, what the result said. */
export const HeartbeatSampleSchema = v.strictObject({
  wallMs: Ms,
  exitCode: v.number(),
  errorCode: v.nullable(v.string()),
  peakRssMb: v.pipe(v.number(), v.minValue(0)),
});
export type HeartbeatSample = v.InferOutput<typeof HeartbeatSampleSchema>;

export const LatencySchema = v.strictObject({
  agent: v.string(),
  agentos: v.strictObject({ cold: v.array(HeartbeatSampleSchema), resumed: v.array(HeartbeatSampleSchema) }),
  /** The same heartbeats handed to a warm worker (`paperclip-aos serve`) by `run`. */
  worker: v.nullable(v.strictObject({ cold: v.array(HeartbeatSampleSchema), resumed: v.array(HeartbeatSampleSchema) })),
  workerMissing: v.nullable(v.string()),
  /** The agent's own CLI on the host, as Paperclip's local adapters run it, against the same gateway. */
  host: v.nullable(v.strictObject({ command: v.string(), cold: v.array(HeartbeatSampleSchema), resumed: v.array(HeartbeatSampleSchema) })),
  /** Why there is no host baseline (the CLI is not installed here, ...). */
  hostMissing: v.nullable(v.string()),
});
export type Latency = v.InferOutput<typeof LatencySchema>;

export const ChainLinkSchema = v.strictObject({
  index: v.number(),
  /** normal · killed (SIGTERM mid-run; the next link must still resume) · sidecar-crash (the sidecar SIGKILLed mid-run). */
  kind: v.picklist(["normal", "killed", "sidecar-crash"]),
  exitCode: v.number(),
  errorCode: v.nullable(v.string()),
  /** init said resumed: true. */
  resumed: v.boolean(),
  /** The model request of this heartbeat carried the first heartbeat's marker word (history intact). */
  historyIntact: v.boolean(),
  wallMs: Ms,
});
export type ChainLink = v.InferOutput<typeof ChainLinkSchema>;

export const ResumeSchema = v.strictObject({ agent: v.string(), links: v.array(ChainLinkSchema) });
export type Resume = v.InferOutput<typeof ResumeSchema>;

export const TranscriptSchema = v.strictObject({
  agent: v.string(),
  /** Paperclip transcript kinds and whether the heartbeat's stream filled each. */
  kinds: v.record(v.string(), v.boolean()),
  toolCalls: v.number(),
  toolResults: v.number(),
  /** tool_call/tool_result pairs that share a toolUseId. */
  paired: v.number(),
  linesOverLimit: v.number(),
  /** The failed heartbeat's errorMessage, and whether it reads as one line of words (no raw JSON body). */
  errorText: v.string(),
  errorReadable: v.boolean(),
});
export type Transcript = v.InferOutput<typeof TranscriptSchema>;

export const EscapeSchema = v.strictObject({
  id: v.string(),
  /** The class of escape, as the security suite names them (rename, protected-file, host-tool, env, network, ...). */
  class: v.string(),
  what: v.string(),
  contained: v.boolean(),
  detail: v.string(),
});
export type Escape = v.InferOutput<typeof EscapeSchema>;

export const RootModeSchema = v.strictObject({
  /** Preparing the tree the heartbeat starts from (snapshot build and mount, or git worktree add). */
  setupMs: Ms,
  /** The run on it, start to end. */
  runMs: Ms,
  /** Extra disk this mode used for the run's tree (store growth, or the worktree's size). */
  diskMb: v.pipe(v.number(), v.minValue(0)),
  /** The run's output exists where the workload needs it afterwards. */
  outputKept: v.boolean(),
  /** The source tree is unchanged by the run (nothing to clean up). */
  sourceUntouched: v.boolean(),
});

export const WorkloadClassSchema = v.strictObject({
  name: v.picklist(["routine", "preview", "artifact", "repo-edit"]),
  what: v.string(),
  /** The workload needs the run's changes afterwards as a tree in the repository (git history, many files). */
  needsChangesInRepo: v.boolean(),
  snapshot: RootModeSchema,
  worktree: RootModeSchema,
});
export type WorkloadClass = v.InferOutput<typeof WorkloadClassSchema>;

export const CapsFitSchema = v.strictObject({
  /** Each capability of the vocabulary and where it is enforced ("kernel", "host", or "not enforceable: why"). */
  capabilities: v.array(v.strictObject({ name: v.string(), enforcedBy: v.string(), enforceable: v.boolean() })),
  /** Per agent: its workload finished under the default preset with no denial it needed to succeed. */
  agentsWithinDefault: v.record(v.string(), v.boolean()),
});

export const ToolOpSchema = v.strictObject({
  tool: v.string(),
  /** The same operation attempted inside the VM by the agent without the tool, under the default policy. */
  inVmWithoutTool: v.picklist(["works", "fails", "needs-forbidden-capability"]),
  inVmDetail: v.string(),
  /** `tool invoke` on the host answered correctly. */
  toolWorks: v.boolean(),
  invokeMs: Ms,
});
export type ToolOp = v.InferOutput<typeof ToolOpSchema>;

export const ResourcesSchema = v.strictObject({
  agent: v.string(),
  peakRssMb: v.pipe(v.number(), v.minValue(0)),
  /** Growth of the state dir over one heartbeat (session database, transcript). */
  stateDiskMbPerHeartbeat: v.pipe(v.number(), v.minValue(0)),
});

export const FiguresSchema = v.strictObject({
  schema: v.literal("paperclip-aos/eval@1"),
  generatedAt: v.string(),
  machine: v.strictObject({ cpus: v.number(), memoryGiB: v.number(), platform: v.string(), version: v.string(), agentos: v.string(), loadAvg1m: v.number() }),
  config: v.strictObject({ quick: v.boolean(), runs: v.number(), chain: v.number(), agents: v.array(v.string()), model: v.string() }),
  latency: v.array(LatencySchema),
  resume: v.array(ResumeSchema),
  transcript: v.array(TranscriptSchema),
  isolation: v.array(EscapeSchema),
  roots: v.strictObject({ coldBuildMs: Ms, files: v.number(), classes: v.array(WorkloadClassSchema) }),
  caps: CapsFitSchema,
  tools: v.array(ToolOpSchema),
  resources: v.array(ResourcesSchema),
});
export type Figures = v.InferOutput<typeof FiguresSchema>;
export type CapsFit = v.InferOutput<typeof CapsFitSchema>;
export type Resources = v.InferOutput<typeof ResourcesSchema>;

/** The Paperclip transcript kinds a heartbeat's stream can fill (Paperclip's TranscriptEntry kinds we map onto). */
export const PAPERCLIP_KINDS = ["init", "assistant", "thinking", "tool_call", "tool_result", "usage", "system", "result"] as const;

export function median(xs: number[]): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function quantile(xs: number[], q: number): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}
