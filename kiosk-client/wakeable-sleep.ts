// The background sender's wait between flushes, cut short when there is something to do
// at once (an enqueue, a new token, stop()). Browser-safe.

export class WakeableSleep {
  #wake: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }

  /** Ends the current sleep now; nothing when none is under way. */
  wake(): void {
    this.#wake?.();
  }
}
