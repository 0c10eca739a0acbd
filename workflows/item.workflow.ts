import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { DomainError } from '../domain/errors.js';
import * as item from '../domain/item.js';
import type { ItemEvent, ItemState } from '../domain/item.js';
import { assertStorable } from '../domain/storable.js';
import {
  PERSIST_REJECTED,
  SEARCH_ATTRIBUTE_KEYS,
  assignUpdate,
  cancelUpdate,
  heartbeatUpdate,
  membersChangedSignal,
  releaseUpdate,
  reserveUpdate,
  resetUpdate,
  reviewUpdate,
  skipUpdate,
  stateQuery,
  submitUpdate,
  type ActorRequest,
  type AssignRequest,
  type ItemWorkflow,
  type ItemWorkflowInput,
  type ReviewRequest,
  type SeatRequest,
  type SeatResult,
  type SubmitRequest,
  type SubmitResult,
} from './definitions.js';

// Regular activities, not local ones: a local activity runs before its workflow task is accepted, so a
// task the server drops would leave Postgres writes for state the workflow then rewinds. Each activity
// is one short idempotent transaction: a worker killed mid-activity is noticed within 10 s and it is retried.
const { persistItem, claimTurn } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds' },
});

/** Patch ids (docs/adr/0003): each names the change that running items replay around. */
const RETRY_TURN_AFTER_MEMBERS_CHANGED = 'retry-turn-after-members-changed';
const SERIAL_COMMITS = 'serial-commits-with-rollback';
const FINALIZE_WITH_LAST_TRANSITION = 'finalize-with-last-transition';

/** Domain rejections cross to the client as ApplicationFailures typed by the error code (a plain Error would retry the task forever). */
type PersistInput = Parameters<Activities['persistItem']>[0];

function asFailure(error: unknown): never {
  if (error instanceof DomainError)
    throw ApplicationFailure.create({
      type: error.code,
      message: error.message,
      details: error.details === undefined ? [] : [error.details],
      nonRetryable: true,
    });
  throw error;
}

/** A plain JSON copy (the sandbox has no structuredClone). */
function copyOf<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

const ITEM_CHANGED = 'The item changed while this request was being applied; read it again and retry.';

/** The rejection of a transition that was rolled back: a 409 the caller may retry. */
function itemChanged(): ApplicationFailure {
  return ApplicationFailure.create({ type: 'CONFLICT', message: ITEM_CHANGED, details: [{ retryable: true }], nonRetryable: true });
}

function isItemChanged(error: unknown): boolean {
  return error instanceof ApplicationFailure && error.message === ITEM_CHANGED;
}

/** Postgres refused the transition's data for good (the activity says so; transient failures keep retrying inside it). */
function isRejectedWrite(error: unknown): boolean {
  return error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.type === PERSIST_REJECTED;
}

/** Runs a domain rule in a handler: should it disagree with its validator, the caller gets the rejection, not a task retried forever. */
function apply<T>(rule: () => T): T {
  try {
    return rule();
  } catch (error) {
    return asFailure(error);
  }
}

/** Runs a rule on a copy of the state: a validator must reject without touching anything. */
function check(state: ItemState, rule: (copy: ItemState) => unknown): void {
  try {
    rule(copyOf(state));
  } catch (error) {
    asFailure(error);
  }
}

/**
 * One durable workflow per queue item: the only writer of the item's state. Every change is made
 * synchronously in a handler (so two updates in one activation cannot both take the last seat),
 * then made durable by `commit`, which writes the versioned read model and the timeline.
 */
