import { useSyncExternalStore } from "react";

/** A store components subscribe to; each change bumps a version so React re-renders them. */
export class Observable {
  private readonly listeners = new Set<() => void>();
  version = 0;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  protected changed(): void {
    this.version++;
    for (const listener of [...this.listeners]) listener();
  }
}

/** Re-render when `store` changes. */
export function useStore(store: Observable): number {
  return useSyncExternalStore(store.subscribe, () => store.version);
}
