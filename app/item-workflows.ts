import { randomUUID } from 'node:crypto';
import {
  ServiceError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  WorkflowUpdateStage,
  isGrpcServiceError,
  type UpdateDefinition,
  type WorkflowUpdateHandle,
} from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { status as grpcStatus } from '@grpc/grpc-js';
import { DomainError, StillBeingApplied, isErrorCode } from '../domain/errors.js';
import type { TemporalDeps } from '../infra/temporal.js';
import {
  ITEM_WORKFLOW_TYPE,
  SEARCH_ATTRIBUTE_KEYS,
  itemWorkflowId,
  membersChangedSignal,
  type ItemWorkflow,
  type ItemWorkflowInput,
  type MembersChange,
} from '../workflows/definitions.js';

/**
 * Every Temporal call the use-cases make, each bounded by the request deadline (a missing worker is a
 * 503, not a hung request), and every Temporal failure translated into the error vocabulary here, by
 * type: the rest of the code sees DomainErrors only.
 */

function grpcCode(error: unknown): number | undefined {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    if (isGrpcServiceError(e)) return e.code;
  }
  return undefined;
}

/** A Temporal failure as a DomainError, or the error itself when it is not Temporal's (a bug stays a bug). */
export function fromTemporal(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
    const code = error.cause.type;
    if (isErrorCode(code)) return new DomainError(code, error.cause.message, error.cause.details?.[0]);
  }
  // The workflow has closed (the server answers NOT_FOUND for an update to a closed run).
  if (error instanceof WorkflowNotFoundError) return new DomainError('CONFLICT', 'The item is closed (completed or cancelled).');
  if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
    return new DomainError('UNAVAILABLE', 'The item did not answer in time (is a worker running?); try again shortly.');
  }
  const code = grpcCode(error);
  if (code === grpcStatus.RESOURCE_EXHAUSTED) return new DomainError('RATE_LIMITED', 'Too many concurrent changes to this item; retry shortly.');
  if (code === grpcStatus.UNAVAILABLE || code === grpcStatus.DEADLINE_EXCEEDED || code === grpcStatus.CANCELLED || error instanceof ServiceError) {
    return new DomainError('UNAVAILABLE', 'Temporal is unavailable or did not answer in time; try again shortly.');
  }
  return error;
}

/** The server dropped an update the worker never saw (its workflow task was lost): nothing was applied, so it can be sent again. */
function isUnprocessedUpdate(error: unknown): boolean {
  return error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure && error.cause.type === 'UnprocessedUpdate';
}

/**
 * Sends an update to an item's workflow and waits for its answer (DESIGN.md §4, load and deadlines):
 * - admission first: when this process already has too many updates in flight, overall or for this
 *   item, it is a quick 429 and nothing is sent; Temporal's own per-workflow limit is a 429 too;
 * - once sent, it waits for the workflow to accept or reject it (a rejection is its 4xx), then until it
 *   is durable; accepted but not durable at the deadline is a 202 (StillBeingApplied), and sending the
 *   same update id again returns the final answer;
 * - a closed workflow is a 409; Temporal or the worker unreachable before acceptance is a 503.
 */
export async function updateItem<Ret, Args extends [unknown]>(
  temporal: TemporalDeps,
  itemId: string,
  update: UpdateDefinition<Ret, Args, string>,
  args: Args,
  opts: { updateId?: string; deadline?: number } = {},
): Promise<Ret> {
  const deadline = opts.deadline ?? Date.now() + temporal.requestDeadlineMs;
  const updateId = opts.updateId ?? randomUUID();
  if (!temporal.admission.tryEnter(itemId))
    throw new DomainError('RATE_LIMITED', 'Too many changes to this item (or this server) are in flight; retry shortly.');
  try {
    const handle = temporal.client.workflow.getHandle(itemWorkflowId(itemId));
    for (let attempt = 0; ; attempt++) {
      let accepted: WorkflowUpdateHandle<Ret>;
      try {
        accepted = await temporal.client.withDeadline(deadline, () =>
          handle.startUpdate(update, { args, updateId, waitForStage: WorkflowUpdateStage.ACCEPTED }),
        );
      } catch (error) {
        if (!isUnprocessedUpdate(error)) throw fromTemporal(error);
        // The server dropped an update the worker never saw: nothing was applied, send it again.
        const backoff = Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random());
        if (Date.now() + backoff >= deadline - 200) throw new DomainError('UNAVAILABLE', 'The item could not process the request in time; try again.');
        await new Promise((r) => setTimeout(r, backoff));
        continue;
      }
      try {
        return await temporal.client.withDeadline(deadline, () => accepted.result());
      } catch (error) {
        if (isDeadlineOrCancel(error)) throw new StillBeingApplied(updateId);
        throw fromTemporal(error);
      }
    }
  } finally {
    temporal.admission.leave(itemId);
  }
}

function isDeadlineOrCancel(error: unknown): boolean {
  const code = grpcCode(error);
  return error instanceof WorkflowUpdateRPCTimeoutOrCancelledError || code === grpcStatus.DEADLINE_EXCEEDED || code === grpcStatus.CANCELLED;
}

export type StartOutcome = 'started' | 'already_running' | 'failed';

/** Starts one item's workflow, by reference to its type (the API never loads workflow code). */
export async function startItemWorkflow(temporal: TemporalDeps, input: ItemWorkflowInput, deadline: number): Promise<StartOutcome> {
  try {
    await temporal.client.withDeadline(deadline, () =>
      temporal.client.workflow.start<ItemWorkflow>(ITEM_WORKFLOW_TYPE, {
        taskQueue: temporal.taskQueue,
        workflowId: itemWorkflowId(input.itemId),
        args: [input],
        typedSearchAttributes: [
          { key: SEARCH_ATTRIBUTE_KEYS.workspaceId, value: input.workspaceId },
          { key: SEARCH_ATTRIBUTE_KEYS.queueId, value: input.queueId },
          { key: SEARCH_ATTRIBUTE_KEYS.itemStatus, value: 'pending' },
        ],
      }),
    );
    return 'started';
  } catch (error) {
    return error instanceof WorkflowExecutionAlreadyStartedError ? 'already_running' : 'failed';
  }
}

/** Tells one open item who may annotate now and who left. An item that closed meanwhile has no workflow to tell. */
export async function signalMembersChanged(temporal: TemporalDeps, itemId: string, change: MembersChange, deadline: number): Promise<void> {
  try {
    await temporal.client.withDeadline(deadline, () => temporal.client.workflow.getHandle(itemWorkflowId(itemId)).signal(membersChangedSignal, change));
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return;
    throw fromTemporal(error);
  }
}

/** The domain code of a failed item call, or undefined for anything else. */
export function rejectionCode(error: unknown): string | undefined {
  const failure = fromTemporal(error);
  return failure instanceof DomainError ? failure.code : undefined;
}
