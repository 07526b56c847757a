#!/usr/bin/env node
// codex-acp: an ACP agent (JSON-RPC 2.0, one message per line on stdin/stdout) in front of Codex's WASM build.
// agentOS ships Codex as a command (`codex-exec`) without an ACP entrypoint; this bridge is that entrypoint. Each
// prompt runs one `codex-exec --session-turn` (newline JSON: a `start` message in; start, text_delta,
// tool_call_update, permission_request, done, error out) with the session's earlier turns as `history`.
// Configuration (model provider, token variable, instructions) is Codex's own $CODEX_HOME/config.toml, written by
// paperclip-aos before the session opens (for a session opened before its run: $PAPERCLIP_CODEX_RUN_CONFIG, copied
// there at each turn). Dependency-free on purpose: it runs in the VM's node.
import { spawn } from "node:child_process";
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";

const HOME = process.env.HOME || "/home/agentos";
const CODEX_HOME = process.env.CODEX_HOME || `${HOME}/.codex`;
// A VM prepared before its run (paperclip-aos's spare VMs) gets the run's Codex config here once a run takes it.
const RUN_CONFIG = process.env.PAPERCLIP_CODEX_RUN_CONFIG;
// Start a session's first codex-exec when the session opens (startCodexExec): paperclip-aos sets it only where the
// sidecar lets a process wait on its stdin without stalling the sidecar's other VMs.
const EXEC_AHEAD = process.env.PAPERCLIP_CODEX_EXEC_AHEAD === "1";

// The shell relay. In agentOS 0.2.21 a program whose parent is a WASM process cannot start a program, and
// codex-exec (WASM) runs each command as `bash -lc …` with the `bash` it finds on its PATH, so a command that
// starts `ls` would hang. The first directory of codex-exec's PATH holds a `bash` of ours: a node script that
// writes its argv, cwd and env as a request into the spool, and copies the files the bridge fills back to its
// stdout and stderr as they grow, then exits with the command's status. The bridge (started by the host, so its
// children can start programs) runs the real bash with that argv, cwd and env, the relay's directory taken off
// PATH again. The spool gives a command nothing it could not do itself: same VM, same policy, its own argv, cwd and
// env (a request planted by hand runs as if the command had run it). docs/agentos.md, "Starting programs".
const RELAY_DIR = `/tmp/paperclip-codex-relay-${process.pid}`;
const SPOOL = `${RELAY_DIR}/spool`;
const POLL_MS = 15;
const RELAY_SOURCE = `#!/usr/bin/env node
const fs = require("node:fs");
const dir = ${JSON.stringify(SPOOL)} + "/" + process.pid + "-" + Date.now() + "-" + Math.random().toString(36).slice(2);
fs.mkdirSync(dir + ".tmp");
fs.writeFileSync(dir + ".tmp/req.json", JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd(), env: process.env }));
fs.renameSync(dir + ".tmp", dir);
const streams = [{ file: dir + "/out", to: 1, at: 0 }, { file: dir + "/err", to: 2, at: 0 }];
const buf = Buffer.alloc(65536);
function pump(s) {
  if (s.fd === undefined) { try { s.fd = fs.openSync(s.file, "r"); } catch { return; } }
  for (let n; (n = fs.readSync(s.fd, buf, 0, buf.length, s.at)) > 0; s.at += n) {
    // agentOS 0.2.21 answers a node process's write to a pipe from its WASM parent with ENOENT
    // ("no such file: /pipe:N:write") after the bytes were delivered (measured): the write is done.
    try { fs.writeSync(s.to, buf.subarray(0, n)); } catch (e) { if (e.code !== "ENOENT") throw e; }
  }
}
const tick = setInterval(() => {
  const done = fs.existsSync(dir + "/status");
  for (const s of streams) pump(s);
  if (!done) return;
  clearInterval(tick);
  const status = Number(fs.readFileSync(dir + "/status", "utf8"));
  fs.rmSync(dir, { recursive: true, force: true });
  process.exitCode = status;
}, ${POLL_MS});
`;

/** The real bash: the first on the bridge's PATH (codex-exec's own PATH without the relay). */
function findBash(path) {
  for (const d of String(path || "").split(":")) if (d && existsSync(`${d}/bash`)) return `${d}/bash`;
  return "bash";
}
const REAL_BASH = findBash(process.env.PATH);

