/** Typed event listeners for the SDK's long-lived objects. */

type AnyListener = (payload: never) => void;

/** Listeners per event; a listener that throws is logged and the others still run. */
export class Listeners<Events> {
  private readonly sets = new Map<keyof Events, Set<AnyListener>>();
  private readonly owner: string;

  /** `owner` names the object in the log line of a listener that threw. */
  constructor(owner: string) {
    this.owner = owner;
  }

  /** Subscribe; returns a function that unsubscribes. */
  add<E extends keyof Events>(event: E, listener: (payload: Events[E]) => void): () => void {
    let set = this.sets.get(event);
    if (!set) this.sets.set(event, (set = new Set()));
    set.add(listener as AnyListener);
    return () => this.remove(event, listener);
  }

  remove<E extends keyof Events>(event: E, listener: (payload: Events[E]) => void): void {
    this.sets.get(event)?.delete(listener as AnyListener);
  }

  /** Call every listener of `event`, in subscription order (one added meanwhile waits for the next emit). */
  emit<E extends keyof Events>(event: E, payload: Events[E]): void {
    const set = this.sets.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (payload: Events[E]) => void)(payload);
      } catch (err) {
        console.error(`${this.owner}: a "${String(event)}" listener threw`, err);
      }
    }
  }
}