export const itemWorkflow: ItemWorkflow = async function itemWorkflow(input: ItemWorkflowInput) {
  const state: ItemState = input.state ?? item.newItemState(input);
  let finalized = false;
  let pendingTurnsBlocked = false;
  /** Counts membership signals, so a rotation turn can tell whether one arrived while it was being claimed. */
  let membersSignals = 0;
  /** Members who left with a seat here, waiting to be written to the timeline. */
  const membersChanges: string[] = [];
  /** Membership changed: the status may change (skipped or not) and rotation may be unblocked. */
  let membersSignalled = false;
  /** The highest version written to Postgres. */
  let persistedVersion = input.state?.version ?? 0;
  /** Whether the timeline has its 'created' row (false only before the first commit of a new item). */
  let announced = Boolean(input.state);
  /** What the search attributes say now; the API set status pending and no assignees at start. */
  let indexed = JSON.stringify(input.state ? [] : ['pending', []]);

  const now = () => Date.now();

  /**
   * Transitions become durable one at a time, in the order they were applied (patched: running items
   * keep persisting as they did). When Postgres refuses one for good (a data error, never a transient
   * one), the item goes back to its last durable state, and that transition and every later one not yet
   * durable are rejected with a retryable 409: nothing acknowledged is lost, and the item keeps working.
   */
  const serialCommits = patched(SERIAL_COMMITS);
  /** The state as of the last transition Postgres accepted, and whether its timeline had been opened then. */
  let durable = { state: copyOf(state), announced };
  /** The last queued persist: the next one starts after it. */
  let persisting: Promise<unknown> = Promise.resolve();
  /** Bumped on every rollback: persists queued before it belong to a state that no longer exists. */
  let rollbacks = 0;
  /** The version at which a commit of the main loop was rolled back, until something changes. */
  let stalledAt: number | null = null;

  function rollBack(): void {
    const eligibleAnnotators = state.eligibleAnnotators;
    Object.assign(state, copyOf(durable.state));
    announced = durable.announced;
    // Membership changes since then still hold: whoever left keeps no seat.
    state.eligibleAnnotators = eligibleAnnotators;
    for (const annotatorId of Object.keys(state.seats)) if (!eligibleAnnotators.includes(annotatorId)) item.removeMember(state, annotatorId);
    finalized = false;
    rollbacks++;
  }

  /** Persists one transition after the ones before it; a transition Postgres refuses rolls the item back. */
  function persistInOrder(input: PersistInput): Promise<void> {
    const queuedAt = rollbacks;
    const after = { state: copyOf(state), announced };
    const turn = persisting.then(async () => {
      if (rollbacks !== queuedAt) throw itemChanged();
      try {
        await persistItem({ ...input, rejectionsAreFinal: true });
      } catch (error) {
        if (!isRejectedWrite(error)) throw error;
        rollBack();
        throw itemChanged();
      }
      durable = after;
    });
    persisting = turn.catch(() => undefined);
    return turn;
  }

  /**
   * Bumps the version, recomputes the status, and persists the snapshot with these events in one
   * transaction, together with a submission's scores or the finalized results when given.
   */
  async function commit(events: Omit<ItemEvent, 'at'>[], extra: Pick<PersistInput, 'submission' | 'finalize'> = {}): Promise<void> {
    const at = now();
    state.status = item.deriveStatus(state, at);
    state.version++;
    const version = state.version;
    // Search attributes only when they change: each upsert is a history event.
    const searchable = JSON.stringify([state.status, item.assignees(state)]);
    if (searchable !== indexed) {
      indexed = searchable;
      upsertSearchAttributes([
        { key: SEARCH_ATTRIBUTE_KEYS.itemStatus, value: state.status },
        { key: SEARCH_ATTRIBUTE_KEYS.assignees, value: item.assignees(state) },
      ]);
    }
    // 'created' opens the timeline, whichever change is written first (an update can beat the main function to it).
    const timeline = announced ? events : [{ event: 'created' as const, actorId: null, details: { config: state.config } }, ...events];
    announced = true;
    const persist: PersistInput = {
      workspaceId: state.workspaceId,
      snapshot: item.readModelOf(state, at),
      events: timeline.map((e, i) => ({ ...e, at, dedupeKey: `${state.itemId}:${version}:${i}` })),
      ...extra,
    };
    if (serialCommits) await persistInOrder(persist);
    else await persistItem(persist);
    persistedVersion = Math.max(persistedVersion, version);
  }

  /**
   * The answer is the item's state after the call, completion included (patched): when a transition
   * (the last submit, an approval) makes the item ready, it is finalized in that transition's own
   * commit, whose write follows every earlier one, so no vote can be missing from the result.
   */
  const finalizeWithLastTransition = serialCommits && patched(FINALIZE_WITH_LAST_TRANSITION);

  function finalization(): { event: Omit<ItemEvent, 'at'>; finalize: NonNullable<PersistInput['finalize']> } {
    finalized = true;
    const approval = state.review.state === 'approved' ? state.review : null;
    state.status = 'completed';
    return {
      event: { event: 'finalized', actorId: approval?.reviewerId ?? null, details: {} },
      finalize: { reviewerId: approval?.reviewerId ?? null, overrides: approval?.overrides ?? [], labelIds: state.config.labels.map((l) => l.labelId) },
    };
  }

  /** Finalization for the transition being applied now, when it completes the item. */
  function completeWithThisTransition() {
    return finalizeWithLastTransition && !finalized && item.readyToFinalize(state) ? finalization() : undefined;
  }

  /** A commit of the main loop: a rolled-back one is dropped (the loop looks again once something changes). */
  async function loopCommit(...args: Parameters<typeof commit>): Promise<boolean> {
    try {
      await commit(...args);
      return true;
    } catch (error) {
      if (!isItemChanged(error)) throw error;
      stalledAt = state.version;
      return false;
    }
  }

  /** For answers that change nothing (a repeated reserve, an early heartbeat): wait until the read model shows the state they report. */
  const caughtUp = () => condition(() => persistedVersion >= state.version);

  const seatResult = (outcome: item.ReserveOutcome): SeatResult => ({
    item: { id: state.itemId, status: state.status },
    reservation: { expiresAt: new Date(outcome.expiresAt).toISOString(), round: outcome.round },
  });

  setHandler(stateQuery, () => state);

  setHandler(
    reserveUpdate,
    async ({ annotatorId }) => {
      const outcome = apply(() => item.reserve(state, annotatorId, now()));
      if (outcome.changed)
        await commit([{ event: 'reserved', actorId: annotatorId, details: { expiresAt: new Date(outcome.expiresAt).toISOString(), round: outcome.round } }]);
      else await caughtUp();
      return seatResult(outcome);
    },
    { validator: ({ annotatorId }: SeatRequest) => check(state, (s) => item.reserve(s, annotatorId, now())) },
  );

  setHandler(
    heartbeatUpdate,
    async ({ annotatorId }) => {
      const outcome = apply(() => item.heartbeat(state, annotatorId, now()));
      if (outcome.changed)
        await commit([{ event: 'heartbeat_extended', actorId: annotatorId, details: { expiresAt: new Date(outcome.expiresAt).toISOString() } }]);
      else await caughtUp();
      return seatResult(outcome);
    },
    { validator: ({ annotatorId }: SeatRequest) => check(state, (s) => item.heartbeat(s, annotatorId, now())) },
  );

  setHandler(
    releaseUpdate,
    async ({ annotatorId }) => {
      apply(() => item.release(state, annotatorId, now()));
      await commit([{ event: 'released', actorId: annotatorId, details: {} }]);
      return { item: { id: state.itemId, status: state.status } };
    },
    { validator: ({ annotatorId }: SeatRequest) => check(state, (s) => item.release(s, annotatorId, now())) },
  );

  setHandler(
    skipUpdate,
    async ({ annotatorId }) => {
      apply(() => item.skip(state, annotatorId, now()));
      await commit([{ event: 'skipped', actorId: annotatorId, details: {} }]);
      return { item: { id: state.itemId, status: state.status } };
    },
    { validator: ({ annotatorId }: SeatRequest) => check(state, (s) => item.skip(s, annotatorId, now())) },
  );

  setHandler(
    submitUpdate,
    async (request) => {
      const { round } = apply(() =>
        item.submit(
          state,
          request.annotatorId,
          request.annotations.map((a) => a.labelId),
          now(),
        ),
      );
      const completion = completeWithThisTransition();
      if (!completion) state.status = item.deriveStatus(state, now());
      const scores = request.annotations.map((a) => ({ id: uuid4(), labelId: a.labelId, value: a.value, notes: a.notes, round }));
      const result: SubmitResult = { item: { id: state.itemId, status: state.status }, round, scores };
      // Scores, the idempotency record, the snapshot (and the results, when this submit completes the item) in one transaction, before the acknowledgement.
      const submitted = { event: 'submitted' as const, actorId: request.annotatorId, details: { round, labels: request.annotations.map((a) => a.labelId) } };
      await commit(completion ? [submitted, completion.event] : [submitted], {
        finalize: completion?.finalize,
        submission: {
          annotatorId: request.annotatorId,
          round,
          scores: request.annotations.map((a, i) => ({ ...a, id: scores[i]!.id })),
          idempotencyKey: request.idempotencyKey,
          bodyHash: request.bodyHash,
          response: result,
        },
      });
      return result;
    },
    {
      // The storage rules run here, before the state changes: an accepted value Postgres refuses could never be made durable.
      // Validator only, not the handler: validators are not re-run on replay, so recorded histories are unaffected.
      validator: (request: SubmitRequest) =>
        check(state, (s) => {
          assertStorable(request, 'submission');
          item.submit(
            s,
            request.annotatorId,
            request.annotations.map((a) => a.labelId),
            now(),
          );
        }),
    },
  );

  setHandler(
    reviewUpdate,
    async ({ reviewerId, action, comment, targets, overrides }) => {
      apply(() => item.review(state, reviewerId, action, comment, targets, overrides, now()));
      const completion = completeWithThisTransition();
      const reviewed = { event: 'reviewed' as const, actorId: reviewerId, details: { action, comment, targets } };
      await commit(completion ? [reviewed, completion.event] : [reviewed], { finalize: completion?.finalize });
      return { item: { id: state.itemId, status: state.status } };
    },
    {
      validator: (request: ReviewRequest) =>
        check(state, (s) => {
          assertStorable(request, 'review');
          item.review(s, request.reviewerId, request.action, request.comment, request.targets, request.overrides, now());
        }),
    },
  );

  setHandler(
    assignUpdate,
    async ({ annotatorIds, action, actorId }) => {
      const changes = apply(() => item.pin(state, annotatorIds, action, now()));
      const events = [
        ...changes.added.map((id) => ({ event: 'assigned' as const, actorId, details: { annotatorId: id, by: 'manager' } })),
        ...changes.removed.map((id) => ({ event: 'unassigned' as const, actorId, details: { annotatorId: id } })),
      ];
      if (events.length > 0) await commit(events);
      return changes;
    },
    { validator: ({ annotatorIds, action }: AssignRequest) => check(state, (s) => item.pin(s, annotatorIds, action, now())) },
  );

  setHandler(
    resetUpdate,
    async ({ actorId }) => {
      apply(() => item.resetSkipped(state));
      state.status = 'pending';
      pendingTurnsBlocked = false;
      await commit([{ event: 'reset', actorId, details: {} }]);
      return { item: { id: state.itemId, status: state.status } };
    },
    { validator: (_input: ActorRequest) => check(state, (s) => item.resetSkipped(s)) },
  );

  setHandler(
    cancelUpdate,
    async ({ actorId }) => {
      if (apply(() => item.cancel(state))) await commit([{ event: 'cancelled', actorId, details: {} }]);
      return { item: { id: state.itemId, status: state.status } };
    },
    { validator: (_input: ActorRequest) => check(state, (s) => item.cancel(s)) },
  );

  setHandler(membersChangedSignal, ({ eligibleAnnotators, removed }) => {
    state.eligibleAnnotators = eligibleAnnotators;
    pendingTurnsBlocked = false;
    const freed = removed.filter((id) => item.removeMember(state, id));
    membersChanges.push(...freed);
    membersSignalled = true;
    membersSignals++;
  });

  // The first snapshot, unless an update that arrived with the start already wrote it.
  if (!announced) await loopCommit([]);

  let seenVersion = -1;
  for (;;) {
    if (item.isClosedStatus(state.status)) {
      // Closed only once every handler is done: a completion or cancellation still being written can be rolled back, reopening the item.
      await condition(allHandlersFinished);
      if (item.isClosedStatus(state.status)) break;
    }
    const deadline = item.nextDeadline(state);
    const wait = deadline === null ? undefined : Math.max(0, deadline - now()) + 1;
    if (stalledAt === null) {
      await condition(() => state.version !== seenVersion || membersSignalled || item.isClosedStatus(state.status) || item.readyToFinalize(state), wait);
    } else {
      // The loop's last commit was rolled back: doing the same again would fail the same way, so wait for a change.
      await condition(() => state.version !== stalledAt || membersSignalled || item.isClosedStatus(state.status));
      stalledAt = null;
    }
    seenVersion = state.version;

    // Durable timers: a lapse is handled when the timer fires, or on the first task after a worker restart.
    const lapsed = item.expireLapsed(state, now());
    const left = membersChanges.splice(0).map((id) => ({ event: 'member_removed' as const, actorId: id, details: {} }));
    const statusMoved = membersSignalled && item.deriveStatus(state, now()) !== state.status;
    membersSignalled = false;
    if ((lapsed.length > 0 || left.length > 0 || statusMoved) && !(await loopCommit([...lapsed, ...left]))) continue;

    if (state.config.assignmentStrategy !== 'manual' && !pendingTurnsBlocked) {
      while (item.openSeats(state, now()) > 0) {
        const turn = ++state.turns;
        const exclude = [...Object.keys(state.seats), ...state.skipped, ...state.lapsed];
        const signalsBefore = membersSignals;
        const annotatorId = await claimTurn({ itemId: state.itemId, queueId: state.queueId, turn, strategy: state.config.assignmentStrategy, exclude });
        if (annotatorId === null) {
          // The members changed while this turn was claimed (from the old list): claim again rather than wait for a change that already came.
          if (membersSignals !== signalsBefore && patched(RETRY_TURN_AFTER_MEMBERS_CHANGED)) continue;
          // Nobody eligible is left: wait for a membership change or a reset.
          pendingTurnsBlocked = true;
          break;
        }
        if (
          item.assignTurn(state, annotatorId, now()) &&
          !(await loopCommit([{ event: 'assigned', actorId: null, details: { annotatorId, by: state.config.assignmentStrategy, turn } }]))
        )
          break;
      }
    }

    if (item.readyToFinalize(state) && !finalized) {
      // The last submit's scores must be written (its handler awaits that) before they are resolved.
      await condition(allHandlersFinished);
    }
    // Checked again after the wait: a cancel may have come in meanwhile.
    if (item.readyToFinalize(state) && !finalized) {
      const { event, finalize } = finalization();
      await loopCommit([event], { finalize });
    }

    if (workflowInfo().continueAsNewSuggested && !item.isClosedStatus(state.status)) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof itemWorkflow>({ ...input, state });
    }
  }
  return { status: state.status };
};
