import { afterAll, describe, expect, test } from "bun:test";
import { GatewayHub } from "../../src/gateway/index.ts";

/** The worker's gateways on one port: a token answers only while its run's gateway is open, and only for that run. */
const hub = new GatewayHub();
hub.start();
afterAll(() => hub.close());

function ask(token: string | undefined) {
  return fetch(`${hub.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...(token ? { "x-api-key": token } : {}) },
    body: JSON.stringify({ model: "claude-sonnet-4-20250514", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }),
  });
}

async function answer(res: Response): Promise<string> {
  const j = (await res.json()) as { content?: { text?: string }[]; error?: { message: string } };
  return j.content?.[0]?.text ?? `error: ${j.error?.message}`;
}

describe("gateway hub", () => {
  test("each token reaches its own run's script and meter, one port for all", async () => {
    const a = await hub.open({ model: "scripted", script: { steps: [{ text: "from A" }] } as never });
    const tokenB = GatewayHub.newToken();
    const b = await hub.open({ model: "scripted", script: { steps: [{ text: "from B" }, { text: "B again" }] } as never, token: tokenB });
    expect(a.port).toBe(hub.port);
    expect(b.url).toBe(hub.url);
    expect(b.token).toBe(tokenB);
    expect(a.token).not.toBe(b.token);
    expect(await answer(await ask(b.token))).toBe("from B");
    expect(await answer(await ask(a.token))).toBe("from A");
    expect(a.stepsUsed()).toBe(1);
    expect(b.stepsUsed()).toBe(1);
    expect(b.usage().outputTokens).toBeGreaterThan(0);
    await a.close();
    await b.close();
  });

  test("a token is refused before its run binds it, and after the run's gateway closes", async () => {
    const token = GatewayHub.newToken();
    expect((await ask(token)).status).toBe(401);
    expect((await ask(undefined)).status).toBe(401);
    const gw = await hub.open({ model: "scripted", script: { steps: [{ text: "ok" }, { text: "more" }] } as never, token });
    expect((await ask(token)).status).toBe(200);
    await gw.close();
    expect(hub.bound).toBe(0);
    const late = await ask(token);
    expect(late.status).toBe(401);
    expect(gw.stepsUsed()).toBe(1);
  });

  test("one token cannot be bound to two runs at once", async () => {
    const token = GatewayHub.newToken();
    const gw = await hub.open({ model: "scripted", script: { steps: [{ text: "ok" }] } as never, token });
    await expect(hub.open({ model: "scripted", script: { steps: [{ text: "other" }] } as never, token })).rejects.toThrow("bound to another run");
    await gw.close();
  });
});
