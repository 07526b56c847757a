import { costUsd, type TokenCounts } from "./prices.ts";

/** One model response's tokens and cost, as given to GatewayOptions.onUsage. */
export interface UsageDelta extends TokenCounts {
  costUsd: number;
  model: string;
  /** The request's sequence number (1-based, in arrival order). */
  seq: number;
  /** How it was answered: a script step, a side request (title), or the real provider. */
  answeredBy: "step" | "side" | "upstream";
}

export interface UsageTotals {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  costUsd: number;
}

export class UsageMeter {
  private totals: UsageTotals = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, costUsd: 0 };

  constructor(
    private readonly priceModel: string,
    private readonly onUsage?: (u: UsageDelta) => void,
  ) {}

  add(seq: number, answeredBy: UsageDelta["answeredBy"], tokens: TokenCounts): UsageDelta {
    const delta: UsageDelta = { ...tokens, costUsd: costUsd(this.priceModel, tokens), model: this.priceModel, seq, answeredBy };
    this.totals.inputTokens += tokens.inputTokens;
    this.totals.outputTokens += tokens.outputTokens;
    this.totals.cachedInputTokens += tokens.cachedInputTokens;
    this.totals.costUsd += delta.costUsd;
    try {
      this.onUsage?.(delta);
    } catch {
      // A listener's failure must not break the agent's model call.
    }
    return delta;
  }

  get(): UsageTotals {
    // Float sums drift in the 1e-17 range; round to a millionth of a cent so equal token sums give equal costs.
    return { ...this.totals, costUsd: Math.round(this.totals.costUsd * 1e8) / 1e8 };
  }
}
