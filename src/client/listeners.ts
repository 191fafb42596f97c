/** Typed event listeners for the SDK's long-lived objects. */

/** Listeners per event; a listener that throws is logged and the others still run. */
export class Listeners<Events> {
  private readonly sets: { [E in keyof Events]?: Set<(payload: Events[E]) => void> } = {};
  private readonly owner: string;

  /** `owner` names the object in the log line of a listener that threw. */
  constructor(owner: string) {
    this.owner = owner;
  }

  /** Subscribe; returns a function that unsubscribes. */
  add<E extends keyof Events>(event: E, listener: (payload: Events[E]) => void): () => void {
    let set = this.sets[event];
    if (!set) this.sets[event] = set = new Set();
    set.add(listener);
    return () => this.remove(event, listener);
  }

  remove<E extends keyof Events>(event: E, listener: (payload: Events[E]) => void): void {
    this.sets[event]?.delete(listener);
  }

  /** Call every listener of `event`, in subscription order (one added meanwhile waits for the next emit). */
  emit<E extends keyof Events>(event: E, payload: Events[E]): void {
    const set = this.sets[event];
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(payload);
      } catch (err) {
        console.error(`${this.owner}: a "${String(event)}" listener threw`, err);
      }
    }
  }
}
