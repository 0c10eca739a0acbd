import { WorkflowUpdateFailedError, type UpdateDefinition } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { DomainError } from '../domain/errors.js';
import { classifyTemporalError, REQUEST_DEADLINE_MS, type TemporalDeps } from '../infra/temporal.js';
import { itemWorkflowId } from '../workflows/definitions.js';

/**
 * Sends an update to an item's workflow, bounded by the request deadline. Temporal's limit of
 * in-flight updates per workflow becomes a retry within that deadline, then a 429 with Retry-After.
 * A closed workflow answers 409: the item is finished.
 */
export async function updateItem<Ret, Args extends [unknown]>(
  temporal: TemporalDeps,
  itemId: string,
  update: UpdateDefinition<Ret, Args, string>,
  args: Args,
  opts: { updateId?: string; deadline?: number; retryWhenBusy?: boolean } = {},
): Promise<Ret> {
  const deadline = opts.deadline ?? Date.now() + REQUEST_DEADLINE_MS;
  const handle = temporal.client.workflow.getHandle(itemWorkflowId(itemId));
  for (let attempt = 0; ; attempt++) {
    try {
      return await temporal.client.withDeadline(deadline, () => handle.executeUpdate(update, { args, updateId: opts.updateId }));
    } catch (error) {
      if (error instanceof WorkflowNotFoundError || /workflow execution already completed/i.test(String((error as Error)?.message))) {
        throw new DomainError('CONFLICT', 'The item is closed (completed or cancelled).');
      }
      const http = classifyTemporalError(error);
      // The server dropped an update the worker never saw (e.g. its workflow task was lost): nothing was applied, send it again.
      const unprocessed = error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure && error.cause.type === 'UnprocessedUpdate';
      const backoff = Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random());
      if (((http?.code === 'RATE_LIMITED' && opts.retryWhenBusy !== false) || unprocessed) && Date.now() + backoff < deadline - 200) {
        await new Promise((r) => setTimeout(r, backoff));
        continue;
      }
      if (unprocessed) throw new DomainError('UNAVAILABLE', 'The item could not process the request in time; try again.');
      throw error;
    }
  }
}

/** Domain code of a rejected update, or undefined for any other failure. */
export function rejectionCode(error: unknown): string | undefined {
  if (error instanceof DomainError) return error.code;
  return classifyTemporalError(error)?.code;
}