/** The relay's directory, made afresh (nothing left there by an earlier process is trusted); false if /tmp refuses. */
function installRelay() {
  try {
    rmSync(RELAY_DIR, { recursive: true, force: true });
    mkdirSync(SPOOL, { recursive: true });
    writeFileSync(`${RELAY_DIR}/bash`, RELAY_SOURCE);
    chmodSync(`${RELAY_DIR}/bash`, 0o755);
    return true;
  } catch (e) {
    process.stderr.write(`codex-acp: no shell relay (${e.message}): Codex's commands run in codex-exec's own bash\n`);
    return false;
  }
}
const RELAY = installRelay();

/** Serves the spool while a turn runs: each request once (it stays taken until its relay removes it). */
function serveRelay() {
  const taken = new Set();
  const running = new Set();
  const timer = setInterval(() => {
    let names;
    try { names = readdirSync(SPOOL); } catch { return; }
    for (const name of taken) if (!names.includes(name)) taken.delete(name);
    for (const name of names) {
      if (name.endsWith(".tmp") || taken.has(name)) continue;
      taken.add(name);
      runRequest(`${SPOOL}/${name}`, running);
    }
  }, POLL_MS);
  // A command still running when its turn ends goes with the turn, as codex-exec's own children do.
  return () => {
    clearInterval(timer);
    for (const child of running) child.kill("SIGKILL");
  };
}

/**
 * One spool request. The spool is in the VM's /tmp, where the agent can write too: a request whose files are not
 * what the relay makes (planted, a link, a directory where a file goes) fails alone, with its error where its
 * command reads (err, and status 126), and the bridge goes on; an error here must never end the bridge, and the
 * heartbeat with it.
 */
async function runRequest(dir, running) {
  try {
    await relayCommand(dir, running);
  } catch (e) {
    const message = `codex relay: this request failed: ${e && e.message ? e.message : String(e)}`;
    process.stderr.write(`codex-acp: ${message}\n`);
    try { writeFileSync(`${dir}/err`, `${message}\n`, { flag: "a" }); } catch {}
    try {
      writeFileSync(`${dir}/status.tmp`, "126");
      renameSync(`${dir}/status.tmp`, `${dir}/status`);
    } catch {}
  }
}

/** One relayed command: the real bash with the request's argv, cwd and env, its stdout and stderr into the spool. */
async function relayCommand(dir, running) {
  let req;
  try { req = JSON.parse(readFileSync(`${dir}/req.json`, "utf8")); } catch { return; }
  // The command's env is no longer than needed in /tmp (a turn killed mid-command leaves the rest of its request).
  rmSync(`${dir}/req.json`, { force: true });
  const argv = Array.isArray(req.argv) ? req.argv.map(String) : [];
  const env = { ...req.env };
  env.PATH = String(env.PATH || "").split(":").filter((d) => d !== RELAY_DIR).join(":");
  const fds = [];
  let status;
  try {
    const out = openSync(`${dir}/out`, "w");
    fds.push(out);
    const err = openSync(`${dir}/err`, "w");
    fds.push(err);
    status = await new Promise((resolve) => {
      const failed = (e) => {
        try { writeFileSync(err, `bash: ${e.message}\n`); } catch {}
        resolve(127);
      };
      let child;
      try { child = spawn(REAL_BASH, argv, { cwd: String(req.cwd || "/"), env, stdio: ["ignore", out, err] }); } catch (e) { return failed(e); }
      running.add(child);
      child.on("error", failed);
      child.on("exit", (code, signal) => { running.delete(child); resolve(code ?? 128 + (signal === "SIGKILL" ? 9 : signal === "SIGINT" ? 2 : 15)); });
    });
  } finally {
    for (const fd of fds) try { closeSync(fd); } catch {}
  }
  writeFileSync(`${dir}/status.tmp`, String(status));
  renameSync(`${dir}/status.tmp`, `${dir}/status`);
}
const sessions = new Map();
let nextId = 1;
const pending = new Map();

function send(msg) {
  process.stdout.write(`${JSON.stringify({ jsonrpc: "2.0", ...msg })}\n`);
}
const reply = (id, result) => send({ id, result });
const fail = (id, message, code = -32603) => send({ id, error: { code, message } });
const notify = (method, params) => send({ method, params });
function request(method, params) {
  const id = `codex-acp-${nextId++}`;
  send({ id, method, params });
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}
const update = (sessionId, u) => notify("session/update", { sessionId, update: u });

/** The model named in config.toml: the start message's `model` overrides the config's, so it must be sent. */
function configuredModel() {
  try {
    const m = /^model\s*=\s*"([^"]+)"/m.exec(readFileSync(`${CODEX_HOME}/config.toml`, "utf8"));
    return m ? m[1] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * codex-exec's error events carry Rust's debug form of its error, `ErrorEvent { message: "…", codex_error_info: … }`:
 * the message alone, unescaped, is what a person reads.
 */
