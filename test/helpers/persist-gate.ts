import type { Activities } from '../../activities/index.js';

type PersistInput = Parameters<Activities['persistItem']>[0];

/**
 * Holds one of the item workflow's writes in flight, so a test can line other requests up behind it:
 * `wrap` goes to `TestSystem.startWorker({ wrapActivities })`, `hold` picks the next write to stop.
 */
export function createPersistGate() {
  let next: { matches: (input: PersistInput) => boolean; reached: () => void; held: Promise<void> } | null = null;
  return {
    wrap: (activities: Activities): Activities => ({
      ...activities,
      async persistItem(input) {
        const gate = next;
        if (gate?.matches(input)) {
          next = null;
          gate.reached();
          await gate.held;
        }
        return activities.persistItem(input);
      },
    }),
    /** Holds the next write that `matches`: `atGate` resolves once it is held, `release` lets it go on. */
    hold(matches: (input: PersistInput) => boolean): { atGate: Promise<void>; release: () => void } {
      let reached: () => void = () => undefined;
      let release: () => void = () => undefined;
      const atGate = new Promise<void>((r) => (reached = r));
      const held = new Promise<void>((r) => (release = r));
      next = { matches, reached, held };
      return { atGate, release };
    },
  };
}

/** The write of this annotator's submission. */
export const submissionOf = (annotatorId: string) => (input: PersistInput) => input.submission?.annotatorId === annotatorId;
