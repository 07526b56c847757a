#!/usr/bin/env node
// codex-acp: an ACP agent (JSON-RPC 2.0, one message per line on stdin/stdout) in front of Codex's WASM build.
// agentOS ships Codex as a command (`codex-exec`) without an ACP entrypoint; this bridge is that entrypoint. Each
// prompt runs one `codex-exec --session-turn` (newline JSON: a `start` message in; start, text_delta,
// tool_call_update, permission_request, done, error out) with the session's earlier turns as `history`.
// Configuration (model provider, token variable, instructions) is Codex's own $CODEX_HOME/config.toml, written by
// paperclip-aos before the session opens (for a session opened before its run: $PAPERCLIP_CODEX_RUN_CONFIG, copied
// there at each turn). Dependency-free on purpose: it runs in the VM's node.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";

const HOME = process.env.HOME || "/home/agentos";
const CODEX_HOME = process.env.CODEX_HOME || `${HOME}/.codex`;
// A VM prepared before its run (paperclip-aos's spare VMs) gets the run's Codex config here once a run takes it.
const RUN_CONFIG = process.env.PAPERCLIP_CODEX_RUN_CONFIG;
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

function runTurn(session, text) {
  takeRunConfig();
  return new Promise((resolve) => {
    const child = spawn("codex-exec", ["--session-turn"], { cwd: session.cwd, env: { ...process.env, CODEX_HOME }, stdio: ["pipe", "pipe", "pipe"] });
    session.child = child;
    let answer = "";
    let finished = false;
    const tools = new Set();
    const done = (stopReason, error) => {
      if (finished) return;
      finished = true;
      session.child = undefined;
      try { child.stdin.end(); } catch {}
      resolve({ stopReason, answer, error });
    };
    child.stderr.on("data", (d) => process.stderr.write(d));
    child.on("error", (e) => done("end_turn", `codex-exec did not start: ${e.message}`));
    child.on("exit", (code) => done(session.cancelled ? "cancelled" : "end_turn", code ? `codex-exec exited with ${code}` : undefined));
    onJsonLines(child.stdout, handle, (line) => process.stderr.write(`codex-acp: not JSON from codex-exec: ${line}\n`));
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
      sessions.set(sessionId, { id: sessionId, cwd: params.cwd || process.cwd(), history: [], child: undefined, cancelled: false });
      return reply(id, { sessionId });
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
function onJsonLines(stream, onValue, onBad = () => {}) {
  let buf = "";
  stream.on("data", async (chunk) => {
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
  });
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
