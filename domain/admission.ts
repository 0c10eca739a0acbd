/**
 * Admission limits for the updates one process sends to item workflows (DESIGN.md §4): load is shed
 * *before* an update is sent, with a quick 429, never after (an update that was sent is awaited until
 * it is durable). Temporal allows 10 in-flight updates per workflow: the per-item limit is that, for this process.
 */
export class AdmissionLimits {
  private inFlight = 0;
  private readonly perItem = new Map<string, number>();

  constructor(
    readonly maxInFlight: number,
    readonly maxPerItem: number,
  ) {}

  /** Takes a slot for one update to this item; false when either limit is reached. */
  tryEnter(itemId: string): boolean {
    const forItem = this.perItem.get(itemId) ?? 0;
    if (this.inFlight >= this.maxInFlight || forItem >= this.maxPerItem) return false;
    this.inFlight++;
    this.perItem.set(itemId, forItem + 1);
    return true;
  }

  leave(itemId: string): void {
    this.inFlight--;
    const forItem = (this.perItem.get(itemId) ?? 1) - 1;
    if (forItem > 0) this.perItem.set(itemId, forItem);
    else this.perItem.delete(itemId);
  }
}

/** Defaults: a 2-core worker commits on the order of a hundred transitions a second. */
export const DEFAULT_ADMISSION = { maxInFlight: 256, maxPerItem: 10 } as const;