function errorText(raw) {
  const m = /^\s*ErrorEvent \{ message: "((?:[^"\\]|\\.)*)"/.exec(raw);
  if (!m) return raw.trim() || "codex failed";
  const esc = { n: " ", r: " ", t: " ", 0: "" };
  return m[1].replace(/\\(u\{([0-9a-fA-F]+)\}|.)/g, (_, c, hex) => (hex ? String.fromCodePoint(parseInt(hex, 16)) : c in esc ? esc[c] : c)).trim();
}

function promptText(blocks) {
  return (blocks || []).map((b) => (b && b.type === "text" ? b.text : b && b.type === "resource" && b.resource && b.resource.text ? b.resource.text : "")).join("");
}

/** The run's config in place of the one the session opened with, when there is one (codex-exec reads it at its start). */
function takeRunConfig() {
  if (RUN_CONFIG && existsSync(RUN_CONFIG)) copyFileSync(RUN_CONFIG, `${CODEX_HOME}/config.toml`);
}

/**
 * A codex-exec for the session's next turn, started now: its WASM start (~1-2.5 s in agentOS) then happens before
 * the prompt, while it waits for its start message on stdin. It reads its config only after that message, so the run's
 * config copied at the prompt still applies. Until the turn takes it, what it prints is kept, and if it ends it is
 * forgotten (the turn starts another). A wait like this stalled every other VM's calls on the sidecar with agentOS
 * 0.2.21's runner; the sidecar paperclip-aos embeds waits in the runner instead (src/runtime/sidecar-patch.ts), and
 * only with that one does paperclip-aos set EXEC_AHEAD.
 */
function startCodexExec(session) {
  const env = { ...process.env, CODEX_HOME, ...(RELAY ? { PATH: `${RELAY_DIR}:${process.env.PATH || ""}` } : {}) };
  const child = spawn("codex-exec", ["--session-turn"], { cwd: session.cwd, env, stdio: ["pipe", "pipe", "pipe"] });
  const early = { out: [], err: [], exited: false, startedAt: Date.now() };
  const keepOut = (d) => early.out.push(d);
  const keepErr = (d) => early.err.push(d);
  child.stdout.on("data", keepOut);
  child.stderr.on("data", keepErr);
  child.on("error", () => { early.exited = true; });
  child.on("exit", () => { early.exited = true; if (session.ahead && session.ahead.child === child) session.ahead = undefined; });
  return {
    child,
    early,
    /** Hands the child over: what it printed so far is replayed to the turn's listeners, which get the rest. */
    take() {
      child.stdout.off("data", keepOut);
      child.stderr.off("data", keepErr);
      return early;
    },
  };
}

function runTurn(session, text) {
  takeRunConfig();
  return new Promise((resolve) => {
    let started = session.ahead;
    session.ahead = undefined;
    let fresh;
    if (!started || started.early.exited || started.child.exitCode !== null) {
      if (started) try { started.child.kill("SIGKILL"); } catch {}
      started = fresh = startCodexExec(session);
    }
    const child = started.child;
    const stopRelay = RELAY ? serveRelay() : () => {};
    session.child = child;
    let answer = "";
    let finished = false;
    const tools = new Set();
    const done = (stopReason, error) => {
      if (finished) return;
      finished = true;
      session.child = undefined;
      stopRelay();
      try { child.stdin.end(); } catch {}
      resolve({ stopReason, answer, error });
    };
    const early = started.take();
    // Says (with --debug) whether this turn's codex-exec had its WASM start before the prompt.
    process.stderr.write(started === fresh ? "codex-acp: this turn's codex-exec was started at its prompt\n" : `codex-acp: this turn's codex-exec was started ${Date.now() - early.startedAt} ms before its prompt\n`);
    for (const d of early.err) process.stderr.write(d);
    child.stderr.on("data", (d) => process.stderr.write(d));
    child.on("error", (e) => done("end_turn", `codex-exec did not start: ${e.message}`));
    child.on("exit", (code) => done(session.cancelled ? "cancelled" : "end_turn", code ? `codex-exec exited with ${code}` : undefined));
    onJsonLines(child.stdout, handle, (line) => process.stderr.write(`codex-acp: not JSON from codex-exec: ${line}\n`), early.out);
    async function handle(ev) {
      switch (ev.type) {
        case "text_delta":
          answer += ev.delta || "";
          update(session.id, { sessionUpdate: "agent_message_chunk", content: { type: "text", text: ev.delta || "" } });
          return;
        case "tool_call_update": {
          const id = String(ev.tool_call_id || "");
          if (!tools.has(id)) {
            tools.add(id);
            update(session.id, { sessionUpdate: "tool_call", toolCallId: id, title: "shell", kind: "execute", status: "pending", rawInput: {} });
          }
          update(session.id, { sessionUpdate: "tool_call_update", toolCallId: id, kind: "execute", status: ev.status === "completed" ? "completed" : ev.status === "failed" ? "failed" : "in_progress" });
          return;
        }
        case "permission_request": {
          let decision = "deny";
          try {
            const r = await request("session/request_permission", {
              sessionId: session.id,
              toolCall: { toolCallId: String(ev.tool_call_id || ""), title: "shell", kind: "execute", status: "pending" },
              options: [{ optionId: "allow_once", name: "Allow once", kind: "allow_once" }, { optionId: "reject_once", name: "Reject", kind: "reject_once" }],
            });
            if (r && r.outcome && r.outcome.outcome === "selected" && String(r.outcome.optionId).startsWith("allow")) decision = "allow";
          } catch {}
          child.stdin.write(`${JSON.stringify({ type: "permission_response", decision })}\n`);
          return;
        }
        case "done":
          return done(session.cancelled ? "cancelled" : "end_turn");
        case "error":
          return done("end_turn", errorText(String(ev.message || "")));
        default:
          return;
      }
    }
    child.stdin.write(`${JSON.stringify({ type: "start", cwd: session.cwd, model: configuredModel(), prompt: text, history: session.history })}\n`);
  });
}

