import { errorMessage } from "./errors.ts";
import { logger } from "./log.ts";

/**
 * Undo steps registered as each resource opens and run last-in first-out, so whatever opened before a failure is
 * closed and nothing that never opened is touched. A failing step is logged and does not stop the others.
 */
export class Teardown {
  private readonly steps: { name: string; fn: () => unknown }[] = [];

  /** Register `fn` (run at close); returns `value` so opening and registering read as one line. */
  add<T>(name: string, fn: () => unknown, value?: T): T {
    this.steps.push({ name, fn });
    return value as T;
  }

  async close(): Promise<void> {
    while (this.steps.length) {
      const { name, fn } = this.steps.pop()!;
      try {
        await fn();
      } catch (e) {
        logger.debug(`teardown ${name}: ${errorMessage(e)}`);
      }
    }
  }
}