async function onRequest(msg) {
  const { id, method, params = {} } = msg;
  switch (method) {
    case "initialize":
      return reply(id, { protocolVersion: 1, agentCapabilities: { loadSession: false, promptCapabilities: { image: false, audio: false, embeddedContext: true } }, agentInfo: { name: "codex-acp", title: "Codex (paperclip-aos bridge)", version: "0.1.0" }, authMethods: [] });
    case "authenticate":
      return reply(id, {});
    case "session/new": {
      const sessionId = randomUUID();
      const session = { id: sessionId, cwd: params.cwd || process.cwd(), history: [], child: undefined, ahead: undefined, cancelled: false };
      sessions.set(sessionId, session);
      reply(id, { sessionId });
      // After the reply: the session is open to its client while codex-exec starts.
      if (EXEC_AHEAD) session.ahead = startCodexExec(session);
      return;
    }
    case "session/prompt": {
      const session = sessions.get(params.sessionId);
      if (!session) return fail(id, `unknown session ${params.sessionId}`, -32602);
      session.cancelled = false;
      const text = promptText(params.prompt);
      const r = await runTurn(session, text);
      if (r.error) process.stderr.write(`codex-acp: ${r.error}\n`);
      // A turn that failed before answering is a failed prompt, not an empty success.
      if (r.error && !r.answer && r.stopReason !== "cancelled") return fail(id, `codex: ${r.error}`);
      session.history.push({ role: "user", content: text });
      if (r.answer) session.history.push({ role: "assistant", content: r.answer });
      return reply(id, { stopReason: r.stopReason });
    }
    case "session/set_mode":
    case "session/set_config_option":
      return reply(id, {});
    default:
      return fail(id, `method not found: ${method}`, -32601);
  }
}

function onNotification(msg) {
  if (msg.method === "session/cancel") {
    const s = sessions.get(msg.params && msg.params.sessionId);
    if (s) {
      s.cancelled = true;
      if (s.child) s.child.kill("SIGTERM");
    }
  }
}

/** Each newline-ended JSON value of a stream, in order (an async handler is awaited); a line that is not JSON goes to onBad. */
function onJsonLines(stream, onValue, onBad = () => {}, before = []) {
  let buf = before.join("");
  const onData = async (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      let value;
      try { value = JSON.parse(line); } catch { onBad(line); continue; }
      const handled = onValue(value);
      if (handled) await handled;
    }
  };
  stream.on("data", onData);
  if (buf) onData("");
}

process.stdin.setEncoding("utf8");
onJsonLines(process.stdin, (msg) => {
  if (msg.method && msg.id !== undefined) onRequest(msg).catch((e) => fail(msg.id, String(e && e.message || e)));
  else if (msg.method) onNotification(msg);
  else if (msg.id !== undefined && pending.has(msg.id)) {
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(msg.error.message)); else p.resolve(msg.result);
  }
});
process.stdin.on("end", () => process.exit(0));
